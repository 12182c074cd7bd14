/* Running a VM: start QEMU, follow it over QMP, stop or kill it, and learn
 * from its exit what happened.  QEMU starts paused (-S) with its QMP and
 * console sockets made by vmd and already connected, so nothing the guest
 * prints can be lost; vmd then sends "cont".  QEMU is vmd's own child and is
 * reaped from SIGCHLD at once, which is what makes vm-kill fast. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "console/console.h"
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "daemon/qmp.h"
#include "daemon/restart.h"
#include "daemon/scope.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vm_files.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "emu/arch.h"
#include "emu/argv.h"
#include "emu/cdrom.h"
#include "emu/emulator.h"
#include "emu/spawn.h"

/* Root's QEMU runs as this user unless --qemu-user says otherwise. */
#define QEMU_USER_DEFAULT "nobody"
/* QEMU that has not answered "cont" by then is declared failed. */
#define START_TIMEOUT_S 30

int vm_unix_socket(const char *path, bool listening)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* non-blocking: a peer that hangs with a full backlog (a stopped
	 * keeper) gives EAGAIN instead of blocking vmd */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
		    (listening ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0)
		return -1;
	if (listening) {
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		    listen(fd, 4) == 0)
			return fd;
	} else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		return fd;
	}
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* accel to use: the schema allows auto|kvm|tcg; auto follows the probe,
 * which is the x86 one: KVM runs only a guest of the host's own arch. */
static const char *resolve_accel(struct vm *vm, struct rpc_fault *f)
{
	const char *want = vm_cfg_str(vm, "accel");
	const char *arch = vm_cfg_str(vm, "arch");
	bool native = emu_arch_native(emu_arch(arch));

	if (!strcmp(want, "tcg") || (!strcmp(want, "auto") && !native))
		return "tcg";
	if (!native) {
		rpc_fault_set(f, RPC_UNSUPPORTED, "VM '%s': accel kvm needs a guest "
			      "of this host's arch (%s), not %s", vm->name,
			      emu_host_arch(), arch);
		return NULL;
	}
	if (vmd.probe.kvm_usable)
		return "kvm";
	if (!strcmp(want, "auto"))
		return "tcg";
	rpc_fault_set(f, RPC_UNSUPPORTED, "VM '%s': KVM is not usable here: %s",
		      vm->name, vmd.probe.reason);
	return NULL;
}

static int check_path(struct rpc_fault *f, const char *what, const char *path)
{
	const char *why = vm_file_problem(path, !strcmp(what, "disk"));

	if (!why)
		return 0;
	rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s %s: %s", what, path, why);
	return -1;
}

/* Every file QEMU will open must exist now: a clear error beats QEMU's. */
static int check_files(struct vm *vm, struct rpc_fault *f)
{
	struct json_object *disks, *boot, *v;

	if (json_object_object_get_ex(vm->config, "disks", &disks))
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			/* a volume disk's files are vm_volumes_open's */
			if (json_object_object_get_ex(json_object_array_get_idx(disks, i),
						      "path", &v) &&
			    check_path(f, "disk", json_object_get_string(v)) < 0)
				return -1;
		}
	if (json_object_object_get_ex(vm->config, "boot", &boot)) {
		if (json_object_object_get_ex(boot, "kernel", &v) &&
		    check_path(f, "kernel", json_object_get_string(v)) < 0)
			return -1;
		if (json_object_object_get_ex(boot, "initrd", &v) &&
		    check_path(f, "initrd", json_object_get_string(v)) < 0)
			return -1;
	}
	return 0;
}

static void on_qmp_event(void *ctx, const char *event, struct json_object *data)
{
	vm_qemu_event(ctx, event, data);
}

void vm_finish(struct vm *vm, struct vm_waiter *w, const struct rpc_fault *err)
{
	struct vm_waiter told = *w;

	*w = (struct vm_waiter){0};
	if (told.cb)
		told.cb(told.ctx, vm, err);
	else if (err)
		log_err("%s: %s", rpc_err_name(err->cls), err->msg);
}

void vm_start_internal(struct vm *vm)
{
	vm_start(vm, "autostart", NULL, NULL);
}

/* SIGKILL to the VM's QEMU, unless vmd has reaped it (ending): its pid may
 * be another process's by then.  True when sent. */
static bool kill_qemu(struct vm *vm)
{
	if (vm->pid <= 0 || vm->ending)
		return false;
	if (kill(vm->pid, SIGKILL) < 0) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "kill %d: %s",
		       (int)vm->pid, strerror(errno));
		return false;
	}
	return true;
}

/* The store cannot say the VM runs: a QEMU the next vmd would not know
 * about must not go on.  Its exit tells whoever waits for the start. */
static void end_start(struct vm *vm)
{
	snprintf(vm->start_fail, sizeof vm->start_fail, "VM '%s': cannot record "
		 "its state (%s); its QEMU was ended", vm->name,
		 store_errmsg(vmd.store));
	log_vm(LOG_ERR, vm->name, vm->uuid, "%s", vm->start_fail);
	vm->kill_sent = kill_qemu(vm);
}

static void on_cont(void *ctx, struct json_object *ret, rpc_err err,
		    const char *desc)
{
	struct vm *vm = ctx;

	if (err != RPC_OK) {
		/* QEMU's exit (SIGCHLD) tells whoever waits for the start */
		log_vm(LOG_ERR, vm->name, vm->uuid, "cont failed: %s", desc);
		kill_qemu(vm);
		return;
	}
	event_del(vm->start_timer);
	vm->started_at = time(NULL);
	if (vm_try_state(vm, VM_RUNNING, "boot", NULL) < 0) {
		end_start(vm);
		return;
	}
	vm_finish(vm, &vm->on_start, NULL);
}

static void on_start_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	log_vm(LOG_ERR, vm->name, vm->uuid, "QEMU did not start within %d s",
	       START_TIMEOUT_S);
	kill_qemu(vm);
}

struct launch_fds {
	int qmp_listen, qmp_conn;
	int con_listen[VMD_SERIAL_MAX], con_conn[VMD_SERIAL_MAX];
};

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* Make QEMU's listening sockets and connect to them before QEMU runs: the
 * connections wait in the backlog until QEMU accepts them. */
static int make_sockets(struct vm *vm, int nserial, struct launch_fds *f)
{
	char path[4096];

	vm_run_path(path, sizeof path, vm->run_dir, VM_RUN_QMP);
	f->qmp_listen = vm_unix_socket(path, true);
	f->qmp_conn = f->qmp_listen < 0 ? -1 : vm_unix_socket(path, false);
	if (f->qmp_conn < 0)
		return -1;
	for (int i = 0; i < nserial; i++) {
		vm_port_path(path, sizeof path, vm->run_dir, i, VM_PORT_SOCK);
		f->con_listen[i] = vm_unix_socket(path, true);
		f->con_conn[i] = f->con_listen[i] < 0 ? -1 : vm_unix_socket(path, false);
		if (f->con_conn[i] < 0)
			return -1;
	}
	return 0;
}

static int prepare_run_dir(struct vm *vm, struct rpc_fault *f)
{
	char path[4096];

	vm_run_dir_path(path, sizeof path, vmd.run_dir, NULL);
	mkdir(path, 0700);
	vm_run_dir_path(path, sizeof path, vmd.run_dir, vm->uuid);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "cannot create %s: %s", path,
			      strerror(errno));
		return -1;
	}
	free(vm->run_dir);
	vm->run_dir = strdup(path);
	return vm->run_dir ? 0 : -1;
}

/* A QEMU started by root gives up root once it has opened its files. */
const char *vm_qemu_user(void)
{
	if (geteuid() != 0)
		return NULL;
	return vmd.qemu_user && *vmd.qemu_user ? vmd.qemu_user : QEMU_USER_DEFAULT;
}

static pid_t launch(struct vm *vm, struct rpc_fault *fault, const char *accel,
		    struct launch_fds *f, const struct port_plan *pl)
{
	struct emu_launch l = {.accel = accel, .qmp_fd = f->qmp_listen,
			       .run_dir = vm->run_dir, .sandbox = vmd.sandbox,
			       .runas = vm_qemu_user()};
	struct emu_argv argv;
	struct vm_files files;
	char err[1024], log_path[4096];
	char *qemu = emu_qemu_path(vm_cfg_str(vm, "arch"), vmd.qemu_arch,
				   vmd.qemu);
	int keep[2 + VMD_SERIAL_MAX + VM_FILES_KEEP_MAX], nserial = pl->n;
	size_t nkeep = 2 + VMD_SERIAL_MAX;
	pid_t pid = -1;

	l.qemu = qemu;
	keep[0] = f->qmp_listen;
	for (int i = 0; i < VMD_SERIAL_MAX; i++) {
		l.console_fds[i] = i < nserial ? f->con_listen[i] : -1;
		keep[1 + i] = l.console_fds[i];
	}
	keep[1 + VMD_SERIAL_MAX] = vm->lock_fd;  /* held for QEMU's life */
	emu_argv_init(&argv);
	/* QEMU opens host files as root: vmd opens them as the QEMU user */
	if (vm_files_open(vm, &files, !strcmp(accel, "kvm"), fault) < 0) {
		free(qemu);
		return -1;
	}
	l.fds = &files.fds;
	memcpy(keep + nkeep, files.keep, files.nkeep * sizeof(int));
	nkeep += files.nkeep;
	if (!qemu || emu_build_argv(vm->config, &l, &argv, err, sizeof err) < 0) {
		rpc_fault_set(fault, RPC_INVALID_ARGUMENT, "VM '%s': %s", vm->name,
			      qemu ? err : "out of memory");
		goto out;
	}
	if (files.fds.seed >= 0 && emu_argv_add_seed(&argv, files.fds.seed,
			vm_cfg_str(vm, "arch"), vm_cfg_str(vm, "machine")) < 0) {
		rpc_fault_set(fault, RPC_GENERIC_ERROR, "out of memory");
		goto out;
	}
	char *line = emu_argv_render(&argv);
	log_vm(LOG_DEBUG, vm->name, vm->uuid, "exec %s", line ? line : "?");
	free(line);
	vm_run_path(log_path, sizeof log_path, vm->run_dir, VM_RUN_QEMU_LOG);
	pid = emu_spawn(argv.v, keep, nkeep, log_path, err, sizeof err);
	if (pid < 0)
		rpc_fault_set(fault, RPC_EMULATOR_FAILED, "VM '%s': %s", vm->name, err);
out:
	vm_files_close(&files);
	emu_argv_free(&argv);
	free(qemu);
	return pid;
}

static void attach_channels(struct vm *vm, struct launch_fds *f,
			    struct port_plan *pl)
{
	vm->qmp = qmp_open(f->qmp_conn, on_qmp_event, NULL, vm);
	f->qmp_conn = -1;
	ports_open(vm, pl, f->con_conn);
}

/* Never two QEMUs for one VM: one that vmd lost track of (a state it
 * could not record, a store restored from a backup) still holds it. */
static int lock_run_dir(struct vm *vm, struct rpc_fault *f)
{
	char holder[32];
	int fd;

	if ((fd = vm_lock_run_dir(vm, holder, sizeof holder)) >= 0) {
		vm->lock_fd = fd;
		return 0;
	}
	int e = errno;
	bool held = e == EWOULDBLOCK;

	/* the kernel may release a dead QEMU's lock a moment after its end */
	if (held && !emu_proc_starttime(atoi(holder)))
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s': its last QEMU (pid %s) "
			      "has ended but still holds %s/lock; try again in a "
			      "moment", vm->name, holder, vm->run_dir);
	else if (held)
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' already has a QEMU "
			      "(pid %s) that holds %s/lock though vmd does not "
			      "run it; end that process before starting the VM",
			      vm->name, holder, vm->run_dir);
	else
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': cannot lock %s/lock: %s",
			      vm->name, vm->run_dir, strerror(e));
	return -1;
}

static void unlock_run_dir(struct vm *vm)
{
	if (vm->lock_fd >= 0)
		close(vm->lock_fd);
	vm->lock_fd = -1;
}

/* From here on the outcome comes later, to w: from "cont", or QEMU's exit. */
static int spawn(struct vm *vm, const char *who, const char *accel,
		 struct vm_waiter w, struct rpc_fault *fault)
{
	struct launch_fds f;
	struct port_plan pl;

	if (vm_run_config_save(vm, fault) < 0 || ports_prepare(vm, &pl, fault) < 0)
		return -1;
	memset(&f, -1, sizeof f);
	bool made = make_sockets(vm, pl.n, &f) == 0;
	if (!made)
		rpc_fault_set(fault, RPC_GENERIC_ERROR, "VM '%s': cannot make "
			      "sockets in %s: %s", vm->name, vm->run_dir,
			      strerror(errno));
	/* the console keeper (keeper/) holds QEMU's side of the console and
	 * tcp ports before QEMU runs, so no byte the guest prints is missed
	 * and none waits for vmd */
	if (!made || ports_start_keeper(vm, &pl, f.con_conn, fault) < 0) {
		close_fds(&f.qmp_listen, sizeof f / sizeof(int));
		ports_plan_free(&pl);
		return -1;
	}
	pid_t pid = launch(vm, fault, accel, &f, &pl);
	close_fds(&f.qmp_listen, 1);
	close_fds(f.con_listen, VMD_SERIAL_MAX);
	if (pid < 0) {
		close_fds(&f.qmp_conn, 1);
		close_fds(f.con_conn, VMD_SERIAL_MAX);
		ports_plan_free(&pl);
		return -1;
	}
	vm->pid = pid;
	vm_lock_note_pid(vm->lock_fd, pid);
	scope_place(vm);  /* asynchronous: "cont" does not wait for it */
	vm->starttime = emu_proc_starttime(pid);
	snprintf(vm->accel, sizeof vm->accel, "%s", accel);
	vm->shutdown_seen = vm->shutdown_guest = vm->kill_sent = false;
	vm->start_fail[0] = 0;
	vm->on_start = w;
	attach_channels(vm, &f, &pl);
	ports_plan_free(&pl);
	/* stored before announced, or no start: QEMU still waits in -S */
	if (vm_try_state(vm, VM_STARTING, "start", who) < 0) {
		end_start(vm);
		return 0;
	}
	if (!vm->start_timer)
		vm->start_timer = evtimer_new(vmd.base, on_start_timeout, vm);
	struct timeval tv = {START_TIMEOUT_S, 0};
	evtimer_add(vm->start_timer, &tv);
	qmp_exec(vm->qmp, "cont", NULL, on_cont, vm);
	return 0;
}

static int start(struct vm *vm, const char *who, struct vm_waiter w,
		 struct rpc_fault *f)
{
	const char *accel;

	if (vm->state != VM_STOPPED && vm->state != VM_CRASHED) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' is already %s",
			      vm->name, vm_state_name(vm->state));
		return -1;
	}
	if (vm->is_template) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' is a template; it "
			      "cannot start: clone it (vm-clone) and start the clone",
			      vm->name);
		return -1;
	}
	if (vm->pid > 0) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s': its last QEMU (pid "
			      "%d) is still ending", vm->name, (int)vm->pid);
		return -1;
	}
	restart_cancel(vm);
	if (!(accel = resolve_accel(vm, f)) || check_files(vm, f) < 0 ||
	    prepare_run_dir(vm, f) < 0 || lock_run_dir(vm, f) < 0)
		return -1;
	if (spawn(vm, who, accel, w, f) < 0) {
		unlock_run_dir(vm);
		return -1;
	}
	return 0;
}

void vm_start(struct vm *vm, const char *who, vm_done_cb cb, void *ctx)
{
	struct vm_waiter w = {cb, ctx};
	struct rpc_fault f;

	if (start(vm, who, w, &f) < 0)
		vm_finish(vm, &w, &f);
}

static void on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (kill_qemu(vm)) {
		log_vm(LOG_INFO, vm->name, vm->uuid,
		       "guest did not power off in time; killing QEMU");
		vm->kill_sent = true;
	}
}

static void on_powerdown(void *ctx, struct json_object *ret, rpc_err err,
			 const char *desc)
{
	struct vm *vm = ctx;

	if (err != RPC_OK && kill_qemu(vm)) {
		log_vm(LOG_WARNING, vm->name, vm->uuid,
		       "system_powerdown failed (%s); killing QEMU", desc);
		vm->kill_sent = true;
	}
}

static bool check_active(struct vm *vm, struct vm_waiter w)
{
	struct rpc_fault f;

	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
	    vm->state == VM_STOPPING || vm->state == VM_STARTING)
		return true;
	rpc_fault_set(&f, RPC_INVALID_STATE, "VM '%s' is %s", vm->name,
		      vm_state_name(vm->state));
	vm_finish(vm, &w, &f);
	return false;
}

void vm_stop(struct vm *vm, const char *who, int timeout_s, vm_done_cb cb,
	     void *ctx)
{
	struct vm_waiter w = {cb, ctx};
	struct rpc_fault f;

	if (!check_active(vm, w))
		return;
	if (vm->state == VM_STARTING || vm->on_stop.cb) {
		rpc_fault_set(&f, RPC_INVALID_STATE, "VM '%s' is %s", vm->name,
			      vm->on_stop.cb ? "already stopping" : "still starting");
		vm_finish(vm, &w, &f);
		return;
	}
	vm->on_stop = w;
	if (vm->ending)
		return;  /* QEMU has exited: its end answers, whatever it was */
	vm_set_state(vm, VM_STOPPING, "stop", who);
	/* riscv64's virt machine has no power button to press */
	const struct emu_arch *a = emu_arch(vm_cfg_str(vm, "arch"));
	if (timeout_s && a && !a->powerdown) {
		log_vm(LOG_INFO, vm->name, vm->uuid, "arch %s has no power "
		       "button: killing QEMU", a->name);
		vm->kill_sent = kill_qemu(vm);
		return;
	}
	if (timeout_s == 0) {
		on_stop_timeout(-1, 0, vm);
		return;
	}
	qmp_exec(vm->qmp, "system_powerdown", NULL, on_powerdown, vm);
	if (!vm->stop_timer)
		vm->stop_timer = evtimer_new(vmd.base, on_stop_timeout, vm);
	struct timeval tv = {timeout_s, 0};
	evtimer_add(vm->stop_timer, &tv);
}

void vm_kill(struct vm *vm, vm_done_cb cb, void *ctx)
{
	struct vm_waiter w = {cb, ctx};
	struct rpc_fault f;

	if (!check_active(vm, w))
		return;
	if (vm->on_kill.cb) {
		rpc_fault_set(&f, RPC_BUSY, "VM '%s' is already being killed",
			      vm->name);
		vm_finish(vm, &w, &f);
		return;
	}
	vm->on_kill = w;
	if (vm->ending)
		return;  /* QEMU has exited: its end answers, whatever it was */
	vm->kill_sent = true;
	kill_qemu(vm);
}

/* QEMU has exited: nothing may signal its pid (it may be another
 * process's by now) or wait for its monitor any more. */
static void unwatch(struct vm *vm)
{
	if (vm->pidfd_ev) {
		close(event_get_fd(vm->pidfd_ev));
		event_free(vm->pidfd_ev);
		vm->pidfd_ev = NULL;
	}
	if (vm->start_timer)
		event_del(vm->start_timer);
	if (vm->stop_timer)
		event_del(vm->stop_timer);
	qmp_close(vm->qmp);
	vm->qmp = NULL;
}

static void teardown(struct vm *vm)
{
	ports_close(vm);
	vm->ending = false;
	unlock_run_dir(vm);
	leftovers_stopped(vm);
	vm->pid = 0;
	vm_run_config_drop(vm);  /* the definition applies from now on */
	vm->keeper_pid = 0;
	vm->starttime = 0;
	vm->started_at = 0;
	vm->pending_op = NULL;
}

static void describe_exit(int status, char *buf, size_t cap)
{
	if (status == -1)
		snprintf(buf, cap, "exited while adopted");
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
}

static void fail_start(struct vm *vm, const char *how)
{
	char tail[768], log_path[4096];
	struct rpc_fault f;

	if (vm->start_fail[0]) {
		rpc_fault_set(&f, RPC_GENERIC_ERROR, "%s", vm->start_fail);
	} else {
		vm_run_path(log_path, sizeof log_path, vm->run_dir, VM_RUN_QEMU_LOG);
		emu_log_tail(log_path, tail, sizeof tail);
		rpc_fault_set(&f, RPC_EMULATOR_FAILED, "VM '%s': QEMU %s: %s",
			      vm->name, how, tail[0] ? tail : "no output");
	}
	vm_finish(vm, &vm->on_start, &f);
}

static void exited(struct vm *vm);

void vm_child_exited(pid_t pid, int status)
{
	struct vm *vm = vm_find_pid(pid);

	if (!vm || vm->ending)
		return;
	vm->ending = true;
	vm->exit_status = status;
	vm->end_asked = NULL;
	if (vm->kill_sent || vm->on_stop.cb || vm->state == VM_STOPPING)
		vm->end_asked = vm->on_kill.cb ? "kill" : "stop";
	unwatch(vm);
	/* the logs get QEMU's last output before anyone hears of its end */
	ports_finish(vm, exited);
}

/* QEMU has exited and the logs have all it printed. */
static void exited(struct vm *vm)
{
	pid_t pid = vm->pid;
	char how[64];
	const char *asked = vm->end_asked;
	bool starting;

	describe_exit(vm->exit_status, how, sizeof how);
	starting = vm->state == VM_STARTING;
	teardown(vm);
	log_vm(LOG_INFO, vm->name, vm->uuid, "QEMU pid %d ended: %s", (int)pid, how);
	const char *reason;
	if (starting)
		reason = "start-failed";
	else if (asked)
		reason = asked;
	else if (vm->shutdown_seen)  /* guest power-off, or "quit" on the monitor */
		reason = vm->shutdown_guest ? "guest-shutdown" : "host";
	else
		reason = "crash";
	vm_set_state(vm, strcmp(reason, "crash") ? VM_STOPPED : VM_CRASHED,
		     reason, NULL);
	restart_consider(vm, reason);
	if (vm->on_start.cb)
		fail_start(vm, how);
	vm_finish(vm, &vm->on_stop, NULL);
	vm_finish(vm, &vm->on_kill, NULL);
}

static void on_quit(void *ctx, struct json_object *ret, rpc_err err,
		    const char *desc)
{
	struct vm *vm = ctx;

	/* QEMU may close the monitor before it answers: its exit counts */
	if (err != RPC_OK && strcmp(desc, "QEMU monitor closed"))
		kill_qemu(vm);
}

void vm_quit(struct vm *vm)
{
	if (vm->qmp)
		qmp_exec(vm->qmp, "quit", NULL, on_quit, vm);
	else
		kill_qemu(vm);
}

void vm_qemu_event(struct vm *vm, const char *event, struct json_object *data)
{
	struct json_object *guest;
	const char *why = vm->pending_op ? vm->pending_op : "monitor";

	if (!strcmp(event, "SHUTDOWN") && !vm->shutdown_seen) {
		/* the first one says who; our own "quit" sends another */
		vm->shutdown_seen = true;
		vm->shutdown_guest = json_object_object_get_ex(data, "guest", &guest) &&
				     json_object_get_boolean(guest);
		vm_quit(vm);
	} else if (!strcmp(event, "STOP") && vm->state == VM_RUNNING &&
		   !vm->shutdown_seen) {  /* a powered-off guest is not paused */
		vm_set_state(vm, VM_PAUSED, why, NULL);
	} else if (!strcmp(event, "RESUME") && vm->state == VM_PAUSED) {
		vm_set_state(vm, VM_RUNNING, why, NULL);
	}
	log_vm(LOG_DEBUG, vm->name, vm->uuid, "QEMU event %s", event);
}

int vm_connect_qmp(struct vm *vm)
{
	char path[4096];
	int fd;

	vm_run_path(path, sizeof path, vm->run_dir, VM_RUN_QMP);
	if ((fd = vm_unix_socket(path, false)) < 0)
		return -1;
	vm->qmp = qmp_open(fd, on_qmp_event, NULL, vm);
	return vm->qmp ? 0 : -1;
}
