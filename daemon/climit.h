/* Who may open one more connection: a total (--max-clients), a share per
 * uid (--max-clients-per-uid; root and vmd's own user exempt), and places
 * only admins may take (--admin-reserve), so no read-only user, however
 * many connections it opens on whichever socket, locks out root or
 * vmd-admin.  server.c asks before it serves a new connection and tells
 * when one ends. */
#ifndef VMD_DAEMON_CLIMIT_H
#define VMD_DAEMON_CLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "daemon/access.h"
#include "rpc/message.h"

/* Defaults of the limits in struct vmd (0, or -1 for the reserve, there). */
#define CLIMIT_DEFAULT_MAX 1024
#define CLIMIT_DEFAULT_PER_UID 64
#define CLIMIT_DEFAULT_RESERVE 32   /* or an eighth of the total if less */

/* 0 and the connection is counted, or -1 with why (for the client and
 * the log) when a limit is reached. */
int climit_admit(uid_t uid, enum access_role role, char *why, size_t len);
/* Tell a refused client why (Busy, in the dialect d of its socket), log
 * it (at most once a second, with a count of the rest), and close fd. */
void climit_refuse(int fd, enum rpc_dialect d, uid_t uid, pid_t pid,
		   const char *why);
/* A counted connection ended. */
void climit_release(uid_t uid);

/* Connections open now, admitted and refused since vmd started. */
int climit_clients(void);
uint64_t climit_admitted(void);
uint64_t climit_refused(void);

int climit_max(void);
int climit_per_uid(void);
int climit_reserve(void);

#endif
