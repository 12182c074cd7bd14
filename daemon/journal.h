/* QEMU's journal of one console port (chardev logfile=) and where it
 * stands against vmd's log.  QEMU 7.2 writes a byte to the journal again
 * each time its send to vmd's socket is retried, so the journal is the log
 * with some bytes repeated in place; journal.c keeps the two lined up. */
#ifndef VMD_DAEMON_JOURNAL_H
#define VMD_DAEMON_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

/* path: the journal; base: log offset of its first byte (its name says). */
struct journal *journal_open(const char *path, uint64_t base);
void journal_close(struct journal *j);

/* The log (dir, port) now ends at log_end, all of it read from the socket.
 * Every so often: line the journal up with the log, record where they
 * meet, and give the consumed part of the journal back to the disk. */
void journal_progress(struct journal *j, const char *dir, int port,
		      uint64_t log_end);

/* After vmd was away: hand fn what the journal holds beyond the log's end
 * (what the guest printed while no vmd read the socket). */
void journal_missed(struct journal *j, const char *dir, int port,
		    uint64_t log_end,
		    void (*fn)(void *ctx, const unsigned char *p, size_t n),
		    void *ctx);

#endif
