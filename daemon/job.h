/* Jobs: qemu-img runs as vmd's child, never blocking the loop.  Its
 * output comes through pipes libevent reads, its exit through SIGCHLD
 * (job_child_exited).  A job writes to a temporary file in the pool and
 * renames it to the volume's file only when qemu-img succeeded: a failed,
 * cancelled or interrupted job leaves no partial file.  At most JOB_MAX
 * run at once; more are refused (Busy). */
#ifndef VMD_DAEMON_JOB_H
#define VMD_DAEMON_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "rpc/errors.h"

#define JOB_MAX 4

struct job;
/* Told once how the job ended: err NULL when the file is in place. */
typedef void (*job_done_cb)(void *ctx, struct job *j,
			    const struct rpc_fault *err);

struct job_spec {
	const char *kind;        /* "create", "import", "clone", "resize" */
	const char *volume;      /* the volume it is for */
	const char *source;      /* the volume it reads, or NULL */
	char *const *argv;       /* qemu-img and its arguments */
	const int *keep_fds;     /* inherited by qemu-img (as /dev/fd/N) */
	size_t nkeep;
	const char *tmp_path;    /* where qemu-img writes, or NULL */
	const char *final_path;  /* tmp_path is renamed to it on success;
				    NULL: the caller renames it later */
	int64_t total;           /* bytes, for VOLUME_PROGRESS (convert -p) */
	uid_t uid;               /* who asked */
};

/* Starts qemu-img.  The job, or NULL with f set (Busy when JOB_MAX run;
 * nothing to clean up then). */
struct job *job_start(const struct job_spec *spec, job_done_cb done,
		      void *ctx, struct rpc_fault *f);
unsigned job_id(const struct job *j);
/* Stops the job (SIGKILL); its callback says it was cancelled.  0, or
 * -1 with f when no such job runs. */
int job_cancel(unsigned id, struct rpc_fault *f);
/* A job runs for this volume (it makes it, or reads it), or an
 * operation holds its name (job_hold). */
bool job_busy(const char *volume);
/* An operation that makes several volumes one job after the other
 * (vm-clone, spec-apply) holds their names from its plan until it ends,
 * so that job_busy says true for each meanwhile: no other command makes
 * a volume of that name between two of its jobs.  -1: out of memory. */
int job_hold(const char *volume, const void *owner);
/* Every name owner holds is free again. */
void job_release(const void *owner);
/* The jobs running: [{job, kind, volume, done, total, uid}]. */
struct json_object *job_list(void);
/* SIGCHLD: true when pid was a job's (its end is then handled). */
bool job_child_exited(pid_t pid, int status);
/* vmd exits: every qemu-img is killed, its partial file removed, and its
 * callback told. */
void job_kill_all(void);
/* The qemu-img binary: beside the QEMU binary vmd uses, else on PATH. */
const char *job_qemu_img(void);

#endif
