/* Who is at the other end of a loopback TCP connection (a raw client of a
 * tcp serial port): its address, and the uid owning its socket. */
#ifndef VMD_CONSOLE_PEER_H
#define VMD_CONSOLE_PEER_H

struct peer {
	char addr[64];   /* "127.0.0.1:54321", "?" if unknown */
	long uid;        /* owner of the client's socket; -1 if unknown */
};

/* Fill p for the accepted socket fd.  The uid comes from /proc/net/tcp
 * and /proc/net/tcp6 (the kernel passes no credentials over TCP), so it
 * is known only for a client in this network namespace, which every
 * client of a loopback listener is, while its socket is open. */
void peer_lookup(int fd, struct peer *p);

#endif
