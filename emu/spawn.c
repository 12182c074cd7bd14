/* Starting QEMU as vmd's own child, and reading facts about it later.
 *
 * The child runs in its own session (setsid) so a Ctrl-C aimed at a
 * foreground vmd never reaches the guests, with default signal handling
 * (vmd ignores SIGPIPE and handles SIGCHLD; QEMU must not inherit that),
 * stdin on /dev/null and stdout/stderr in a log file.  Only the
 * descriptors QEMU is told about on its command line stay open.  Between
 * fork and exec the child uses async-signal-safe calls only, and tells the
 * parent why exec (or a step before it) failed through a CLOEXEC pipe,
 * which the kernel closes on a successful exec. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu/spawn.h"

/* What the child writes to the error pipe before _exit(127). */
enum child_step { STEP_DEVNULL = 1, STEP_LOG, STEP_DUP, STEP_FDFLAGS,
		  STEP_SETSID, STEP_EXEC };
struct child_report {
	int step;
	int err;
};

/* Everything the child needs, prepared by the parent (no malloc after
 * fork). */
struct child_plan {
	char *const *argv;
	const char *log_path;
	int *keep;        /* sorted, unique, every fd >= 3 the child keeps */
	size_t nkeep;
	const int *user_keep;
	size_t nuser;
	int report_fd;
	int max_fd;       /* for the close loop when close_range is missing */
};

static void child_report(int fd, int step, int err)
{
	struct child_report r = { step, err };
	ssize_t w;

	do
		w = write(fd, &r, sizeof(r));
	while (w < 0 && errno == EINTR);
	_exit(127);
}

static void reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);   /* SIGKILL, SIGSTOP: EINVAL, fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int close_span(unsigned int lo, unsigned int hi, int max_fd)
{
	if (lo > hi)
		return 0;
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return 0;
#endif
	/* Kernel before 5.9: close one by one up to the fd limit. */
	for (unsigned int fd = lo; fd <= hi && fd < (unsigned int)max_fd; fd++)
		close((int)fd);
	return 0;
}

/* Closes every descriptor from 3 up, except those in the sorted keep list. */
static void close_others(const struct child_plan *pl)
{
	unsigned int next = 3;

	for (size_t i = 0; i < pl->nkeep; i++) {
		unsigned int k = (unsigned int)pl->keep[i];
		if (k > next)
			close_span(next, k - 1, pl->max_fd);
		next = k + 1;
	}
	close_span(next, ~0U, pl->max_fd);
}

static void set_stdio(const struct child_plan *pl)
{
	int null_fd, log_fd;

	null_fd = open("/dev/null", O_RDWR);
	if (null_fd < 0)
		child_report(pl->report_fd, STEP_DEVNULL, errno);
	log_fd = open(pl->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0600);
	if (log_fd < 0)
		child_report(pl->report_fd, STEP_LOG, errno);
	/* Order matters if vmd runs with 0, 1 or 2 closed and the opens
	 * above landed there: /dev/null reaches 0 before 1 is replaced. */
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		child_report(pl->report_fd, STEP_DUP, errno);
	if (null_fd > 2)
		close(null_fd);
	if (log_fd > 2)
		close(log_fd);
}

static void child_main(const struct child_plan *pl)
{
	reset_signals();
	if (setsid() < 0)
		child_report(pl->report_fd, STEP_SETSID, errno);
	set_stdio(pl);
	for (size_t i = 0; i < pl->nuser; i++) {
		int fd = pl->user_keep[i], fl;
		if (fd < 0)
			continue;
		fl = fcntl(fd, F_GETFD);
		if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			child_report(pl->report_fd, STEP_FDFLAGS, errno);
	}
	close_others(pl);
	execv(pl->argv[0], pl->argv);
	child_report(pl->report_fd, STEP_EXEC, errno);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Checks keep_fds and builds the sorted keep list (plus the report pipe). */
static int plan_keep(struct child_plan *pl, const int *keep_fds, size_t nkeep,
		     char *err, size_t errlen)
{
	size_t n = 0;

	pl->keep = calloc(nkeep + 1, sizeof(int));
	if (!pl->keep) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nkeep; i++) {
		int fd = keep_fds[i];
		if (fd < 0)
			continue;
		if (fd <= 2) {
			snprintf(err, errlen, "cannot pass descriptor %d to QEMU: "
				 "it would replace stdin/stdout/stderr", fd);
			return -1;
		}
		if (fcntl(fd, F_GETFD) < 0) {
			snprintf(err, errlen, "cannot pass descriptor %d to QEMU: %s",
				 fd, strerror(errno));
			return -1;
		}
		pl->keep[n++] = fd;
	}
	pl->keep[n++] = pl->report_fd;
	qsort(pl->keep, n, sizeof(int), cmp_int);
	pl->nkeep = 0;
	for (size_t i = 0; i < n; i++)
		if (pl->nkeep == 0 || pl->keep[pl->nkeep - 1] != pl->keep[i])
			pl->keep[pl->nkeep++] = pl->keep[i];
	pl->user_keep = keep_fds;
	pl->nuser = nkeep;
	return 0;
}

static int fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 65536)
		return 65536;
	return (int)rl.rlim_cur;
}

static void describe_failure(const struct child_report *r, char *const argv[],
			     const char *log_path, char *err, size_t errlen)
{
	const char *e = strerror(r->err);

	switch (r->step) {
	case STEP_EXEC:
		snprintf(err, errlen, "cannot execute %s: %s", argv[0], e);
		break;
	case STEP_LOG:
		snprintf(err, errlen, "cannot open log file %s: %s", log_path, e);
		break;
	case STEP_DEVNULL:
		snprintf(err, errlen, "cannot open /dev/null: %s", e);
		break;
	case STEP_SETSID:
		snprintf(err, errlen, "setsid failed in the child: %s", e);
		break;
	default:
		snprintf(err, errlen, "cannot set up descriptors for %s: %s",
			 argv[0], e);
	}
}

/* Waits for the child's report: 0 bytes means exec succeeded. */
static int read_report(int fd, struct child_report *r)
{
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got == sizeof(*r) ? 1 : 0;
}

pid_t emu_spawn(char *const argv[], const int *keep_fds, size_t nkeep,
		const char *log_path, char *err, size_t errlen)
{
	struct child_plan pl = { .argv = argv, .log_path = log_path };
	struct child_report rep;
	sigset_t all, old;
	int pfd[2], saved;
	pid_t pid;
	char dummy[1];

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!argv || !argv[0] || !log_path) {
		snprintf(err, errlen, "nothing to run or no log file");
		errno = EINVAL;
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	/* With vmd's stdio closed the pipe could land on 0..2, which the
	 * child overwrites. */
	for (int i = 0; i < 2; i++) {
		if (pfd[i] <= 2) {
			int fd = fcntl(pfd[i], F_DUPFD_CLOEXEC, 3);
			if (fd < 0) {
				snprintf(err, errlen, "pipe: %s", strerror(errno));
				close(pfd[0]);
				close(pfd[1]);
				return -1;
			}
			close(pfd[i]);
			pfd[i] = fd;
		}
	}
	pl.report_fd = pfd[1];
	pl.max_fd = fd_limit();
	if (plan_keep(&pl, keep_fds, keep_fds ? nkeep : 0, err, errlen) < 0) {
		saved = errno;
		free(pl.keep);
		close(pfd[0]);
		close(pfd[1]);
		errno = saved ? saved : EINVAL;
		return -1;
	}
	/* No signal handler of vmd's may run in the child before the reset. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_main(&pl);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pfd[1]);
	free(pl.keep);
	if (pid < 0) {
		close(pfd[0]);
		snprintf(err, errlen, "fork: %s", strerror(saved));
		errno = saved;
		return -1;
	}
	if (read_report(pfd[0], &rep)) {
		close(pfd[0]);
		describe_failure(&rep, argv, log_path, err, errlen);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = rep.err;
		return -1;
	}
	close(pfd[0]);
	return pid;
}

unsigned long long emu_proc_starttime(pid_t pid)
{
	char path[64], buf[4096], *p, *end;
	unsigned long long start;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm (field 2) is in parentheses and may itself hold spaces and
	 * ')': the last ')' in the line ends it. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* an exited process nobody reaped yet (its parent, a killed vmd, is
	 * gone) is no longer our QEMU */
	if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
		return 0;
	/* After comm: field 3 (state) ... field 22 (starttime). */
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return 0;
	}
	errno = 0;
	start = strtoull(p, &end, 10);
	if (errno || end == p)
		return 0;
	return start;
}

/* Turns raw log bytes into one line: lines joined by "; ", blank lines
 * and control characters dropped. */
static size_t join_lines(const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;

	while (i < n) {
		size_t s = i, e;
		while (i < n && in[i] != '\n')
			i++;
		e = i++;
		while (s < e && (in[s] == ' ' || in[s] == '\t' || in[s] == '\r'))
			s++;
		while (e > s && (in[e - 1] == ' ' || in[e - 1] == '\t' ||
				 in[e - 1] == '\r'))
			e--;
		if (s == e)
			continue;
		if (o) {
			out[o++] = ';';
			out[o++] = ' ';
		}
		for (; s < e; s++) {
			unsigned char c = (unsigned char)in[s];
			out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

void emu_log_tail(const char *log_path, char *buf, size_t cap)
{
	char *raw = NULL, *joined = NULL;
	size_t want, len, start = 0;
	off_t size;
	ssize_t n;
	int fd;

	if (!buf || !cap)
		return;
	buf[0] = '\0';
	fd = log_path ? open(log_path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	want = cap - 1;
	if (size <= 0 || want == 0)
		goto out;
	if ((off_t)want > size)
		want = (size_t)size;
	raw = malloc(want);
	joined = malloc(want * 2 + 1);
	if (!raw || !joined)
		goto out;
	n = pread(fd, raw, want, size - (off_t)want);
	if (n <= 0)
		goto out;
	/* Started mid-file: drop the partial first line if a whole one
	 * follows. */
	if ((off_t)want < size) {
		char *nl = memchr(raw, '\n', (size_t)n);
		if (nl && nl + 1 < raw + n) {
			start = (size_t)(nl + 1 - raw);
		}
	}
	len = join_lines(raw + start, (size_t)n - start, joined);
	/* "; " is longer than "\n": keep the end if it grew past cap. */
	if (len > cap - 1) {
		memcpy(buf, joined + len - (cap - 1), cap);
	} else {
		memcpy(buf, joined, len + 1);
	}
out:
	free(raw);
	free(joined);
	close(fd);
}
