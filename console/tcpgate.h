/* The door of a tcp serial port: accepts loopback TCP clients and lets in
 * only those that send the port's secret first. */
#ifndef VMD_CONSOLE_TCPGATE_H
#define VMD_CONSOLE_TCPGATE_H

#include <event2/bufferevent.h>
#include "console/peer.h"

/* Secrets are this many random bytes, shown as twice as many hex digits. */
#define TCPGATE_SECRET_BYTES 16
#define TCPGATE_SECRET_LEN (2 * TCPGATE_SECRET_BYTES)
/* A client has this long from its connect to send the secret line. */
#define TCPGATE_DEADLINE_S 10
/* At most this many clients of one port wait to authenticate. */
#define TCPGATE_MAX_WAITING 16

struct tcpgate;

/* A client got in: bev is its connection (owned by the callee, callbacks
 * unset, input after the secret line still in its input buffer). */
typedef void (*tcpgate_admit)(void *ctx, struct bufferevent *bev,
			      const struct peer *peer);

/* listen_fd: a listening socket (owned).  secret: TCPGATE_SECRET_LEN hex
 * digits, or NULL to let every client in ("auth": "none").  vm, uuid and
 * port name the port in vmd's log. */
struct tcpgate *tcpgate_new(int listen_fd, const char *secret, const char *vm,
			    const char *uuid, int port, tcpgate_admit admit,
			    void *ctx);
void tcpgate_free(struct tcpgate *g);
/* The TCP port it listens on. */
int tcpgate_port(const struct tcpgate *g);
/* The secret, or NULL. */
const char *tcpgate_secret(const struct tcpgate *g);

/* A fresh secret into buf (TCPGATE_SECRET_LEN + 1 bytes); -1 if the
 * kernel gives no randomness. */
int tcpgate_make_secret(char *buf);

#endif
