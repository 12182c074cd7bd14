/* Serial console relay.  vmd is connected to each console port of a guest
 * from before its first instruction (QEMU starts with -S and the socket is
 * made by vmd), reads it all the time and keeps a ring of the last
 * CONSOLE_SCROLLBACK bytes, so a viewer that attaches late still sees the
 * boot.  Each viewer is a client connection in raw mode.  A viewer that does
 * not keep up is dropped (its connection closed) once it has
 * CONSOLE_VIEWER_MAX_PENDING bytes unsent: the guest and the other viewers
 * never wait for it. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include "daemon/console.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/vmd.h"

struct viewer {
	struct console *con;
	struct conn *conn;
	bool rw;
	struct viewer *next;
};

struct console {
	struct bufferevent *bev;    /* QEMU's chardev socket */
	char *vm;
	int port;
	unsigned char *ring;        /* scrollback */
	size_t ring_start, ring_len;
	struct viewer *viewers;
	struct viewer *writer;
};

static void ring_add(struct console *con, const unsigned char *p, size_t n)
{
	if (n >= CONSOLE_SCROLLBACK) {
		p += n - CONSOLE_SCROLLBACK;
		n = CONSOLE_SCROLLBACK;
	}
	for (size_t i = 0; i < n;) {
		size_t end = (con->ring_start + con->ring_len) % CONSOLE_SCROLLBACK;
		size_t chunk = CONSOLE_SCROLLBACK - end;
		if (chunk > n - i)
			chunk = n - i;
		memcpy(con->ring + end, p + i, chunk);
		i += chunk;
		con->ring_len += chunk;
		if (con->ring_len > CONSOLE_SCROLLBACK) {
			con->ring_start = (con->ring_start + con->ring_len -
					   CONSOLE_SCROLLBACK) % CONSOLE_SCROLLBACK;
			con->ring_len = CONSOLE_SCROLLBACK;
		}
	}
}

static void viewer_send(struct viewer *v, const void *p, size_t n)
{
	if (conn_raw_write(v->conn, p, n) > CONSOLE_VIEWER_MAX_PENDING) {
		log_warn("vm %s: console viewer too slow, dropped", v->con->vm);
		conn_close(v->conn); /* detaches through viewer_closed */
	}
}

static void on_guest_output(struct bufferevent *bev, void *arg)
{
	struct console *con = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[16384];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0) {
		ring_add(con, buf, (size_t)n);
		for (struct viewer *v = con->viewers, *next; v; v = next) {
			next = v->next;
			viewer_send(v, buf, (size_t)n);
		}
	}
}

static void on_guest_event(struct bufferevent *bev, short what, void *arg)
{
	struct console *con = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("vm %s: console port %d closed by QEMU", con->vm, con->port);
		bufferevent_disable(bev, EV_READ | EV_WRITE);
	}
}

struct console *console_open(int fd, const char *vm, int port)
{
	struct console *con = calloc(1, sizeof *con);

	if (!con)
		return NULL;
	con->ring = malloc(CONSOLE_SCROLLBACK);
	con->vm = strdup(vm);
	con->port = port;
	evutil_make_socket_nonblocking(fd);
	con->bev = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!con->ring || !con->vm || !con->bev) {
		console_close(con);
		return NULL;
	}
	bufferevent_setcb(con->bev, on_guest_output, NULL, on_guest_event, con);
	bufferevent_enable(con->bev, EV_READ | EV_WRITE);
	return con;
}

static void viewer_input(void *ctx, const void *buf, size_t len)
{
	struct viewer *v = ctx;

	if (v->con->writer == v && v->con->bev)
		bufferevent_write(v->con->bev, buf, len);
}

static void viewer_closed(void *ctx, struct conn *conn)
{
	struct viewer *v = ctx;
	struct console *con = v->con;

	for (struct viewer **pp = &con->viewers; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	if (con->writer == v)
		con->writer = NULL;
	free(v);
}

bool console_has_writer(const struct console *con)
{
	return con->writer != NULL;
}

int console_attach(struct console *con, struct conn *conn, bool rw)
{
	struct viewer *v;

	if (rw && con->writer)
		return -1;
	v = calloc(1, sizeof *v);
	if (!v)
		return -1;
	v->con = con;
	v->conn = conn;
	v->rw = rw;
	v->next = con->viewers;
	con->viewers = v;
	if (rw)
		con->writer = v;
	size_t first = CONSOLE_SCROLLBACK - con->ring_start;
	if (first > con->ring_len)
		first = con->ring_len;
	conn_raw_write(conn, con->ring + con->ring_start, first);
	conn_raw_write(conn, con->ring, con->ring_len - first);
	conn_enter_raw(conn, viewer_input, viewer_closed, v);
	return 0;
}

void console_close(struct console *con)
{
	if (!con)
		return;
	/* drain what QEMU wrote last so viewers see the end of the output */
	if (con->bev)
		on_guest_output(con->bev, con);
	while (con->viewers)
		conn_close(con->viewers->conn);
	if (con->bev)
		bufferevent_free(con->bev);
	free(con->ring);
	free(con->vm);
	free(con);
}
