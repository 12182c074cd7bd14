/* The console keeper: a small process per running guest that holds QEMU's
 * console sockets and outlives vmd.  It reads every byte the guest prints,
 * appends it to the port's journal, and streams it to vmd when vmd is
 * connected; what vmd types goes the other way.  Because the keeper, not
 * vmd, is QEMU's reader, a vmd that is killed, hangs or is upgraded never
 * makes the guest's output stall or get lost, and the journal holds each
 * byte exactly once (QEMU's own logfile= repeats bytes whose send had to
 * be retried, so it cannot be lined up exactly with what vmd read).
 *
 * The wire between keeper and vmd, one unix stream socket per port
 * (RUN/vms/UUID/console<N>.keep, listened on by the keeper): on accept the
 * keeper sends a 16-byte header, the journal's length at that moment and
 * its own pid (8 bytes each, little endian; the pid lets vmd tell a keeper
 * that is gone from one that is only slow, since the listening socket was
 * made by vmd and SO_PEERCRED names vmd); every byte after that is journal
 * byte length, length+1, ... in order.  vmd copies what it lacks before that length from the journal
 * file and takes the stream from there: nothing twice, nothing lost.
 * Bytes from vmd go to the guest unchanged.  When QEMU closes a port and
 * the keeper has sent vmd all of it, the keeper closes the connection;
 * once all ports are closed it exits.  A newer connection replaces an
 * older one (a restarted vmd). */
#ifndef VMD_KEEPER_KEEPER_H
#define VMD_KEEPER_KEEPER_H

#include <stdint.h>

#define KEEPER_HEADER_LEN 16
#define KEEPER_PROGRAM "vmd-keeper"

/* Field k (0: journal length, 1: pid) of a header. */
static inline uint64_t keeper_header_get(const unsigned char *p, int k)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[8 * k + i];
	return v;
}

static inline void keeper_header_put(unsigned char *p, int k, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[8 * k + i] = (unsigned char)(v & 0xff);
}

#endif
