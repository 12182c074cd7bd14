/* Persistent serial-port logs.  Files are named by the absolute offset of
 * their first byte, so an offset means the same byte for ever, across
 * rotations and restarts, and the end of the log is found from the newest
 * file's name and size alone: there is no separate counter that a crash
 * could leave out of step with the data. */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "console/conlog.h"

struct conlog {
	char *dir;
	int port;
	size_t max;
	int max_files;
	int fd, index_fd;
	uint64_t file_start, end;
	time_t index_last;
};

static void file_path(char *buf, size_t cap, const char *dir, int port,
		      uint64_t start)
{
	snprintf(buf, cap, "%s/ttyS%d.%016" PRIu64 ".log", dir, port, start);
}

static void index_path(char *buf, size_t cap, const char *dir, int port)
{
	snprintf(buf, cap, "%s/ttyS%d.index", dir, port);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Start offsets of the port's files, ascending.  -1 if dir is unreadable
 * for a reason other than not existing. */
static int list_files(const char *dir, int port, uint64_t **out, size_t *n)
{
	char prefix[32], tail[8];
	size_t cap = 0;
	struct dirent *d;
	DIR *dp = opendir(dir);

	*out = NULL;
	*n = 0;
	if (!dp)
		return errno == ENOENT ? 0 : -1;
	snprintf(prefix, sizeof prefix, "ttyS%d.", port);
	while ((d = readdir(dp))) {
		uint64_t start;
		if (strncmp(d->d_name, prefix, strlen(prefix)) ||
		    sscanf(d->d_name + strlen(prefix), "%" SCNu64 "%7s", &start,
			   tail) != 2 || strcmp(tail, ".log"))
			continue;
		if (*n == cap) {
			uint64_t *grown = realloc(*out, (cap = cap ? cap * 2 : 8) *
						  sizeof **out);
			if (!grown)
				break;
			*out = grown;
		}
		(*out)[(*n)++] = start;
	}
	closedir(dp);
	if (*n)
		qsort(*out, *n, sizeof **out, cmp_u64);
	return 0;
}

static uint64_t file_size(const char *dir, int port, uint64_t start)
{
	char path[4096];
	struct stat st;

	file_path(path, sizeof path, dir, port, start);
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

uint64_t conlog_size(const char *dir, int port)
{
	uint64_t *starts, end = 0;
	size_t n;

	if (list_files(dir, port, &starts, &n) == 0 && n)
		end = starts[n - 1] + file_size(dir, port, starts[n - 1]);
	free(starts);
	return end;
}

static int open_file(struct conlog *l, uint64_t start)
{
	char path[4096];

	file_path(path, sizeof path, l->dir, l->port, start);
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	l->file_start = start;
	return l->fd < 0 ? -1 : 0;
}

struct conlog *conlog_open(const char *dir, int port, size_t max_bytes,
			   int max_files, char *err, size_t errlen)
{
	struct conlog *l = calloc(1, sizeof *l);
	char path[4096];

	if (!l || !(l->dir = strdup(dir))) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*l = (struct conlog){.dir = l->dir, .port = port, .max = max_bytes,
			     .max_files = max_files, .fd = -1, .index_fd = -1};
	l->end = conlog_size(dir, port);
	uint64_t start = l->end;
	uint64_t *starts;
	size_t n;
	if (list_files(dir, port, &starts, &n) == 0 && n)
		start = starts[n - 1];
	free(starts);
	index_path(path, sizeof path, dir, port);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || open_file(l, start) < 0 ||
	    (l->index_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				0600)) < 0) {
		snprintf(err, errlen, "console log in %s: %s", dir, strerror(errno));
		conlog_close(l);
		return NULL;
	}
	return l;
}

void conlog_close(struct conlog *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->index_fd >= 0)
		close(l->index_fd);
	free(l->dir);
	free(l);
}

uint64_t conlog_end(const struct conlog *l)
{
	return l->end;
}

/* Keep index lines for offsets the log still has. */
static void prune_index(struct conlog *l, uint64_t keep_from)
{
	char path[4096], tmp[4200], line[64];
	FILE *in, *out;

	index_path(path, sizeof path, l->dir, l->port);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(in = fopen(path, "re")))
		return;
	if (!(out = fopen(tmp, "we"))) {
		fclose(in);
		return;
	}
	while (fgets(line, sizeof line, in)) {
		long long t;
		uint64_t off;
		if (sscanf(line, "%lld %" SCNu64, &t, &off) == 2 && off >= keep_from)
			fputs(line, out);
	}
	fclose(in);
	if (fclose(out) == 0 && rename(tmp, path) == 0) {
		close(l->index_fd);
		l->index_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
}

static int rotate(struct conlog *l)
{
	uint64_t *starts;
	size_t n;
	char path[4096];

	close(l->fd);
	if (open_file(l, l->end) < 0)
		return -1;
	if (list_files(l->dir, l->port, &starts, &n) < 0)
		return 0;
	for (size_t i = 0; n > (size_t)l->max_files && i < n - (size_t)l->max_files; i++) {
		file_path(path, sizeof path, l->dir, l->port, starts[i]);
		unlink(path);
	}
	if (n > (size_t)l->max_files)
		prune_index(l, starts[n - (size_t)l->max_files]);
	free(starts);
	return 0;
}

/* How much of p went in; short only on an error (errno set). */
static size_t write_all(int fd, const char *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			break;
		}
		done += (size_t)w;
	}
	return done;
}

int conlog_append(struct conlog *l, const void *buf, size_t len)
{
	const char *p = buf;
	time_t now = time(NULL);

	if (now != l->index_last && l->index_fd >= 0) {
		dprintf(l->index_fd, "%lld %" PRIu64 "\n", (long long)now, l->end);
		l->index_last = now;
	}
	while (len > 0) {
		size_t used = (size_t)(l->end - l->file_start);
		if (used >= l->max && rotate(l) < 0)
			return -1;
		used = (size_t)(l->end - l->file_start);
		size_t n = len < l->max - used ? len : l->max - used;
		size_t w = write_all(l->fd, p, n);
		l->end += w;  /* what is in the file counts, even cut short */
		if (w < n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int read_span(const char *dir, int port, uint64_t start, uint64_t from,
		     char *dst, size_t max, size_t *got)
{
	char path[4096];
	int fd;
	ssize_t n;

	file_path(path, sizeof path, dir, port, start);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = pread(fd, dst, max, (off_t)(from - start));
	close(fd);
	if (n < 0)
		return -1;
	*got = (size_t)n;
	return 0;
}

int conlog_read(const char *dir, int port, uint64_t offset, size_t max,
		struct conlog_range *out)
{
	uint64_t *starts;
	size_t n;

	memset(out, 0, sizeof *out);
	if (list_files(dir, port, &starts, &n) < 0)
		return -1;
	if (n) {
		out->start = starts[0];
		out->end = starts[n - 1] + file_size(dir, port, starts[n - 1]);
	}
	out->offset = offset < out->start ? out->start : offset;
	if (out->offset > out->end)
		out->offset = out->end;
	uint64_t avail = out->end - out->offset;
	size_t want = avail < max ? (size_t)avail : max;
	if (!(out->data = malloc(want + 1))) {
		free(starts);
		return -1;
	}
	for (size_t i = 0; i < n && out->len < want; i++) {
		uint64_t fend = i + 1 < n ? starts[i + 1] : out->end;
		uint64_t pos = out->offset + out->len;
		size_t got = 0;
		if (pos >= fend)
			continue;
		if (read_span(dir, port, starts[i], pos, out->data + out->len,
			      want - out->len, &got) < 0 || got == 0)
			break;
		out->len += got;
	}
	free(starts);
	return 0;
}

uint64_t conlog_offset_at(const char *dir, int port, time_t since)
{
	char path[4096], line[64];
	uint64_t end = conlog_size(dir, port), found = end;
	FILE *f;

	index_path(path, sizeof path, dir, port);
	if (!(f = fopen(path, "re")))
		return end;
	while (fgets(line, sizeof line, f)) {
		long long t;
		uint64_t off;
		if (sscanf(line, "%lld %" SCNu64, &t, &off) == 2 && t >= since) {
			found = off;
			break;
		}
	}
	fclose(f);
	return found < end ? found : end;
}
