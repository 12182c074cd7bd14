/* A client connection's insides, shared by server.c (framing, requests,
 * replies) and session.c (the token a session is bound to).  Nothing else
 * includes this: the rest of vmd sees struct conn through conn.h. */
#ifndef VMD_DAEMON_SERVER_CONN_H
#define VMD_DAEMON_SERVER_CONN_H

#include <stdbool.h>
#include <sys/types.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "daemon/access.h"
#include "daemon/conn.h"
#include "daemon/server.h"
#include "rpc/message.h"

struct rpc_stream;
struct batch;

struct conn {
	struct bufferevent *bev;
	struct rpc_stream *stream;
	bool jsonrpc_only, negotiated, busy, dead, in_process, close_on_flush;
	bool paused;              /* replies above OUT_HIGH: not reading */
	bool started;             /* JSON-RPC: a first request came */
	struct event *deadline;   /* handshake deadline from accept */
	enum rpc_dialect last_dialect;
	int refs;
	uid_t uid;
	pid_t pid;
	enum access_role role;
	conn_raw_input raw_in;
	conn_raw_closed raw_closed;
	void *raw_ctx;
	struct batch *batch;   /* a JSON-RPC batch being served */
	struct token *tok;     /* the session's token (auth.h), or NULL */
	struct event *tok_timer;  /* its expiry */
	const char *close_reason; /* why vmd closed it, for its viewer */
	struct conn *prev, *next;
};

/* The list of open connections (server.c). */
struct conn *server_conns(void);

/* session.c: after c (qmp_capabilities or console-attach) succeeded with a
 * token, make it the session's, ending the session when it expires. */
void session_bind_token(struct conn *conn, struct call *c);
/* The connection closes: stop its token's expiry timer. */
void session_unbind(struct conn *conn);

#endif
