/* Schema-driven dispatch, as QEMU's QAPI: schemas/protocol.json lists the
 * commands; each has one handler here, found by name.  Arguments are
 * validated against the schema before the handler runs, so handlers may
 * trust types and required members. */
#ifndef VMD_DAEMON_DISPATCH_H
#define VMD_DAEMON_DISPATCH_H

#include "daemon/server.h"

struct vm;

/* Load the embedded schemas into vmd and check that schema and handler table
 * match one to one.  -1 with err set on mismatch (a build defect). */
int dispatch_init(char *err, size_t errlen);
void dispatch_free(void);

/* Run one parsed request; negotiated: qmp_capabilities done on this
 * connection.  Sets *negotiate when the request was qmp_capabilities. */
void dispatch_call(struct call *c, bool negotiated, bool *negotiate);


/* The handlers, one per schema command. */
void cmd_qmp_capabilities(struct call *c);
void cmd_query_host(struct call *c);
void cmd_query_commands(struct call *c);
void cmd_query_events(struct call *c);
void cmd_query_schema(struct call *c);
void cmd_vm_define(struct call *c);
void cmd_vm_update(struct call *c);
void cmd_vm_undefine(struct call *c);
void cmd_vm_list(struct call *c);
void cmd_vm_show(struct call *c);
void cmd_vm_start(struct call *c);
void cmd_vm_stop(struct call *c);
void cmd_vm_kill(struct call *c);
void cmd_vm_reset(struct call *c);
void cmd_vm_pause(struct call *c);
void cmd_vm_resume(struct call *c);
void cmd_console_attach(struct call *c);
void cmd_console_read(struct call *c);
void cmd_vm_monitor(struct call *c);
void cmd_spec_apply(struct call *c);
void cmd_volume_create(struct call *c);
void cmd_volume_list(struct call *c);
void cmd_volume_show(struct call *c);
void cmd_volume_delete(struct call *c);
void cmd_volume_resize(struct call *c);
void cmd_volume_import(struct call *c);
void cmd_volume_clone(struct call *c);
void cmd_job_list(struct call *c);
void cmd_job_cancel(struct call *c);
void cmd_vm_template(struct call *c);
void cmd_vm_clone(struct call *c);
void cmd_vm_import_libvirt(struct call *c);
void cmd_vm_export_libvirt(struct call *c);
void cmd_token_create(struct call *c);
void cmd_token_list(struct call *c);
void cmd_token_revoke(struct call *c);
void cmd_usage_report(struct call *c);
void cmd_query_metrics(struct call *c);
void cmd_plan_define(struct call *c);
void cmd_plan_list(struct call *c);
void cmd_plan_delete(struct call *c);
void cmd_invoice(struct call *c);



/* Arguments for handlers: schema-checked, and every default the schema
 * gives filled in.  NULL, 0 or false for a member that is absent and has
 * no default (its schema says what that means). */
const char *call_str(struct call *c, const char *key);
int call_int(struct call *c, const char *key);
bool call_bool(struct call *c, const char *key);
/* A commit_cb (commit.h) whose ctx is the call: replies ret or err. */
void call_synced(void *call, struct json_object *ret,
		 const struct rpc_fault *err);
/* The VM named by the "vm" argument, or NULL after replying VmNotFound. */
struct vm *call_vm(struct call *c);
/* Reply ret (owned; NULL: {}) once the store has the change on disk
 * (commit.h), or the error if it may not be durable. */
void call_reply_synced(struct call *c, struct json_object *ret);

#endif
