/* Group commit: replies that promise durability wait for one fsync of the
 * store, shared by every such reply of the same event-loop turn. */
#ifndef VMD_DAEMON_COMMIT_H
#define VMD_DAEMON_COMMIT_H

#include <json-c/json.h>
#include "rpc/errors.h"

/* Told once the store is synced: ret (err NULL), or why the change may not
 * be durable (ret then NULL). */
typedef void (*commit_cb)(void *ctx, struct json_object *ret,
			  const struct rpc_fault *err);
/* Hand ret (owned) to cb once the store is synced. */
void commit_reply(struct json_object *ret, commit_cb cb, void *ctx);
void commit_shutdown(void); /* sync and answer what is still waiting */

#endif
