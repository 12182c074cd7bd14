/* What happens to running guests across a restart of vmd.  vmd exiting
 * never stops a guest; the next vmd re-adopts each QEMU it finds still
 * running (same PID and same process start time, so a reused PID is never
 * mistaken for our QEMU), reconnects QMP and consoles, and watches the
 * process with a pidfd since it is no longer our child.  A QEMU that ended
 * while vmd was away is recorded as crashed. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/pidfd.h>
#include <unistd.h>
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/qmp.h"
#include "daemon/ports.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "emu/spawn.h"

static void on_adopted_exit(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	/* not our child: no exit status to read; QMP told us if the guest
	 * asked to power off */
	vm_child_exited(vm->pid, -1);
}

static int watch_pid(struct vm *vm)
{
	int fd = pidfd_open(vm->pid, 0);

	if (fd < 0)
		return -1;
	vm->pidfd_ev = event_new(vmd.base, fd, EV_READ, on_adopted_exit, vm);
	if (!vm->pidfd_ev) {
		close(fd);
		return -1;
	}
	event_add(vm->pidfd_ev, NULL);
	return 0;
}

static int set_run_dir(struct vm *vm)
{
	char path[4096];

	vm_run_dir_path(path, sizeof path, vmd.run_dir, vm->uuid);
	free(vm->run_dir);
	vm->run_dir = strdup(path);
	if (!vm->run_dir)
		return -1;
	vm_run_config_load(vm);  /* ports follow what QEMU runs with */
	return 0;
}

/* Its QEMU ended while vmd was away: the logs get the end of its output. */
static void salvage(struct vm *vm)
{
	if (set_run_dir(vm) == 0) {
		ports_salvage(vm);
		leftovers_stopped(vm);
	}
	vm_run_config_drop(vm);
}

static void on_adopt_cont(void *ctx, struct json_object *ret, rpc_err err,
			  const char *desc)
{
	struct vm *vm = ctx;

	if (err != RPC_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "cannot start the re-adopted "
		       "guest: %s", desc);
}

/* A guest that powered off while vmd was away waits in QEMU's "shutdown"
 * state (-no-shutdown): a clean stop, not a crash.  One whose start vmd
 * did not finish waits in "prelaunch" (-S) for the "cont" it never got. */
static void on_adopt_status(void *ctx, struct json_object *ret, rpc_err err,
			    const char *desc)
{
	struct vm *vm = ctx;
	struct json_object *st;
	const char *status = err == RPC_OK &&
			     json_object_object_get_ex(ret, "status", &st) ?
			     json_object_get_string(st) : "";

	if (!strcmp(status, "shutdown")) {
		log_vm(LOG_INFO, vm->name, vm->uuid, "the guest powered off while "
		       "vmd was away");
		vm->shutdown_seen = vm->shutdown_guest = true;
		vm_quit(vm);
	} else if (!strcmp(status, "prelaunch") && vm->qmp) {
		log_vm(LOG_INFO, vm->name, vm->uuid, "finishing the start vmd was "
		       "in when it went away");
		qmp_exec(vm->qmp, "cont", NULL, on_adopt_cont, vm);
	}
}

/* The accelerator QEMU really uses: the config and today's probe verdict
 * say what a new start would pick, not what this QEMU was started with. */
static void on_adopt_kvm(void *ctx, struct json_object *ret, rpc_err err,
			 const char *desc)
{
	struct vm *vm = ctx;
	struct json_object *on;

	if (err != RPC_OK || !json_object_object_get_ex(ret, "enabled", &on)) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "cannot ask QEMU its "
		       "accelerator: %s", err != RPC_OK ? desc : "no answer");
		return;
	}
	snprintf(vm->accel, sizeof vm->accel, "%s",
		 json_object_get_boolean(on) ? "kvm" : "tcg");
	vm_changed(vm);
}

/* The QEMU holds its run directory's lock.  One started by a vmd from
 * before the lock does not: this vmd then holds it for it while it runs. */
static void check_lock(struct vm *vm)
{
	char holder[32];
	int fd = vm_lock_run_dir(vm, holder, sizeof holder);

	if (fd >= 0) {
		vm->lock_fd = fd;
		vm_lock_note_pid(fd, vm->pid);
	} else if (errno != EWOULDBLOCK) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "cannot check the lock of "
		       "its run directory: %s", strerror(errno));
	} else if (atoi(holder) != (int)vm->pid) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "the lock of its run "
		       "directory is held by pid %s, not by its QEMU pid %d",
		       holder, (int)vm->pid);
	}
}

static void adopt(struct vm *vm)
{
	enum vm_state was = vm->state;

	if (set_run_dir(vm) == 0)
		check_lock(vm);
	if (!vm->run_dir || watch_pid(vm) < 0 || vm_connect_qmp(vm) < 0) {
		log_vm(LOG_ERR, vm->name, vm->uuid, "cannot re-adopt QEMU pid %d: %s; "
		       "it keeps running unmanaged", (int)vm->pid, strerror(errno));
		return;
	}
	vm->accel[0] = '\0';  /* unknown until QEMU answers query-kvm */
	vm->started_at = time(NULL);
	vm_changed(vm);
	meter_adopted(vm);
	/* a half-finished start or stop is not resumed: the guest runs */
	if (was == VM_STARTING || was == VM_STOPPING)
		vm_set_state(vm, VM_RUNNING, "host", NULL);
	/* the keepers make this exact without pausing the guest */
	ports_adopt(vm);
	qmp_exec(vm->qmp, "query-kvm", NULL, on_adopt_kvm, vm);
	qmp_exec(vm->qmp, "query-status", NULL, on_adopt_status, vm);
	log_vm(LOG_INFO, vm->name, vm->uuid, "re-adopted QEMU pid %d", (int)vm->pid);
}

void vm_recover_all(void)
{
	size_t n;
	struct vm **v = vm_sorted(&n);

	for (size_t i = 0; v && i < n; i++) {
		struct vm *vm = v[i];
		if (vm->state == VM_STOPPED || vm->state == VM_CRASHED)
			continue;
		if (vm->pid > 0 && vm->starttime &&
		    emu_proc_starttime(vm->pid) == vm->starttime) {
			adopt(vm);
			continue;
		}
		bool clean = vm->state == VM_STOPPING;
		salvage(vm);
		vm->pid = 0;
		vm->starttime = 0;
		vm_set_state(vm, clean ? VM_STOPPED : VM_CRASHED,
			     clean ? "stop" : "crash", NULL);
	}
	free(v);
}

/* Autostart starts at most this many QEMUs at a time: a host with many
 * autostart guests would otherwise fork them all in one go and have every
 * one of them fight for the CPU while booting. */
#define AUTOSTART_PARALLEL 4
#define AUTOSTART_TICK_MS 50

/* uuids, not pointers: a VM may be undefined while it waits its turn */
static char (*autostart_queue)[37];
static size_t autostart_n, autostart_next;
static struct event *autostart_timer;

static bool wants_autostart(const struct vm *vm)
{
	return vm_cfg_bool(vm, "autostart") &&
	       (vm->state == VM_STOPPED || vm->state == VM_CRASHED);
}

static void autostart_tick(evutil_socket_t fd, short what, void *arg)
{
	size_t starting = 0;
	struct timeval tv = {0, AUTOSTART_TICK_MS * 1000};

	for (size_t i = 0; i < autostart_next; i++) {
		struct vm *vm = vm_find(autostart_queue[i]);
		starting += vm && vm->state == VM_STARTING;
	}
	while (autostart_next < autostart_n && starting < AUTOSTART_PARALLEL) {
		struct vm *vm = vm_find(autostart_queue[autostart_next++]);
		/* it may have been started, or undefined, meanwhile */
		if (vm && wants_autostart(vm)) {
			vm_start_internal(vm);
			starting += vm->state == VM_STARTING;
		}
	}
	if (autostart_next < autostart_n || starting) {
		evtimer_add(autostart_timer, &tv);
		return;
	}
	free(autostart_queue);
	autostart_queue = NULL;
	autostart_n = autostart_next = 0;
}

void vm_autostart_all(void)
{
	size_t n;
	struct vm **v = vm_sorted(&n);

	if (!v || !(autostart_queue = calloc(n ? n : 1, sizeof *autostart_queue))) {
		free(v);
		return;
	}
	autostart_n = autostart_next = 0;
	for (size_t i = 0; i < n; i++)
		if (wants_autostart(v[i]))
			memcpy(autostart_queue[autostart_n++], v[i]->uuid, 37);
	free(v);
	if (!autostart_timer)
		autostart_timer = evtimer_new(vmd.base, autostart_tick, NULL);
	autostart_tick(-1, 0, NULL);
}

/* --stop-guests: power every guest down, kill what is left after
 * timeout_s, call done once no QEMU remains (or a while after the kills,
 * whatever happens). */
static void (*stop_all_done)(void);
static struct event *stop_all_timer;
static struct timespec stop_all_deadline;

static void stop_all_tick(evutil_socket_t fd, short what, void *arg)
{
	size_t running;
	struct timespec now;
	struct timeval tv = {0, 100 * 1000};

	vm_count(&running);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (running == 0 || now.tv_sec > stop_all_deadline.tv_sec) {
		if (running)
			log_warn("%zu QEMU processes still there; exiting anyway", running);
		stop_all_done();
		return;
	}
	evtimer_add(stop_all_timer, &tv);
}

void vm_stop_all(int timeout_s, void (*done)(void))
{
	size_t n;
	struct vm **v = vm_sorted(&n);

	for (size_t i = 0; v && i < n; i++) {
		if (v[i]->state == VM_RUNNING || v[i]->state == VM_PAUSED)
			vm_stop(v[i], "vmd", timeout_s, NULL, NULL);
		else if (v[i]->state == VM_STARTING)
			vm_kill(v[i], NULL, NULL);
	}
	free(v);
	stop_all_done = done;
	clock_gettime(CLOCK_MONOTONIC, &stop_all_deadline);
	stop_all_deadline.tv_sec += timeout_s + 10;  /* kill, reap, record */
	if (!stop_all_timer)
		stop_all_timer = evtimer_new(vmd.base, stop_all_tick, NULL);
	stop_all_tick(-1, 0, NULL);
}

void vm_release_all(void)
{
	if (stop_all_timer)
		event_free(stop_all_timer);
	stop_all_timer = NULL;
	if (autostart_timer)
		event_free(autostart_timer);
	autostart_timer = NULL;
	free(autostart_queue);
	autostart_queue = NULL;
	autostart_n = autostart_next = 0;

	size_t n;
	struct vm **v = vm_sorted(&n);

	for (size_t i = 0; v && i < n; i++) {
		struct vm *vm = v[i];
		struct vm_waiter *waiting[] = {&vm->on_start, &vm->on_stop,
					       &vm->on_kill};
		struct rpc_fault exiting;
		rpc_fault_set(&exiting, RPC_GENERIC_ERROR, "vmd is exiting");
		for (size_t w = 0; w < 3; w++)
			if (waiting[w]->cb)
				vm_finish(vm, waiting[w], &exiting);
		qmp_close(vm->qmp);
		vm->qmp = NULL;
		ports_close(vm);
		if (vm->pidfd_ev) {
			close(event_get_fd(vm->pidfd_ev));
			event_free(vm->pidfd_ev);
		}
	}
	free(v);
	vm_free_all();
}
