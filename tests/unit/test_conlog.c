/* Persistent console logs: append and read back, rotation by size with a
 * file count, stable absolute offsets across reopen, reads across files,
 * the time index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "console/conlog.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vmd-conlog-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t count_logs(int port)
{
	char prefix[16];
	size_t n = 0;
	struct dirent *d;
	DIR *dp = opendir(dir);

	snprintf(prefix, sizeof prefix, "ttyS%d.0", port);
	while ((d = readdir(dp)))
		n += !strncmp(d->d_name, prefix, strlen(prefix)) &&
		     strstr(d->d_name, ".log");
	closedir(dp);
	return n;
}

/* byte i of the test stream */
static char byte_at(uint64_t i)
{
	return (char)('a' + i % 23);
}

static void append_stream(struct conlog *l, uint64_t from, size_t n)
{
	char buf[1000];

	for (size_t done = 0; done < n;) {
		size_t k = n - done < sizeof buf ? n - done : sizeof buf;
		for (size_t i = 0; i < k; i++)
			buf[i] = byte_at(from + done + i);
		assert_int_equal(conlog_append(l, buf, k), 0);
		done += k;
	}
}

static void check_range(const struct conlog_range *r)
{
	for (size_t i = 0; i < r->len; i++)
		assert_int_equal(r->data[i], byte_at(r->offset + i));
}

static void test_append_read(void **state)
{
	char err[256];
	struct conlog_range r;
	struct conlog *l = conlog_open(dir, 0, 1000, 3, err, sizeof err);

	(void)state;
	assert_non_null(l);
	assert_int_equal(conlog_end(l), 0);
	append_stream(l, 0, 500);
	assert_int_equal(conlog_end(l), 500);
	assert_int_equal(conlog_read(dir, 0, 100, 50, &r), 0);
	assert_int_equal(r.start, 0);
	assert_int_equal(r.end, 500);
	assert_int_equal(r.offset, 100);
	assert_int_equal(r.len, 50);
	check_range(&r);
	free(r.data);
	conlog_close(l);
	/* another port's log is separate */
	assert_int_equal(conlog_size(dir, 1), 0);
}

static void test_rotation_and_offsets(void **state)
{
	char err[256];
	struct conlog_range r;
	struct conlog *l = conlog_open(dir, 2, 1000, 3, err, sizeof err);

	(void)state;
	append_stream(l, 0, 2500);          /* files at 0, 1000, 2000 */
	assert_int_equal(count_logs(2), 3);
	append_stream(l, 2500, 1000);       /* 3000 opens; 0 is deleted */
	assert_int_equal(count_logs(2), 3);
	conlog_close(l);

	/* reopen: the end comes from the newest file's name and size */
	l = conlog_open(dir, 2, 1000, 3, err, sizeof err);
	assert_int_equal(conlog_end(l), 3500);
	append_stream(l, 3500, 10);
	conlog_close(l);

	assert_int_equal(conlog_read(dir, 2, 0, 100000, &r), 0);
	assert_int_equal(r.start, 1000);      /* before start reads from start */
	assert_int_equal(r.offset, 1000);
	assert_int_equal(r.end, 3510);
	assert_int_equal(r.len, 2510);        /* across three files */
	check_range(&r);
	free(r.data);

	assert_int_equal(conlog_read(dir, 2, 9999, 10, &r), 0);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.offset, 3510);
	free(r.data);
}

static void test_time_index(void **state)
{
	char err[256];
	struct conlog *l = conlog_open(dir, 0, 1 << 20, 2, err, sizeof err);

	(void)state;
	append_stream(l, 0, 100);
	time_t after = time(NULL) + 1;
	sleep(2);
	append_stream(l, 100, 100);
	conlog_close(l);
	assert_int_equal(conlog_offset_at(dir, 0, 0), 0);
	assert_int_equal(conlog_offset_at(dir, 0, after), 100);
	assert_int_equal(conlog_offset_at(dir, 0, after + 3600), 200);
}

static void test_unwritable_dir(void **state)
{
	char err[256];

	(void)state;
	assert_null(conlog_open("/proc/no/such/dir", 0, 1000, 2, err, sizeof err));
	assert_non_null(strstr(err, "/proc/no/such/dir"));
}

/* A log directory that does not exist yet is made, owner-only. */
static void test_creates_dir(void **state)
{
	char err[256], sub[128];
	struct stat st;
	struct conlog *l;

	(void)state;
	snprintf(sub, sizeof sub, "%s/new", dir);
	l = conlog_open(sub, 0, 1000, 2, err, sizeof err);
	if (!l)
		fail_msg("conlog_open: %s", err);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	append_stream(l, 0, 10);
	assert_int_equal(conlog_size(sub, 0), 10);
	conlog_close(l);
}

/* conlog_close(NULL) is a no-op, as free(NULL) is. */
static void test_close_null(void **state)
{
	(void)state;
	conlog_close(NULL);
}

/* Opening a log with files in it many times leaks nothing. */
static void test_open_no_leak(void **state)
{
	char err[256];
	struct conlog *l;
	size_t before;

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	skip();  /* LeakSanitizer checks this at exit; mallinfo2 is not ASan's */
#endif
	l = conlog_open(dir, 0, 100, 5, err, sizeof err);
	append_stream(l, 0, 350);
	conlog_close(l);
	l = conlog_open(dir, 0, 100, 5, err, sizeof err);
	conlog_close(l);
	before = mallinfo2().uordblks;
	for (int i = 0; i < 200; i++) {
		l = conlog_open(dir, 0, 100, 5, err, sizeof err);
		assert_non_null(l);
		conlog_close(l);
	}
	assert_true(mallinfo2().uordblks - before < 1024);
}

/* A directory that cannot be listed, or a read too big for memory, is an
 * error (-1), not an empty read. */
static void test_read_errors(void **state)
{
	char path[128];
	struct conlog_range r;
	struct rlimit old, small;
	int fd;

	(void)state;
	snprintf(path, sizeof path, "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(conlog_read(path, 0, 0, 100, &r), -1);
#ifdef __SANITIZE_ADDRESS__
	skip();  /* ASan needs far more address space, and aborts on ENOMEM */
#endif
	/* a sparse 1 TiB log, read whole under a 1 GiB address-space limit */
	snprintf(path, sizeof path, "%s/ttyS0.%016d.log", dir, 0);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
	small = old;
	small.rlim_cur = (rlim_t)1 << 30;
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < small.rlim_cur)
		small.rlim_cur = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_AS, &small), 0);
	int rc = conlog_read(dir, 0, 0, (size_t)1 << 40, &r);
	assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
	assert_int_equal(rc, -1);
	unlink(path);
}

/* A rotation whose new file cannot be made fails the append and deletes
 * nothing: the old file is all the log there is. */
static void test_failed_rotation_keeps_old(void **state)
{
	char err[256], path[160];
	struct conlog_range r;
	struct conlog *l = conlog_open(dir, 0, 100, 1, err, sizeof err);

	(void)state;
	assert_non_null(l);
	append_stream(l, 0, 100);
	snprintf(path, sizeof path, "%s/ttyS0.%016d.log", dir, 100);
	assert_int_equal(mkdir(path, 0700), 0);  /* the next file's name, taken */
	assert_int_equal(conlog_append(l, "x", 1), -1);
	conlog_close(l);
	rmdir(path);
	assert_int_equal(conlog_read(dir, 0, 0, 1000, &r), 0);
	assert_int_equal(r.start, 0);
	assert_int_equal(r.len, 100);
	check_range(&r);
	free(r.data);
}

/* The time index gets one line per second, not one per append. */
static void test_index_line_per_second(void **state)
{
	char err[256], path[160], line[64];
	struct conlog *l = conlog_open(dir, 0, 1 << 20, 2, err, sizeof err);
	time_t t0 = time(NULL), t1;
	int lines = 0;
	FILE *f;

	(void)state;
	for (int i = 0; i < 20; i++)
		append_stream(l, (uint64_t)i, 1);
	t1 = time(NULL);
	conlog_close(l);
	snprintf(path, sizeof path, "%s/ttyS0.index", dir);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f))
		lines++;
	fclose(f);
	assert_true(lines >= 1);
	assert_true(lines <= t1 - t0 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_and_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_index, setup, teardown),
		cmocka_unit_test(test_unwritable_dir),
		cmocka_unit_test_setup_teardown(test_creates_dir, setup, teardown),
		cmocka_unit_test(test_close_null),
		cmocka_unit_test_setup_teardown(test_open_no_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_rotation_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_line_per_second, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
