/* vmd-keeper: the console keeper of one guest (see keeper.h).
 *
 *   vmd-keeper --dir RUN_DIR [--user USER] [--journal-max BYTES]
 *              N:QEMU_FD:LISTEN_FD:JOURNAL_FD...
 *
 * vmd starts it with the descriptors already open: the connection to
 * QEMU's chardev socket of port N, the socket vmd will connect to, and the
 * journal (read-write, append).  It needs nothing else, so when started by
 * root it becomes USER (the unprivileged QEMU user) before reading a
 * single guest byte.
 *
 * The journal is also the buffer towards vmd: the keeper never waits for
 * vmd.  It reads QEMU as fast as QEMU sends, appends to the journal, and
 * sends vmd straight from memory while vmd keeps up, else from the journal
 * file.  Only a journal it cannot write (a full disk), or one holding
 * --journal-max bytes vmd has not taken (vmd is away for long while the
 * guest floods its console: the run directory is usually in RAM), makes it
 * stop reading, so the guest's UART waits rather than a byte being
 * dropped. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "keeper/keeper.h"
#include "schemas/limits.h"

#define CHUNK 65536
/* After QEMU is gone, how long a connected vmd may take to read the rest
 * before the keeper leaves it to the journal. */
#define LINGER_S 30
#define JOURNAL_MAX_DEFAULT (256ULL * 1024 * 1024)

struct port {
	int num;
	int qfd, lfd, vfd, jfd;    /* QEMU, listener, vmd (-1: none), journal */
	uint64_t size;              /* bytes in the journal */
	uint64_t sent;              /* journal offset of the next byte for vmd */
	unsigned char pend[CHUNK];  /* read from QEMU, not yet journaled */
	size_t pend_len;
	bool stalled;               /* said so; say again when it resumes */
	bool held;                  /* journal_max unsent: QEMU not read */
	int64_t last_read;          /* CLOCK_MONOTONIC ns of the last read */
	int64_t last_input;         /* ... and of the last input from vmd */
	unsigned char in[CHUNK];    /* from vmd, not yet written to QEMU */
	size_t in_len;
};

/* QEMU sends a serial port's output a byte per send(), and its socket
 * holds only a few hundred of those before the guest's UART has to wait.
 * While output streams (reads come less than STREAM_NS apart and bring
 * little), the keeper naps NAP_NS before looking again, so that each
 * wakeup, journal write and send to vmd carries a hundred bytes instead of
 * one: far less CPU taken from QEMU on a busy host.  The nap is well below
 * the time QEMU takes to fill its socket, and it is never taken within
 * TYPED_NS of input from vmd, so typing and its echo are not delayed. */
#define STREAM_NS 1000000
#define TYPED_NS 20000000
#define NAP_NS 250000
#define SMALL_READ 512

static bool nap;

static struct port ports[VMD_SERIAL_MAX];
static int nports;
static const char *run_dir = "?";
static uint64_t journal_max = JOURNAL_MAX_DEFAULT;

static void say(int port, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(int port, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmd-keeper %s port %d: ", run_dir, port);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Append n bytes to the journal; returns how many went in.  A short
 * count (disk full) leaves the guest waiting, never a byte dropped. */
static size_t journal_append(struct port *p, const unsigned char *b, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(p->jfd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!p->stalled)
				say(p->num, "journal write failed (%s); the guest "
				    "waits", w < 0 ? strerror(errno) : "no space");
			p->stalled = true;
			break;
		}
		off += (size_t)w;
	}
	if (p->stalled && off == n) {
		say(p->num, "journal writable again; the guest goes on");
		p->stalled = false;
	}
	p->size += off;
	return off;
}

static void retry_pending(struct port *p)
{
	size_t n = journal_append(p, p->pend, p->pend_len);

	memmove(p->pend, p->pend + n, p->pend_len - n);
	p->pend_len -= n;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void note_stream(struct port *p, size_t n)
{
	int64_t now = now_ns();

	if (n < SMALL_READ && now - p->last_read < STREAM_NS &&
	    now - p->last_input > TYPED_NS)
		nap = true;
	p->last_read = now;
}

static void vmd_gone(struct port *p)
{
	close_fd(&p->vfd);
}

static void send_vmd(struct port *p, const unsigned char *b, size_t n)
{
	ssize_t s = send(p->vfd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (s > 0)
		p->sent += (uint64_t)s;
	else if (s < 0 && errno != EAGAIN && errno != EINTR)
		vmd_gone(p);
}

/* Send vmd what it lacks, from the journal file. */
static void send_journal(struct port *p)
{
	unsigned char buf[CHUNK];
	uint64_t want = p->size - p->sent;
	ssize_t r = pread(p->jfd, buf, want < CHUNK ? (size_t)want : CHUNK,
			  (off_t)p->sent);

	if (r > 0) {
		send_vmd(p, buf, (size_t)r);
		return;
	}
	say(p->num, "journal read failed: %s", r < 0 ? strerror(errno) : "short");
	vmd_gone(p);  /* vmd copies from the file itself when it reconnects */
}

static void from_qemu(struct port *p)
{
	unsigned char buf[CHUNK];
	ssize_t n = read(p->qfd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_fd(&p->qfd);  /* QEMU closed the port or exited */
		return;
	}
	note_stream(p, (size_t)n);
	bool caught_up = p->vfd >= 0 && p->sent == p->size;
	size_t done = journal_append(p, buf, (size_t)n);
	memcpy(p->pend, buf + done, (size_t)n - done);
	p->pend_len = (size_t)n - done;
	/* the usual case: vmd keeps up, so send from memory */
	if (caught_up && done)
		send_vmd(p, buf, done);
}

static void from_vmd(struct port *p)
{
	if (p->in_len == sizeof p->in)
		return;  /* a read of 0 bytes would look like vmd leaving */
	ssize_t n = read(p->vfd, p->in + p->in_len, sizeof p->in - p->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		vmd_gone(p);
		return;
	}
	p->in_len += (size_t)n;
	p->last_input = now_ns();
}

static void to_qemu(struct port *p)
{
	ssize_t n = write(p->qfd, p->in, p->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		p->in_len = 0;  /* QEMU is going; its read side tells us */
		return;
	}
	memmove(p->in, p->in + n, p->in_len - (size_t)n);
	p->in_len -= (size_t)n;
}

/* A (re)started vmd: the newest connection wins. */
static void accept_vmd(struct port *p)
{
	unsigned char hdr[KEEPER_HEADER_LEN];
	int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	keeper_header_put(hdr, 0, p->size);
	keeper_header_put(hdr, 1, (uint64_t)getpid());
	/* A fresh socket has room for the header.  If the peer already left, what
	 * it typed before it did is still to be read: keep the socket. */
	(void)!send(fd, hdr, sizeof hdr, MSG_NOSIGNAL);
	close_fd(&p->vfd);
	p->vfd = fd;
	p->sent = p->size;
}

static bool held_back(const struct port *p)
{
	return p->size - p->sent >= journal_max;
}

/* Say when the guest starts and stops waiting for vmd. */
static void note_backlog(struct port *p)
{
	if (held_back(p) != p->held) {
		p->held = !p->held;
		if (p->held)
			say(p->num, "%llu bytes vmd has not taken: the guest waits",
			    (unsigned long long)(p->size - p->sent));
		else
			say(p->num, "vmd takes the journal again; the guest goes on");
	}
}

static bool port_done(const struct port *p)
{
	return p->qfd < 0 && p->pend_len == 0 &&
	       (p->vfd < 0 || p->sent == p->size);
}

/* One poll set over every port; returns the poll timeout to use. */
static int build_poll(struct pollfd *fds, int *owner, int *kind, int *nfds)
{
	int n = 0, timeout = -1;

	for (int i = 0; i < nports; i++) {
		struct port *p = &ports[i];
		short qev = (short)((p->pend_len || held_back(p) ? 0 : POLLIN) |
				    (p->in_len ? POLLOUT : 0));
		short vev = (short)((p->in_len < sizeof p->in ? POLLIN : 0) |
				    (p->sent < p->size ? POLLOUT : 0));
		int fd[3] = {p->qfd, p->vfd, p->lfd};
		short ev[3] = {qev, vev, POLLIN};
		/* a descriptor with nothing to wait for stays out: poll would
		 * report its hangup at once, again and again */
		for (int k = 0; k < 3; k++)
			if (fd[k] >= 0 && ev[k]) {
				fds[n] = (struct pollfd){.fd = fd[k], .events = ev[k]};
				owner[n] = i;
				kind[n++] = k;
			}
		if (p->pend_len)
			timeout = 1000;  /* retry the journal */
	}
	*nfds = n;
	return timeout;
}

static void serve(struct port *p, int kind, short re)
{
	if (kind == 2) {
		accept_vmd(p);
	} else if (kind == 0) {
		if (re & POLLOUT)
			to_qemu(p);
		/* never while earlier bytes wait for the journal: they would be
		 * overwritten, or overtaken */
		if (re & (POLLIN | POLLHUP | POLLERR) && p->qfd >= 0 &&
		    !p->pend_len && !held_back(p))
			from_qemu(p);
	} else {
		/* input first: a peer that typed and left is read to its end */
		if (re & (POLLIN | POLLHUP | POLLERR))
			from_vmd(p);
		if (re & POLLOUT && p->vfd >= 0 && p->sent < p->size)
			send_journal(p);
	}
	note_backlog(p);
}

/* Close vmd's connection of each finished port, so vmd sees the end. */
static bool all_done(void)
{
	bool all = true;

	for (int i = 0; i < nports; i++) {
		if (port_done(&ports[i]))
			close_fd(&ports[i].vfd);
		else
			all = false;
	}
	return all;
}

static void run(void)
{
	struct pollfd fds[3 * VMD_SERIAL_MAX];
	int owner[3 * VMD_SERIAL_MAX], kind[3 * VMD_SERIAL_MAX], nfds;
	struct timespec now, qemu_gone = {0, 0};

	while (!all_done()) {
		int timeout = build_poll(fds, owner, kind, &nfds);
		bool open = false;
		for (int i = 0; i < nports; i++)
			open |= ports[i].qfd >= 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!open && !qemu_gone.tv_sec)
			qemu_gone = now;
		if (!open && now.tv_sec - qemu_gone.tv_sec > LINGER_S)
			return;  /* vmd does not read: the journal has the rest */
		if (!open)
			timeout = 1000;
		if (nap) {
			struct timespec ts = {0, NAP_NS};
			nap = false;
			nanosleep(&ts, NULL);
		}
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			return;
		for (int i = 0; i < nports; i++)
			if (ports[i].pend_len)
				retry_pending(&ports[i]);
		for (int k = 0; k < nfds; k++)
			if (fds[k].revents)
				serve(&ports[owner[k]], kind[k], fds[k].revents);
	}
}

static int parse_port(const char *arg)
{
	struct port *p = &ports[nports];
	char tail;

	if (nports == VMD_SERIAL_MAX ||
	    sscanf(arg, "%d:%d:%d:%d%c", &p->num, &p->qfd, &p->lfd, &p->jfd,
		   &tail) != 4 || p->qfd < 0 || p->lfd < 0 || p->jfd < 0)
		return -1;
	p->vfd = -1;
	nports++;
	return fcntl(p->qfd, F_SETFL, O_NONBLOCK) < 0 ||
	       fcntl(p->lfd, F_SETFL, O_NONBLOCK) < 0 ? -1 : 0;
}

/* Give up root for the unprivileged QEMU user: every descriptor the keeper
 * needs is already open. */
static int drop_root(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw) {
		fprintf(stderr, "vmd-keeper: no user %s\n", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		fprintf(stderr, "vmd-keeper: cannot become %s: %s\n", user,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *user = NULL;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			run_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--user"))
			user = argv[i + 1];
		else if (!strcmp(argv[i], "--journal-max"))
			journal_max = strtoull(argv[i + 1], NULL, 10);
		else
			break;
	}
	for (; i < argc; i++)
		if (parse_port(argv[i]) < 0) {
			fprintf(stderr, "vmd-keeper: bad port %s (want N:QEMU_FD:"
				"LISTEN_FD:JOURNAL_FD, at most %d)\n", argv[i], VMD_SERIAL_MAX);
			return 2;
		}
	if (!nports || !journal_max) {
		fprintf(stderr, "usage: vmd-keeper --dir RUN_DIR [--user USER] "
			"[--journal-max BYTES] N:QEMU_FD:LISTEN_FD:JOURNAL_FD...\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (user && geteuid() == 0 && drop_root(user) < 0)
		return 1;
	run();
	return 0;
}
