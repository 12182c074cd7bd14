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
	uint64_t end = conlog_end(con->log), base = spool_base(con->spool);

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
	if (!con->spool) {
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

/* Journal bytes copied per loop turn: about a millisecond of work, so
 * that other clients are served between the pieces of a long copy (a
 * reply may wait for two pieces: its request's turn, then its write's). */
#define COPY_STEP (256 * 1024)

static void work_later(struct console *con)
{
	static const struct timeval now = {0, 0};

	/* a timer, not event_active(): timers run after the loop has polled,
	 * so every socket gets its turn between two pieces */
	evtimer_add(con->work, &now);
}

/* Fill in what the log lacks from the journal (the stream skips the log
 * meanwhile: log_behind stays set until it is complete). */
static void start_fill(struct console *con)
{
	con->copy = COPY_FILL;
	con->copy_from = logged(con);
	work_later(con);
}

/* One piece of the fill; true when it is over. */
static bool fill_step(struct console *con)
{
	uint64_t from = logged(con), to;

	con->log_behind = false;
	to = spool_copy(con->spool, from, con->jpos, COPY_STEP, log_only, con);
	spool_release(con->spool, logged(con));
	if (con->log_behind)
		return true;  /* failed again: log_timer tries later */
	if (to < con->jpos && to == from + COPY_STEP) {
		con->log_behind = true;
		return false;
	}
	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: the log is complete "
	       "again (%llu bytes filled in)", con->p.port,
	       (unsigned long long)(logged(con) - con->copy_from));
	con->log_said = false;
	return true;
}

static void on_log_timer(evutil_socket_t fd, short what, void *arg)
{
	struct console *con = arg;
	struct timeval tv = {LOG_RETRY_S, 0};

	if (con->log_behind && con->copy != COPY_NONE)
		evtimer_add(con->log_timer, &tv);
	else if (con->log_behind)
		start_fill(con);
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

/* The log lacks journal bytes [jpos, upto) (upto UINT64_MAX: to the
 * file's end): copy them, a piece per loop turn, while the keeper's
 * stream waits.  A fill under way starts again later. */
static void catch_up(struct console *con, uint64_t upto)
{
	struct timeval tv = {LOG_RETRY_S, 0};

	if (!con->spool || upto <= con->jpos)
		return;
	if (con->copy == COPY_FILL)
		evtimer_add(con->log_timer, &tv);
	con->copy = COPY_CATCH_UP;
	con->copy_from = con->jpos;
	con->copy_to = upto;
	if (con->bev)
		bufferevent_disable(con->bev, EV_READ);
	work_later(con);
}

/* One piece of the catch-up; true when it is over (also when the
 * journal ends early). */
static bool catch_up_step(struct console *con)
{
	uint64_t from = con->jpos;

	con->jpos = spool_copy(con->spool, from, con->copy_to, COPY_STEP, record,
				 con);
	spool_release(con->spool, logged(con));  /* a piece at a time too */
	return con->jpos == con->copy_to || con->jpos < from + COPY_STEP;
}

/* The keeper named in a header, as a pidfd: it stays that process even if
 * the pid is reused later. */
static void watch_keeper(struct console *con, pid_t pid)
{
	if (con->keeper_pidfd >= 0)
		close(con->keeper_pidfd);
	con->keeper_pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
}

static void took_header(struct console *con)
{
	con->lost_tries = 0;
	watch_keeper(con, (pid_t)keeper_header_get(con->hdr, 1));
	catch_up(con, keeper_header_get(con->hdr, 0));
}

/* Bytes from the keeper: its header (the journal length when vmd
 * connected), then the journal from there on.  What follows a header
 * waits in bev until the catch-up the header starts is over. */
static void on_guest_output(struct bufferevent *bev, void *arg)
{
	struct console *con = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t want = KEEPER_HEADER_LEN - con->hdr_len;
	unsigned char buf[65536];
	int n;

	if (want && (n = evbuffer_remove(in, con->hdr + con->hdr_len, want)) > 0 &&
	    (con->hdr_len += (size_t)n) == KEEPER_HEADER_LEN)
		took_header(con);
	while (con->hdr_len == KEEPER_HEADER_LEN && con->copy != COPY_CATCH_UP &&
	       (n = evbuffer_remove(in, buf, sizeof buf)) > 0)
		take_output(con, buf, (size_t)n);
	if (con->spool)
		spool_release(con->spool, logged(con));
}

/* A catch-up is over: the keeper's stream goes on from its end. */
static void caught_up(struct console *con)
{
	con->copy = COPY_NONE;
	log_vm(LOG_INFO, con->vm, con->uuid, "console %d: %llu bytes copied from "
	       "the journal", con->p.port,
	       (unsigned long long)(con->jpos - con->copy_from));
	spool_release(con->spool, logged(con));
	if (!con->bev)
		return;
	on_guest_output(con->bev, con);
	if (!con->keeper_eof && con->fin <= FIN_WAIT)
		bufferevent_enable(con->bev, EV_READ);
}

/* QEMU has exited and the keeper sent what it will: copy the journal's
 * end, fill the log in if it is behind, then tell the owner; one job at
 * a time, each in pieces. */
static void finish_next(struct console *con)
{
	if (con->fin == FIN_OVER) {
		con->fin = FIN_TAIL;
		catch_up(con, UINT64_MAX);
		if (con->copy != COPY_NONE)
			return;
	}
	if (con->fin == FIN_TAIL && con->log_behind) {
		con->fin = FIN_FILL;
		start_fill(con);
		return;
	}
	if (con->log_behind)
		log_vm(LOG_ERR, con->vm, con->uuid, "console %d: the log lacks the "
		       "last %llu bytes (still in the journal in the run "
		       "directory, until the VM starts again)", con->p.port,
		       (unsigned long long)(con->jpos - logged(con)));
	con->fin = FIN_DONE;
	if (con->finished)
		con->finished(con->finished_ctx, con->p.port);
}

static void on_work(evutil_socket_t fd, short what, void *arg)
{
	struct console *con = arg;
	bool over = con->copy == COPY_CATCH_UP ? catch_up_step(con) :
		    con->copy == COPY_FILL ? fill_step(con) : true;

	if (!over) {
		work_later(con);
		return;
	}
	if (con->copy == COPY_CATCH_UP)
		caught_up(con);
	con->copy = COPY_NONE;
	if (con->fin >= FIN_OVER && con->fin < FIN_DONE)
		finish_next(con);
}

/* The keeper closed its connection (it sent everything) or did not in
 * time: what it sent is taken, the rest comes from the journal. */
static void keeper_over(struct console *con)
{
	event_del(con->fin_timer);
	con->fin = FIN_OVER;
	if (con->bev) {
		bufferevent_disable(con->bev, EV_READ);
		on_guest_output(con->bev, con);
	}
	work_later(con);
}

static void on_fin_timer(evutil_socket_t fd, short what, void *arg)
{
	struct console *con = arg;

	if (con->fin == FIN_WAIT)
		keeper_over(con);
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
		con->keeper_eof = true;
		if (con->fin == FIN_WAIT)
			keeper_over(con);
		else if (con->fin == FIN_NONE)
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

void console_finish(struct console *con, void (*done)(void *ctx, int port),
		    void *ctx)
{
	struct timeval tv = {FINISH_WAIT_MS / 1000, FINISH_WAIT_MS % 1000 * 1000};

	con->finished = done;
	con->finished_ctx = ctx;
	con->fin = FIN_WAIT;
	event_del(con->lost_timer);
	if (con->bev && !con->keeper_eof)
		evtimer_add(con->fin_timer, &tv);
	else
		keeper_over(con);
}

bool console_finishing(const struct console *con)
{
	return con->fin != FIN_NONE && con->fin != FIN_DONE;
}

void console_rekeep(struct console *con, int fd, const char *journal,
		    uint64_t base)
{
	spool_close(con->spool);
	con->spool = spool_open(journal, base);
	con->jpos = con->spool ? logged(con) : 0;
	con->fin = FIN_NONE;
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
	con->keeper_eof = false;
	con->fin = FIN_NONE;
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
	if (p->journal && !(con->spool = spool_open(p->journal, p->journal_base))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	con->lost_timer = evtimer_new(vmd.base, on_lost_timer, con);
	con->log_timer = evtimer_new(vmd.base, on_log_timer, con);
	con->work = evtimer_new(vmd.base, on_work, con);
	con->fin_timer = evtimer_new(vmd.base, on_fin_timer, con);
	if (!con->lost_timer || !con->log_timer || !con->work || !con->fin_timer) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (con->spool)
		con->jpos = logged(con);
	ring_from_log(con);
	if (p->tcp_fd >= 0 &&
	    !(con->gate = tcpgate_new(p->tcp_fd, p->secret, p->vm, p->uuid,
				      p->port, viewers_admit_tcp, con)))
		log_vm(LOG_ERR, p->vm, p->uuid, "console %d: cannot listen on its "
		       "tcp port: out of memory", p->port);
	con->p.tcp_fd = -1;
	con->p.secret = NULL;
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
	if (con->work)
		event_free(con->work);
	if (con->fin_timer)
		event_free(con->fin_timer);
	if (con->keeper_pidfd >= 0)
		close(con->keeper_pidfd);
	tcpgate_free(con->gate);
	if (con->bev)
		bufferevent_free(con->bev);
	conlog_close(con->log);
	spool_close(con->spool);
	if (con->early)
		evbuffer_free(con->early);
	free(con->ring);
	free(con->vm);
	free(con->uuid);
	free(con->log_dir);
	free(con);
}
