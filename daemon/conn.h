/* What the layers below the command handlers may do with client
 * connections: announce an event to every session, and carry console bytes
 * on a connection that console-attach turned raw.  The request itself
 * (struct call, server.h) never goes below the handlers. */
#ifndef VMD_DAEMON_CONN_H
#define VMD_DAEMON_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

struct conn;

/* Send an event to every negotiated session, and as a JSON-RPC
 * notification to every connection of the JSON-RPC socket.  Takes
 * ownership. */
void server_broadcast(struct json_object *event);

/* Raw mode: after console-attach the connection carries console bytes. */
typedef void (*conn_raw_input)(void *ctx, const void *buf, size_t len);
typedef void (*conn_raw_closed)(void *ctx, struct conn *conn);
void conn_enter_raw(struct conn *conn, conn_raw_input in, conn_raw_closed closed,
		    void *ctx);
/* Queue raw bytes to a viewer; returns bytes now waiting to be sent. */
size_t conn_raw_write(struct conn *conn, const void *buf, size_t len);
/* Stop (or resume) reading a raw connection: the guest is behind. */
void conn_raw_pause(struct conn *conn, bool pause);
void conn_close(struct conn *conn);
/* Why vmd itself closed conn ("token-revoked"...), NULL otherwise. */
const char *conn_close_reason(const struct conn *conn);
void conn_peer(const struct conn *conn, uid_t *uid, pid_t *pid);

#endif
