/* The viewers of a serial console: protocol connections in raw mode
 * (console-attach) and raw TCP clients of a tcp port that passed its gate
 * (tcpgate.c).  Each gets the scrollback, then every byte the guest
 * prints; one holds the keyboard.  vmd never waits for a viewer: one with
 * CONSOLE_VIEWER_MAX_PENDING bytes unsent is dropped, and so is the one
 * furthest behind while all of them together have more than
 * CONSOLE_VIEWERS_MAX_PENDING (plus a scrollback).  Nor does it buffer
 * typing without bound: the writer is not read while
 * CONSOLE_INPUT_MAX_PENDING bytes wait for the guest (console.c). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include "console/console.h"
#include "console/console_int.h"
#include "console/conlog.h"
#include "daemon/log.h"
#include "daemon/conn.h"
#include "console/tcpgate.h"
#include "daemon/vmd.h"
#include "rpc/message.h"

static struct json_object *uid_json(uid_t uid)
{
	return json_object_new_int64(uid == (uid_t)-1 ? -1 : (int64_t)uid);
}

/* "uid=0 pid=42 via socket" or "uid=1000 via tcp 127.0.0.1:4242". */
static const char *who(const struct viewer *v, char *buf, size_t cap)
{
	if (v->conn)
		snprintf(buf, cap, "uid=%d pid=%d via socket", (int)v->uid,
			 (int)v->pid);
	else
		snprintf(buf, cap, "uid=%ld via tcp %s", v->uid == (uid_t)-1 ? -1L :
			 (long)v->uid, v->peer);
	return buf;
}

static void announce(struct console *con, const char *event, struct viewer *v,
		     struct json_object *extra)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "vm", json_object_new_string(con->vm));
	json_object_object_add(d, "uuid", json_object_new_string(con->uuid));
	json_object_object_add(d, "port", json_object_new_int(con->p.port));
	if (v && strcmp(event, "CONSOLE_WRITER"))
		json_object_object_add(d, "mode", json_object_new_string(v->rw ? "rw" : "ro"));
	if (v) {
		json_object_object_add(d, "uid", uid_json(v->uid));
		json_object_object_add(d, "pid", json_object_new_int64(v->pid));
		if (!v->conn)
			json_object_object_add(d, "peer", json_object_new_string(v->peer));
	}
	if (v && strcmp(event, "CONSOLE_WRITER"))
		json_object_object_add(d, "via", json_object_new_string(v->conn ? "socket" : "tcp"));
	json_object_object_foreach(extra, key, val)
		json_object_object_add(d, key, json_object_get(val));
	json_object_put(extra);
	server_broadcast(rpc_event_new(event, d));
}

static void viewer_unlink(struct viewer *v)
{
	struct console *con = v->con;
	struct json_object *extra = json_object_new_object();
	char w[128];

	for (struct viewer **pp = &con->viewers; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	if (con->writer == v)
		con->writer = NULL;
	json_object_object_add(extra, "reason",
			       json_object_new_string(v->reason ? v->reason : "closed"));
	announce(con, "CONSOLE_DETACH", v, extra);
	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: viewer %s left (%s)",
	       con->p.port, who(v, w, sizeof w), v->reason ? v->reason : "closed");
}

void viewer_drop(struct viewer *v, const char *reason)
{
	v->reason = reason;
	if (v->conn) {
		conn_close(v->conn);  /* detaches through viewer_closed */
		return;
	}
	viewer_unlink(v);
	bufferevent_free(v->tcp);
	free(v);
}

static size_t viewer_write(struct viewer *v, const void *p, size_t n)
{
	struct evbuffer *out;

	if (v->conn)
		return conn_raw_write(v->conn, p, n);
	out = bufferevent_get_output(v->tcp);
	evbuffer_add(out, p, n);
	return evbuffer_get_length(out);
}

static size_t viewer_pending(struct viewer *v)
{
	return viewer_write(v, "", 0);
}

/* Drop the viewers furthest behind until all together fit the budget. */
static void viewers_budget(struct console *con)
{
	size_t budget = CONSOLE_VIEWERS_MAX_PENDING + con->p.scrollback;
	char w[128];

	for (;;) {
		size_t total = 0, most = 0;
		struct viewer *worst = NULL;
		for (struct viewer *v = con->viewers; v; v = v->next) {
			size_t n = viewer_pending(v);
			total += n;
			if (n > most) {
				most = n;
				worst = v;
			}
		}
		if (total <= budget || !worst)
			return;
		log_vm(LOG_WARNING, con->vm, con->uuid, "console %d: viewers hold "
		       "%zu bytes unsent; %s, %zu behind, dropped as too slow",
		       con->p.port, total, who(worst, w, sizeof w), most);
		viewer_drop(worst, "too-slow");
	}
}

void viewers_send(struct console *con, const unsigned char *p, size_t n)
{
	for (struct viewer *v = con->viewers, *next; v; v = next) {
		next = v->next;
		if (viewer_write(v, p, n) > CONSOLE_VIEWER_MAX_PENDING) {
			char w[128];
			log_vm(LOG_WARNING, con->vm, con->uuid, "console %d: viewer "
			       "%s too slow (%d bytes unread), dropped", con->p.port,
			       who(v, w, sizeof w), CONSOLE_VIEWER_MAX_PENDING);
			viewer_drop(v, "too-slow");
		}
	}
	viewers_budget(con);
}

/* Holding again is not a no-op: something else (conn_enter_raw) may have
 * enabled reading meanwhile. */
void viewer_hold(struct viewer *v, bool hold)
{
	if (v->held == hold && !hold)
		return;
	v->held = hold;
	if (v->conn)
		conn_raw_pause(v->conn, hold);
	else if (hold)
		bufferevent_disable(v->tcp, EV_READ);
	else
		bufferevent_enable(v->tcp, EV_READ);
}

static struct viewer *viewer_new(struct console *con, bool rw, bool force)
{
	struct viewer *v;

	if (rw && con->writer && !force)
		return NULL;
	if (!(v = calloc(1, sizeof *v)))
		return NULL;
	v->con = con;
	v->rw = rw;
	return v;
}

/* Link v in and hand it the keyboard if it asked; returns the writer it
 * took the keyboard from, if any. */
static struct viewer *viewer_link(struct console *con, struct viewer *v)
{
	struct viewer *prev = v->rw ? con->writer : NULL;

	v->next = con->viewers;
	con->viewers = v;
	if (v->rw)
		con->writer = v;
	if (prev) {
		prev->rw = false;
		viewer_hold(prev, false);  /* read-only: its input is dropped */
	}
	return prev;
}

/* Tell everyone, then send v the scrollback. */
static void viewer_welcome(struct console *con, struct viewer *v,
			   struct viewer *prev)
{
	char w[128];

	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: viewer %s attached "
	       "(%s)", con->p.port, who(v, w, sizeof w), v->rw ? "rw" : "ro");
	announce(con, "CONSOLE_ATTACH", v, json_object_new_object());
	if (prev) {
		struct json_object *extra = json_object_new_object();
		struct json_object *old = json_object_new_object();
		json_object_object_add(old, "uid", uid_json(prev->uid));
		json_object_object_add(old, "pid", json_object_new_int64(prev->pid));
		if (!prev->conn)
			json_object_object_add(old, "peer", json_object_new_string(prev->peer));
		json_object_object_add(extra, "previous", old);
		announce(con, "CONSOLE_WRITER", v, extra);
	}
	size_t cap = con->p.scrollback;
	size_t first = cap ? cap - con->ring_start : 0;
	if (first > con->ring_len)
		first = con->ring_len;
	viewer_write(v, con->ring + con->ring_start, first);
	viewer_write(v, con->ring, con->ring_len - first);
}

static void viewer_input(void *ctx, const void *buf, size_t len)
{
	struct viewer *v = ctx;
	char w[128];

	if (v->con->writer != v)
		return;
	if (!v->typed)  /* who typed, once per turn at the keyboard */
		log_vm(LOG_NOTICE, v->con->vm, v->con->uuid, "console %d: input "
		       "from %s", v->con->p.port, who(v, w, sizeof w));
	v->typed = true;
	console_to_guest(v->con, buf, len);
}

static void viewer_closed(void *ctx, struct conn *conn)
{
	struct viewer *v = ctx;

	if (!v->reason)
		v->reason = conn_close_reason(conn);
	viewer_unlink(v);
	free(v);
}

bool console_has_writer(const struct console *con)
{
	return con->writer != NULL;
}

static struct json_object *viewer_json(const struct viewer *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(v->rw ? "rw" : "ro"));
	json_object_object_add(o, "via", json_object_new_string(v->conn ? "socket" : "tcp"));
	json_object_object_add(o, "uid", uid_json(v->uid));
	json_object_object_add(o, "pid", json_object_new_int64(v->pid));
	if (!v->conn)
		json_object_object_add(o, "peer", json_object_new_string(v->peer));
	return o;
}

uint64_t console_log_end(const struct console *con)
{
	return conlog_end(con->log);
}

int console_viewer_count(const struct console *con)
{
	int n = 0;

	for (const struct viewer *v = con->viewers; v; v = v->next)
		n++;
	return n;
}

void console_describe(const struct console *con, struct json_object *o,
		      bool admin)
{
	struct json_object *att = json_object_new_array();
	int n = 0;

	for (const struct viewer *v = con->viewers; v; v = v->next) {
		json_object_array_add(att, viewer_json(v));
		n++;
	}
	json_object_object_add(o, "viewers", json_object_new_int(n));
	json_object_object_add(o, "writer", json_object_new_boolean(con->writer != NULL));
	json_object_object_add(o, "log_end",
			       json_object_new_int64((int64_t)conlog_end(con->log)));
	json_object_object_add(o, "keeper", json_object_new_boolean(
		con->bev && (bufferevent_get_enabled(con->bev) & EV_READ)));
	if (con->gate) {
		json_object_object_add(o, "tcp_port",
				       json_object_new_int(tcpgate_port(con->gate)));
		json_object_object_add(o, "auth", json_object_new_string(
			tcpgate_secret(con->gate) ? "secret" : "none"));
	}
	if (con->gate && admin && tcpgate_secret(con->gate))
		json_object_object_add(o, "secret", json_object_new_string(
			tcpgate_secret(con->gate)));
	/* last: the longest, where vmctl's one-line view may cut it */
	json_object_object_add(o, "attached", att);
}

int console_attach(struct console *con, struct conn *conn, bool rw, bool force)
{
	struct viewer *v = viewer_new(con, rw, force);

	if (!v)
		return -1;
	v->conn = conn;
	conn_peer(conn, &v->uid, &v->pid);
	struct viewer *prev = viewer_link(con, v);
	/* raw first: this connection must not get the events below */
	conn_enter_raw(conn, viewer_input, viewer_closed, v);
	viewer_welcome(con, v, prev);
	viewers_budget(con);  /* last: may drop v */
	return 0;
}

static void tcp_read(struct bufferevent *bev, void *arg)
{
	struct viewer *v = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[16384];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
		viewer_input(v, buf, (size_t)n);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		viewer_drop(arg, "closed");
}

/* A raw TCP client that passed the gate: writer if nobody writes. */
void viewers_admit_tcp(void *ctx, struct bufferevent *bev, const struct peer *peer)
{
	struct console *con = ctx;
	struct viewer *v = viewer_new(con, !con->writer, false);

	if (!v) {
		bufferevent_free(bev);
		return;
	}
	v->tcp = bev;
	v->uid = peer->uid < 0 ? (uid_t)-1 : (uid_t)peer->uid;
	snprintf(v->peer, sizeof v->peer, "%s", peer->addr);
	bufferevent_setcb(bev, tcp_read, NULL, tcp_event, v);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	viewer_welcome(con, v, viewer_link(con, v));
	/* what it sent right behind its secret */
	if (evbuffer_get_length(bufferevent_get_input(bev)))
		tcp_read(bev, v);
	viewers_budget(con);  /* last: may drop v */
}
