/* Reading a port's journal (see spool.h).  The keeper appends; vmd
 * only reads and punches holes, so no locking is needed: a byte vmd
 * reads is never written again. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "console/spool.h"
#include "daemon/log.h"

/* Give the disk back after this much logged output. */
#define RELEASE_STEP (1024 * 1024)

struct spool {
	char *path;
	uint64_t base;
	uint64_t punched;
};

struct spool *spool_open(const char *path, uint64_t base)
{
	struct spool *j = calloc(1, sizeof *j);

	if (!j || !(j->path = strdup(path))) {
		free(j);
		return NULL;
	}
	j->base = base;
	return j;
}

void spool_close(struct spool *j)
{
	if (!j)
		return;
	free(j->path);
	free(j);
}

uint64_t spool_base(const struct spool *j)
{
	return j->base;
}

uint64_t spool_copy(struct spool *j, uint64_t from, uint64_t to,
		      uint64_t max,
		      void (*fn)(void *ctx, const unsigned char *p, size_t n),
		      void *ctx)
{
	unsigned char buf[65536];
	uint64_t end = to - from > max ? from + max : to;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC);
	ssize_t r = 0;

	if (fd < 0) {
		log_warn("%s: %s", j->path, strerror(errno));
		return from;
	}
	while (from < end) {
		size_t want = end - from < sizeof buf ? (size_t)(end - from) : sizeof buf;
		if ((r = pread(fd, buf, want, (off_t)from)) <= 0)
			break;
		fn(ctx, buf, (size_t)r);
		from += (uint64_t)r;
	}
	if (r < 0)
		log_warn("%s: %s", j->path, strerror(errno));
	else if (from < end && to != UINT64_MAX)
		log_warn("%s: ends before offset %llu", j->path,
			 (unsigned long long)to);
	close(fd);
	return from;
}

void spool_release(struct spool *j, uint64_t upto)
{
	uint64_t to = upto & ~(uint64_t)4095;
	int fd;

	if (to < j->punched + RELEASE_STEP)
		return;
	if ((fd = open(j->path, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)to) == 0)
		j->punched = to;
	else
		j->punched = UINT64_MAX / 2;  /* not supported here: stop trying */
	close(fd);
}
