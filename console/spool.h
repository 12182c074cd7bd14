/* vmd's reader of the journal of one console port (the keeper's word and
 * its files' suffix; the module is called spool so as not to be taken for
 * the systemd journal): every byte the guest printed since its QEMU
 * started, exactly once, written by the port's keeper (keeper/keeper.h).
 * Its file name carries the log offset of its first byte (base), so
 * journal offset j is log offset base + j.  vmd reads it only to copy
 * what it missed (it was away, or its connection to the keeper broke) and
 * gives the part it has logged back to the disk. */
#ifndef VMD_CONSOLE_SPOOL_H
#define VMD_CONSOLE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

struct spool *spool_open(const char *path, uint64_t base);
void spool_close(struct spool *j);
uint64_t spool_base(const struct spool *j);

/* Hand fn the journal bytes [from, to), or up to the file's end when to
 * is UINT64_MAX, at most max of them (a piece of a long copy).  Returns
 * the offset reached. */
uint64_t spool_copy(struct spool *j, uint64_t from, uint64_t to,
		      uint64_t max,
		      void (*fn)(void *ctx, const unsigned char *p, size_t n),
		      void *ctx);

/* Everything before journal offset upto is in the log: every so often
 * punch it out of the file (the keeper never reads below what it sent). */
void spool_release(struct spool *j, uint64_t upto);

#endif
