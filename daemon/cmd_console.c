/* console-attach (the connection turns into a raw console stream) and
 * vm-monitor (one QMP command passed through to the guest's QEMU). */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "daemon/console.h"
#include "daemon/dispatch.h"
#include "daemon/qmp.h"
#include "daemon/vm.h"

static bool live(const struct vm *vm)
{
	return vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
	       vm->state == VM_STOPPING || vm->state == VM_STARTING;
}

struct attach {
	struct console *con;
	bool rw;
};

/* Runs once the reply is queued, so the scrollback follows the reply. */
static void attach_after(struct call *c, struct conn *conn)
{
	struct attach *a = c->after_ctx;

	if (console_attach(a->con, conn, a->rw) < 0)
		conn_close(conn);
	free(a);
}

void cmd_console_attach(struct call *c)
{
	int port = call_int(c, "port", 0);
	const char *mode = call_str(c, "mode", "rw");
	struct vm *vm = call_vm(c);  /* last: on VmNotFound c is gone */
	struct attach *a;

	if (!vm)
		return;
	if (!live(vm)) {
		call_error(c, RPC_INVALID_STATE, "VM '%s' is %s; its console exists "
			   "only while it runs", vm->name, vm_state_name(vm->state));
		return;
	}
	if (port < 0 || port >= VM_MAX_SERIAL || !vm->console[port]) {
		call_error(c, RPC_INVALID_ARGUMENT, "VM '%s' has no serial port %d",
			   vm->name, port);
		return;
	}
	bool rw = !strcmp(mode, "rw");
	if (rw && console_has_writer(vm->console[port])) {
		call_error(c, RPC_BUSY, "console %d of VM '%s' already has a writer; "
			   "attach with mode \"ro\"", port, vm->name);
		return;
	}
	if (!(a = malloc(sizeof *a))) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	a->con = vm->console[port];
	a->rw = rw;
	c->after = attach_after;
	c->after_ctx = a;
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "vm", json_object_new_string(vm->name));
	json_object_object_add(r, "port", json_object_new_int(port));
	json_object_object_add(r, "mode", json_object_new_string(mode));
	call_return(c, r);
}

static void monitor_done(void *ctx, struct json_object *ret, rpc_err err,
			 const char *desc)
{
	struct call *c = ctx;

	if (err != RPC_OK)
		call_error(c, err == RPC_COMMAND_NOT_FOUND ? err : RPC_GENERIC_ERROR,
			   "QEMU: %s", desc);
	else
		call_return(c, json_object_get(ret));
}

void cmd_vm_monitor(struct call *c)
{
	struct vm *vm = call_vm(c);
	struct json_object *args = NULL;

	if (!vm)
		return;
	if (!live(vm) || !vm->qmp) {
		call_error(c, RPC_INVALID_STATE, "VM '%s' is %s", vm->name,
			   vm_state_name(vm->state));
		return;
	}
	const char *cmd = call_str(c, "command", "");
	if (!strcmp(cmd, "qmp_capabilities")) {
		call_error(c, RPC_INVALID_ARGUMENT, "vm-monitor: vmd negotiates "
			   "capabilities with QEMU itself");
		return;
	}
	if (json_object_object_get_ex(c->args, "arguments", &args))
		json_object_get(args);
	qmp_exec(vm->qmp, cmd, args, monitor_done, c);
}
