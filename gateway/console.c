/* The websockets that carry a vmd stream: a VM's serial console
 * (GET /api/v1/vms/{name}/console) and the event feed (GET
 * /api/v1/events).  Each websocket gets a fresh vmd connection
 * (upstream_stream) opened with the caller's token, so vmd checks it and
 * ends the stream when the token is revoked or expires; the gateway then
 * closes the websocket.
 *
 * The token: "Authorization: Bearer" on the upgrade request when the
 * client can set headers; else (browsers) the first message is the token
 * itself; with termproxy framing, the first line "USER:TICKET\n" whose
 * TICKET is the token (USER is ignored).  Never in the URL, so never in
 * an access log or a browser's history.
 *
 * A console asked for without ?mode that attached read-only (the token
 * may only watch, or another viewer holds the keyboard) says so in one
 * text message before any console byte: {"mode": "ro", "reason":
 * "CLASS: desc"} with vmd's refusal of the rw attach.  Not with termproxy
 * framing, whose clients show every message in the terminal.
 *
 * Back-pressure both ways: vmd's stream is not read while the websocket
 * has WS_OUT_HIGH unsent (vmd then drops a viewer that stays behind), and
 * the websocket is not read while vmd has WS_OUT_HIGH of typing unsent. */
#include "config.h"
#include "console.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "gateway.h"
#include "termproxy.h"
#include "ws.h"

#define AUTH_SECS 10            /* for the token message to come */
#define TOKEN_MAX 256
#define EVENT_LINE_MAX (1024 * 1024)
#define CHUNK 16384

enum { MODE_AUTO, MODE_RW, MODE_RO };

struct wsess {
	struct gw *gw;
	struct ws *ws;
	bool events;             /* the event feed, else a console */
	bool termproxy;
	int mode;                /* asked for */
	bool ro;                 /* attached (or attaching) read-only */
	char *fell_back;         /* why an AUTO attach went read-only */
	bool throttled;          /* vmd's stream not read: the client lags */
	long port;
	char vm[64];
	char peer[64];           /* the client's address (authguard.c) */
	char *token;
	struct tp tp;
	struct event *auth_timer;
	struct upstream_stream *pending;
	struct bufferevent *up;
};

static void wsess_attach(struct wsess *s);

/* Closes with vmd's error "CLASS: desc" (cut to a close frame's 123). */
static void wsess_refused(struct wsess *s, uint16_t code, const char *cls,
			  const char *desc)
{
	char reason[124];

	snprintf(reason, sizeof reason, "%s: %s", cls, desc);
	ws_close(s->ws, code, reason);
}

/* vmd's bytes to the client: raw console bytes in binary messages, or
 * one text message per event line.  all: ignore the client's lag (the
 * last words of a stream that ended). */
static void up_relay(struct wsess *s, bool all)
{
	struct evbuffer *in = bufferevent_get_input(s->up);
	uint8_t buf[CHUNK];
	size_t n;
	char *line;

	while (evbuffer_get_length(in)) {
		if (!all && ws_pending(s->ws) >= WS_OUT_HIGH) {
			s->throttled = true;
			bufferevent_disable(s->up, EV_READ);
			return;
		}
		if (!s->events) {
			int got = evbuffer_remove(in, buf, sizeof buf);
			if (got <= 0 || ws_send(s->ws, 0, buf, (size_t)got) < 0)
				return;
			continue;
		}
		if (!(line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
			if (evbuffer_get_length(in) > EVENT_LINE_MAX)
				ws_close(s->ws, 1009, "event too long");
			return;
		}
		ws_send(s->ws, 1, line, n);
		free(line);
	}
}

static void up_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	up_relay(arg, false);
}

/* vmd took the typing that waited: read the client again. */
static void up_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ws_pause_read(((struct wsess *)arg)->ws, 0);
}

/* vmd ended the stream: VM stopped, token revoked or expired (vmd said
 * so in the stream's last bytes), or this viewer fell too far behind. */
static void up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsess *s = arg;

	(void)bev;
	(void)what;
	up_relay(s, true);
	bufferevent_free(s->up);
	s->up = NULL;
	ws_close(s->ws, WS_CLOSE_NORMAL, s->events ? "event stream ended" :
		 "console closed by vmd");
}

/* The text message that tells a client its console is read-only. */
static void say_read_only(struct wsess *s)
{
	struct json_object *msg = json_object_new_object();
	size_t n = 0;
	const char *text;

	json_object_object_add(msg, "mode", json_object_new_string("ro"));
	json_object_object_add(msg, "reason",
			       json_object_new_string(s->fell_back));
	text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &n);
	if (text)
		ws_send(s->ws, 1, text, n);
	json_object_put(msg);
}

static void wsess_attached(struct wsess *s, struct bufferevent *bev)
{
	s->up = bev;
	bufferevent_setcb(bev, up_read_cb, up_write_cb, up_event_cb, s);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	ws_pause_read(s->ws, 0);   /* what was typed meanwhile */
	if (s->termproxy)
		ws_send(s->ws, 0, "OK", 2);
	else if (s->fell_back)
		say_read_only(s);
	else if (s->events)   /* the feed is on: events from here on */
		ws_send(s->ws, 1, "{\"return\": {}}", 14);
	up_relay(s, false);   /* what came with the reply */
}

static void stream_cb(void *arg, const struct upstream_reply *r,
		      struct bufferevent *bev)
{
	struct wsess *s = arg;

	s->pending = NULL;
	if (bev) {
		wsess_attached(s, bev);
		return;
	}
	bool bad_token = !r->io && authguard_token_refused(r->cls_name, r->desc);
	/* a token that may watch but not type, or another viewer at the
	 * keyboard: attach read-only (never again with a token that is no
	 * good: each try spends vmd's allowance of failures) */
	if (!s->events && s->mode == MODE_AUTO && !s->ro && !bad_token &&
	    !r->io && r->cls_name && (!strcmp(r->cls_name, "PermissionDenied") ||
				      !strcmp(r->cls_name, "Busy"))) {
		s->ro = true;
		if (asprintf(&s->fell_back, "%s: %s", r->cls_name,
			     r->desc ? r->desc : "") < 0)
			s->fell_back = NULL;
		wsess_attach(s);
		return;
	}
	if (bad_token)
		authguard_fail(s->peer);
	ws_pause_read(s->ws, 0);   /* to read the client's close */
	wsess_refused(s, r->io ? WS_CLOSE_ERROR : WS_CLOSE_POLICY,
		      r->cls_name ? r->cls_name : "GenericError",
		      r->desc ? r->desc : "vmd did not answer");
}

static void wsess_attach(struct wsess *s)
{
	struct json_object *args = NULL;
	const char *cmd = "qmp_capabilities";

	if (!s->events) {
		cmd = "console-attach";
		args = json_object_new_object();
		json_object_object_add(args, "vm", json_object_new_string(s->vm));
		json_object_object_add(args, "mode",
				       json_object_new_string(s->ro ? "ro" : "rw"));
		json_object_object_add(args, "port", json_object_new_int64(s->port));
	}
	s->pending = upstream_stream(s->gw, s->token, cmd, args, stream_cb, s);
	if (!s->pending)
		ws_close(s->ws, WS_CLOSE_ERROR, "out of memory");
}

static void typed(void *arg, const uint8_t *p, size_t n)
{
	struct wsess *s = arg;

	if (s->up && !s->ro)   /* a read-only viewer's typing goes nowhere */
		bufferevent_write(s->up, p, n);
}

static const struct tp_cbs tp_cbs = {typed, NULL};

/* The first message: the token (plain), or termproxy's ticket line. */
static void take_token(struct wsess *s, const uint8_t *p, size_t n)
{
	const char *ticket;
	size_t used;
	int r;

	if (s->termproxy) {
		r = tp_ticket(&s->tp, p, n, &used, &ticket);
		if (r == 0)
			return;
		if (r < 0 || strlen(ticket) > TOKEN_MAX) {
			ws_close(s->ws, WS_CLOSE_POLICY, "bad ticket line");
			return;
		}
		s->token = strdup(ticket);
	} else {
		while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		if (n > TOKEN_MAX || memchr(p, '\0', n)) {
			ws_close(s->ws, WS_CLOSE_POLICY, "bad token message");
			return;
		}
		s->token = strndup((const char *)p, n);
	}
	evtimer_del(s->auth_timer);
	if (s->token) {
		ws_pause_read(s->ws, 1);   /* typing waits for the attach */
		wsess_attach(s);
	}
}

static void ws_msg(struct ws *ws, const uint8_t *p, size_t n, void *arg)
{
	struct wsess *s = arg;

	(void)ws;
	if (!s->token) {
		take_token(s, p, n);
		return;
	}
	if (s->events || !s->up)
		return;    /* the event feed reads nothing */
	if (!s->termproxy)
		typed(s, p, n);
	else if (tp_feed(&s->tp, p, n, &tp_cbs, s) < 0)
		ws_close(s->ws, WS_CLOSE_POLICY, "bad termproxy message");
	if (s->up && evbuffer_get_length(bufferevent_get_output(s->up)) >=
		     WS_OUT_HIGH)
		ws_pause_read(s->ws, 1);
}

static void ws_drain(struct ws *ws, void *arg)
{
	struct wsess *s = arg;

	(void)ws;
	if (s->throttled && s->up) {
		s->throttled = false;
		bufferevent_enable(s->up, EV_READ);
		up_relay(s, false);
	}
}

static void ws_gone(struct ws *ws, void *arg)
{
	struct wsess *s = arg;

	(void)ws;
	if (s->pending)
		upstream_stream_cancel(s->pending);
	if (s->up)
		bufferevent_free(s->up);
	event_free(s->auth_timer);
	free(s->fell_back);
	if (s->token) {
		memset(s->token, 0, strlen(s->token));
		free(s->token);
	}
	free(s);
}

static const struct ws_cbs wsess_cbs = {ws_msg, ws_drain, ws_gone};

static void auth_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct wsess *s = arg;

	(void)fd;
	(void)what;
	ws_close(s->ws, WS_CLOSE_POLICY, "no token in time");
}

/* ?mode=ro|rw and ?port=N of a console request: 0, or -1 if bad. */
static int console_query(struct gw_req *r, struct wsess *s)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	struct evkeyvalq kv = {0};
	const char *mode, *port;
	char *end;
	int rc = 0;

	if (!q)
		return 0;
	if (evhttp_parse_query_str(q, &kv) < 0)
		return -1;
	mode = evhttp_find_header(&kv, "mode");
	port = evhttp_find_header(&kv, "port");
	if (mode)
		s->mode = !strcmp(mode, "ro") ? MODE_RO :
			  !strcmp(mode, "rw") ? MODE_RW : (rc = -1);
	if (port) {
		s->port = strtol(port, &end, 10);
		if (*end || end == port || s->port < 0 || s->port > 255)
			rc = -1;
	}
	evhttp_clear_headers(&kv);
	return rc;
}

static void wsess_start(struct gw_req *r, struct wsess *s, const char *proto)
{
	struct timeval tv = {AUTH_SECS, 0};
	struct evhttp_request *req;
	const char *why = ws_origin_refused(r->req, r->gw->cfg.cert != NULL,
					    r->gw->cfg.origins);
	int bad = ws_check(r->req);

	if (bad) {
		gw_reply_error(r, bad, "InvalidArgument", "not a websocket "
			       "upgrade (RFC 6455, version 13)");
		free(s);
		return;
	}
	if (why) {
		gw_reply_error(r, 403, "PermissionDenied", "%s", why);
		free(s);
		return;
	}
	if (authguard_refuse(r)) {
		free(s);
		return;
	}
	s->gw = r->gw;
	snprintf(s->peer, sizeof s->peer, "%s", r->peer);
	tp_init(&s->tp);
	s->ro = s->mode == MODE_RO;
	if (r->token && !s->termproxy && !(s->token = strdup(r->token))) {
		gw_reply_error(r, 500, "GenericError", "out of memory");
		free(s);
		return;
	}
	if (!(s->auth_timer = evtimer_new(r->gw->base, auth_timeout, s))) {
		gw_reply_error(r, 500, "GenericError", "out of memory");
		free(s->token);
		free(s);
		return;
	}
	req = r->req;
	gw_req_upgraded(r);   /* r is gone: the connection is ours */
	if (!(s->ws = ws_accept(req, proto, &wsess_cbs, s))) {
		event_free(s->auth_timer);   /* out of memory: it hung up */
		free(s->token);
		free(s);
		return;
	}
	if (s->token) {
		ws_pause_read(s->ws, 1);
		wsess_attach(s);
	} else {
		evtimer_add(s->auth_timer, &tv);
	}
}

void console_ws(struct gw_req *r)
{
	static const char *const protos[] = {"termproxy", "binary",
					     "vmd-console", NULL};
	const char *vm = gw_param(r, "vm");
	struct wsess *s = calloc(1, sizeof *s);
	int p = ws_pick_protocol(r->req, protos);

	if (!s) {
		gw_reply_error(r, 500, "GenericError", "out of memory");
		return;
	}
	if (!vm || strlen(vm) >= sizeof s->vm || console_query(r, s) < 0) {
		gw_reply_error(r, 400, "InvalidArgument",
			       "console: mode must be ro or rw, port 0 to 255");
		free(s);
		return;
	}
	strcpy(s->vm, vm);
	s->termproxy = p == 0 || p == 1;
	wsess_start(r, s, p >= 0 ? protos[p] : NULL);
}

void events_ws(struct gw_req *r)
{
	static const char *const protos[] = {"vmd-events", NULL};
	struct wsess *s = calloc(1, sizeof *s);
	int p = ws_pick_protocol(r->req, protos);

	if (!s) {
		gw_reply_error(r, 500, "GenericError", "out of memory");
		return;
	}
	s->events = true;
	wsess_start(r, s, p >= 0 ? protos[p] : NULL);
}
