/* Handlers for VM definitions: vm-define, vm-update, vm-undefine, vm-list,
 * vm-show.  A definition is committed to the store before the reply, so an
 * acknowledged define survives any crash of vmd. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "daemon/cmd_vm.h"
#include "daemon/dispatch.h"
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "daemon/plan.h"
#include "daemon/seed.h"
#include "daemon/store.h"
#include "daemon/tap.h"
#include "daemon/cmd_template.h"
#include "daemon/template.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vm_volumes.h"
#include "daemon/auth.h"
#include "daemon/vmd.h"
#include "rpc/message.h"
#include "rpc/schema.h"

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s);
}

/* What the schema cannot check of config, replied as the error. */
static int check_config_files(struct call *c, struct json_object *config)
{
	struct rpc_fault f;

	if (vm_config_check_files(config, &f) == 0 &&
	    vm_volumes_check(config, &f) == 0 &&
	    plan_check_config(config, &f) == 0)
		return 0;
	call_fault(c, &f);
	return -1;
}

static struct json_object *name_uuid(const struct vm *vm)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "name", jstr(vm->name));
	json_object_object_add(r, "uuid", jstr(vm->uuid));
	return r;
}

static int store_failed(struct call *c, int rc, const char *name)
{
	if (rc == STORE_EXISTS)
		call_error(c, RPC_VM_EXISTS, "a VM named '%s' already exists", name);
	else
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
	return -1;
}

struct vm *cmd_define_config(struct call *c, struct json_object *config)
{
	const char *name, *uuid;
	char fresh[37];
	struct rpc_fault f;

	name = rpc_member_str(config, "name");
	uuid = rpc_member_str(config, "uuid");
	if (vm_find(name) || (uuid && vm_find(uuid))) {
		call_error(c, RPC_VM_EXISTS, "a VM named '%s'%s already exists",
			   vm_find(name) ? name : uuid, vm_find(name) ? "" : " (uuid)");
		return NULL;
	}
	if (check_config_files(c, config) < 0)
		return NULL;
	config = json_object_get(config);
	if (!uuid) {
		vm_new_uuid(fresh);
		json_object_object_add(config, "uuid", jstr(fresh));
		uuid = rpc_member_str(config, "uuid");
	}
	if (vm_config_check(NULL, uuid, config, &f) < 0) {
		call_fault(c, &f);
		json_object_put(config);
		return NULL;
	}
	int rc = store_vm_insert(vmd.store, uuid, name, json_object_to_json_string(config));
	if (rc != STORE_OK) {
		json_object_put(config);
		store_failed(c, rc, name);
		return NULL;
	}
	time_t now = time(NULL);
	struct vm *vm = vm_add(uuid, name, config, now, now);
	if (!vm) {
		json_object_put(config);
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
	}
	return vm;
}

void cmd_vm_define(struct call *c)
{
	struct json_object *config;
	struct vm *vm;

	json_object_object_get_ex(c->args, "config", &config);
	if ((vm = cmd_define_config(c, config)))
		call_reply_synced(c, name_uuid(vm));
}

void cmd_vm_update(struct call *c)
{
	struct vm *vm = call_vm(c), *other;
	struct json_object *config;
	const char *name, *uuid;
	struct rpc_fault f;

	if (!vm)
		return;
	json_object_object_get_ex(c->args, "config", &config);
	name = rpc_member_str(config, "name");
	uuid = rpc_member_str(config, "uuid");
	if (uuid && strcmp(uuid, vm->uuid)) {
		call_error(c, RPC_INVALID_ARGUMENT, "config.uuid: the uuid of VM '%s' "
			   "is %s and cannot change", vm->name, vm->uuid);
		return;
	}
	if ((other = vm_find(name)) && other != vm) {
		call_error(c, RPC_VM_EXISTS, "a VM named '%s' already exists", name);
		return;
	}
	if (check_config_files(c, config) < 0)
		return;
	if (template_check_update(vm, config, &f) < 0) {
		call_fault(c, &f);
		return;
	}
	config = json_object_get(config);
	json_object_object_add(config, "uuid", jstr(vm->uuid));
	if (vm_config_check(vm, vm->uuid, config, &f) < 0) {
		call_fault(c, &f);
		json_object_put(config);
		return;
	}
	int rc = store_vm_update(vmd.store, vm->uuid, name,
				 json_object_to_json_string(config));
	if (rc != STORE_OK) {
		json_object_put(config);
		store_failed(c, rc, name);
		return;
	}
	if (strcmp(name, vm->name) && vm_rename(vm, name) < 0)
		log_msg(LOG_ERR, "vm %s: renamed to %s in the store, but out of "
			"memory to rename it here", vm->name, name);
	vm_set_config(vm, config);
	vm->updated = time(NULL);
	call_reply_synced(c, name_uuid(vm));
}

void cmd_vm_undefine(struct call *c)
{
	struct vm *vm = call_vm(c);

	struct rpc_fault f;

	if (!vm)
		return;
	if (vm_undefinable(vm, &f) < 0) {
		call_fault(c, &f);
		return;
	}
	if (template_undefinable(vm, &f) < 0) {
		call_fault(c, &f);
		return;
	}
	if (store_vm_delete(vmd.store, vm->uuid) != STORE_OK) {
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return;
	}
	store_event_add(vmd.store, vm->uuid, vm->name, "undefine", NULL, NULL,
			NULL, c->who);
	leftovers_undefined(vm->uuid, vm->name, call_bool(c, "purge"));
	seed_remove(vm->uuid);
	vm_remove(vm);
	call_reply_synced(c, NULL);
}

static struct json_object *labels_of(const struct vm *vm)
{
	struct json_object *l = NULL;

	json_object_object_get_ex(vm->config, "labels", &l);
	return json_object_get(l);
}

/* A re-adopted QEMU's accelerator is the configured one until QEMU has
 * said which it runs (vm_adopt.c). */
static const char *accel_of(const struct vm *vm)
{
	return vm_is_active(vm) && vm->accel[0] ? vm->accel :
	       vm_cfg_str(vm, "accel");
}

/* What the guest has while it runs, else what the definition says. */
static int live_int(const struct vm *vm, const char *key)
{
	return (int)rpc_member_int(vm_live_config(vm), key);
}

static bool pending(const struct vm *vm)
{
	struct json_object *changes = vm_pending_changes(vm);

	json_object_put(changes);
	return changes != NULL;
}

static struct json_object *summary(const struct vm *vm)
{
	struct json_object *r = name_uuid(vm);

	json_object_object_add(r, "state", jstr(vm_state_name(vm->state)));
	json_object_object_add(r, "pid", json_object_new_int(vm->pid));
	json_object_object_add(r, "cpus", json_object_new_int(live_int(vm, "cpus")));
	json_object_object_add(r, "memory_mib",
			       json_object_new_int(live_int(vm, "memory_mib")));
	json_object_object_add(r, "accel", jstr(accel_of(vm)));
	json_object_object_add(r, "autostart",
			       json_object_new_boolean(vm_cfg_bool(vm, "autostart")));
	json_object_object_add(r, "labels", labels_of(vm));
	json_object_object_add(r, "pending", json_object_new_boolean(pending(vm)));
	json_object_object_add(r, "template", json_object_new_boolean(vm->is_template));
	return r;
}

/* The vm-list entry of vm as JSON text, made once and kept until the VM
 * changes: listing 10,000 VMs then costs a copy, not 100,000 objects. */
static const char *summary_text(struct vm *vm, size_t *len)
{
	if (!vm->summary) {
		struct json_object *o = summary(vm);
		size_t n;
		const char *s = json_object_to_json_string_length(
			o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		vm->summary = s ? strndup(s, n) : NULL;
		vm->summary_len = vm->summary ? n : 0;
		json_object_put(o);
	}
	*len = vm->summary_len;
	return vm->summary;
}

void cmd_vm_list(struct call *c)
{
	size_t n, total = 2, len;
	struct vm **v = vm_sorted(&n);
	char *text = NULL, *p;
	size_t seen = 0;

	for (size_t i = 0; v && i < n; i++)  /* a VM-scoped token's VMs */
		if (auth_sees_vm(c, v[i]->name))
			v[seen++] = v[i];
	n = seen;
	for (size_t i = 0; v && i < n; i++) {
		if (!summary_text(v[i], &len))
			goto oom;
		total += len + 1;
	}
	if (!v || !(text = p = malloc(total + 1)))
		goto oom;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		const char *s = summary_text(v[i], &len);
		if (i)
			*p++ = ',';
		memcpy(p, s, len);
		p += len;
	}
	*p++ = ']';
	*p = 0;
	free(v);
	call_return(c, rpc_raw_new(text));
	return;
oom:
	free(v);
	call_error(c, RPC_GENERIC_ERROR, "out of memory");
}

/* A running VM's definition may differ from what its QEMU runs with. */
static void add_pending(struct json_object *r, const struct vm *vm)
{
	struct json_object *changes = vm_pending_changes(vm);

	json_object_object_add(r, "pending", json_object_new_boolean(changes != NULL));
	if (vm_is_active(vm))
		json_object_object_add(r, "running_config",
				       json_object_get(vm_live_config(vm)));
	if (changes)
		json_object_object_add(r, "pending_changes", changes);
}

void cmd_vm_show(struct call *c)
{
	struct vm *vm = call_vm(c);
	struct json_object *r;

	if (!vm)
		return;
	r = name_uuid(vm);
	json_object_object_add(r, "state", jstr(vm_state_name(vm->state)));
	json_object_object_add(r, "pid", json_object_new_int(vm->pid));
	json_object_object_add(r, "accel", jstr(accel_of(vm)));
	json_object_object_add(r, "config", json_object_get(vm->config));
	json_object_object_add(r, "created", json_object_new_int64(vm->created));
	json_object_object_add(r, "updated", json_object_new_int64(vm->updated));
	json_object_object_add(r, "started_at", json_object_new_int64(vm->started_at));
	json_object_object_add(r, "run_dir", jstr(vm->run_dir ? vm->run_dir : ""));
	json_object_object_add(r, "template", json_object_new_boolean(vm->is_template));
	if (vm->pid > 0) {
		json_object_object_add(r, "ports", ports_describe(vm, c->role));
		json_object_object_add(r, "nics", tap_describe(vm, vm_live_config(vm)));
	}
	add_pending(r, vm);
	call_return(c, r);
}
