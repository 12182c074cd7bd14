/* VMs known to the daemon and their state machine:
 *   stopped -> starting -> running <-> paused; running -> stopping -> stopped;
 *   any running state -> crashed when QEMU exits unasked.
 * Every transition is written to the store before it is announced. */
#ifndef VMD_DAEMON_VM_H
#define VMD_DAEMON_VM_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include <json-c/json.h>
#include <event2/event.h>
#include "schemas/limits.h"
#include "rpc/errors.h"

struct qmp;
struct console;
struct hostdev;
struct meter;

enum vm_state {
	VM_STOPPED, VM_STARTING, VM_RUNNING, VM_PAUSED, VM_STOPPING, VM_CRASHED,
};
#define VM_RESTART_HISTORY 1000  /* restart_max's maximum */

struct vm;
/* How a start, stop or kill ended, told once to whoever asked (shaped like
 * qmp_exec's callback): err NULL when it happened, and the VM says how
 * (pid and accel of its QEMU; kill_sent: a stop had to kill), else why
 * not.  It may run before vm_start/vm_stop/vm_kill returns. */
typedef void (*vm_done_cb)(void *ctx, struct vm *vm, const struct rpc_fault *err);
struct vm_waiter {
	vm_done_cb cb;                /* NULL: nobody waits */
	void *ctx;
};

struct vm {
	char uuid[37];
	char *name;
	struct json_object *config;   /* validated, defaults not filled in */
	struct json_object *run_config; /* what its QEMU was started with
	                                   (vm_config.h), or NULL */
	enum vm_state state;
	bool is_template;             /* vms.template: never started (template.h) */
	time_t created, updated, started_at;
	/* while a QEMU exists */
	pid_t pid;
	pid_t keeper_pid;             /* its console keeper, when vmd started it */
	unsigned long long starttime;
	char accel[8];                /* effective: "kvm" or "tcg"; "" until a
				       * re-adopted QEMU says (query-kvm) */
	char *run_dir;
	int lock_fd;                  /* vmd's copy of the run dir lock, or -1 */
	char start_fail[512];         /* why vmd ended a QEMU it was starting */
	struct qmp *qmp;
	struct console *console[VMD_SERIAL_MAX];   /* console, tcp ports */
	struct hostdev *hostdev[VMD_SERIAL_MAX];   /* host ports */
	bool shutdown_seen;           /* QEMU announced SHUTDOWN: a clean exit */
	bool shutdown_guest;          /* ... asked by the guest, not the host */
	const char *pending_op;       /* "pause"/"resume" in flight: the reason
	                                 for the STOP/RESUME event it causes */
	bool kill_sent;
	bool ending;                  /* QEMU has exited, its logs are being
	                                 completed (ports_finish) */
	int exit_status;              /* ... its wait status, -1 if unknown */
	const char *end_asked;        /* ... "stop" or "kill" when vmd had asked
	                                 for that end, NULL when QEMU ended by
	                                 itself (a stop or kill that comes after
	                                 does not change why it ended) */
	void (*ports_done)(struct vm *vm);  /* ports_finish() under way */
	struct event *stop_timer;
	struct event *start_timer;
	struct event *pidfd_ev;       /* exit watch of an adopted QEMU */
	struct event *restart_timer;
	/* who waits for this VM's QEMU to start, stop or die */
	struct vm_waiter on_start, on_stop, on_kill;
	time_t restarts[VM_RESTART_HISTORY]; /* recent automatic restarts */
	int restarts_n;
	struct meter *meter;          /* its usage meter (meter.c), or NULL */
	char *summary;                /* cached vm-list entry (JSON text) */
	size_t summary_len;
	struct vm *next;
};

const char *vm_state_name(enum vm_state s);
bool vm_is_active(const struct vm *vm); /* a QEMU exists */

/* Registry. */
struct vm *vm_find(const char *name_or_uuid);
struct vm *vm_find_pid(pid_t pid);
struct vm *vm_add(const char *uuid, const char *name, struct json_object *config,
		  time_t created, time_t updated);
void vm_remove(struct vm *vm);
int vm_rename(struct vm *vm, const char *name); /* -1 on ENOMEM */
/* A new random uuid (version 4), lower-case. */
void vm_new_uuid(char out[37]);
/* Whether the VM's definition may go now: 0, or -1 with f set
 * (InvalidState) when a QEMU of it runs, ends or holds its run directory. */
int vm_undefinable(const struct vm *vm, struct rpc_fault *f);
/* Replace the definition (takes config's reference). */
void vm_set_config(struct vm *vm, struct json_object *config);
size_t vm_count(size_t *running);
/* All VMs sorted by name; caller frees the array (not the VMs). */
struct vm **vm_sorted(size_t *n);
int vm_load_all(void);
void vm_free_all(void);

/* Anything vm-list shows changed: drop the cached entry. */
void vm_changed(struct vm *vm);

/* Record and announce a transition that has happened (no-op when
 * unchanged): the VM is in state s even when the store cannot say so,
 * which returns -1 (logged). */
int vm_set_state(struct vm *vm, enum vm_state s, const char *reason,
		 const char *who);
/* The same for a transition vmd may still refuse: when the store cannot
 * record it, nothing changes, nothing is announced, and -1. */
int vm_try_state(struct vm *vm, enum vm_state s, const char *reason,
		 const char *who);

/* The lock on RUN/vms/UUID/lock that every QEMU of the VM holds for its
 * whole life (it inherits the descriptor): never two QEMUs for one VM.
 * The locked descriptor, or -1 with errno (EWOULDBLOCK: a QEMU holds it;
 * holder then says the pid written into the file, else "unknown"). */
int vm_lock_run_dir(const struct vm *vm, char *holder, size_t cap);
/* Write QEMU's pid into the lock file, for that message. */
void vm_lock_note_pid(int fd, pid_t pid);

/* Lifecycle, vm_run.c.  cb is told once how it ended (see vm_done_cb);
 * who goes to the audit log.  A NULL cb (calls vmd makes itself: autostart,
 * the restart policy, --stop-guests) waits for nothing and has errors
 * logged. */
void vm_start(struct vm *vm, const char *who, vm_done_cb cb, void *ctx);
void vm_start_internal(struct vm *vm);         /* autostart, restarts */
void vm_stop(struct vm *vm, const char *who, int timeout_s, vm_done_cb cb,
	     void *ctx);
void vm_kill(struct vm *vm, vm_done_cb cb, void *ctx);
/* Tell whoever waits in *w (if anyone) how it ended, once. */
void vm_finish(struct vm *vm, struct vm_waiter *w, const struct rpc_fault *err);
void vm_child_exited(pid_t pid, int status);
void vm_qemu_event(struct vm *vm, const char *event, struct json_object *data);
/* End a QEMU whose guest has shut down (it runs with -no-shutdown). */
void vm_quit(struct vm *vm);
/* Connect QMP of a QEMU whose sockets are in vm->run_dir. */
int vm_connect_qmp(struct vm *vm);
/* A unix stream socket bound and listening at path, or connected to it. */
int vm_unix_socket(const char *path, bool listening);  /* connects O_NONBLOCK */
/* The user QEMU (and the console keeper) run as, NULL unless vmd is root. */
const char *vm_qemu_user(void);

/* Start-up and exit, vm_adopt.c. */
void vm_recover_all(void);   /* re-adopt QEMUs that outlived a vmd */
void vm_autostart_all(void);
void vm_release_all(void);   /* let go of QEMUs without stopping them */
void vm_stop_all(int timeout_s, void (*done)(void));

/* Why QEMU could not use path as a disk (block_ok) or a kernel/initrd:
 * missing, unreadable, a directory...; NULL when it can. */
const char *vm_file_problem(const char *path, bool block_ok);

/* Members of the definition, whose defaults are filled in (vm-config.json);
 * NULL, 0 or false for one absent without a default. */
const char *vm_cfg_str(const struct vm *vm, const char *key);
int vm_cfg_int(const struct vm *vm, const char *key);
bool vm_cfg_bool(const struct vm *vm, const char *key);

#endif
