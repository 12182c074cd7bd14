/* vmd's listening sockets and client connections.
 *
 * Input is QMP framing: JSON objects back to back, parsed incrementally by
 * rpc/stream.  A connection serves one request at a time and stops reading
 * while a request is pending; that keeps replies in request order (what QMP
 * clients expect) and bounds what one client can make us buffer; so does
 * reading nothing while 1 MiB of its replies wait unsent.  After
 * console-attach a connection leaves JSON and carries raw console bytes. */
#include "config.h"
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include "daemon/server.h"
#include "daemon/server_conn.h"
#include "daemon/access.h"
#include "daemon/auth.h"
#include "daemon/climit.h"
#include "daemon/counters.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/batch.h"
#include "daemon/vmd.h"
#include "rpc/stream.h"

/* An event subscriber that lets this much pile up unread is dropped. */
#define EVENT_BACKLOG_MAX (8 * 1024 * 1024)
/* A client that does not read its replies: once this much waits unsent,
 * vmd reads no more of its requests until they drain to OUT_LOW. */
#define OUT_HIGH (1024 * 1024)
#define OUT_LOW (256 * 1024)
/* Default of --handshake-timeout (0 in struct vmd). */
#define DEFAULT_HANDSHAKE_TIMEOUT 30


struct listener {
	struct evconnlistener *l;
	enum listen_kind kind;
	char *path;
	struct listener *next;
};

static struct conn *conns;

struct conn *server_conns(void)
{
	return conns;
}
static struct listener *listeners;

static void conn_process(struct conn *conn);
static void conn_batch_run(struct conn *conn);

static void conn_unref(struct conn *conn)
{
	if (--conn->refs > 0)
		return;
	batch_free(conn->batch);
	auth_token_free(conn->tok);
	rpc_stream_free(conn->stream);
	free(conn);
}

void conn_close(struct conn *conn)
{
	if (conn->dead)
		return;
	conn->dead = true;
	if (conn->raw_closed)
		conn->raw_closed(conn->raw_ctx, conn);
	if (conn->deadline)
		event_free(conn->deadline);
	conn->deadline = NULL;
	session_unbind(conn);
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	climit_release(conn->uid);
	conn_unref(conn);
}

static int handshake_timeout(void)
{
	return vmd.handshake_timeout ? vmd.handshake_timeout :
	       DEFAULT_HANDSHAKE_TIMEOUT;
}

/* Until a QMP session negotiates, or a JSON-RPC one sends its first
 * request, the handshake deadline runs: armed at accept, so a trickle of
 * bytes does not extend it.  After that, with --idle-timeout, a session
 * silent that long, or that long reading none of its pending replies, is
 * closed.  Console viewers are exempt: watching is not idling. */
static void conn_arm_timeout(struct conn *conn)
{
	bool started = conn->jsonrpc_only ? conn->started : conn->negotiated;
	struct timeval tv = {vmd.idle_timeout, 0};

	if ((started || conn->raw_in) && conn->deadline) {
		event_free(conn->deadline);
		conn->deadline = NULL;
	}
	if (conn->deadline || conn->raw_in || vmd.idle_timeout <= 0)
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
	else
		bufferevent_set_timeouts(conn->bev, &tv, &tv);
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;

	log_info("client uid=%d pid=%d: %s within %d s of connecting "
		 "(--handshake-timeout); closed", (int)conn->uid, (int)conn->pid,
		 conn->jsonrpc_only ? "no request" : "no capabilities negotiation",
		 handshake_timeout());
	conn_close(conn);
}

/* True, and reading paused, while too many replies wait unsent: a client
 * that pipelines requests and never reads cannot make vmd buffer without
 * limit.  conn_write_cb resumes below OUT_LOW. */
static bool conn_out_full(struct conn *conn)
{
	if (evbuffer_get_length(bufferevent_get_output(conn->bev)) < OUT_HIGH)
		return false;
	if (!conn->paused) {
		conn->paused = true;
		bufferevent_setwatermark(conn->bev, EV_WRITE, OUT_LOW, 0);
	}
	return true;
}

static void conn_send(struct conn *conn, struct json_object *msg)
{
	size_t len;
	char *s;

	if (conn->dead) {
		json_object_put(msg);
		return;
	}
	s = rpc_emit(msg, &len);
	json_object_put(msg);
	if (!s || bufferevent_write(conn->bev, s, len) < 0)
		log_warn("client uid=%d pid=%d: cannot queue reply",
			 (int)conn->uid, (int)conn->pid);
	free(s);
}

/* A reply to a request: gathered while a batch runs, else sent. */
static void conn_answer(struct conn *conn, struct json_object *reply)
{
	if (conn->batch)
		batch_add(conn->batch, reply);
	else
		conn_send(conn, reply);
}

void conn_peer(const struct conn *conn, uid_t *uid, pid_t *pid)
{
	*uid = conn->uid;
	*pid = conn->pid;
}

static void call_free(struct call *c)
{
	auth_token_free(c->token);
	json_object_put(c->req);
	free(c);
}

static void call_finish(struct call *c, struct json_object *reply)
{
	struct conn *conn = c->conn;
	bool silent = c->dialect == RPC_JSONRPC && !c->id;

	if (silent)  /* a JSON-RPC notification gets no reply */
		json_object_put(reply);
	else
		conn_answer(conn, reply);
	if (c->after && !conn->dead)
		c->after(c, conn);
	c->replied = true;
	if (!c->in_handler)
		call_free(c);
	conn->busy = false;
	if (conn->batch && !conn->dead)
		conn_batch_run(conn);
	/* the next request waits for the whole batch */
	if (!conn->dead && !conn->in_process && !conn->batch)
		conn_process(conn);
	conn_unref(conn);
}

void call_return(struct call *c, struct json_object *ret)
{
	if (c->token && (!strcmp(c->command, "qmp_capabilities") ||
			 !strcmp(c->command, "console-attach")))
		session_bind_token(c->conn, c);
	call_finish(c, rpc_reply_return(c->dialect, c->id, ret));
}

void call_error(struct call *c, rpc_err cls, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof desc, fmt, ap);
	va_end(ap);
	desc[rpc_utf8_cut(desc, strlen(desc))] = '\0';  /* a clipped name */
	c->after = NULL;
	counters_error(cls);
	call_finish(c, rpc_reply_error(c->dialect, c->id, cls, desc));
}

void call_fault(struct call *c, const struct rpc_fault *f)
{
	call_error(c, f->cls, "%s", f->msg);
}

static void conn_reply_error(struct conn *conn, enum rpc_dialect d,
			     struct json_object *id, rpc_err cls,
			     const char *desc)
{
	counters_error(cls);
	conn_answer(conn, rpc_reply_error(d, id, cls, desc));
}

/* Serve one request object (alone, or one call of a batch). */
static void conn_handle_one(struct conn *conn, struct json_object *obj)
{
	struct rpc_request req;
	char desc[512];
	bool negotiate = false;
	rpc_err e = rpc_request_parse(obj, &req, desc, sizeof desc);

	if (e != RPC_OK && !json_object_is_type(obj, json_type_object) &&
	    conn->jsonrpc_only)
		req.dialect = RPC_JSONRPC;  /* nothing in it tells */
	if (conn->batch)
		e = rpc_batch_element(&req, e, desc, sizeof desc);
	conn->last_dialect = req.dialect;
	if (e != RPC_OK) {
		conn_reply_error(conn, req.dialect, req.id, e, desc);
		rpc_request_clear(&req);
		return;
	}
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		conn_reply_error(conn, req.dialect, req.id, RPC_GENERIC_ERROR,
				 "out of memory");
		rpc_request_clear(&req);
		return;
	}
	c->conn = conn;
	c->dialect = req.dialect;
	c->req = req.obj;
	c->id = req.id;
	c->args = req.args;
	c->command = req.command;
	c->token_text = req.token;
	snprintf(c->who, sizeof c->who, "uid=%d pid=%d", (int)conn->uid,
		 (int)conn->pid);
	c->role = conn->role;
	c->uid = conn->uid;
	conn->refs++;
	conn->busy = true;
	/* A handler may read its arguments after it replied (an error from a
	 * helper it called): the call is freed once the handler returned. */
	c->in_handler = true;
	dispatch_call(c, conn->negotiated || conn->jsonrpc_only, &negotiate);
	c->in_handler = false;
	if (c->replied)
		call_free(c);
	if (negotiate && !conn->dead) {
		conn->negotiated = true;
		conn_arm_timeout(conn);
	}
}

/* Echo the id as the client wrote it (2**70, 1.0, "\u00e9"). */
static void conn_keep_id(struct conn *conn, struct json_object *obj,
			 size_t elem)
{
	size_t len;
	const char *text = rpc_stream_raw_id(conn->stream, elem, &len);

	if (text)
		rpc_id_keep_raw(obj, text, len);
}

/* A JSON-RPC batch (an array) is served like single requests, one call
 * after another, its replies gathered by daemon/batch.c.  Run its calls
 * until one is pending or all are answered, then send the replies as one
 * array (none when every call was a notification).  call_finish calls it
 * again when a pending call ends. */
static void conn_batch_run(struct conn *conn)
{
	struct batch *b = conn->batch;
	struct json_object *el;
	size_t len;

	if (batch_set_running(b, true))
		return;  /* a call that ended inside the loop below */
	while (!conn->dead && !conn->busy && (el = batch_next(b)))
		conn_handle_one(conn, el);
	batch_set_running(b, false);
	if (conn->dead || conn->busy)
		return;
	conn->batch = NULL;
	char *s = batch_reply(b, &len);
	batch_free(b);
	if (s && bufferevent_write(conn->bev, s, len) < 0)
		log_warn("client uid=%d pid=%d: cannot queue reply",
			 (int)conn->uid, (int)conn->pid);
	free(s);
}

/* An array: a JSON-RPC batch on the JSON-RPC socket, and on the QMP socket
 * when it starts with a JSON-RPC request; QMP itself has no arrays. */
static void conn_batch(struct conn *conn, struct json_object *arr)
{
	struct json_object *first = json_object_array_get_idx(arr, 0);
	char desc[160];
	rpc_err e;

	if (!conn->jsonrpc_only && !json_object_object_get_ex(first, "jsonrpc",
							      NULL)) {
		conn_reply_error(conn, RPC_QMP, NULL, RPC_INVALID_REQUEST,
				 "QMP input must be a JSON object (an array is "
				 "read as a JSON-RPC 2.0 batch only when it "
				 "starts with a JSON-RPC request)");
		json_object_put(arr);
		return;
	}
	conn->last_dialect = RPC_JSONRPC;
	e = batch_check(arr, desc, sizeof desc);
	if (e != RPC_OK) {
		conn_reply_error(conn, RPC_JSONRPC, NULL, e, desc);
		json_object_put(arr);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		conn_keep_id(conn, json_object_array_get_idx(arr, i), i);
	conn->batch = batch_new(arr);
	if (!conn->batch) {
		conn_reply_error(conn, RPC_JSONRPC, NULL, RPC_GENERIC_ERROR,
				 "out of memory");
		return;
	}
	conn_batch_run(conn);
}

static void conn_handle(struct conn *conn, struct json_object *obj)
{
	if (json_object_is_type(obj, json_type_array)) {
		conn_batch(conn, obj);
		return;
	}
	conn_keep_id(conn, obj, RPC_STREAM_TOP);
	conn_handle_one(conn, obj);
}

static void conn_stream_error(struct conn *conn, enum rpc_stream_status st,
			      const char *err)
{
	rpc_err cls = st == RPC_STREAM_TOO_BIG ? RPC_GENERIC_ERROR :
		      st == RPC_STREAM_REFUSED ? RPC_INVALID_REQUEST :
		      RPC_PARSE_ERROR;

	/* the JSON-RPC socket answers in JSON-RPC whatever came before */
	conn_reply_error(conn, conn->jsonrpc_only ? RPC_JSONRPC :
			 conn->last_dialect, NULL, cls, err);
	if (st == RPC_STREAM_TOO_BIG) {
		/* framing is lost: say why, then close once it is sent */
		conn->close_on_flush = true;
		bufferevent_disable(conn->bev, EV_READ);
	}
}

/* Parse and serve buffered requests until one is pending or input runs out. */
static void conn_process(struct conn *conn)
{
	struct json_object *obj;
	char err[256];

	conn->refs++;
	conn->in_process = true;
	while (!conn->dead && !conn->busy && !conn->close_on_flush &&
	       !conn->raw_in && !conn_out_full(conn)) {
		enum rpc_stream_status st =
			rpc_stream_next(conn->stream, &obj, err, sizeof err);
		if (st == RPC_STREAM_MORE)
			break;
		if (st == RPC_STREAM_VALUE && conn->jsonrpc_only && !conn->started) {
			conn->started = true;
			conn_arm_timeout(conn);
		}
		if (st == RPC_STREAM_VALUE)
			conn_handle(conn, obj);
		else
			conn_stream_error(conn, st, err);
	}
	conn->in_process = false;
	bool hold = conn->busy || conn->paused;
	if (!conn->dead && !conn->close_on_flush)
		bufferevent_enable(conn->bev, hold ? EV_WRITE : EV_READ | EV_WRITE);
	if (hold && !conn->dead)
		bufferevent_disable(conn->bev, EV_READ);
	conn_unref(conn);
}

static void conn_read_raw(struct conn *conn, struct evbuffer *in)
{
	char buf[16384];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
		conn->raw_in(conn->raw_ctx, buf, (size_t)n);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (conn->raw_in) {
		conn_read_raw(conn, in);
		return;
	}
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (rpc_stream_push(conn->stream, v.iov_base, v.iov_len) < 0) {
			conn_close(conn);
			return;
		}
		evbuffer_drain(in, v.iov_len);
	}
	conn_process(conn);
}

/* Called when the output drains to its low watermark: 0, or OUT_LOW
 * while paused. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (conn->close_on_flush) {
		if (left == 0)
			conn_close(conn);
		else
			bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		return;
	}
	if (conn->paused && left <= OUT_LOW) {
		conn->paused = false;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		if (!conn->in_process)
			conn_process(conn);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		log_info("client uid=%d pid=%d: %s for %d s (--idle-timeout); "
			 "closed", (int)conn->uid, (int)conn->pid,
			 what & BEV_EVENT_WRITING ? "read none of its replies" :
			 "silent", vmd.idle_timeout);
		conn_close(conn);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(conn);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct listener *li = arg;
	bool jsonrpc = li->kind == LISTEN_JSONRPC;
	enum rpc_dialect d = jsonrpc ? RPC_JSONRPC : RPC_QMP;
	struct timeval tv = {handshake_timeout(), 0};
	uid_t uid = (uid_t)-1;  /* no credentials: nobody, not root */
	pid_t pid = 0;
	enum access_role role = access_role_of(fd, &uid, &pid);
	char why[256];

	if (li->kind == LISTEN_GATEWAY)
		role = ROLE_NONE;  /* the gateway's rights are its callers' tokens */

	if (climit_admit(uid, role, why, sizeof why) < 0) {
		climit_refuse(fd, d, uid, pid, why);
		return;
	}
	struct conn *conn = calloc(1, sizeof *conn);
	if (!conn || !(conn->stream = rpc_stream_new(vmd.max_msg ? vmd.max_msg :
						     RPC_MAX_MSG)) ||
	    !(conn->deadline = evtimer_new(vmd.base, conn_deadline_cb, conn))) {
		if (conn)
			rpc_stream_free(conn->stream);
		free(conn);
		climit_release(uid);
		close(fd);
		return;
	}
	conn->role = role;
	conn->uid = uid;
	conn->pid = pid;
	conn->refs = 1;
	conn->jsonrpc_only = jsonrpc;
	conn->last_dialect = d;
	conn->bev = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	conn->next = conns;
	if (conns)
		conns->prev = conn;
	conns = conn;
	evtimer_add(conn->deadline, &tv);
	conn_arm_timeout(conn);
	if (!jsonrpc)
		conn_send(conn, rpc_greeting_new(0, 1, 0, "vmd " VMD_VERSION));
}

int server_listen_fd(int fd, enum listen_kind kind)
{
	struct listener *li = calloc(1, sizeof *li);

	if (!li)
		return -1;
	evutil_make_socket_nonblocking(fd);
	li->kind = kind;
	li->l = evconnlistener_new(vmd.base, accept_cb, li,
				   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				   -1, fd);
	if (!li->l) {
		free(li);
		return -1;
	}
	li->next = listeners;
	listeners = li;
	return 0;
}

/* A socket file left by a vmd that died is replaced; a live one is not. */
static int socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int used = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

int server_listen(const char *path, enum listen_kind kind)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	bool gw = kind == LISTEN_GATEWAY;
	unsigned mode = gw ? vmd.gateway_mode : vmd.socket_mode;
	const char *group = gw ? vmd.gateway_group : ACCESS_GROUP_READ;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		log_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (socket_in_use(&sa)) {
		log_err("%s: another vmd is already listening there", path);
		return -1;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(path, mode ? mode : 0660) < 0 || listen(fd, 128) < 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* members of group vmd (and vmd-admin, who should be in vmd too)
	 * reach the socket; access.c decides what each may do.  The
	 * gateway's socket: the gateway's group, when given */
	struct group *gr = geteuid() == 0 && group ? getgrnam(group) : NULL;
	if (gw && group && !gr) {
		log_err("%s: no group %s (--gateway-socket-group)", path, group);
		close(fd);
		return -1;
	}
	if (gr && chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("chown %s to group %s: %s", path, gr->gr_name, strerror(errno));
	if (server_listen_fd(fd, kind) < 0)
		return -1;
	listeners->path = strdup(path);
	return 0;
}

void server_shutdown(void)
{
	while (conns)
		conn_close(conns);
	while (listeners) {
		struct listener *li = listeners;
		listeners = li->next;
		evconnlistener_free(li->l);
		if (li->path)
			unlink(li->path);
		free(li->path);
		free(li);
	}
}

/* The event as QMP sessions get it, or as a JSON-RPC notification for
 * connections of the JSON-RPC socket (made once, when first needed). */
struct event_text {
	struct json_object *event;
	char *text[2];
	size_t len[2];
};

static const char *event_text(struct event_text *t, bool jsonrpc, size_t *len)
{
	int k = jsonrpc;

	if (!t->text[k]) {
		struct json_object *msg = jsonrpc ?
			rpc_event_notification(t->event) :
			json_object_get(t->event);
		t->text[k] = rpc_emit(msg, &t->len[k]);
		json_object_put(msg);
	}
	*len = t->len[k];
	return t->text[k];
}

void server_broadcast(struct json_object *event)
{
	struct event_text t = {.event = event};

	for (struct conn *c = conns, *next; c; c = next) {
		next = c->next;
		if (!(c->negotiated || c->jsonrpc_only) || c->raw_in || c->dead)
			continue;
		/* no rights, no events; a token's, only its VMs' */
		if (c->tok ? !auth_event_visible(c->tok, event) :
		    c->role == ROLE_NONE)
			continue;
		struct evbuffer *out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > EVENT_BACKLOG_MAX) {
			log_warn("client uid=%d pid=%d reads no events; dropped",
				 (int)c->uid, (int)c->pid);
			conn_close(c);
			continue;
		}
		size_t len;
		const char *s = event_text(&t, c->jsonrpc_only, &len);
		if (s)
			evbuffer_add(out, s, len);
	}
	free(t.text[0]);
	free(t.text[1]);
	json_object_put(event);
}

void conn_enter_raw(struct conn *conn, conn_raw_input in, conn_raw_closed closed,
		    void *ctx)
{
	char buf[16384];
	size_t n;

	conn->raw_in = in;
	conn->raw_closed = closed;
	conn->raw_ctx = ctx;
	conn_arm_timeout(conn);
	/* bytes the client sent right behind its console-attach request */
	while ((n = rpc_stream_take_rest(conn->stream, buf, sizeof buf)) > 0)
		in(ctx, buf, n);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

void conn_raw_pause(struct conn *conn, bool pause)
{
	if (conn->dead)
		return;
	if (pause)
		bufferevent_disable(conn->bev, EV_READ);
	else
		bufferevent_enable(conn->bev, EV_READ);
}

size_t conn_raw_write(struct conn *conn, const void *buf, size_t len)
{
	struct evbuffer *out;

	if (conn->dead)
		return 0;
	out = bufferevent_get_output(conn->bev);
	evbuffer_add(out, buf, len);
	return evbuffer_get_length(out);
}
