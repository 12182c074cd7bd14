/* Lining QEMU's console journal up with vmd's log.
 *
 * QEMU writes every byte it sends to a console port into the journal, but
 * it writes a byte once more each time a send to vmd's socket had to be
 * retried (QEMU 7.2, chardev logfile=): the journal is the log with some
 * bytes repeated right after themselves.  A journal offset is therefore
 * not a log offset.  Walking both side by side tells them apart: a journal
 * byte that is not the next log byte but equals the journal byte before
 * it is a repeat.  Where the walk ends, journal offset j holds log offset
 * l; that pair is saved next to the journal (PATH.map), so a restarted vmd
 * starts its walk there, and the journal before it is punched out.
 *
 * After vmd was away the socket was closed, and QEMU wrote every byte
 * once.  Only the bytes around the moment vmd went are uncertain: those
 * QEMU had sent into the socket that vmd never read (a few hundred), and
 * the one it was sending, may stand once more per retried send.  They
 * cannot be told from a guest printing the same character again, so they
 * are kept: around the moment vmd dies the log may hold a few bytes twice,
 * never lose one. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/conlog.h"
#include "daemon/journal.h"
#include "daemon/log.h"

/* Line up after this much new output. */
#define ALIGN_STEP (1024 * 1024)

struct journal {
	char *path, *map_path;
	uint64_t j, l;          /* journal offset j holds log offset l */
	int prev;               /* journal byte before j, -1 if none */
	uint64_t punched;
	bool lost;              /* the walk failed: stop trusting the map */
};

static void load_map(struct journal *jr)
{
	FILE *f = fopen(jr->map_path, "re");
	uint64_t j, l;
	int prev;

	if (!f)
		return;
	if (fscanf(f, "%" SCNu64 " %" SCNu64 " %d", &j, &l, &prev) == 3) {
		jr->j = j;
		jr->l = l;
		jr->prev = prev;
	}
	fclose(f);
}

static void save_map(struct journal *jr)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", jr->map_path);
	if (!(f = fopen(tmp, "we")))
		return;
	fprintf(f, "%" PRIu64 " %" PRIu64 " %d\n", jr->j, jr->l, jr->prev);
	if (fclose(f) == 0)
		rename(tmp, jr->map_path);
}

struct journal *journal_open(const char *path, uint64_t base)
{
	struct journal *jr = calloc(1, sizeof *jr);

	if (!jr || !(jr->path = strdup(path)) ||
	    asprintf(&jr->map_path, "%s.map", path) < 0) {
		if (jr)
			free(jr->path);
		free(jr);
		return NULL;
	}
	jr->l = base;
	jr->prev = -1;
	load_map(jr);
	return jr;
}

void journal_close(struct journal *jr)
{
	if (!jr)
		return;
	free(jr->path);
	free(jr->map_path);
	free(jr);
}

static unsigned char *read_journal(const char *path, uint64_t from, size_t max,
				   size_t *n)
{
	unsigned char *buf = malloc(max ? max : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = 0;

	*n = 0;
	if (buf && fd >= 0)
		while (*n < max && (r = pread(fd, buf + *n, max - *n,
					     (off_t)(from + *n))) > 0)
			*n += (size_t)r;
	if (fd >= 0)
		close(fd);
	return buf;
}

/* Walk from (jr->j, jr->l) to log offset upto; on success move there. */
static int walk(struct journal *jr, const char *dir, int port, uint64_t upto)
{
	struct conlog_range log;
	size_t jn, i = 0, k = 0;
	int prev = jr->prev, rc = -1;

	if (upto <= jr->l)
		return 0;
	if (conlog_read(dir, port, jr->l, (size_t)(upto - jr->l), &log) < 0 ||
	    log.offset != jr->l) {
		free(log.data);
		return -1;
	}
	/* a byte repeated n times is rare and short: twice the log is plenty */
	unsigned char *jb = read_journal(jr->path, jr->j, 2 * log.len + 4096, &jn);
	while (jb && i < log.len && k < jn) {
		if (jb[k] == (unsigned char)log.data[i])
			i++;
		else if (jb[k] != prev)
			break;
		prev = jb[k++];
	}
	if (jb && i == log.len) {
		jr->j += k;
		jr->l += i;
		jr->prev = prev;
		rc = 0;
	}
	free(jb);
	free(log.data);
	return rc;
}

void journal_progress(struct journal *jr, const char *dir, int port,
		      uint64_t log_end)
{
	if (jr->lost || log_end < jr->l + ALIGN_STEP)
		return;
	if (walk(jr, dir, port, log_end) < 0) {
		jr->lost = true;
		log_warn("%s: does not line up with the log; kept whole", jr->path);
		return;
	}
	save_map(jr);
	/* punch whole blocks before the pair, never the pair's own byte */
	uint64_t upto = (jr->j > 1 ? jr->j - 1 : 0) & ~(uint64_t)4095;
	int fd;
	if (upto > jr->punched && (fd = open(jr->path, O_WRONLY | O_CLOEXEC)) >= 0) {
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)upto) == 0)
			jr->punched = upto;
		close(fd);
	}
}

void journal_missed(struct journal *jr, const char *dir, int port,
		    uint64_t log_end,
		    void (*fn)(void *ctx, const unsigned char *p, size_t n),
		    void *ctx)
{
	unsigned char buf[65536];
	size_t n;
	uint64_t at;
	int fd;

	if (walk(jr, dir, port, log_end) < 0) {
		log_warn("%s: does not line up with the log; nothing recovered",
			 jr->path);
		return;
	}
	if ((fd = open(jr->path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	at = jr->j;
	uint64_t copied = 0;
	ssize_t r;
	while ((r = pread(fd, buf, sizeof buf, (off_t)at)) > 0) {
		n = (size_t)r;
		fn(ctx, buf, n);
		at += n;
		copied += n;
		jr->prev = buf[n - 1];
	}
	close(fd);
	jr->j = at;
	jr->l = log_end + copied;
	save_map(jr);
}
