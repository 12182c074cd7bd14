/* Websockets over libevent: the handshake (RFC 6455 4.2) answered through
 * evhttp, then the request's connection is taken from evhttp (libevent
 * 2.1 has no websocket support): its bufferevent gets our callbacks and
 * wslay does the framing, masking checks, fragments, ping/pong and close
 * handshake.  evhttp still owns the connection object, so freeing it
 * (evhttp_connection_free) closes the socket and TLS alike. */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_OUT_BUF (64 * 1024)  /* frames put in the socket's buffer at once */
#define WS_PING_SECS 30
#define WS_IDLE_SECS 75         /* nothing (not even a pong) for this long */
#define WS_LINGER_SECS 3        /* after our close frame, before we hang up */

struct ws {
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	const struct ws_cbs *cbs;
	void *arg;
	struct event *ping;
	struct event *linger;    /* after our close frame */
	struct event *reap;      /* frees it from a callback of its own */
	int paused;
	int above;               /* pending went over WS_OUT_HIGH */
	int pumping;             /* inside wslay: ws_send only queues */
	int doomed;
	int closing;             /* ws_close: the close frame follows the data */
	uint16_t close_code;
	char close_reason[124];
};

int ws_accept_key(const char *key, char out[29])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[128];
	int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	SHA1((const unsigned char *)buf, (size_t)n, md);
	return EVP_EncodeBlock((unsigned char *)out, md, sizeof md) == 28 ? 0 : -1;
}

/* A comma-separated header value contains token (case-insensitive). */
static int header_has(struct evhttp_request *req, const char *name,
		      const char *token)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req),
					   name);
	size_t tl = strlen(token);

	while (v && *v) {
		size_t n;

		v += strspn(v, " \t,");
		n = strcspn(v, " \t,");
		if (n == tl && !strncasecmp(v, token, tl))
			return 1;
		v += n;
	}
	return 0;
}

int ws_pick_protocol(struct evhttp_request *req, const char *const *protos)
{
	for (int i = 0; protos[i]; i++)
		if (header_has(req, "Sec-WebSocket-Protocol", protos[i]))
			return i;
	return -1;
}

const char *ws_origin_refused(struct evhttp_request *req, int tls,
			      const char *const *origins)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	char own[300];

	if (!origin)
		return NULL;
	for (int i = 0; origins && origins[i]; i++)
		if (!strcasecmp(origin, origins[i]))
			return NULL;
	if (host) {
		snprintf(own, sizeof own, "%s://%s", tls ? "https" : "http", host);
		if (!strcasecmp(origin, own))
			return NULL;
	}
	return "Origin not allowed";
}

/* The key must be the base64 of 16 bytes (RFC 6455 4.2.1). */
static int key_valid(const char *key)
{
	unsigned char raw[32];

	if (!key || strlen(key) != 24)
		return 0;
	return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18 &&
	       key[22] == '=' && key[23] == '=';
}

static void ws_release(struct ws *ws)
{
	if (ws->cbs->on_close)
		ws->cbs->on_close(ws, ws->arg);
	wslay_event_context_free(ws->ctx);
	event_free(ws->ping);
	event_free(ws->reap);
	if (ws->linger)
		event_free(ws->linger);
	free(ws);
}

/* The end, in the reap event's callback, so that on_close never runs
 * inside a ws_send() or ws_close() of the caller's. */
static void ws_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;
	struct evhttp_connection *evcon = ws->evcon;

	(void)fd;
	(void)what;
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	ws_release(ws);
	evhttp_connection_free(evcon);  /* the bufferevent and the socket */
}

static void ws_doom(struct ws *ws)
{
	if (ws->doomed)
		return;
	ws->doomed = 1;
	bufferevent_disable(ws->bev, EV_READ | EV_WRITE);
	event_active(ws->reap, 0, 0);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf,
			  size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	int n = ws->paused ? 0 :
		evbuffer_remove(bufferevent_get_input(ws->bev), buf, len);

	(void)flags;
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
			  size_t len, int flags, void *arg)
{
	struct ws *ws = arg;
	struct evbuffer *out = bufferevent_get_output(ws->bev);

	(void)flags;
	if (evbuffer_get_length(out) >= WS_OUT_BUF ||
	    evbuffer_add(out, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx,
		      const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws *ws = arg;

	(void)ctx;
	if (!wslay_is_ctrl_frame(m->opcode) && ws->cbs->on_msg)
		ws->cbs->on_msg(ws, m->msg, m->msg_length, ws->arg);
}

static const struct wslay_event_callbacks ws_wslay_cbs = {
	.recv_callback = ws_recv_cb,
	.send_callback = ws_send_cb,
	.on_msg_recv_callback = ws_msg_cb,
};

size_t ws_pending(const struct ws *ws)
{
	return wslay_event_get_queued_msg_length(ws->ctx) +
	       evbuffer_get_length(bufferevent_get_output(ws->bev));
}

static void ws_linger_cb(evutil_socket_t fd, short what, void *arg);

/* Our close is on its way: the peer has a few seconds to answer it. */
static void ws_linger(struct ws *ws)
{
	struct timeval tv = {WS_LINGER_SECS, 0};

	if (!ws->linger &&
	    (ws->linger = evtimer_new(bufferevent_get_base(ws->bev),
				      ws_linger_cb, ws)))
		evtimer_add(ws->linger, &tv);
}

/* Both ways as far as they go; then hang up once wslay is done with both
 * directions (closed both ways, or failed) and the last bytes are out. */
static void ws_pump(struct ws *ws)
{
	if (ws->doomed || ws->pumping)
		return;
	ws->pumping = 1;
	/* wslay answers most bad frames with a close itself; the rest fail
	 * here (a control frame too long, for one): close them as it would */
	if (wslay_event_recv(ws->ctx) != 0) {
		wslay_event_shutdown_read(ws->ctx);
		ws_linger(ws);
		/* fails when wslay queued its own close already */
		wslay_event_queue_close(ws->ctx, WS_CLOSE_PROTOCOL, NULL, 0);
	}
	if (wslay_event_send(ws->ctx) != 0)
		ws_doom(ws);
	/* wslay sends control frames first: a close waits for the data */
	if (ws->closing == 1 && !ws->doomed &&
	    !wslay_event_get_queued_msg_count(ws->ctx)) {
		ws->closing = 2;
		if (wslay_event_queue_close(ws->ctx, ws->close_code,
					    (const uint8_t *)ws->close_reason,
					    strlen(ws->close_reason)) != 0 ||
		    wslay_event_send(ws->ctx) != 0)
			ws_doom(ws);
	}
	ws->pumping = 0;
	if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx) &&
	    !evbuffer_get_length(bufferevent_get_output(ws->bev)))
		ws_doom(ws);
	if (ws->above && !ws->doomed && ws_pending(ws) < WS_OUT_HIGH / 2) {
		ws->above = 0;
		if (ws->cbs->on_drain)
			ws->cbs->on_drain(ws, ws->arg);
	}
}

static void ws_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	ws_pump(arg);
}

static void ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;   /* EOF, error or timeout: the peer is gone */
	ws_doom(arg);
}

static void ws_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ws_doom(arg);
}

static void ws_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws *ws = arg;
	struct wslay_event_msg m = {WSLAY_PING, NULL, 0};

	(void)fd;
	(void)what;
	if (wslay_event_queue_msg(ws->ctx, &m) == 0)
		ws_pump(ws);
}

/* evhttp frees its connections (the gateway is ending). */
static void ws_evcon_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	ws_release(arg);
}

static struct ws *ws_take(struct evhttp_request *req,
			  const struct ws_cbs *cbs, void *arg)
{
	struct ws *ws = calloc(1, sizeof *ws);
	struct timeval ping = {WS_PING_SECS, 0}, rd = {WS_IDLE_SECS, 0};
	struct timeval wr = {WS_PING_SECS, 0};
	struct event_base *base;

	if (!ws)
		return NULL;
	ws->evcon = evhttp_request_get_connection(req);
	ws->bev = evhttp_connection_get_bufferevent(ws->evcon);
	ws->cbs = cbs;
	ws->arg = arg;
	base = bufferevent_get_base(ws->bev);
	ws->ping = event_new(base, -1, EV_PERSIST, ws_ping_cb, ws);
	ws->reap = event_new(base, -1, 0, ws_reap_cb, ws);
	if (!ws->ping || !ws->reap ||
	    wslay_event_context_server_init(&ws->ctx, &ws_wslay_cbs, ws) != 0) {
		if (ws->ping)
			event_free(ws->ping);
		if (ws->reap)
			event_free(ws->reap);
		free(ws);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MSG_MAX);
	evtimer_add(ws->ping, &ping);
	evhttp_connection_set_closecb(ws->evcon, ws_evcon_closed, ws);
	bufferevent_setcb(ws->bev, ws_read_cb, ws_read_cb, ws_event_cb, ws);
	bufferevent_setwatermark(ws->bev, EV_READ, 0, WS_MSG_MAX);
	bufferevent_set_timeouts(ws->bev, &rd, &wr);
	bufferevent_enable(ws->bev, EV_READ | EV_WRITE);
	return ws;
}

int ws_check(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *ver = evhttp_find_header(in, "Sec-WebSocket-Version");

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    !header_has(req, "Upgrade", "websocket") ||
	    !header_has(req, "Connection", "upgrade") ||
	    !key_valid(evhttp_find_header(in, "Sec-WebSocket-Key")))
		return 400;
	if (!ver || strcmp(ver, "13")) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Sec-WebSocket-Version", "13");
		return 426;
	}
	return 0;
}

struct ws *ws_accept(struct evhttp_request *req, const char *proto,
		     const struct ws_cbs *cbs, void *arg)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char accept[29];
	struct ws *ws;

	if (ws_check(req) ||
	    ws_accept_key(evhttp_find_header(in, "Sec-WebSocket-Key"), accept)) {
		evhttp_send_error(req, 400, "Not a websocket upgrade");
		return NULL;
	}
	evhttp_add_header(out, "Upgrade", "websocket");
	evhttp_add_header(out, "Connection", "Upgrade");
	evhttp_add_header(out, "Sec-WebSocket-Accept", accept);
	if (proto)
		evhttp_add_header(out, "Sec-WebSocket-Protocol", proto);
	/* a 1xx has no body: evhttp writes the head alone, not chunked */
	evhttp_send_reply_start(req, 101, "Switching Protocols");
	ws = ws_take(req, cbs, arg);
	if (!ws)
		evhttp_connection_free(evhttp_request_get_connection(req));
	return ws;
}

int ws_send(struct ws *ws, int text, const void *data, size_t len)
{
	struct wslay_event_msg m = {text ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
				    data, len};

	if (ws->doomed || ws->closing || wslay_event_get_close_sent(ws->ctx) ||
	    wslay_event_queue_msg(ws->ctx, &m) != 0)
		return -1;
	if (ws_pending(ws) >= WS_OUT_HIGH)
		ws->above = 1;
	ws_pump(ws);
	return 0;
}

void ws_pause_read(struct ws *ws, int pause)
{
	ws->paused = pause;
	if (!pause)
		ws_pump(ws);   /* what waits in the input buffer */
}

void ws_close(struct ws *ws, uint16_t code, const char *reason)
{
	if (ws->doomed || ws->closing || wslay_event_get_close_sent(ws->ctx))
		return;
	ws->closing = 1;
	ws->close_code = code;
	snprintf(ws->close_reason, sizeof ws->close_reason, "%s",
		 reason ? reason : "");
	ws_linger(ws);
	ws_pump(ws);
}
