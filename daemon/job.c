/* qemu-img jobs.  The child is forked with pipes for stdout (progress)
 * and stderr (why it failed), PR_SET_PDEATHSIG so that it dies with vmd
 * even when vmd is killed, and its own process group.  The loop reads the
 * pipes; SIGCHLD (main.c) tells the exit, after which what is left in the
 * pipes is read without waiting (the child is gone, so nothing more
 * comes) and the job ends: rename on success, unlink otherwise. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "daemon/conn.h"
#include "daemon/job.h"
#include "daemon/log.h"
#include "daemon/qimg.h"
#include "daemon/vmd.h"
#include "rpc/message.h"

#define PROGRESS_EVERY_MS 250   /* at most 4 VOLUME_PROGRESS a second */

struct job {
	unsigned id;
	pid_t pid;
	char kind[16], volume[72], source[72];
	char *tmp, *final;
	int64_t total, done;
	uid_t uid;
	int fd[2];                 /* stdout, stderr; -1 once at EOF */
	struct event *ev[2];
	char out[256];             /* progress text not parsed yet */
	size_t outlen;
	char err[1024];            /* stderr's last bytes */
	size_t errlen;
	bool cancelled;
	long long last_event_ms;
	job_done_cb cb;
	void *ctx;
	struct job *next;
};

static struct job *jobs;
static unsigned next_id = 1, running;

/* Names held by an operation of several jobs, from its plan to its end. */
struct hold {
	char volume[72];
	const void *owner;
	struct hold *next;
};
static struct hold *holds;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

const char *job_qemu_img(void)
{
	static char path[4096];
	const char *slash = vmd.qemu ? strrchr(vmd.qemu, '/') : NULL;

	if (path[0])
		return path;
	snprintf(path, sizeof path, "qemu-img");
	if (slash && snprintf(path, sizeof path, "%.*s/qemu-img",
			      (int)(slash - vmd.qemu), vmd.qemu) > 0 &&
	    access(path, X_OK) < 0)
		snprintf(path, sizeof path, "qemu-img");
	return path;
}

/* The job as VOLUME_PROGRESS tells it, and job-list with who asked. */
static struct json_object *job_json(const struct job *j, bool with_uid)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "job", json_object_new_int64(j->id));
	json_object_object_add(d, "kind", json_object_new_string(j->kind));
	json_object_object_add(d, "volume", json_object_new_string(j->volume));
	json_object_object_add(d, "done", json_object_new_int64(j->done));
	json_object_object_add(d, "total", json_object_new_int64(j->total));
	if (with_uid)
		json_object_object_add(d, "uid", json_object_new_int64(j->uid));
	return d;
}

static void announce(struct job *j)
{
	server_broadcast(rpc_event_new("VOLUME_PROGRESS", job_json(j, false)));
	j->last_event_ms = now_ms();
}

static void got_progress(struct job *j)
{
	size_t used;
	double pct = qimg_parse_progress(j->out, j->outlen, &used);

	if (pct >= 0) {
		j->done = (int64_t)((double)j->total * pct / 100.0);
		memmove(j->out, j->out + used, j->outlen - used);
		j->outlen -= used;
		if (now_ms() - j->last_event_ms >= PROGRESS_EVERY_MS ||
		    j->done == j->total)
			announce(j);
	}
	if (j->outlen == sizeof j->out)  /* no progress in it: drop it */
		j->outlen = 0;
}

/* Reads what the pipe has now; false at EOF or error. */
static bool drain(struct job *j, int which)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(j->fd[which], buf, sizeof buf)) > 0) {
		if (which == 0) {
			for (ssize_t i = 0; i < n; i++) {
				j->out[j->outlen++] = buf[i];
				if (j->outlen == sizeof j->out)
					got_progress(j);
			}
			got_progress(j);
			continue;
		}
		/* keep the tail: qemu-img's message is its last line */
		if ((size_t)n >= sizeof j->err) {
			memcpy(j->err, buf + n - (sizeof j->err - 1), sizeof j->err - 1);
			j->errlen = sizeof j->err - 1;
		} else {
			size_t keep = sizeof j->err - 1 - (size_t)n;
			if (j->errlen > keep) {
				memmove(j->err, j->err + j->errlen - keep, keep);
				j->errlen = keep;
			}
			memcpy(j->err + j->errlen, buf, (size_t)n);
			j->errlen += (size_t)n;
		}
		j->err[j->errlen] = 0;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

static void close_pipe(struct job *j, int which)
{
	if (j->ev[which])
		event_free(j->ev[which]);
	if (j->fd[which] >= 0)
		close(j->fd[which]);
	j->ev[which] = NULL;
	j->fd[which] = -1;
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	int which = fd == j->fd[0] ? 0 : 1;

	(void)what;
	if (!drain(j, which))
		close_pipe(j, which);
}

static void unlink_job(struct job *j)
{
	for (struct job **p = &jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	running--;
}

static void free_job(struct job *j)
{
	close_pipe(j, 0);
	close_pipe(j, 1);
	free(j->tmp);
	free(j->final);
	free(j);
}

/* qemu-img's last line, without its "qemu-img: " and the newline. */
static const char *last_words(struct job *j)
{
	char *s = j->err;

	while (j->errlen && (s[j->errlen - 1] == '\n' || s[j->errlen - 1] == '\r'))
		s[--j->errlen] = 0;
	char *nl = strrchr(s, '\n');
	s = nl ? nl + 1 : s;
	if (!strncmp(s, "qemu-img: ", 10))
		s += 10;
	return *s ? s : "no message";
}

/* How the job ended, into f; false when it succeeded. */
static bool judge(struct job *j, int status, struct rpc_fault *f)
{
	if (j->cancelled) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "volume '%s': job %u was "
			      "cancelled; the partial file was removed",
			      j->volume, j->id);
	} else if (strstr(j->err, strerror(ENOSPC))) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "volume '%s': the pool is "
			      "full (No space left on device); the partial "
			      "file was removed", j->volume);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "volume '%s': qemu-img %s "
			      "failed: %s", j->volume, j->kind, last_words(j));
	} else if (j->tmp && j->final && rename(j->tmp, j->final) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "volume '%s': cannot rename "
			      "%s to %s: %s", j->volume, j->tmp, j->final,
			      strerror(errno));
	} else {
		return false;
	}
	return true;
}

static void finish(struct job *j, int status)
{
	struct rpc_fault f;
	bool failed;

	for (int i = 0; i < 2; i++)
		if (j->fd[i] >= 0)
			drain(j, i);
	unlink_job(j);
	failed = judge(j, status, &f);
	if (failed && j->tmp)
		unlink(j->tmp);
	if (!failed && j->total && j->done != j->total) {
		j->done = j->total;
		announce(j);
	}
	log_info("job %u (%s of volume %s) %s", j->id, j->kind, j->volume,
		 failed ? f.msg : "done");
	j->cb(j->ctx, j, failed ? &f : NULL);
	free_job(j);
}

/* The child: pipes on 1 and 2, the kept descriptors inherited, killed
 * when vmd dies. */
static void child(const struct job_spec *spec, int out, int err)
{
	int null = open("/dev/null", O_RDONLY);

	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	for (size_t i = 0; i < spec->nkeep; i++)
		if (spec->keep_fds[i] >= 0)
			fcntl(spec->keep_fds[i], F_SETFD, 0);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)  /* vmd died before the line above */
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	execvp(spec->argv[0], spec->argv);
	dprintf(2, "qemu-img: cannot run %s: %s\n", spec->argv[0], strerror(errno));
	_exit(127);
}

static int watch(struct job *j, int which)
{
	fcntl(j->fd[which], F_SETFL, O_NONBLOCK);
	j->ev[which] = event_new(vmd.base, j->fd[which], EV_READ | EV_PERSIST,
				 on_pipe, j);
	return j->ev[which] && event_add(j->ev[which], NULL) == 0 ? 0 : -1;
}

static struct job *new_job(const struct job_spec *spec, job_done_cb done,
			   void *ctx)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	j->fd[0] = j->fd[1] = -1;
	snprintf(j->kind, sizeof j->kind, "%s", spec->kind);
	snprintf(j->volume, sizeof j->volume, "%s", spec->volume);
	snprintf(j->source, sizeof j->source, "%s", spec->source ? spec->source
		 : "");
	j->tmp = spec->tmp_path ? strdup(spec->tmp_path) : NULL;
	j->final = spec->final_path ? strdup(spec->final_path) : NULL;
	j->total = spec->total;
	j->uid = spec->uid;
	j->cb = done;
	j->ctx = ctx;
	if ((spec->tmp_path && !j->tmp) || (spec->final_path && !j->final)) {
		free_job(j);
		return NULL;
	}
	return j;
}

struct job *job_start(const struct job_spec *spec, job_done_cb done,
		      void *ctx, struct rpc_fault *f)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1};
	struct job *j;

	if (running >= JOB_MAX) {
		rpc_fault_set(f, RPC_BUSY, "volume '%s': %u qemu-img jobs run "
			      "already (at most %d); wait for one to end",
			      spec->volume, running, JOB_MAX);
		return NULL;
	}
	if (!(j = new_job(spec, done, ctx)) || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0 || (j->pid = fork()) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "volume '%s': cannot start "
			      "qemu-img: %s", spec->volume, strerror(errno));
		goto fail;
	}
	if (j->pid == 0)
		child(spec, out[1], err[1]);
	setpgid(j->pid, j->pid);  /* also here: cancel may come first */
	close(out[1]);
	close(err[1]);
	j->fd[0] = out[0];
	j->fd[1] = err[0];
	j->id = next_id++;
	j->next = jobs;
	jobs = j;
	running++;
	if (watch(j, 0) < 0 || watch(j, 1) < 0) {
		/* the exit still comes: judge() then says it failed */
		log_err("job %u: cannot watch qemu-img's output", j->id);
	}
	log_info("job %u: %s of volume %s: qemu-img pid %d", j->id, j->kind,
		 j->volume, (int)j->pid);
	return j;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (j)
		free_job(j);
	return NULL;
}

unsigned job_id(const struct job *j)
{
	return j->id;
}

static struct job *find(unsigned id)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

int job_cancel(unsigned id, struct rpc_fault *f)
{
	struct job *j = find(id);

	if (!j) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "job: no job %u runs", id);
		return -1;
	}
	j->cancelled = true;
	kill(-j->pid, SIGKILL);
	return 0;
}

bool job_busy(const char *volume)
{
	for (struct job *j = jobs; j; j = j->next)
		if (!strcmp(j->volume, volume) || !strcmp(j->source, volume))
			return true;
	for (struct hold *h = holds; h; h = h->next)
		if (!strcmp(h->volume, volume))
			return true;
	return false;
}

int job_hold(const char *volume, const void *owner)
{
	struct hold *h = calloc(1, sizeof *h);

	if (!h)
		return -1;
	snprintf(h->volume, sizeof h->volume, "%s", volume);
	h->owner = owner;
	h->next = holds;
	holds = h;
	return 0;
}

void job_release(const void *owner)
{
	for (struct hold **p = &holds; *p;) {
		struct hold *h = *p;
		if (h->owner == owner) {
			*p = h->next;
			free(h);
		} else {
			p = &h->next;
		}
	}
}

struct json_object *job_list(void)
{
	struct json_object *a = json_object_new_array();

	for (struct job *j = jobs; j; j = j->next)
		json_object_array_add(a, job_json(j, true));
	return a;
}

bool job_child_exited(pid_t pid, int status)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->pid == pid) {
			finish(j, status);
			return true;
		}
	return false;
}

/* Each waiting command is told, before the connections close. */
void job_kill_all(void)
{
	struct rpc_fault f;

	while (jobs) {
		struct job *j = jobs;
		int status;
		kill(-j->pid, SIGKILL);
		while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
			;
		if (j->tmp)
			unlink(j->tmp);
		unlink_job(j);
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "volume '%s': vmd is exiting; "
			      "job %u was stopped and its partial file removed",
			      j->volume, j->id);
		j->cb(j->ctx, j, &f);
		free_job(j);
	}
}
