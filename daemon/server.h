/* Client connections on vmd's listening sockets: QMP framing, greeting,
 * capability negotiation, one request at a time per connection (so replies
 * keep request order), events to negotiated sessions, and raw console mode
 * after console-attach. */
#ifndef VMD_DAEMON_SERVER_H
#define VMD_DAEMON_SERVER_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "rpc/errors.h"
#include "rpc/message.h"
#include "daemon/conn.h"

struct token;

/* A request being served.  A handler must end it exactly once with
 * call_return or call_error, now or later (from a QMP reply, a child exit,
 * a timer).  The connection may be gone by then; the reply is dropped. */
struct call {
	struct conn *conn;
	enum rpc_dialect dialect;
	struct json_object *req;   /* owned request object */
	struct json_object *id;    /* borrowed from req */
	struct json_object *args;  /* borrowed from req */
	const char *command;       /* borrowed from req */
	char who[80];              /* "uid=0 pid=123" for the audit log, and
	                              " token=ID" when a token was given */
	const char *token_text;    /* borrowed from req; NULL: no token */
	struct token *token;       /* owned: the checked token (auth.h) */
	int role;                  /* enum access_role of the peer */
	uid_t uid;
	void (*after)(struct call *c, struct conn *conn); /* runs after the
	                              reply is queued (console-attach) */
	void *after_ctx;
	bool in_handler;           /* dispatch has not returned: keep it */
	bool replied;              /* free it once dispatch has returned */
};

void call_return(struct call *c, struct json_object *ret);
void call_error(struct call *c, rpc_err cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* call_error with an error the layers below the handlers made. */
void call_fault(struct call *c, const struct rpc_fault *f);

/* What a listener's clients get: QMP (greeting, negotiation, rights by
 * peer credentials), JSON-RPC (no greeting, no negotiation), or gateway:
 * QMP whose peer credentials grant no role, so that every call but
 * qmp_capabilities must carry a token (vmd-gateway's socket). */
enum listen_kind { LISTEN_QMP, LISTEN_JSONRPC, LISTEN_GATEWAY };

/* Listen on path, replacing a stale socket: mode 0660 (--socket-mode) and
 * group vmd, or for LISTEN_GATEWAY vmd.gateway_mode and vmd.gateway_group.
 * -1 on error. */
int server_listen(const char *path, enum listen_kind kind);
/* Adopt an already listening socket (systemd socket activation). */
int server_listen_fd(int fd, enum listen_kind kind);
void server_shutdown(void);
/* Close every session bound to token id (auth.h), telling a console
 * viewer why: reason is "token-revoked" or "token-expired". */
void server_token_gone(const char *id, const char *reason);

#endif
