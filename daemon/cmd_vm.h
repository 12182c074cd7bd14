/* What vm-define does, for the handlers that define a VM from a config
 * they made (vm-import-libvirt). */
#ifndef VMD_DAEMON_CMD_VM_H
#define VMD_DAEMON_CMD_VM_H

#include <json-c/json.h>
#include "daemon/server.h"

struct vm;

/* Defines config (schema-checked and filled) as vm-define does: the new
 * VM, whose row the caller's call_reply_synced makes durable, or NULL
 * after replying the error. */
struct vm *cmd_define_config(struct call *c, struct json_object *config);

#endif
