/* Handlers that change whether a guest runs: vm-start, vm-stop, vm-kill,
 * vm-reset, vm-pause, vm-resume.  Start, stop and kill answer when QEMU has
 * really started or exited (see vm_run.c); the others when QEMU has done
 * what was asked. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "daemon/dispatch.h"
#include "daemon/qmp.h"
#include "daemon/restart.h"
#include "daemon/vm.h"

static void start_done(void *ctx, struct vm *vm, const struct rpc_fault *err)
{
	struct call *c = ctx;

	if (err) {
		call_fault(c, err);
		return;
	}
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(vm->name));
	json_object_object_add(r, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(r, "state", json_object_new_string("running"));
	json_object_object_add(r, "pid", json_object_new_int(vm->pid));
	json_object_object_add(r, "accel", json_object_new_string(vm->accel));
	call_return(c, r);
}

void cmd_vm_start(struct call *c)
{
	struct vm *vm = call_vm(c);

	if (vm)
		vm_start(vm, c->who, start_done, c);
}

/* The one reply of vm-stop and vm-kill; "forced" (vm-stop only): it took
 * a kill. */
static void stopped_reply(struct call *c, struct vm *vm, bool with_forced,
			  bool forced)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "name", json_object_new_string(vm->name));
	json_object_object_add(r, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(r, "state", json_object_new_string("stopped"));
	if (with_forced)
		json_object_object_add(r, "forced", json_object_new_boolean(forced));
	call_return(c, r);
}

/* A crashed VM waiting for its automatic restart: stop or kill means "do
 * not restart it". */
static bool cancel_restart(struct vm *vm, struct call *c, const char *reason,
			   bool with_forced)
{
	if (vm->state != VM_CRASHED || !restart_cancel(vm))
		return false;
	vm_set_state(vm, VM_STOPPED, reason, c->who);
	stopped_reply(c, vm, with_forced, false);
	return true;
}

/* A stop or kill has ended.  One that came while vmd completed the logs of
 * a QEMU that had crashed is answered as if it came after: it cancels the
 * restart, or the VM is crashed. */
static void ended(struct call *c, struct vm *vm, const struct rpc_fault *err,
		  const char *reason, bool with_forced)
{
	if (err)
		call_fault(c, err);
	else if (vm->state != VM_CRASHED)
		stopped_reply(c, vm, with_forced, vm->kill_sent);
	else if (!cancel_restart(vm, c, reason, with_forced))
		call_error(c, RPC_INVALID_STATE, "VM '%s' is %s", vm->name,
			   vm_state_name(vm->state));
}

static void stop_done(void *ctx, struct vm *vm, const struct rpc_fault *err)
{
	ended(ctx, vm, err, "stop", true);
}

static void kill_done(void *ctx, struct vm *vm, const struct rpc_fault *err)
{
	ended(ctx, vm, err, "kill", false);
}

void cmd_vm_stop(struct call *c)
{
	int timeout = call_int(c, "timeout");
	struct vm *vm = call_vm(c);

	if (vm && !cancel_restart(vm, c, "stop", true))
		vm_stop(vm, c->who, timeout, stop_done, c);
}

void cmd_vm_kill(struct call *c)
{
	struct vm *vm = call_vm(c);

	if (vm && !cancel_restart(vm, c, "kill", false))
		vm_kill(vm, kill_done, c);
}

/* A QMP command on behalf of a call: the callback context carries both. */
struct op {
	struct call *c;
	struct vm *vm;
	enum vm_state to;      /* state after success (pause/resume) */
	const char *reason;
};

static void op_done(void *ctx, struct json_object *ret, rpc_err err,
		    const char *desc)
{
	struct op *op = ctx;
	struct vm *vm = op->vm;

	if (err != RPC_OK) {
		call_error(op->c, err, "VM '%s': %s", vm->name, desc);
	} else if (op->reason) {
		vm_set_state(vm, op->to, op->reason, op->c->who);
		struct json_object *r = json_object_new_object();
		json_object_object_add(r, "state",
				       json_object_new_string(vm_state_name(vm->state)));
		call_return(op->c, r);
	} else {
		call_return(op->c, NULL);
	}
	if (vm->pending_op == op->reason)
		vm->pending_op = NULL;
	free(op);
}

/* vm-reset, vm-pause and vm-resume are one QMP command each.  Mind QMP's
 * names: its "stop" pauses the CPUs (it stops no VM) and "cont" resumes
 * them. */
struct cpu_op {
	const char *qmp_cmd;
	enum vm_state need;    /* the state it runs in... */
	bool any_live;         /* ...or any running state (need VM_RUNNING) */
	enum vm_state to;      /* the state after it */
	const char *reason;    /* of that transition; NULL: no transition */
};

static const struct cpu_op op_reset = {"system_reset", VM_RUNNING, true,
				       VM_RUNNING, NULL};
static const struct cpu_op op_pause = {"stop", VM_RUNNING, false, VM_PAUSED,
				       "pause"};
static const struct cpu_op op_resume = {"cont", VM_PAUSED, false, VM_RUNNING,
					"resume"};

static void run_cpu_op(struct call *c, const struct cpu_op *p)
{
	struct vm *vm = call_vm(c);
	struct op *op;

	if (!vm)
		return;
	bool ok = vm->state == p->need ||
		  (p->any_live && (vm->state == VM_RUNNING || vm->state == VM_PAUSED));
	if (!ok || !vm->qmp) {
		call_error(c, RPC_INVALID_STATE, "VM '%s' is %s", vm->name,
			   vm_state_name(vm->state));
		return;
	}
	if (!(op = calloc(1, sizeof *op))) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	*op = (struct op){.c = c, .vm = vm, .to = p->to, .reason = p->reason};
	if (p->reason)
		vm->pending_op = p->reason;
	qmp_exec(vm->qmp, p->qmp_cmd, NULL, op_done, op);
}

void cmd_vm_reset(struct call *c)
{
	run_cpu_op(c, &op_reset);
}

void cmd_vm_pause(struct call *c)
{
	run_cpu_op(c, &op_pause);
}

void cmd_vm_resume(struct call *c)
{
	run_cpu_op(c, &op_resume);
}
