/* Schema-driven dispatch.  schemas/protocol.json (compiled in) is the one
 * list of commands; this file holds one handler per command and refuses to
 * start if the two lists differ, so a command cannot exist without a schema
 * entry (and its argument checks) or the other way round. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "daemon/access.h"
#include "daemon/auth.h"
#include "daemon/commit.h"
#include "daemon/counters.h"
#include "daemon/dispatch.h"
#include "daemon/schema_doc.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"
#include "rpc/message.h"
#include "schemas/embedded.h"

typedef void (*cmd_handler)(struct call *c);

static const struct {
	const char *name;
	cmd_handler fn;
} handlers[] = {
	{"qmp_capabilities", cmd_qmp_capabilities},
	{"query-host", cmd_query_host},
	{"query-commands", cmd_query_commands},
	{"query-events", cmd_query_events},
	{"query-schema", cmd_query_schema},
	{"vm-define", cmd_vm_define},
	{"vm-update", cmd_vm_update},
	{"vm-undefine", cmd_vm_undefine},
	{"vm-list", cmd_vm_list},
	{"vm-show", cmd_vm_show},
	{"vm-start", cmd_vm_start},
	{"vm-stop", cmd_vm_stop},
	{"vm-kill", cmd_vm_kill},
	{"vm-reset", cmd_vm_reset},
	{"vm-pause", cmd_vm_pause},
	{"vm-resume", cmd_vm_resume},
	{"console-attach", cmd_console_attach},
	{"console-read", cmd_console_read},
	{"vm-monitor", cmd_vm_monitor},
	{"spec-apply", cmd_spec_apply},
	{"volume-create", cmd_volume_create},
	{"volume-list", cmd_volume_list},
	{"volume-show", cmd_volume_show},
	{"volume-delete", cmd_volume_delete},
	{"volume-resize", cmd_volume_resize},
	{"volume-import", cmd_volume_import},
	{"volume-clone", cmd_volume_clone},
	{"job-list", cmd_job_list},
	{"job-cancel", cmd_job_cancel},
	{"vm-template", cmd_vm_template},
	{"vm-clone", cmd_vm_clone},
	{"vm-import-libvirt", cmd_vm_import_libvirt},
	{"vm-export-libvirt", cmd_vm_export_libvirt},
	{"token-create", cmd_token_create},
	{"token-list", cmd_token_list},
	{"token-revoke", cmd_token_revoke},
	{"usage-report", cmd_usage_report},
	{"query-metrics", cmd_query_metrics},
	{"plan-define", cmd_plan_define},
	{"plan-list", cmd_plan_list},
	{"plan-delete", cmd_plan_delete},
	{"invoice", cmd_invoice},
};
#define NHANDLERS (sizeof handlers / sizeof handlers[0])

static struct json_object *commands; /* borrowed from vmd.schema */

static cmd_handler handler_for(const char *name)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		if (!strcmp(handlers[i].name, name))
			return handlers[i].fn;
	return NULL;
}

int dispatch_init(char *err, size_t errlen)
{
	if (!(vmd.schema = schema_doc_load(vmd_schema_protocol, "protocol.json",
					   err, errlen)) ||
	    !(vmd.vm_schema = schema_doc_load(vmd_schema_vm_config,
					      "vm-config.json", err, errlen)))
		return -1;
	if (!json_object_object_get_ex(vmd.schema, "commands", &commands)) {
		snprintf(err, errlen, "protocol.json has no commands");
		return -1;
	}
	struct json_object *classes = NULL;
	json_object_object_get_ex(vmd.schema, "errors", &classes);
	if (rpc_err_check_classes(classes, err, errlen) < 0)
		return -1;
	json_object_object_foreach(commands, name, spec) {
		(void)spec;
		if (!handler_for(name)) {
			snprintf(err, errlen, "schema command %s has no handler", name);
			return -1;
		}
	}
	for (size_t i = 0; i < NHANDLERS; i++)
		if (!json_object_object_get_ex(commands, handlers[i].name, NULL)) {
			snprintf(err, errlen, "handler %s is not in the schema",
				 handlers[i].name);
			return -1;
		}
	return 0;
}

void dispatch_free(void)
{
	json_object_put(vmd.schema);
	json_object_put(vmd.vm_schema);
	vmd.schema = vmd.vm_schema = NULL;
	commands = NULL;
	counters_free();
}

/* Valid, then filled: handlers read every argument with a schema default
 * through call_int() and the like, none of which has a default itself. */
static bool validate_and_fill(struct call *c, struct json_object *schema)
{
	struct rpc_schema_ctx ctx = schema_doc_ctx(vmd.schema, vmd.vm_schema);
	char msg[512];

	if (rpc_schema_validate(&ctx, schema, c->args, msg, sizeof msg) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "%s: %s", c->command, msg);
		return false;
	}
	if (rpc_schema_fill(&ctx, schema, c->args) < 0) {
		call_error(c, RPC_GENERIC_ERROR, "%s: out of memory", c->command);
		return false;
	}
	return true;
}

void dispatch_call(struct call *c, bool negotiated, bool *negotiate)
{
	struct json_object *spec, *args_schema;
	char msg[512];

	*negotiate = false;
	if (!json_object_object_get_ex(commands, c->command, &spec)) {
		call_error(c, RPC_COMMAND_NOT_FOUND,
			   "The command %s has not been found", c->command);
		return;
	}
	counters_request(c->command);
	bool is_caps = !strcmp(c->command, "qmp_capabilities");
	if (!negotiated && !is_caps) {
		call_error(c, RPC_COMMAND_NOT_FOUND,
			   "Expecting capabilities negotiation with 'qmp_capabilities'");
		return;
	}
	struct json_object *level = NULL;
	json_object_object_get_ex(spec, "access", &level);
	enum access_role need = access_needed(json_object_get_string(level));
	if (c->token_text && (!auth_token(c) || !auth_permits(c, spec, need)))
		return;
	if (!c->token && c->role < (int)need) {
		call_error(c, RPC_PERMISSION_DENIED, "uid %d may not run %s: it "
			   "needs %s, and has %s", (int)c->uid, c->command,
			   need == ROLE_ADMIN ? "group vmd-admin" : "group vmd",
			   access_role_name((enum access_role)c->role));
		return;
	}
	if (negotiated && is_caps && c->dialect == RPC_QMP) {
		call_error(c, RPC_COMMAND_NOT_FOUND,
			   "Capabilities negotiation is already complete, command ignored");
		return;
	}
	msg[0] = 0;
	if (rpc_json_find_nul(c->args, msg, sizeof msg)) {
		call_error(c, RPC_INVALID_ARGUMENT, "%s: '%s': contains a NUL "
			   "character (\\u0000)", c->command, msg);
		return;
	}
	if (json_object_object_get_ex(spec, "arguments", &args_schema) &&
	    !validate_and_fill(c, args_schema))
		return;
	*negotiate = is_caps;
	handler_for(c->command)(c);
}

const char *call_str(struct call *c, const char *key)
{
	return rpc_member_str(c->args, key);
}

int call_int(struct call *c, const char *key)
{
	return (int)rpc_member_int(c->args, key);
}

bool call_bool(struct call *c, const char *key)
{
	return rpc_member_bool(c->args, key);
}

void call_synced(void *call, struct json_object *ret,
		 const struct rpc_fault *err)
{
	if (err)
		call_fault(call, err);
	else
		call_return(call, ret);
}

struct vm *call_vm(struct call *c)
{
	const char *key = call_str(c, "vm");
	struct vm *vm = key ? vm_find(key) : NULL;

	if (!vm)
		call_error(c, RPC_VM_NOT_FOUND, "no VM named '%s'", key ? key : "");
	return vm;
}

void call_reply_synced(struct call *c, struct json_object *ret)
{
	commit_reply(ret, call_synced, c);
}
