/* Handler vm-template, and vm-undefine's refusal of a template that
 * clones still use (template.c does the work). */
#include "config.h"
#include <stdio.h>
#include "daemon/cmd_template.h"
#include "daemon/cmd_volume.h"
#include "daemon/commit.h"
#include "daemon/template.h"
#include "daemon/vm.h"

void cmd_vm_template(struct call *c)
{
	struct vm *vm = call_vm(c);
	struct json_object *r, *bases;
	struct rpc_fault f;

	if (!vm)
		return;
	bases = json_object_new_array();
	if (template_make(vm, c->who, bases, &f) < 0) {
		json_object_put(bases);
		call_fault(c, &f);
		return;
	}
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(vm->name));
	json_object_object_add(r, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(r, "bases", bases);
	commit_reply(r, call_synced, c);
}

int template_undefinable(const struct vm *vm, struct rpc_fault *f)
{
	struct json_object *names;
	char list[1024];
	size_t n;

	if (!vm->is_template)
		return 0;
	names = json_object_new_array();
	n = template_clone_users(vm, names);
	if (n)
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' is a template whose "
			   "bases VM%s %s still use%s; undefine %s first",
			   vm->name, n > 1 ? "s" : "",
			   vop_joined(names, list, sizeof list), n > 1 ? "" : "s",
			   n > 1 ? "them" : "it");
	json_object_put(names);
	return n ? -1 : 0;
}
