/* One protocol client, used by vmctl, by the tests and by emu/ to talk to
 * each QEMU's QMP monitor: both speak the same QMP framing.  Blocking calls
 * with a timeout for simple users, and a non-blocking send/read/pop interface
 * for the daemon's event loop. */
#ifndef VMD_RPC_CLIENT_H
#define VMD_RPC_CLIENT_H

#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

struct rpc_client;

/* Connect to a unix socket path. NULL on failure with a message in err. */
struct rpc_client *rpc_client_connect(const char *path, char *err, size_t errlen);
/* The same, with another cap than RPC_MAX_MSG on one incoming message. */
struct rpc_client *rpc_client_connect_max(const char *path, size_t max_msg,
					  char *err, size_t errlen);
/* Wrap an already connected socket (the client takes ownership of fd). */
struct rpc_client *rpc_client_from_fd(int fd);
/* The same, with another cap than RPC_MAX_MSG on one incoming message (vmd
 * trusts QEMU's replies to be larger). */
struct rpc_client *rpc_client_from_fd_max(int fd, size_t max_msg);
/* Why the connection broke ("" while it works). */
const char *rpc_client_why(const struct rpc_client *c);
void rpc_client_close(struct rpc_client *c);
/* Send token ("vmd_ID_SECRET", copied; NULL: none) with every request from
 * now on, qmp_capabilities included.  -1 on ENOMEM. */
int rpc_client_set_token(struct rpc_client *c, const char *token);
int rpc_client_fd(const struct rpc_client *c);

/* Blocking: read the greeting and send qmp_capabilities, waiting at most
 * timeout_ms.  0 on success, -1 with err set. The greeting is kept. */
int rpc_client_negotiate(struct rpc_client *c, int timeout_ms, char *err, size_t errlen);
struct json_object *rpc_client_greeting(const struct rpc_client *c); /* borrowed */

/* Blocking call: sends {"execute": cmd, "arguments": args, "id": N} and waits
 * up to timeout_ms (-1: forever) for the reply with that id; events that
 * arrive meanwhile are queued (see rpc_client_next_event).  Takes ownership
 * of args (may be NULL).  Returns:
 *   RPC_OK with *ret set to the "return" value (caller owns), or
 *   the error class of an "error" reply with desc filled, or
 *   RPC_GENERIC_ERROR with desc "..." on I/O failure or timeout (and
 *   *io_failed set to 1 if io_failed is not NULL). */
rpc_err rpc_client_call(struct rpc_client *c, const char *cmd,
			struct json_object *args, int timeout_ms,
			struct json_object **ret, char *desc, size_t desclen,
			int *io_failed);

/* Next queued or arriving event (a message with "event"), waiting at most
 * timeout_ms; NULL on timeout or EOF.  Caller owns the result. */
struct json_object *rpc_client_next_event(struct rpc_client *c, int timeout_ms);

/* Non-blocking interface for event loops. */
/* Queue {"execute": cmd, "arguments": args, "id": id} and try to write it;
 * takes ownership of args. 0, or -1 on a broken connection. */
int rpc_client_send(struct rpc_client *c, const char *cmd,
		    struct json_object *args, long long id);
/* Write queued output; returns 1 if output remains, 0 if all sent, -1 error. */
int rpc_client_flush(struct rpc_client *c);
/* Read what the socket has now without blocking.  0 ok, -1 on EOF/error or
 * a malformed/oversized message from the peer. */
int rpc_client_read(struct rpc_client *c);
/* Next complete message read so far (reply or event), or NULL. Caller owns. */
struct json_object *rpc_client_pop(struct rpc_client *c);

/* After a call that switches the connection to raw bytes (console-attach):
 * bytes already read past the last message.  Returns the count copied. */
size_t rpc_client_take_rest(struct rpc_client *c, void *buf, size_t cap);

#endif
