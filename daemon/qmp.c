/* vmd's side of one QEMU's QMP monitor.  The shared rpc client does the
 * framing; this file drives it from libevent and matches replies to the
 * callbacks waiting for them by id.  QEMU answers commands in order, but
 * matching by id costs nothing and survives events in between. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "daemon/qmp.h"
#include "daemon/vmd.h"
#include "rpc/client.h"

struct pending {
	long long id;
	qmp_reply_cb cb;
	void *ctx;
	struct pending *next;
};

struct qmp {
	struct rpc_client *client;
	struct event *rd, *wr;
	long long next_id;
	struct pending *pending, **tail;
	qmp_event_cb on_event;
	qmp_closed_cb on_closed;
	void *ctx;
	bool closed;
};

static void fail_pending(struct qmp *q)
{
	while (q->pending) {
		struct pending *p = q->pending;
		q->pending = p->next;
		p->cb(p->ctx, NULL, RPC_GENERIC_ERROR, "QEMU monitor closed");
		free(p);
	}
	q->tail = &q->pending;
}

static void qmp_lost(struct qmp *q)
{
	if (q->closed)
		return;
	q->closed = true;
	event_del(q->rd);
	event_del(q->wr);
	fail_pending(q);
	if (q->on_closed)
		q->on_closed(q->ctx);
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
	while (!q->closed && (msg = rpc_client_pop(q->client))) {
		deliver(q, msg);
		json_object_put(msg);
	}
	if (rc < 0)
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

struct qmp *qmp_open(int fd, qmp_event_cb ev, qmp_closed_cb closed, void *ctx)
{
	struct qmp *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	q->client = rpc_client_from_fd(fd);
	q->rd = event_new(vmd.base, fd, EV_READ | EV_PERSIST, on_read, q);
	q->wr = event_new(vmd.base, fd, EV_WRITE, on_write, q);
	q->tail = &q->pending;
	q->next_id = 1;
	q->on_event = ev;
	q->on_closed = closed;
	q->ctx = ctx;
	if (!q->client || !q->rd || !q->wr) {
		qmp_close(q);
		return NULL;
	}
	event_add(q->rd, NULL);
	/* QEMU reads this after its greeting; no need to wait for it */
	if (rpc_client_send(q->client, "qmp_capabilities", NULL, 0) < 0 ||
	    rpc_client_flush(q->client) > 0)
		event_add(q->wr, NULL);
	return q;
}

void qmp_exec(struct qmp *q, const char *cmd, struct json_object *args,
	      qmp_reply_cb cb, void *cbctx)
{
	struct pending *p = calloc(1, sizeof *p);
	int rc;

	if (!p || q->closed) {
		free(p);
		json_object_put(args);
		cb(cbctx, NULL, RPC_GENERIC_ERROR, "QEMU monitor is not connected");
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
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	q->on_closed = NULL;
	if (q->rd && q->wr)
		qmp_lost(q);
	else
		fail_pending(q);
	if (q->rd)
		event_free(q->rd);
	if (q->wr)
		event_free(q->wr);
	rpc_client_close(q->client);
	free(q);
}
