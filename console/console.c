/* Serial console relay.  Each console port of a running guest has a
 * keeper process (keeper.h) that reads QEMU's socket from before the
 * guest's first instruction and journals every byte; vmd is connected to
 * the keeper, appends every byte to the port's log and keeps a ring of the
 * last bytes as scrollback, so a viewer that attaches late still sees the
 * boot.
 *
 * The keeper tells vmd, when vmd connects, how long the journal is; vmd
 * copies from the journal file what its log lacks up to there and takes
 * the stream after it.  So a vmd that was away (an upgrade, a kill -9)
 * finds every byte the guest printed meanwhile, each once; the part of the
 * journal already logged is punched out as the log grows.
 *
 * The viewers (console_viewers.c) get every byte from here; the writer's
 * input goes to the keeper, and the writer is not read while
 * CONSOLE_INPUT_MAX_PENDING bytes wait to go to the guest: it waits for
 * the guest, not vmd's memory. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include "console/conlog.h"
#include "console/console.h"
#include "console/console_int.h"
#include "console/spool.h"
#include "keeper/keeper.h"
#include "daemon/log.h"
#include "daemon/conn.h"
#include "console/tcpgate.h"
#include "daemon/vmd.h"
#include "rpc/message.h"

static void ring_add(struct console *con, const unsigned char *p, size_t n)
{
	size_t cap = con->p.scrollback;

	if (!cap)
		return;
	if (n >= cap) {
		p += n - cap;
		n = cap;
	}
	for (size_t i = 0; i < n;) {
		size_t end = (con->ring_start + con->ring_len) % cap;
		size_t chunk = cap - end < n - i ? cap - end : n - i;
		memcpy(con->ring + end, p + i, chunk);
		i += chunk;
		con->ring_len += chunk;
		if (con->ring_len > cap) {
			con->ring_start = (con->ring_start + con->ring_len - cap) % cap;
			con->ring_len = cap;
		}
	}
}

/* Journal offset of the log's end: what the log holds of this journal. */
static uint64_t logged(const struct console *con)
{
	uint64_t end = conlog_end(con->log), base = journal_base(con->jr);

	return end > base ? end - base : 0;
}

#define LOG_RETRY_S 1

/* Append to the log; once a write fails (a full disk), the log stays
 * behind and later bytes are not written out of order: the retry copies
 * them from the journal, where the keeper keeps them. */
static void log_bytes(struct console *con, const unsigned char *p, size_t n)
{
	struct timeval tv = {LOG_RETRY_S, 0};

	if (con->log_behind || conlog_append(con->log, p, n) == 0)
		return;
	if (!con->jr) {
		log_vm(LOG_ERR, con->vm, con->uuid, "console %d: log write failed: "
		       "%s; output is missing from the log", con->p.port,
		       strerror(errno));
		return;
	}
	if (!con->log_said)
		log_vm(LOG_ERR, con->vm, con->uuid, "console %d: log write failed: "
		       "%s; the log is filled in from the journal once it can be "
		       "written", con->p.port, strerror(errno));
	con->log_said = con->log_behind = true;
	if (con->log_timer)
		evtimer_add(con->log_timer, &tv);
}

static void log_only(void *ctx, const unsigned char *p, size_t n)
{
	log_bytes(ctx, p, n);
}

/* Copy what the log lacks from the journal; true when it is complete. */
static bool fill_log(struct console *con)
{
	uint64_t from = logged(con);

	con->log_behind = false;
	journal_copy(con->jr, from, con->jpos, log_only, con);
	if (con->log_behind)
		return false;
	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: the log is complete "
	       "again (%llu bytes filled in)", con->p.port,
	       (unsigned long long)(con->jpos - from));
	con->log_said = false;
	return true;
}

static void on_log_timer(evutil_socket_t fd, short what, void *arg)
{
	struct console *con = arg;

	if (con->log_behind)
		fill_log(con);
}

static void record(void *ctx, const unsigned char *p, size_t n)
{
	struct console *con = ctx;

	log_bytes(con, p, n);
	ring_add(con, p, n);
	viewers_send(con, p, n);
}

static void take_output(struct console *con, const unsigned char *p, size_t n)
{
	record(con, p, n);
	con->jpos += n;
}

/* The log lacks journal bytes [jpos, upto): copy them from the file. */
static void catch_up(struct console *con, uint64_t upto)
{
	uint64_t from = con->jpos;

	if (!con->jr || upto <= from)
		return;
	con->jpos = journal_copy(con->jr, from, upto, record, con);
	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: %llu bytes copied from "
	       "the journal", con->p.port, (unsigned long long)(con->jpos - from));
}

/* The keeper named in a header, as a pidfd: it stays that process even if
 * the pid is reused later. */
static void watch_keeper(struct console *con, pid_t pid)
{
	if (con->keeper_pidfd >= 0)
		close(con->keeper_pidfd);
	con->keeper_pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
}

/* Bytes from the keeper: its header (the journal length when vmd
 * connected), then the journal from there on. */
static void feed(struct console *con, const unsigned char *p, size_t n)
{
	while (n && con->hdr_len < KEEPER_HEADER_LEN) {
		con->hdr[con->hdr_len++] = *p++;
		n--;
		if (con->hdr_len == KEEPER_HEADER_LEN) {
			con->lost_tries = 0;
			watch_keeper(con, (pid_t)keeper_header_get(con->hdr, 1));
			catch_up(con, keeper_header_get(con->hdr, 0));
		}
	}
	if (n)
		take_output(con, p, n);
	if (con->jr)
		journal_release(con->jr, logged(con));
}

static void on_guest_output(struct bufferevent *bev, void *arg)
{
	struct console *con = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[65536];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
		feed(con, buf, (size_t)n);
}

/* A keeper closes when QEMU has exited, and vmd tears the console down
 * soon after; if the console is still there a while later, the keeper
 * itself was lost (or another client took its connection).  Each try
 * without a keeper answering waits twice as long, up to about a minute. */
#define LOST_DELAY_MS 500
#define LOST_MAX_SHIFT 7

static void on_lost_timer(evutil_socket_t fd, short what, void *arg)
{
	struct console *con = arg;

	if (con->p.lost)
		con->p.lost(con->p.lost_ctx, con->p.port);
}

void console_retry(struct console *con)
{
	unsigned shift = con->lost_tries < LOST_MAX_SHIFT ? con->lost_tries :
			 LOST_MAX_SHIFT;
	long ms = (long)LOST_DELAY_MS << shift;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	con->lost_tries++;
	if (con->lost_timer)
		evtimer_add(con->lost_timer, &tv);
}

bool console_keeper_alive(const struct console *con)
{
	struct pollfd pfd = {.fd = con->keeper_pidfd, .events = POLLIN};

	/* a pidfd turns readable when its process has exited */
	return con->keeper_pidfd >= 0 && poll(&pfd, 1, 0) == 0;
}

static void on_guest_event(struct bufferevent *bev, short what, void *arg)
{
	struct console *con = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("vm %s: console port %d: keeper closed", con->vm, con->p.port);
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		console_retry(con);
	}
}

/* Bytes typed that have not gone to the keeper yet: in the keeper's
 * socket buffer, or, while a re-adopted console is not connected yet, in
 * early. */
static size_t input_pending(const struct console *con)
{
	if (con->bev)
		return evbuffer_get_length(bufferevent_get_output(con->bev));
	return con->early ? evbuffer_get_length(con->early) : 0;
}

/* Stop reading the writer while the guest is behind; read it again once
 * it caught up to half the bound (called on input and on each drain). */
static void input_flow(struct console *con)
{
	size_t n = input_pending(con);
	struct viewer *w = con->writer;

	if (w && n > CONSOLE_INPUT_MAX_PENDING)
		viewer_hold(w, true);
	else if (w && n <= CONSOLE_INPUT_MAX_PENDING / 2)
		viewer_hold(w, false);
}

void console_to_guest(struct console *con, const void *buf, size_t len)
{
	if (con->bev)
		bufferevent_write(con->bev, buf, len);
	else if (con->early)
		evbuffer_add(con->early, buf, len);
	input_flow(con);
}

static void on_guest_drained(struct bufferevent *bev, void *arg)
{
	input_flow(arg);
}

/* How long a stopping guest's keeper may take to hand over its last bytes
 * before vmd reads them from the journal instead. */
#define FINISH_WAIT_MS 2000

static int ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - t0->tv_sec) * 1000 +
		     (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Read the keeper's connection to its end (QEMU has exited, so the keeper
 * sends what is left and closes). */
static void drain(struct console *con)
{
	int fd = bufferevent_getfd(con->bev);
	unsigned char buf[65536];
	struct timespec t0;

	on_guest_output(con->bev, con);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int left; (left = FINISH_WAIT_MS - ms_since(&t0)) > 0;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left) <= 0)
			break;
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		feed(con, buf, (size_t)r);
	}
}

void console_finish(struct console *con)
{
	if (con->bev)
		drain(con);
	catch_up(con, UINT64_MAX);
	if (con->log_behind && !fill_log(con))
		log_vm(LOG_ERR, con->vm, con->uuid, "console %d: the log lacks the "
		       "last %llu bytes (still in the journal in the run "
		       "directory, until the VM starts again)", con->p.port,
		       (unsigned long long)(con->jpos - logged(con)));
}

void console_rekeep(struct console *con, int fd, const char *journal,
		    uint64_t base)
{
	journal_close(con->jr);
	con->jr = journal_open(journal, base);
	con->jpos = con->jr ? logged(con) : 0;
	if (fd >= 0)
		console_connect(con, fd);
}

void console_connect(struct console *con, int fd)
{
	if (con->bev)
		bufferevent_free(con->bev);
	con->bev = NULL;
	evutil_make_socket_nonblocking(fd);
	con->hdr_len = 0;
	con->bev = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!con->bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(con->bev, on_guest_output, on_guest_drained,
			  on_guest_event, con);
	bufferevent_setwatermark(con->bev, EV_WRITE,
				 CONSOLE_INPUT_MAX_PENDING / 2, 0);
	bufferevent_enable(con->bev, EV_READ | EV_WRITE);
	if (con->early)
		bufferevent_write_buffer(con->bev, con->early);
	input_flow(con);
}

/* What a viewer attaching after a restart of vmd sees first: the end of
 * this QEMU's output, from the log. */
static void ring_from_log(struct console *con)
{
	uint64_t end = conlog_end(con->log), from = con->p.journal_base;
	struct conlog_range r;

	if (from > end || end - from > con->p.scrollback)
		from = end > con->p.scrollback ? end - con->p.scrollback : 0;
	if (end == from || conlog_read(con->log_dir, con->p.port, from,
				       con->p.scrollback, &r) < 0)
		return;
	ring_add(con, (unsigned char *)r.data, r.len);
	free(r.data);
}

struct console *console_open(int fd, const struct console_params *p,
			     char *err, size_t errlen)
{
	struct console *con = calloc(1, sizeof *con);

	if (!con) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	con->p = *p;
	con->keeper_pidfd = -1;
	con->vm = strdup(p->vm);
	con->uuid = strdup(p->uuid);
	con->log_dir = strdup(p->log_dir);
	con->ring = malloc(p->scrollback ? p->scrollback : 1);
	if (!con->vm || !con->uuid || !con->log_dir || !con->ring) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!(con->log = conlog_open(p->log_dir, p->port, p->log_max,
				     p->log_count, err, errlen)))
		goto fail;
	if (p->journal && !(con->jr = journal_open(p->journal, p->journal_base))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (con->jr)
		con->jpos = logged(con);
	ring_from_log(con);
	if (p->tcp_fd >= 0 &&
	    !(con->gate = tcpgate_new(p->tcp_fd, p->secret, p->vm, p->uuid,
				      p->port, viewers_admit_tcp, con)))
		log_vm(LOG_ERR, p->vm, p->uuid, "console %d: cannot listen on its "
		       "tcp port: out of memory", p->port);
	con->p.tcp_fd = -1;
	con->p.secret = NULL;
	con->lost_timer = evtimer_new(vmd.base, on_lost_timer, con);
	con->log_timer = evtimer_new(vmd.base, on_log_timer, con);
	if (fd >= 0)
		console_connect(con, fd);
	else
		con->early = evbuffer_new();
	return con;
fail:
	if (fd >= 0)
		close(fd);
	if (p->tcp_fd >= 0)
		close(p->tcp_fd);
	console_close(con);
	return NULL;
}

void console_close(struct console *con)
{
	if (!con)
		return;
	/* take what QEMU wrote last, so the log and viewers have the end */
	if (con->bev)
		on_guest_output(con->bev, con);
	while (con->viewers)
		viewer_drop(con->viewers, "vm-stopped");
	if (con->lost_timer)
		event_free(con->lost_timer);
	if (con->log_timer)
		event_free(con->log_timer);
	if (con->keeper_pidfd >= 0)
		close(con->keeper_pidfd);
	tcpgate_free(con->gate);
	if (con->bev)
		bufferevent_free(con->bev);
	conlog_close(con->log);
	journal_close(con->jr);
	if (con->early)
		evbuffer_free(con->early);
	free(con->ring);
	free(con->vm);
	free(con->uuid);
	free(con->log_dir);
	free(con);
}
