/* vmd-libvirt as vmd's child: its stdout through a pipe the loop reads
 * (bounded), its exit through SIGCHLD, a timer for its deadline.  As root
 * vmd runs it as the user who asked, so a connection reads no more than
 * that user could read with virsh. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>
#include "bridge/lvx.h"
#include "daemon/libvirt_fetch.h"
#include "daemon/vmd.h"
#include "keeper/launch.h"

/* The helper's JSON: the XML, escaped, and the bridges. */
#define OUT_MAX (4 * LVX_XML_MAX)

struct fetch {
	pid_t pid;
	int fd;
	struct event *rd, *deadline;
	char *out;
	size_t len;
	bool too_long, timed_out;
	int timeout_s;
	lv_fetch_cb done;
	void *ctx;
};

static struct fetch *running[LV_FETCH_MAX];

/* Reads what the pipe holds now; false at its end or an error. */
static bool drain(struct fetch *x)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(x->fd, buf, sizeof buf)) > 0) {
		if (x->len + (size_t)n > OUT_MAX) {
			x->too_long = true;
			continue;
		}
		memcpy(x->out + x->len, buf, (size_t)n);
		x->len += (size_t)n;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *x = arg;

	(void)fd;
	(void)what;
	if (!drain(x))
		event_del(x->rd);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *x = arg;

	(void)fd;
	(void)what;
	x->timed_out = true;
	kill(x->pid, SIGKILL);
}

/* The end: what the helper said, as the callback wants it. */
static void finish(struct fetch *x, int status)
{
	struct rpc_fault f;
	struct json_object *got = NULL;

	drain(x);
	x->out[x->len] = '\0';
	if (x->timed_out)
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "libvirt did not answer within %d s",
			      x->timeout_s);
	else if (x->too_long)
		rpc_fault_set(&f, RPC_INVALID_ARGUMENT, "the domain's XML is longer than %d bytes",
			      LVX_XML_MAX);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rpc_fault_set(&f, RPC_INVALID_ARGUMENT, "libvirt: %.900s",
			      x->len ? strtok(x->out, "\n") : "vmd-libvirt failed");
	else if (!(got = json_tokener_parse(x->out)))
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "vmd-libvirt's output is not JSON");
	x->done(x->ctx, got, got ? NULL : &f);
	json_object_put(got);
	event_free(x->rd);
	event_free(x->deadline);
	close(x->fd);
	free(x->out);
	free(x);
}

bool lv_fetch_child_exited(pid_t pid, int status)
{
	for (int i = 0; i < LV_FETCH_MAX; i++) {
		struct fetch *x = running[i];
		if (x && x->pid == pid) {
			running[i] = NULL;
			finish(x, status);
			return true;
		}
	}
	return false;
}

void lv_fetch_kill_all(void)
{
	for (int i = 0; i < LV_FETCH_MAX; i++) {
		struct fetch *x = running[i];
		int status;
		if (!x)
			continue;
		kill(x->pid, SIGKILL);
		waitpid(x->pid, &status, 0); /* at exit, after SIGKILL: short */
		x->timed_out = true;
		running[i] = NULL;
		finish(x, status);
	}
}

/* In the child: async-signal-safe calls only. */
static void child(int out, uid_t uid, gid_t gid, char *const argv[])
{
	int null = open("/dev/null", O_RDONLY);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	if (geteuid() == 0 && uid != 0 &&
	    (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
		_exit(126);
	close_range(3, ~0U, 0);
	execv(argv[0], argv);
	_exit(127);
}

static int slot(struct rpc_fault *f)
{
	for (int i = 0; i < LV_FETCH_MAX; i++)
		if (!running[i])
			return i;
	rpc_fault_set(f, RPC_BUSY, "%d libvirt imports run already", LV_FETCH_MAX);
	return -1;
}

static pid_t spawn(const char *uri, const char *domain, uid_t uid, int out,
		   struct rpc_fault *f)
{
	static char prog[PATH_MAX];
	char *argv[] = {(char *)libexec_program("vmd-libvirt", prog, sizeof prog),
			(char *)uri, (char *)domain, NULL};
	struct passwd *pw = getpwuid(uid);
	gid_t gid = pw ? pw->pw_gid : (gid_t)uid;
	pid_t pid = fork();

	if (pid == 0)
		child(out, uid, gid, argv);
	if (pid < 0)
		rpc_fault_set(f, RPC_GENERIC_ERROR, "fork: %s", strerror(errno));
	return pid;
}

int lv_fetch(const char *uri, const char *domain, uid_t uid, int timeout_s,
	     lv_fetch_cb done, void *ctx, struct rpc_fault *f)
{
	int i = slot(f), p[2];
	struct fetch *x;

	if (i < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "pipe: %s", strerror(errno));
		return -1;
	}
	if (!(x = calloc(1, sizeof *x)) || !(x->out = malloc(OUT_MAX + 1))) {
		free(x);
		close(p[0]);
		close(p[1]);
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	*x = (struct fetch){.fd = p[0], .out = x->out, .timeout_s = timeout_s,
			    .done = done, .ctx = ctx};
	x->pid = spawn(uri, domain, uid, p[1], f);
	close(p[1]);
	if (x->pid < 0) {
		close(p[0]);
		free(x->out);
		free(x);
		return -1;
	}
	struct timeval tv = {.tv_sec = timeout_s};
	x->rd = event_new(vmd.base, x->fd, EV_READ | EV_PERSIST, on_read, x);
	x->deadline = evtimer_new(vmd.base, on_deadline, x);
	event_add(x->rd, NULL);
	evtimer_add(x->deadline, &tv);
	running[i] = x;
	return 0;
}
