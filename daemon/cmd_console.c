/* console-attach (the connection turns into a raw console stream) and
 * vm-monitor (one QMP command passed through to the guest's QEMU). */
#include "config.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "daemon/access.h"
#include "daemon/auth.h"
#include "console/console.h"
#include "daemon/dispatch.h"
#include "daemon/ports.h"
#include "daemon/qmp.h"
#include "daemon/vmd.h"
#include "console/conlog.h"
#include "rpc/base64.h"
#include "daemon/vm.h"
#include "daemon/vm_paths.h"

static bool live(const struct vm *vm)
{
	return vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
	       vm->state == VM_STOPPING || vm->state == VM_STARTING;
}

/* Port exists and is one vmd relays (console or tcp). */
static int check_port(struct call *c, struct vm *vm, int port)
{
	if (port >= ports_count(vm)) {
		call_error(c, RPC_INVALID_ARGUMENT, "VM '%s' has no serial port %d "
			   "(it has %d)", vm->name, port, ports_count(vm));
		return -1;
	}
	if (!strcmp(ports_type(vm, port), "host")) {
		call_error(c, RPC_INVALID_ARGUMENT, "serial port %d of VM '%s' is a "
			   "host device, not a console", port, vm->name);
		return -1;
	}
	return 0;
}

struct attach {
	struct console *con;
	bool rw, force;
};

/* Runs once the reply is queued, so the scrollback follows the reply. */
static void attach_after(struct call *c, struct conn *conn)
{
	struct attach *a = c->after_ctx;

	if (console_attach(a->con, conn, a->rw, a->force) < 0)
		conn_close(conn);
	free(a);
}

void cmd_console_attach(struct call *c)
{
	int port = call_int(c, "port");
	const char *mode = call_str(c, "mode");
	bool force = call_bool(c, "force");
	struct vm *vm = call_vm(c);  /* last: on VmNotFound c is gone */
	struct attach *a;

	if (!vm)
		return;
	if (!live(vm)) {
		call_error(c, RPC_INVALID_STATE, "VM '%s' is %s; its console exists "
			   "only while it runs", vm->name, vm_state_name(vm->state));
		return;
	}
	if (check_port(c, vm, port) < 0)
		return;
	if (!vm->console[port]) {
		call_error(c, RPC_GENERIC_ERROR, "console %d of VM '%s' is not "
			   "available (see vmd's log)", port, vm->name);
		return;
	}
	bool rw = !strcmp(mode, "rw");
	if (rw && !auth_may_type(c, vm->name)) {
		call_error(c, RPC_PERMISSION_DENIED, "%s may watch console %d "
			   "of VM '%s' (mode \"ro\") but not type into it: that "
			   "needs %s", c->who, port, vm->name, c->token ?
			   "a token allowing \"console\" on it" : "group vmd-admin");
		return;
	}
	if (rw && !force && console_has_writer(vm->console[port])) {
		call_error(c, RPC_BUSY, "console %d of VM '%s' already has a writer; "
			   "attach with mode \"ro\", or take the keyboard with force",
			   port, vm->name);
		return;
	}
	if (!(a = malloc(sizeof *a))) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	a->con = vm->console[port];
	a->rw = rw;
	a->force = force;
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

/* What vmd-admin members who are not root may send: commands that only
 * look, or do what vmd's own commands (stop, pause, kill) do anyway.
 * Everything else can make QEMU open or write host files (drive-backup,
 * migrate, dump-guest-memory, screendump, blockdev-add...), take
 * descriptors (getfd, add-fd), add devices or backends, or run any of
 * these through the human monitor: root only. */
static const char *const monitor_allowed[] = {
	"qom-list", "qom-get", "qom-list-types", "stop", "cont",
	"system_reset", "system_powerdown", "system_wakeup", "send-key",
	"input-send-event", "inject-nmi", "quit", NULL };

static bool monitor_may(const struct call *c, const char *cmd)
{
	if (!c->token && (c->uid == 0 || c->uid == geteuid()))
		return true;
	if (!strncmp(cmd, "query-", 6))
		return true;
	for (size_t i = 0; monitor_allowed[i]; i++)
		if (!strcmp(cmd, monitor_allowed[i]))
			return true;
	return false;
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
	const char *cmd = call_str(c, "command");
	if (!strcmp(cmd, "qmp_capabilities")) {
		call_error(c, RPC_INVALID_ARGUMENT, "vm-monitor: vmd negotiates "
			   "capabilities with QEMU itself");
		return;
	}
	if (!monitor_may(c, cmd)) {
		call_error(c, RPC_PERMISSION_DENIED, "vm-monitor: only root may "
			   "send QMP command \"%s\" (uid %d, group vmd-admin, may "
			   "send query-* and the commands listed in vmd(8))", cmd,
			   (int)c->uid);
		return;
	}
	if (json_object_object_get_ex(c->args, "arguments", &args))
		json_object_get(args);
	qmp_exec(vm->qmp, cmd, args, monitor_done, c);
}

static struct json_object *jint(uint64_t v)
{
	return json_object_new_int64((int64_t)v);
}

void cmd_console_read(struct call *c)
{
	int port = call_int(c, "port"), max = call_int(c, "max_bytes");
	struct json_object *off = NULL, *since = NULL;
	json_object_object_get_ex(c->args, "offset", &off);
	json_object_object_get_ex(c->args, "since", &since);
	struct vm *vm = call_vm(c);  /* last: on VmNotFound c is gone */
	struct conlog_range r;
	char dir[4096];
	uint64_t from;

	if (!vm || check_port(c, vm, port) < 0)
		return;
	vm_log_dir_path(dir, sizeof dir, vmd.state_dir, vm->uuid);
	if (off)
		from = (uint64_t)json_object_get_int64(off);
	else if (since)
		from = conlog_offset_at(dir, port, (time_t)json_object_get_int64(since));
	else {
		uint64_t end = conlog_size(dir, port);
		from = end > (uint64_t)max ? end - (uint64_t)max : 0;
	}
	if (conlog_read(dir, port, from, (size_t)max, &r) < 0) {
		call_error(c, RPC_GENERIC_ERROR, "cannot read the log of port %d "
			   "of VM '%s'", port, vm->name);
		return;
	}
	char *b64 = base64_encode(r.data, r.len);
	free(r.data);
	if (!b64) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	struct json_object *ret = json_object_new_object();
	json_object_object_add(ret, "port", json_object_new_int(port));
	json_object_object_add(ret, "data", json_object_new_string(b64));
	json_object_object_add(ret, "offset", jint(r.offset));
	json_object_object_add(ret, "next", jint(r.offset + r.len));
	json_object_object_add(ret, "start", jint(r.start));
	json_object_object_add(ret, "end", jint(r.end));
	free(b64);
	call_return(c, ret);
}
