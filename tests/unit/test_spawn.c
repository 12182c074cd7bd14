/* Unit tests for emu/'s processes: spawning (log file, exec errors,
 * inherited descriptors, signal state, session), /proc start times, log
 * tails, and one real run of the KVM probe and its cache. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "emu/probe.h"
#include "emu/spawn.h"
#include "tests/unit/emu_test.h"

#ifdef QEMU_SYSTEM_DEFAULT
#define QEMU QEMU_SYSTEM_DEFAULT
#else
#define QEMU "/usr/bin/qemu-system-x86_64"
#endif

/* --- spawn ------------------------------------------------------------- */

static void test_spawn_log(void **state)
{
	char dir[64], log[128], err[256] = "", *text;
	char *argv[] = { "/bin/sh", "-c", "echo hi; echo oops >&2; exit 3", NULL };
	struct stat st;
	pid_t pid;

	make_tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	pid = emu_spawn(argv, NULL, 0, log, err, sizeof(err));
	if (pid < 0)
		fail_msg("emu_spawn: %s", err);
	assert_int_equal(wait_exit(pid), 3);
	text = slurp(log);
	assert_string_equal(text, "hi\noops\n");
	free(text);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* An existing, longer log is truncated. */
	pid = emu_spawn((char *[]){ "/bin/echo", "short", NULL }, NULL, 0, log,
			err, sizeof(err));
	assert_true(pid > 0);
	assert_int_equal(wait_exit(pid), 0);
	text = slurp(log);
	assert_string_equal(text, "short\n");
	free(text);
	remove_tree(dir);
}

static void test_spawn_errors(void **state)
{
	char dir[64], log[128], err[256] = "";
	char *argv[] = { "/nonexistent/qemu-system-x86_64", "-version", NULL };
	int keep;

	make_tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	errno = 0;
	assert_int_equal(emu_spawn(argv, NULL, 0, log, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/qemu-system-x86_64"));
	assert_non_null(strstr(err, "No such file or directory"));

	/* Not executable. */
	argv[0] = log;
	assert_int_equal(emu_spawn(argv, NULL, 0, log, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Permission denied"));

	/* The log cannot be created. */
	argv[0] = "/bin/true";
	assert_int_equal(emu_spawn(argv, NULL, 0, "/nonexistent/dir/log", err,
				   sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/log"));

	/* Descriptors that cannot be passed. */
	keep = 1;
	assert_int_equal(emu_spawn(argv, &keep, 1, log, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "descriptor 1"));
	keep = 987;
	assert_int_equal(emu_spawn(argv, &keep, 1, log, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "descriptor 987"));
	/* No child may be left behind by any of the failures above. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	remove_tree(dir);
}

/* What the child gets: the kept fd (CLOEXEC cleared), no other fd, stdin
 * on /dev/null, default signals, its own session. */
static void test_spawn_child_state(void **state)
{
	char dir[64], log[128], err[256] = "", script[512], got[64] = "";
	int pfd[2], leak, keep[3];
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_act;
	sigset_t usr2, old_mask;
	char *text, *argv[] = { "/bin/sh", "-c", script, NULL };
	char *grep[] = { "/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status",
			 NULL };
	bool ok;
	ssize_t n;
	pid_t pid;

	make_tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	leak = open("/dev/zero", O_RDONLY);   /* no CLOEXEC: must still close */
	assert_true(leak > 2);
	snprintf(script, sizeof(script),
		 "echo kept >&%d; "
		 "if test -e /proc/$$/fd/%d; then echo leaked; else echo closed; fi; "
		 "ls /proc/$$/fd | tr '\\n' ' '; echo; "
		 "echo stdin=$(readlink /proc/$$/fd/0); "
		 "set -- $(cat /proc/$$/stat); "
		 "if test \"$6\" = \"$1\"; then echo session-leader; fi",
		 pfd[1], leak);
	keep[0] = -1;
	keep[1] = pfd[1];
	keep[2] = pfd[1];   /* twice: harmless */
	pid = emu_spawn(argv, keep, 3, log, err, sizeof(err));
	if (pid < 0)
		fail_msg("emu_spawn: %s", err);
	/* CLOEXEC was cleared in the child only. */
	assert_true(fcntl(pfd[1], F_GETFD) & FD_CLOEXEC);
	close(pfd[1]);
	n = read(pfd[0], got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "kept\n");
	assert_int_equal(wait_exit(pid), 0);
	close(pfd[0]);
	close(leak);
	text = slurp(log);
	ok = strstr(text, "closed\n") && strstr(text, "stdin=/dev/null\n") &&
	     strstr(text, "session-leader\n");
	if (!ok)
		print_message("child state wrong:\n%s", text);
	free(text);
	assert_true(ok);

	/* Signals: vmd's ignored SIGUSR1 and blocked SIGUSR2 must not reach
	 * QEMU.  grep reads its own status, with no shell in between (a
	 * shell blocks everything around its own forks). */
	assert_int_equal(sigaction(SIGUSR1, &ign, &old_act), 0);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	assert_int_equal(sigprocmask(SIG_BLOCK, &usr2, &old_mask), 0);
	pid = emu_spawn(grep, NULL, 0, log, err, sizeof(err));
	sigaction(SIGUSR1, &old_act, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	assert_true(pid > 0);
	assert_int_equal(wait_exit(pid), 0);
	text = slurp(log);
	/* Only the classic signals: glibc reserves 32 and 33 and no process
	 * can reset them, so whatever ran us may leave them ignored. */
	unsigned long long blk = ~0ULL, ignored = ~0ULL;
	ok = sscanf(text, "SigBlk:\t%llx\nSigIgn:\t%llx", &blk, &ignored) == 2 &&
	     (blk & 0x7fffffffULL) == 0 && (ignored & 0x7fffffffULL) == 0;
	if (!ok)
		print_message("signal state wrong:\n%s", text);
	free(text);
	assert_true(ok);
	remove_tree(dir);
}

static void test_starttime(void **state)
{
	unsigned long long self = emu_proc_starttime(getpid());
	unsigned long long child_start;
	int go[2];
	pid_t pid;
	char c = 0;

	assert_true(self > 0);
	assert_int_equal(emu_proc_starttime(0), 0);
	assert_int_equal(emu_proc_starttime(-5), 0);

	/* A child whose comm holds spaces and parentheses. */
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "a) b (c) d", 0, 0, 0);
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	for (int i = 0; i < 200; i++) {   /* until the rename is visible */
		char path[64], *comm;
		bool renamed;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		comm = slurp(path);
		renamed = strncmp(comm, "a) b", 4) == 0;
		free(comm);
		if (renamed)
			break;
		usleep(5000);
	}
	child_start = emu_proc_starttime(pid);
	/* Misparsed fields would give tiny numbers (thread counts, flags). */
	assert_true(child_start >= self);
	assert_true(child_start < self + 100ULL * 3600);
	assert_int_equal(write(go[1], &c, 1), 1);
	close(go[1]);
	assert_int_equal(wait_exit(pid), 0);
	assert_int_equal(emu_proc_starttime(pid), 0);
}

static void test_log_tail(void **state)
{
	char dir[64], log[128], buf[64];
	FILE *f;

	make_tmpdir(dir, sizeof(dir));
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	emu_log_tail(log, buf, sizeof(buf));
	assert_string_equal(buf, "");

	f = fopen(log, "w");
	assert_non_null(f);
	fputs("qemu-system-x86_64: -drive x: Could not open\n\n  second  \n\n", f);
	fclose(f);
	emu_log_tail(log, buf, sizeof(buf));
	assert_string_equal(buf, "qemu-system-x86_64: -drive x: Could not open; "
			    "second");

	f = fopen(log, "w");
	assert_non_null(f);
	for (int i = 0; i < 1000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	emu_log_tail(log, buf, sizeof(buf));
	assert_true(strlen(buf) <= sizeof(buf) - 1);
	assert_non_null(strstr(buf, "line 998; line 999"));
	assert_string_equal(buf + strlen(buf) - 8, "line 999");
	emu_log_tail(log, buf, 1);
	assert_string_equal(buf, "");
	remove_tree(dir);
}

/* --- probe ---------------------------------------------------------------- */

static void test_bootsector(void **state)
{
	const unsigned char *b = emu_probe_bootsector;

	assert_int_equal(b[510], 0x55);
	assert_int_equal(b[511], 0xaa);
	assert_memory_equal(b, "\xba\xf8\x03", 3);   /* mov $0x3f8,%dx */
	assert_memory_equal(b + 3, "\xb0O\xee\xb0K\xee", 6);
}

static void test_probe(void **state)
{
	char dir[64], cache[128], key[512], key2[512];
	struct emu_probe p, q;
	FILE *f;

	if (access(QEMU, X_OK) != 0)
		skip();
	make_tmpdir(dir, sizeof(dir));
	emu_probe_run(QEMU, dir, 1500, &p);
	print_message("probe: verdict=%s kvm_boot_ms=%.0f tcg_boot_ms=%.0f "
		      "qemu=%s\n       reason: %s\n", p.verdict, p.kvm_boot_ms,
		      p.tcg_boot_ms, p.qemu_version, p.reason);
	assert_string_equal(p.verdict, p.kvm_usable ? "kvm" : "tcg");
	assert_true(strlen(p.reason) > 10);
	assert_true(p.tcg_boot_ms > 0);
	assert_non_null(strstr(p.reason, "TCG"));
	assert_true(strlen(p.qemu_version) >= 3);
	if (p.kvm_usable) {
		assert_true(p.dev_kvm);
		assert_true(p.kvm_boot_ms >= 0 && p.kvm_boot_ms < 3000);
	} else {
		assert_non_null(strstr(p.reason, "KVM"));
	}
	if (!p.dev_kvm) {
		assert_true(p.kvm_boot_ms < 0);
		assert_non_null(strstr(p.reason, "/dev/kvm"));
	}
	assert_non_null(strstr(p.reason, p.cpu_virt_flag ? "CPU flag" :
			       "no vmx/svm CPU flag"));

	/* Cache round trip. */
	snprintf(cache, sizeof(cache), "%s/probe.json", dir);
	emu_probe_cache_key(QEMU, key, sizeof(key));
	emu_probe_cache_key(QEMU, key2, sizeof(key2));
	assert_string_equal(key, key2);
	assert_non_null(strstr(key, QEMU));
	assert_int_equal(emu_probe_load(cache, key, &q), -1);   /* no file */
	assert_int_equal(emu_probe_save(cache, key, &p), 0);
	memset(&q, 0xff, sizeof(q));
	assert_int_equal(emu_probe_load(cache, key, &q), 0);
	assert_int_equal(q.kvm_usable, p.kvm_usable);
	assert_string_equal(q.verdict, p.verdict);
	assert_string_equal(q.reason, p.reason);
	assert_true(q.kvm_boot_ms == p.kvm_boot_ms);
	assert_true(q.tcg_boot_ms == p.tcg_boot_ms);
	assert_int_equal(q.dev_kvm, p.dev_kvm);
	assert_int_equal(q.cpu_virt_flag, p.cpu_virt_flag);
	assert_string_equal(q.kvm_module, p.kvm_module);
	assert_string_equal(q.qemu_version, p.qemu_version);
	/* Another binary or boot: a different key, a miss. */
	emu_probe_cache_key("/bin/sh", key2, sizeof(key2));
	assert_string_not_equal(key, key2);
	assert_int_equal(emu_probe_load(cache, key2, &q), -1);
	/* A damaged file is a miss, not a crash. */
	f = fopen(cache, "w");
	assert_non_null(f);
	fputs("{\"key\": 12, \"verdict\":", f);
	fclose(f);
	assert_int_equal(emu_probe_load(cache, key, &q), -1);
	remove_tree(dir);
}

static void test_probe_no_qemu(void **state)
{
	char dir[64];
	struct emu_probe p;

	make_tmpdir(dir, sizeof(dir));
	emu_probe_run("/nonexistent/qemu", dir, 500, &p);
	assert_string_equal(p.verdict, "tcg");
	assert_false(p.kvm_usable);
	assert_non_null(strstr(p.reason, "cannot execute /nonexistent/qemu"));
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_log),
		cmocka_unit_test(test_spawn_errors),
		cmocka_unit_test(test_spawn_child_state),
		cmocka_unit_test(test_starttime),
		cmocka_unit_test(test_log_tail),
		cmocka_unit_test(test_bootsector),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_probe_no_qemu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
