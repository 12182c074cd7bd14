/* vmd's QMP session to one QEMU: the shared rpc client driven by libevent,
 * with a callback per command and one for QEMU's events. */
#ifndef VMD_DAEMON_QMP_H
#define VMD_DAEMON_QMP_H

#include <json-c/json.h>
#include "rpc/errors.h"

struct qmp;
typedef void (*qmp_reply_cb)(void *ctx, struct json_object *ret, rpc_err err,
			     const char *desc);
typedef void (*qmp_event_cb)(void *ctx, const char *event,
			     struct json_object *data);
typedef void (*qmp_closed_cb)(void *ctx);

/* fd: connected to QEMU's QMP socket (owned).  Sends qmp_capabilities at
 * once; commands queue behind it. */
struct qmp *qmp_open(int fd, qmp_event_cb ev, qmp_closed_cb closed, void *ctx);
/* Run cmd; cb gets the return or error, or RPC_GENERIC_ERROR when the
 * monitor closes first.  Takes ownership of args. */
void qmp_exec(struct qmp *q, const char *cmd, struct json_object *args,
	      qmp_reply_cb cb, void *cbctx);
/* Close; pending callbacks are told the monitor closed. */
void qmp_close(struct qmp *q);

#endif
