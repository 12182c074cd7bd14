/* Sessions bound to a token: a session that negotiated (or attached a
 * console) with a token gets that token's events, and ends when the token
 * is revoked or expires, a console viewer being told why first. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "daemon/server_conn.h"
#include "daemon/auth.h"
#include "daemon/log.h"
#include "daemon/vmd.h"

/* The token ended: close the session, after telling a console viewer. */
static void conn_end_token(struct conn *conn, const char *reason)
{
	const char *what = reason + strlen("token-");
	char msg[128];

	log_info("client uid=%d pid=%d: token %s %s; its %s closed",
		 (int)conn->uid, (int)conn->pid, conn->tok->id, what,
		 conn->raw_in ? "console session" : "session");
	conn->close_reason = reason;
	if (!conn->raw_in) {
		conn_close(conn);
		return;
	}
	snprintf(msg, sizeof msg, "\r\n[vmd: token %s %s; console closed]\r\n",
		 conn->tok->id, what);
	conn->raw_closed(conn->raw_ctx, conn);  /* the viewer leaves now */
	conn->raw_closed = NULL;
	conn->raw_in = NULL;
	conn->close_on_flush = true;
	bufferevent_disable(conn->bev, EV_READ);
	bufferevent_write(conn->bev, msg, strlen(msg));
}

static void conn_tok_expired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_end_token(arg, "token-expired");
}

/* qmp_capabilities and console-attach with a token make it the
 * session's: its events, and its end when revoked or expired. */
void session_bind_token(struct conn *conn, struct call *c)
{
	int64_t left = c->token->expires - (int64_t)time(NULL);
	struct timeval tv = {left > 0 ? left : 0, 0};

	if (conn->dead)
		return;
	auth_token_free(conn->tok);
	conn->tok = c->token;
	c->token = NULL;
	if (conn->tok_timer)
		event_free(conn->tok_timer);
	conn->tok_timer = NULL;
	if (conn->tok->expires &&
	    (conn->tok_timer = evtimer_new(vmd.base, conn_tok_expired, conn)))
		evtimer_add(conn->tok_timer, &tv);
}

/* From the head after each one: a viewer's leaving is an event, and
 * sending it may close other connections, the next one included. */
void server_token_gone(const char *id, const char *reason)
{
	struct conn *c;

	do {
		for (c = server_conns(); c; c = c->next)
			if (c->tok && !c->dead && !c->close_on_flush &&
			    !strcmp(c->tok->id, id))
				break;
		if (c)
			conn_end_token(c, reason);
	} while (c);
}

const char *conn_close_reason(const struct conn *conn)
{
	return conn->close_reason;
}

void session_unbind(struct conn *conn)
{
	if (conn->tok_timer)
		event_free(conn->tok_timer);
	conn->tok_timer = NULL;
}
