/* Authentication of raw TCP console clients.  A tcp serial port listens on
 * 127.0.0.1, where every local user can connect; the console is usually a
 * root shell, so a client must first send the port's secret (random, made
 * at VM start, shown only to admins in vm-show) and a newline, within
 * TCPGATE_DEADLINE_S of its connect.  Until then no console byte flows
 * either way.  A wrong secret or the deadline ends the connection with one
 * line saying why, and vmd's log names the client (address, port, uid). */
#include "config.h"
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include "daemon/log.h"
#include "console/tcpgate.h"
#include "daemon/vmd.h"

/* Longest line read as a secret attempt ("\r\n" and some slack). */
#define LINE_MAX_LEN (TCPGATE_SECRET_LEN + 32)

struct knock {
	struct tcpgate *g;
	struct bufferevent *bev;
	struct event *deadline;
	struct peer peer;
	struct knock *next;
};

struct tcpgate {
	struct evconnlistener *l;
	char *secret, *vm, *uuid;
	int port, tcp_port;
	tcpgate_admit admit;
	void *ctx;
	struct knock *waiting;
	int nwaiting;
};

int tcpgate_make_secret(char *buf)
{
	unsigned char r[TCPGATE_SECRET_BYTES];
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof r; i++)
		sprintf(buf + 2 * i, "%02x", r[i]);
	return 0;
}

/* Time depends on the secret's length only, not on where got differs. */
static bool secret_matches(const char *want, const char *got, size_t n)
{
	size_t wn = strlen(want);
	unsigned char d = wn != n;

	for (size_t i = 0; i < wn; i++)
		d |= (unsigned char)(want[i] ^ (i < n ? got[i] : 0));
	return d == 0;
}

static void knock_free(struct knock *k)
{
	struct tcpgate *g = k->g;

	for (struct knock **pp = &g->waiting; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	g->nwaiting--;
	event_free(k->deadline);
	if (k->bev)
		bufferevent_free(k->bev);
	free(k);
}

/* One line to the client (best effort: it is tiny), then close. */
static void turn_away(struct knock *k, const char *why)
{
	char msg[160];
	int n = snprintf(msg, sizeof msg, "vmd: %s; closing\r\n", why);

	log_vm(LOG_WARNING, k->g->vm, k->g->uuid, "console %d: tcp client %s "
	       "uid=%ld refused: %s", k->g->port, k->peer.addr, k->peer.uid, why);
	if (send(bufferevent_getfd(k->bev), msg, (size_t)n,
		 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("console %d: tcp client %s: %s", k->g->port,
			  k->peer.addr, strerror(errno));
	knock_free(k);
}

static void let_in(struct knock *k)
{
	struct tcpgate *g = k->g;
	struct bufferevent *bev = k->bev;
	struct peer peer = k->peer;

	k->bev = NULL;
	knock_free(k);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	g->admit(g->ctx, bev, &peer);
}

static void knock_read(struct bufferevent *bev, void *arg)
{
	struct knock *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[LINE_MAX_LEN + 1];
	ev_ssize_t n = evbuffer_copyout(in, line, LINE_MAX_LEN);
	char *nl = n > 0 ? memchr(line, '\n', (size_t)n) : NULL;
	size_t len;

	if (!nl) {
		if (n >= LINE_MAX_LEN)
			turn_away(k, "wrong secret");
		return;
	}
	len = (size_t)(nl - line);
	evbuffer_drain(in, len + 1);
	if (len && line[len - 1] == '\r')
		len--;
	if (!secret_matches(k->g->secret, line, len)) {
		turn_away(k, "wrong secret");
		return;
	}
	let_in(k);
}

static void knock_event(struct bufferevent *bev, short what, void *arg)
{
	struct knock *k = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_vm(LOG_INFO, k->g->vm, k->g->uuid, "console %d: tcp client %s "
		       "uid=%ld left without authenticating", k->g->port,
		       k->peer.addr, k->peer.uid);
		knock_free(k);
	}
}

static void knock_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct knock *k = arg;
	char why[64];

	snprintf(why, sizeof why, "no secret within %d s", TCPGATE_DEADLINE_S);
	turn_away(k, why);
}

/* Over the limit: one line and close, without the cost of a lookup. */
static void too_many(struct tcpgate *g, int fd)
{
	static const char msg[] = "vmd: too many clients waiting to "
				  "authenticate; closing\r\n";

	log_vm(LOG_WARNING, g->vm, g->uuid, "console %d: tcp client refused: "
	       "%d others are waiting to authenticate", g->port, g->nwaiting);
	if (send(fd, msg, sizeof msg - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("console %d: tcp client: %s", g->port, strerror(errno));
	close(fd);
}

static struct knock *knock_new(struct tcpgate *g, int fd)
{
	struct knock *k = calloc(1, sizeof *k);
	struct timeval tv = {TCPGATE_DEADLINE_S, 0};

	if (!k)
		return NULL;
	k->g = g;
	peer_lookup(fd, &k->peer);
	k->bev = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	k->deadline = evtimer_new(vmd.base, knock_deadline, k);
	if (!k->bev || !k->deadline) {
		if (k->bev)
			bufferevent_free(k->bev);
		else
			close(fd);
		if (k->deadline)
			event_free(k->deadline);
		free(k);
		return NULL;
	}
	k->next = g->waiting;
	g->waiting = k;
	g->nwaiting++;
	evtimer_add(k->deadline, &tv);
	return k;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct tcpgate *g = arg;
	struct knock *k;

	evutil_make_socket_nonblocking(fd);
	if (g->secret && g->nwaiting >= TCPGATE_MAX_WAITING) {
		too_many(g, fd);
		return;
	}
	if (!(k = knock_new(g, fd)))
		return;
	if (!g->secret) {  /* "auth": "none" */
		let_in(k);
		return;
	}
	bufferevent_setcb(k->bev, knock_read, NULL, knock_event, k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, LINE_MAX_LEN);
	bufferevent_enable(k->bev, EV_READ);
}

static int bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

struct tcpgate *tcpgate_new(int listen_fd, const char *secret, const char *vm,
			    const char *uuid, int port, tcpgate_admit admit,
			    void *ctx)
{
	struct tcpgate *g = calloc(1, sizeof *g);

	if (!g || !(g->vm = strdup(vm)) || !(g->uuid = strdup(uuid)) ||
	    (secret && !(g->secret = strdup(secret))))
		goto fail;
	g->port = port;
	g->tcp_port = bound_port(listen_fd);
	g->admit = admit;
	g->ctx = ctx;
	evutil_make_socket_nonblocking(listen_fd);
	g->l = evconnlistener_new(vmd.base, on_accept, g,
				  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				  -1, listen_fd);
	if (!g->l)
		goto fail;
	return g;
fail:
	close(listen_fd);
	tcpgate_free(g);
	return NULL;
}

void tcpgate_free(struct tcpgate *g)
{
	if (!g)
		return;
	while (g->waiting)
		knock_free(g->waiting);
	if (g->l)
		evconnlistener_free(g->l);
	free(g->secret);
	free(g->vm);
	free(g->uuid);
	free(g);
}

int tcpgate_port(const struct tcpgate *g)
{
	return g->tcp_port;
}

const char *tcpgate_secret(const struct tcpgate *g)
{
	return g->secret;
}
