/* The persistent log of one serial port: every byte the guest ever sent,
 * in files STATE/logs/UUID/ttyS<N>.<OFFSET>.log named by the absolute
 * offset of their first byte, rotated by size, the oldest deleted beyond a
 * count, plus ttyS<N>.index ("unixtime offset" lines) to find a time. */
#ifndef VMD_CONSOLE_CONLOG_H
#define VMD_CONSOLE_CONLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct conlog;

/* Open (creating dir) for appending; finds the current end from the files
 * already there, so a restarted vmd continues where the last one stopped. */
struct conlog *conlog_open(const char *dir, int port, size_t max_bytes,
			   int max_files, char *err, size_t errlen);
void conlog_close(struct conlog *l);
uint64_t conlog_end(const struct conlog *l);
/* Append at the end; rotates when the current file is full.  -1 on a write
 * error (errno set): conlog_end() says how much of buf went in. */
int conlog_append(struct conlog *l, const void *buf, size_t len);

/* Reading needs no open log (the VM may be stopped, or another vmd may be
 * appending).  offset below start reads from start.  *data is malloc'd. */
struct conlog_range {
	uint64_t start, end;    /* what the log keeps: [start, end) */
	uint64_t offset;        /* where data begins */
	char *data;
	size_t len;
};
int conlog_read(const char *dir, int port, uint64_t offset, size_t max,
		struct conlog_range *out);
/* The end offset of the log (0 when empty). */
uint64_t conlog_size(const char *dir, int port);
/* First offset logged at or after `since` (the end if none). */
uint64_t conlog_offset_at(const char *dir, int port, time_t since);

#endif
