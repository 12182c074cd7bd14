/* vmd's listening sockets and client connections.
 *
 * Input is QMP framing: JSON objects back to back, parsed incrementally by
 * rpc/stream.  A connection serves one request at a time and stops reading
 * while a request is pending; that keeps replies in request order (what QMP
 * clients expect) and bounds what one client can make us buffer.  After
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
#include <event2/listener.h>
#include "daemon/server.h"
#include "daemon/access.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/vmd.h"
#include "rpc/stream.h"

/* An event subscriber that lets this much pile up unread is dropped. */
#define EVENT_BACKLOG_MAX (8 * 1024 * 1024)
/* Defaults of the limits in struct vmd. */
#define DEFAULT_MAX_CLIENTS 1024
#define DEFAULT_HANDSHAKE_TIMEOUT 30

struct conn {
	struct bufferevent *bev;
	struct rpc_stream *stream;
	bool jsonrpc_only, negotiated, busy, dead, in_process, close_on_flush;
	enum rpc_dialect last_dialect;
	int refs;
	uid_t uid;
	pid_t pid;
	enum access_role role;
	conn_raw_input raw_in;
	conn_raw_closed raw_closed;
	void *raw_ctx;
	struct conn *prev, *next;
};

struct listener {
	struct evconnlistener *l;
	bool jsonrpc;
	char *path;
	struct listener *next;
};

static struct conn *conns;
static int nconns;
static struct listener *listeners;

static void conn_process(struct conn *conn);

static void conn_unref(struct conn *conn)
{
	if (--conn->refs > 0)
		return;
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
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	nconns--;
	conn_unref(conn);
}

/* A session that has not negotiated within the handshake timeout, or
 * (with --idle-timeout) that sent nothing for that long, is closed.
 * Console viewers are exempt: watching is not idling. */
static void conn_arm_timeout(struct conn *conn)
{
	int s = conn->negotiated || conn->jsonrpc_only ? vmd.idle_timeout :
		(vmd.handshake_timeout ? vmd.handshake_timeout :
		 DEFAULT_HANDSHAKE_TIMEOUT);
	struct timeval tv = {s, 0};

	if (conn->raw_in || s <= 0)
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
	else
		bufferevent_set_timeouts(conn->bev, &tv, NULL);
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

void conn_peer(const struct conn *conn, uid_t *uid, pid_t *pid)
{
	*uid = conn->uid;
	*pid = conn->pid;
}

static void call_finish(struct call *c, struct json_object *reply)
{
	struct conn *conn = c->conn;
	bool silent = c->dialect == RPC_JSONRPC && !c->id;

	if (silent)  /* a JSON-RPC notification gets no reply */
		json_object_put(reply);
	else
		conn_send(conn, reply);
	if (c->after && !conn->dead)
		c->after(c, conn);
	json_object_put(c->req);
	free(c);
	conn->busy = false;
	if (!conn->dead && !conn->in_process)
		conn_process(conn);
	conn_unref(conn);
}

void call_return(struct call *c, struct json_object *ret)
{
	if (!c) {  /* started by vmd itself (autostart): nobody to answer */
		json_object_put(ret);
		return;
	}
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
	if (!c) {
		log_err("%s: %s", rpc_err_name(cls), desc);
		return;
	}
	c->after = NULL;
	call_finish(c, rpc_reply_error(c->dialect, c->id, cls, desc));
}

static void conn_reply_error(struct conn *conn, enum rpc_dialect d,
			     struct json_object *id, rpc_err cls,
			     const char *desc)
{
	conn_send(conn, rpc_reply_error(d, id, cls, desc));
}

static void conn_handle(struct conn *conn, struct json_object *obj)
{
	struct rpc_request req;
	char desc[512];
	bool negotiate = false;
	rpc_err e = rpc_request_parse(obj, &req, desc, sizeof desc);

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
	snprintf(c->who, sizeof c->who, "uid=%d pid=%d", (int)conn->uid,
		 (int)conn->pid);
	c->role = conn->role;
	c->uid = conn->uid;
	conn->refs++;
	conn->busy = true;
	dispatch_call(c, conn->negotiated || conn->jsonrpc_only, &negotiate);
	if (negotiate && !conn->dead) {
		conn->negotiated = true;
		conn_arm_timeout(conn);
	}
}

static void conn_stream_error(struct conn *conn, enum rpc_stream_status st,
			      const char *err)
{
	rpc_err cls = st == RPC_STREAM_TOO_BIG ? RPC_GENERIC_ERROR : RPC_PARSE_ERROR;

	conn_reply_error(conn, conn->last_dialect, NULL, cls, err);
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
	       !conn->raw_in) {
		enum rpc_stream_status st =
			rpc_stream_next(conn->stream, &obj, err, sizeof err);
		if (st == RPC_STREAM_MORE)
			break;
		if (st == RPC_STREAM_VALUE)
			conn_handle(conn, obj);
		else
			conn_stream_error(conn, st, err);
	}
	conn->in_process = false;
	if (!conn->dead && !conn->close_on_flush)
		bufferevent_enable(conn->bev, conn->busy ? EV_WRITE : EV_READ | EV_WRITE);
	if (conn->busy && !conn->dead)
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

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;

	if (conn->close_on_flush)
		conn_close(conn);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		log_info("client uid=%d pid=%d: %s; closed", (int)conn->uid,
			 (int)conn->pid, conn->negotiated ? "idle too long" :
			 "no capabilities negotiation in time");
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
	struct conn *conn = calloc(1, sizeof *conn);

	if (!conn || !(conn->stream = rpc_stream_new(vmd.max_msg ? vmd.max_msg :
						     RPC_MAX_MSG))) {
		free(conn);
		close(fd);
		return;
	}
	conn->role = access_role_of(fd, &conn->uid, &conn->pid);
	conn->refs = 1;
	conn->jsonrpc_only = li->jsonrpc;
	conn->last_dialect = li->jsonrpc ? RPC_JSONRPC : RPC_QMP;
	conn->bev = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	conn->next = conns;
	if (conns)
		conns->prev = conn;
	conns = conn;
	nconns++;
	conn_arm_timeout(conn);
	int max = vmd.max_clients ? vmd.max_clients : DEFAULT_MAX_CLIENTS;
	if (nconns > max) {
		char desc[96];
		snprintf(desc, sizeof desc, "too many clients (at most %d); try "
			 "again later", max);
		log_warn("client uid=%d pid=%d refused: %s", (int)conn->uid,
			 (int)conn->pid, desc);
		conn_reply_error(conn, conn->last_dialect, NULL, RPC_BUSY, desc);
		conn->close_on_flush = true;
		bufferevent_disable(conn->bev, EV_READ);
		return;
	}
	if (!li->jsonrpc)
		conn_send(conn, rpc_greeting_new(0, 1, 0, "vmd " VMD_VERSION));
}

int server_listen_fd(int fd, bool jsonrpc)
{
	struct listener *li = calloc(1, sizeof *li);

	if (!li)
		return -1;
	evutil_make_socket_nonblocking(fd);
	li->jsonrpc = jsonrpc;
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

int server_listen(const char *path, bool jsonrpc)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
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
	    chmod(path, vmd.socket_mode ? vmd.socket_mode : 0660) < 0 || listen(fd, 128) < 0) {
		log_err("cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* members of group vmd (and vmd-admin, who should be in vmd too)
	 * reach the socket; access.c decides what each may do */
	struct group *gr = geteuid() == 0 ? getgrnam(ACCESS_GROUP_READ) : NULL;
	if (gr && chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("chown %s to group %s: %s", path, gr->gr_name, strerror(errno));
	if (server_listen_fd(fd, jsonrpc) < 0)
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

void server_broadcast(struct json_object *event)
{
	size_t len;
	char *s = rpc_emit(event, &len);

	json_object_put(event);
	if (!s)
		return;
	for (struct conn *c = conns, *next; c; c = next) {
		next = c->next;
		if (!c->negotiated || c->raw_in || c->dead)
			continue;
		struct evbuffer *out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > EVENT_BACKLOG_MAX) {
			log_warn("client uid=%d pid=%d reads no events; dropped",
				 (int)c->uid, (int)c->pid);
			conn_close(c);
			continue;
		}
		evbuffer_add(out, s, len);
	}
	free(s);
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
