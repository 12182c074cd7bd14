/* The gateway's client of vmd's socket (gateway.h).  Calls go over a pool
 * of negotiated connections, one call at a time on each (vmd answers a
 * connection's requests in order and reads the next only after replying,
 * so a slow vm-stop would hold up whatever was queued behind it); calls
 * beyond the pool wait in a queue.  A stream is a connection of its own,
 * handed to the caller after one request. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include "gateway/gateway.h"
#include "rpc/message.h"
#include "rpc/stream.h"

/* vmd's replies may be large (vm-list of many VMs). */
#define UP_MAX_MSG (64 * 1024 * 1024)

/* One exchange with vmd on a connection: the greeting, then requests. */
enum up_state { UP_GREETING, UP_NEGOTIATING, UP_IDLE, UP_BUSY, UP_STREAMING };

struct upstream_call {
	char *token, *command;
	struct json_object *args;
	upstream_cb cb;
	void *arg;
	bool cancelled;
	struct upstream_call *next;
};

struct up_conn {
	struct upstream *up;
	struct bufferevent *bev;
	struct rpc_stream *stream;
	enum up_state state;
	struct upstream_call *cur;
	struct up_conn *prev, *next;
};

struct upstream {
	struct gw *gw;
	struct up_conn *conns;
	int nconns, nstarting;
	struct upstream_call *head, *tail;  /* waiting for a connection */
	struct event *fail_ev;              /* vmd unreachable: fail the queue */
};

struct upstream_stream {
	struct gw *gw;
	struct bufferevent *bev;
	struct rpc_stream *stream;
	enum up_state state;
	char *token, *command;
	struct json_object *args;
	upstream_stream_cb cb;
	void *arg;
};

static void call_free(struct upstream_call *c)
{
	free(c->token);
	free(c->command);
	json_object_put(c->args);
	free(c);
}

static void io_reply(struct upstream_reply *r, const char *desc)
{
	memset(r, 0, sizeof *r);
	r->cls = RPC_GENERIC_ERROR;
	r->cls_name = "GenericError";
	r->desc = desc;
	r->io = true;
}

/* ret, or error class and desc, of a reply message. */
static void reply_of(struct json_object *msg, struct upstream_reply *r)
{
	struct json_object *err, *v;

	memset(r, 0, sizeof *r);
	if (json_object_object_get_ex(msg, "return", &r->ret))
		return;
	if (!json_object_object_get_ex(msg, "error", &err)) {
		io_reply(r, "vmd sent a malformed reply");
		return;
	}
	r->cls_name = json_object_object_get_ex(err, "class", &v) ?
		json_object_get_string(v) : "GenericError";
	r->cls = rpc_err_from_name(r->cls_name);
	r->desc = json_object_object_get_ex(err, "desc", &v) ?
		json_object_get_string(v) : "";
}

/* A request goes out at once when nothing waits before it: through the
 * bufferevent it would wait a loop turn for the socket to be writable. */
static int write_now(struct bufferevent *bev, const char *buf, size_t len)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	ssize_t n = 0;

	if (fd >= 0 && !evbuffer_get_length(bufferevent_get_output(bev)))
		n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		n = 0;  /* EAGAIN, or an error the bufferevent will see */
	return (size_t)n == len ? 0 : bufferevent_write(bev, buf + n, len - n);
}

static int send_request(struct bufferevent *bev, const char *command,
			struct json_object *args, const char *token)
{
	struct json_object *req = json_object_new_object();
	size_t len;
	char *text;
	int rc;

	json_object_object_add(req, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(req, "arguments", json_object_get(args));
	if (token)
		json_object_object_add(req, "token", json_object_new_string(token));
	json_object_object_add(req, "id", json_object_new_int(1));
	text = rpc_emit(req, &len);
	json_object_put(req);
	rc = text ? write_now(bev, text, len) : -1;
	free(text);
	return rc;
}

/* A connected, unread bufferevent on vmd's socket, or NULL. */
static struct bufferevent *connect_vmd(struct gw *gw)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct bufferevent *bev;

	if (strlen(gw->cfg.vmd_socket) >= sizeof sa.sun_path)
		return NULL;
	strcpy(sa.sun_path, gw->cfg.vmd_socket);
	bev = bufferevent_socket_new(gw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev && bufferevent_socket_connect(bev, (struct sockaddr *)&sa,
					      sizeof sa) < 0) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/* Feed what arrived to stream; the next value, NULL when none yet, and
 * *bad on a broken stream. */
static struct json_object *next_msg(struct bufferevent *bev,
				    struct rpc_stream *stream, bool *bad)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct json_object *msg = NULL;
	size_t n = evbuffer_get_length(in);

	*bad = false;
	if (n && (rpc_stream_push(stream, evbuffer_pullup(in, -1), n) < 0 ||
		  evbuffer_drain(in, n) < 0)) {
		*bad = true;
		return NULL;
	}
	enum rpc_stream_status st = rpc_stream_next(stream, &msg, NULL, 0);
	if (st < 0)
		*bad = true;
	return st == RPC_STREAM_VALUE ? msg : NULL;
}

/* ---- the pool ---- */

static void pool_run(struct upstream *up);

static void conn_free(struct up_conn *c)
{
	struct upstream *up = c->up;

	if (c->prev)
		c->prev->next = c->next;
	else
		up->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	up->nconns--;
	if (c->state < UP_IDLE)
		up->nstarting--;
	bufferevent_free(c->bev);
	rpc_stream_free(c->stream);
	free(c);
}

static void deliver(struct upstream_call *call, const struct upstream_reply *r)
{
	if (!call->cancelled)
		call->cb(call->arg, r);
	call_free(call);
}

static void fail_queue(struct upstream *up, const char *why)
{
	struct upstream_reply r;

	io_reply(&r, why);
	while (up->head) {
		struct upstream_call *call = up->head;
		up->head = call->next;
		deliver(call, &r);
	}
	up->tail = NULL;
}

/* The connection broke: its call fails; one that never got ready means
 * vmd cannot be reached, so the queue fails too. */
static void conn_broken(struct up_conn *c, const char *why)
{
	struct upstream *up = c->up;
	struct upstream_call *call = c->cur;
	bool never_ready = c->state < UP_IDLE;
	struct upstream_reply r;

	c->cur = NULL;
	conn_free(c);
	io_reply(&r, why);
	if (call)
		deliver(call, &r);
	if (never_ready && !up->nstarting)
		fail_queue(up, why);
	pool_run(up);
}

static void conn_take(struct up_conn *c)
{
	struct upstream *up = c->up;
	struct upstream_call *call = up->head;

	up->head = call->next;
	if (!up->head)
		up->tail = NULL;
	call->next = NULL;
	c->cur = call;
	c->state = UP_BUSY;
	/* a failure is reported from the loop, as a broken connection:
	 * never to upstream_call's caller before it returned */
	if (send_request(c->bev, call->command, call->args, call->token) < 0)
		bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR,
					  BEV_TRIG_DEFER_CALLBACKS);
}

/* false when c is gone */
static bool conn_msg(struct up_conn *c, struct json_object *msg)
{
	struct upstream_reply r;
	bool is_reply = json_object_object_get_ex(msg, "return", NULL) ||
		json_object_object_get_ex(msg, "error", NULL);

	if (c->state == UP_GREETING) {
		c->state = UP_NEGOTIATING;
		if (!json_object_object_get_ex(msg, "QMP", NULL) ||
		    send_request(c->bev, "qmp_capabilities", NULL, NULL) < 0) {
			conn_broken(c, "vmd refused the connection");
			return false;
		}
		return true;
	}
	if (!is_reply)
		return true;  /* an event: this session gets none; be lenient */
	if (c->state == UP_NEGOTIATING) {
		if (!json_object_object_get_ex(msg, "return", NULL)) {
			conn_broken(c, "vmd refused the negotiation");
			return false;
		}
		c->up->nstarting--;
		c->state = UP_IDLE;
		pool_run(c->up);
		return true;
	}
	struct upstream_call *call = c->cur;
	c->cur = NULL;
	c->state = UP_IDLE;
	reply_of(msg, &r);
	if (call)
		deliver(call, &r);
	pool_run(c->up);
	return true;
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct up_conn *c = arg;
	struct json_object *msg;
	bool bad;

	while ((msg = next_msg(bev, c->stream, &bad))) {
		bool alive = conn_msg(c, msg);
		json_object_put(msg);
		if (!alive)
			return;
	}
	if (bad)
		conn_broken(c, "vmd sent malformed JSON");
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_broken(arg, "the connection to vmd broke");
}

static int conn_open(struct upstream *up)
{
	struct up_conn *c = calloc(1, sizeof *c);

	if (!c || !(c->stream = rpc_stream_new(UP_MAX_MSG)) ||
	    !(c->bev = connect_vmd(up->gw))) {
		if (c)
			rpc_stream_free(c->stream);
		free(c);
		return -1;
	}
	c->up = up;
	c->state = UP_GREETING;
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = up->conns;
	if (up->conns)
		up->conns->prev = c;
	up->conns = c;
	up->nconns++;
	up->nstarting++;
	return 0;
}

static void fail_cb(evutil_socket_t fd, short what, void *arg)
{
	fail_queue(arg, "cannot connect to vmd");
}

/* Give queued calls to idle connections; open more while the pool may. */
static void pool_run(struct upstream *up)
{
	struct up_conn *c;

	for (c = up->conns; c && up->head; c = c->next)
		if (c->state == UP_IDLE)
			conn_take(c);
	while (up->head && up->nstarting == 0 &&
	       up->nconns < up->gw->cfg.upstream_max)
		if (conn_open(up) < 0) {
			if (!up->nconns) {
				struct timeval now = {0, 0};
				event_add(up->fail_ev, &now);
			}
			break;
		}
}

struct upstream *upstream_new(struct gw *gw)
{
	struct upstream *up = calloc(1, sizeof *up);

	if (!up)
		return NULL;
	up->gw = gw;
	up->fail_ev = evtimer_new(gw->base, fail_cb, up);
	if (!up->fail_ev) {
		upstream_free(up);
		return NULL;
	}
	return up;
}

void upstream_free(struct upstream *up)
{
	if (!up)
		return;
	while (up->conns) {
		struct up_conn *c = up->conns;
		if (c->cur)
			call_free(c->cur);
		c->cur = NULL;
		conn_free(c);
	}
	while (up->head) {
		struct upstream_call *call = up->head;
		up->head = call->next;
		call_free(call);
	}
	if (up->fail_ev)
		event_free(up->fail_ev);
	free(up);
}

struct upstream_call *upstream_call(struct gw *gw, const char *token,
				    const char *command,
				    struct json_object *args, upstream_cb cb,
				    void *arg)
{
	struct upstream *up = gw->up;
	struct upstream_call *call = calloc(1, sizeof *call);

	if (!call || !(call->command = strdup(command)) ||
	    (token && !(call->token = strdup(token)))) {
		if (call)
			free(call->command);
		free(call);
		json_object_put(args);
		return NULL;
	}
	call->args = args;
	call->cb = cb;
	call->arg = arg;
	if (up->tail)
		up->tail->next = call;
	else
		up->head = call;
	up->tail = call;
	pool_run(up);
	return call;
}

void upstream_cancel(struct upstream_call *call)
{
	if (call)
		call->cancelled = true;  /* freed when its turn comes */
}

/* ---- streams ---- */

static void stream_free(struct upstream_stream *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	rpc_stream_free(s->stream);
	free(s->token);
	free(s->command);
	json_object_put(s->args);
	free(s);
}

/* The end of s: the caller gets the reply and, on success, the
 * connection with what vmd sent after the reply. */
static void stream_end(struct upstream_stream *s, struct json_object *msg,
		       const char *why)
{
	upstream_stream_cb cb = s->cb;
	void *arg = s->arg;
	struct bufferevent *bev = NULL;
	struct upstream_reply r;
	char buf[16384];
	size_t n;

	if (msg)
		reply_of(msg, &r);
	else
		io_reply(&r, why);
	if (r.ret) {
		bev = s->bev;
		s->bev = NULL;
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		struct evbuffer *rest = evbuffer_new();
		while (rest && (n = rpc_stream_take_rest(s->stream, buf, sizeof buf)))
			evbuffer_add(rest, buf, n);
		if (rest)
			evbuffer_prepend_buffer(bufferevent_get_input(bev), rest);
		evbuffer_free(rest);
	}
	cb(arg, &r, bev);  /* r points into msg, still the caller's */
	stream_free(s);
}

/* false when s is gone */
static bool stream_msg(struct upstream_stream *s, struct json_object *msg)
{
	bool caps = !strcmp(s->command, "qmp_capabilities");
	bool ok = json_object_object_get_ex(msg, "return", NULL);

	if (s->state == UP_GREETING) {
		s->state = UP_NEGOTIATING;
		if (json_object_object_get_ex(msg, "QMP", NULL) &&
		    send_request(s->bev, "qmp_capabilities", caps ? s->args : NULL,
				 caps ? s->token : NULL) == 0)
			return true;
		stream_end(s, NULL, "vmd refused the connection");
		return false;
	}
	if (!ok && !json_object_object_get_ex(msg, "error", NULL))
		return true;  /* an event before the reply */
	if (s->state == UP_NEGOTIATING && !caps && ok) {
		s->state = UP_BUSY;
		if (send_request(s->bev, s->command, s->args, s->token) == 0)
			return true;
		stream_end(s, NULL, "out of memory");
		return false;
	}
	stream_end(s, msg, NULL);
	return false;
}

static void stream_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_stream *s = arg;
	struct json_object *msg;
	bool bad;

	while ((msg = next_msg(bev, s->stream, &bad))) {
		bool alive = stream_msg(s, msg);
		json_object_put(msg);
		if (!alive)
			return;
	}
	if (bad)
		stream_end(s, NULL, "vmd sent malformed JSON");
}

static void stream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		stream_end(arg, NULL, "the connection to vmd broke");
}

struct upstream_stream *upstream_stream(struct gw *gw, const char *token,
					const char *command,
					struct json_object *args,
					upstream_stream_cb cb, void *arg)
{
	struct upstream_stream *s = calloc(1, sizeof *s);

	if (!s || !(s->command = strdup(command)) ||
	    (token && !(s->token = strdup(token))) ||
	    !(s->stream = rpc_stream_new(UP_MAX_MSG))) {
		if (s) {
			s->args = args;
			stream_free(s);
		} else {
			json_object_put(args);
		}
		return NULL;
	}
	s->gw = gw;
	s->args = args;
	s->cb = cb;
	s->arg = arg;
	s->state = UP_GREETING;
	/* a refused connect is reported like a broken one, from the loop */
	s->bev = connect_vmd(gw);
	if (!s->bev)
		s->bev = bufferevent_socket_new(gw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		stream_free(s);
		return NULL;
	}
	bufferevent_setcb(s->bev, stream_read_cb, NULL, stream_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (bufferevent_getfd(s->bev) < 0)
		bufferevent_trigger_event(s->bev, BEV_EVENT_ERROR,
					  BEV_TRIG_DEFER_CALLBACKS);
	return s;
}

void upstream_stream_cancel(struct upstream_stream *s)
{
	if (s)
		stream_free(s);
}
