/* vmd's side of one QEMU's QMP monitor.  The shared rpc client does the
 * framing; this file drives it from libevent and matches replies to the
 * callbacks waiting for them by id.  QEMU answers commands in order, but
 * matching by id costs nothing and survives events in between.
 *
 * QEMU's side is trusted: its replies may be large (QMP_MAX_REPLY, far
 * above the 1 MiB cap on clients' requests).  When the session breaks
 * while QEMU lives (a reply above even that, a read error), vmd connects
 * to QEMU's QMP socket again (QEMU's chardev server takes a new client
 * once the old one has gone) and negotiates anew; commands sent meanwhile
 * fail with a message saying so, and the loss is logged.  When QEMU has
 * exited, the owner closes the session from its exit handler. */
#include "config.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <event2/event.h>
#include "daemon/log.h"
#include "daemon/qmp.h"
#include "daemon/vmd.h"
#include "rpc/client.h"

#define QMP_MAX_REPLY (64u * 1024 * 1024)
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 2000

struct pending {
	long long id;
	qmp_reply_cb cb;
	void *ctx;
	struct pending *next;
};

struct qmp {
	struct rpc_client *client;    /* NULL while the session is down */
	struct event *rd, *wr, *retry;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "" unknown */
	int retry_ms;
	char lost[256];               /* why the session went down */
	long long next_id;
	struct pending *pending, **tail;
	qmp_event_cb on_event;
	qmp_closed_cb on_closed;
	void *ctx;
	bool closed;                  /* by qmp_close: no more reconnecting */
	bool rejoined;                /* reconnected; QEMU has not spoken yet */
};

static void fail_pending(struct qmp *q, const char *desc)
{
	while (q->pending) {
		struct pending *p = q->pending;
		q->pending = p->next;
		p->cb(p->ctx, NULL, RPC_GENERIC_ERROR, desc);
		free(p);
	}
	q->tail = &q->pending;
}

static void detach(struct qmp *q)
{
	if (q->rd)
		event_free(q->rd);
	if (q->wr)
		event_free(q->wr);
	q->rd = q->wr = NULL;
	rpc_client_close(q->client);
	q->client = NULL;
}

static void qmp_lost(struct qmp *q)
{
	const char *why = rpc_client_why(q->client);
	bool eof = !strcmp(why, "connection closed by peer");

	char desc[400];

	snprintf(q->lost, sizeof q->lost, "%s", why[0] ? why : "I/O error");
	snprintf(desc, sizeof desc, "QEMU monitor session lost (%s); vmd "
		 "reconnects", q->lost);
	detach(q);
	/* on_quit knows this text for a QEMU that left: the usual end */
	fail_pending(q, eof ? "QEMU monitor closed" : desc);
	log_msg(eof ? LOG_DEBUG : LOG_WARNING, "QMP session %s lost: %s%s",
		q->path, q->lost, q->path[0] ? "; reconnecting" : "");
	if (q->on_closed)
		q->on_closed(q->ctx);
	if (!q->closed && q->path[0] && q->retry) {
		struct timeval tv = {0, 0};
		q->retry_ms = RETRY_FIRST_MS;
		evtimer_add(q->retry, &tv);
	}
}

static void deliver_reply(struct qmp *q, struct json_object *msg)
{
	struct json_object *idv, *ret, *err, *cls, *desc;
	long long id;

	if (!json_object_object_get_ex(msg, "id", &idv))
		return;
	id = json_object_get_int64(idv);
	for (struct pending **pp = &q->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;
		if (p->id != id)
			continue;
		*pp = p->next;
		if (!p->next)
			q->tail = pp;
		if (json_object_object_get_ex(msg, "return", &ret)) {
			p->cb(p->ctx, ret, RPC_OK, NULL);
		} else {
			json_object_object_get_ex(msg, "error", &err);
			json_object_object_get_ex(err, "class", &cls);
			json_object_object_get_ex(err, "desc", &desc);
			p->cb(p->ctx, NULL, rpc_err_from_name(json_object_get_string(cls)),
			      desc ? json_object_get_string(desc) : "QEMU error");
		}
		free(p);
		return;
	}
}

static void deliver(struct qmp *q, struct json_object *msg)
{
	struct json_object *ev, *data = NULL;

	if (json_object_object_get_ex(msg, "event", &ev)) {
		json_object_object_get_ex(msg, "data", &data);
		if (q->on_event)
			q->on_event(q->ctx, json_object_get_string(ev), data);
	} else {
		deliver_reply(q, msg);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct qmp *q = arg;
	struct json_object *msg;
	int rc = rpc_client_read(q->client);

	/* deliver what arrived before a close: QEMU's last SHUTDOWN event */
	while (q->client && (msg = rpc_client_pop(q->client))) {
		/* only a QEMU that greets is back: a dying one accepts, then
		 * resets the connection */
		if (q->rejoined)
			log_msg(LOG_NOTICE, "QMP session %s re-established (it was "
				"lost: %s)", q->path, q->lost);
		q->rejoined = false;
		deliver(q, msg);
		json_object_put(msg);
	}
	if (rc < 0 && q->client)
		qmp_lost(q);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct qmp *q = arg;
	int rc = rpc_client_flush(q->client);

	if (rc < 0)
		qmp_lost(q);
	else if (rc > 0)
		event_add(q->wr, NULL);
}

/* The tests lower the cap to lose a session on purpose. */
static size_t max_reply(void)
{
	const char *e = getenv("VMD_TEST_QMP_MAX_REPLY");
	long long n = e ? atoll(e) : 0;

	return n >= 4096 && n < QMP_MAX_REPLY ? (size_t)n : QMP_MAX_REPLY;
}

static int attach(struct qmp *q, int fd)
{
	q->client = rpc_client_from_fd_max(fd, max_reply());  /* owns fd */
	if (!q->client)
		return -1;
	q->rd = event_new(vmd.base, fd, EV_READ | EV_PERSIST, on_read, q);
	q->wr = event_new(vmd.base, fd, EV_WRITE, on_write, q);
	if (!q->rd || !q->wr) {
		detach(q);
		return -1;
	}
	event_add(q->rd, NULL);
	/* QEMU reads this after its greeting; no need to wait for it */
	if (rpc_client_send(q->client, "qmp_capabilities", NULL, 0) < 0 ||
	    rpc_client_flush(q->client) > 0)
		event_add(q->wr, NULL);
	return 0;
}

static int connect_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return -1;
}

static void on_retry(evutil_socket_t unused, short what, void *arg)
{
	struct qmp *q = arg;
	int fd = connect_path(q->path);

	if (fd >= 0 && attach(q, fd) == 0) {
		q->rejoined = true;
		return;
	}
	log_msg(LOG_DEBUG, "QMP session %s: reconnecting: %s", q->path,
		fd < 0 ? strerror(errno) : "out of memory");
	struct timeval tv = {q->retry_ms / 1000, q->retry_ms % 1000 * 1000};
	evtimer_add(q->retry, &tv);
	q->retry_ms = q->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : q->retry_ms * 2;
}

struct qmp *qmp_open(int fd, qmp_event_cb ev, qmp_closed_cb closed, void *ctx)
{
	struct qmp *q = calloc(1, sizeof *q);
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;

	if (!q) {
		close(fd);
		return NULL;
	}
	/* where QEMU listens: the session is re-established there */
	memset(&sa, 0, sizeof sa);
	if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
	    sa.sun_family == AF_UNIX && sa.sun_path[0] == '/')
		snprintf(q->path, sizeof q->path, "%.*s",
			 (int)(len - offsetof(struct sockaddr_un, sun_path)),
			 sa.sun_path);
	q->tail = &q->pending;
	q->next_id = 1;
	q->on_event = ev;
	q->on_closed = closed;
	q->ctx = ctx;
	q->retry = evtimer_new(vmd.base, on_retry, q);
	if (!q->retry || attach(q, fd) < 0) {
		qmp_close(q);
		return NULL;
	}
	return q;
}

void qmp_exec(struct qmp *q, const char *cmd, struct json_object *args,
	      qmp_reply_cb cb, void *cbctx)
{
	struct pending *p = calloc(1, sizeof *p);
	char desc[400];
	int rc;

	if (!p || !q->client) {
		free(p);
		json_object_put(args);
		snprintf(desc, sizeof desc, "QEMU monitor is not connected%s%s%s",
			 q->lost[0] ? " (the session was lost: " : "", q->lost,
			 q->lost[0] ? "; vmd is reconnecting)" : "");
		cb(cbctx, NULL, RPC_GENERIC_ERROR, desc);
		return;
	}
	p->id = q->next_id++;
	p->cb = cb;
	p->ctx = cbctx;
	*q->tail = p;
	q->tail = &p->next;
	rc = rpc_client_send(q->client, cmd, args, p->id);
	if (rc == 0)
		rc = rpc_client_flush(q->client);
	if (rc > 0)
		event_add(q->wr, NULL);
	else if (rc < 0)
		qmp_lost(q);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	q->on_closed = NULL;
	q->closed = true;
	detach(q);
	fail_pending(q, "QEMU monitor closed");
	if (q->retry)
		event_free(q->retry);
	free(q);
}
