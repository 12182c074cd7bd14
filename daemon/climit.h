/* Who may open one more connection: a total (--max-clients), a share per
 * uid (--max-clients-per-uid; root and vmd's own user exempt), and places
 * only admins may take (--admin-reserve), so no read-only user, however
 * many connections it opens on whichever socket, locks out root or
 * vmd-admin.  The gateway socket's connections are its callers' sessions,
 * all of the gateway's uid: they count against a bound of their own
 * (--max-gateway-clients) instead, and take no other socket's place.
 * server.c asks before it serves a new connection and tells when one
 * ends. */
#ifndef VMD_DAEMON_CLIMIT_H
#define VMD_DAEMON_CLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "daemon/access.h"
#include "rpc/message.h"

/* Defaults of the limits in struct vmd (0, or -1 for the reserve, there). */
#define CLIMIT_DEFAULT_MAX 1024
#define CLIMIT_DEFAULT_PER_UID 64
#define CLIMIT_DEFAULT_RESERVE 32   /* or an eighth of the total if less */
#define CLIMIT_DEFAULT_GATEWAY 4096

/* 0 and the connection is counted, or -1 with why (for the client and
 * the log) when a limit is reached; gateway: it came on --gateway-socket. */
int climit_admit(uid_t uid, enum access_role role, bool gateway, char *why,
		 size_t len);
/* Tell a refused client why (Busy, in the dialect d of its socket), log
 * it (at most once a second, with a count of the rest), and close fd. */
void climit_refuse(int fd, enum rpc_dialect d, uid_t uid, pid_t pid,
		   const char *why);
/* A counted connection ended. */
void climit_release(uid_t uid, bool gateway);

/* Connections open now, admitted and refused since vmd started. */
int climit_clients(void);
uint64_t climit_admitted(void);
uint64_t climit_refused(void);

int climit_max(void);
int climit_per_uid(void);
int climit_reserve(void);
int climit_gateway_max(void);

#endif
