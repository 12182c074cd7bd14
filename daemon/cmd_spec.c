/* The handler of spec-apply: make the host's VMs what a spec says.  The
 * plan is made whole first (spec.c's checks, each entry filled and checked
 * as vm-define and vm-update would, the VMs to prune), and nothing changes
 * until it has passed; then every definition goes to the store in one
 * transaction, and only once that has committed does the registry follow.
 * So a bad entry anywhere in the spec changes nothing. */
#include "config.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "daemon/cmd_template.h"
#include "daemon/dispatch.h"
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/mac.h"
#include "daemon/spec.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

/* One VM of the spec: the VM of that name (NULL: to create), its new
 * definition, filled in and checked, and the action. */
struct entry {
	struct vm *old;
	struct json_object *config;
	struct json_object *action;    /* borrowed from plan.actions */
};

struct plan {
	struct json_object *vms;       /* the spec's, borrowed */
	struct spec_label label;
	size_t n;
	struct entry *e;
	struct vm **prune;
	size_t nprune;
	struct json_object *actions;
	bool dry_run;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; p->e && i < p->n; i++)
		json_object_put(p->e[i].config);
	free(p->e);
	free(p->prune);
	json_object_put(p->actions);
}

/* What the spec must be as a whole, before any entry is looked at. */
static int check_whole(struct json_object *spec, struct plan *p,
		       struct rpc_fault *f)
{
	struct json_object *volumes = NULL;

	json_object_object_get_ex(spec, "volumes", &volumes);
	if (json_object_array_length(volumes) > 0) {
		rpc_fault_set(f, RPC_UNSUPPORTED, "spec.volumes: this vmd has no "
			      "volumes yet; give the VMs' disks as paths");
		return -1;
	}
	if (spec_label_parse(rpc_member_str(spec, "label"), &p->label) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.label: not KEY=VALUE");
		return -1;
	}
	if (spec_check_names(p->vms, f) < 0 || spec_check_templates(p->vms, f) < 0)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		if (rpc_member_str(json_object_array_get_idx(p->vms, i),
				   "from_template")) {
			rpc_fault_set(f, RPC_UNSUPPORTED, "spec.vms[%zu]."
				      "from_template: this vmd cannot make VMs "
				      "from templates yet", i);
			return -1;
		}
	return 0;
}

/* The fault of entry i, as "spec.vms[I] 'NAME': what vm-define says". */
static int entry_fault(struct rpc_fault *f, size_t i, const char *name)
{
	char msg[sizeof f->msg];

	snprintf(msg, sizeof msg, "%s", f->msg);
	rpc_fault_set(f, f->cls, "spec.vms[%zu] '%s': %s", i, name, msg);
	return -1;
}

/* The VM the entry names, if any; refused when it is not the spec's. */
static int find_old(struct plan *p, size_t i, struct json_object *config,
		    struct rpc_fault *f)
{
	const char *name = rpc_member_str(config, "name");
	const char *uuid = rpc_member_str(config, "uuid");
	struct vm *old = vm_find(name), *by_uuid = uuid ? vm_find(uuid) : NULL;

	if (old && strcmp(old->name, name))
		old = NULL;  /* a uuid that reads like the name */
	if (old && !spec_label_on(old->config, &p->label)) {
		rpc_fault_set(f, RPC_VM_EXISTS, "spec.vms[%zu]: a VM named '%s' "
			      "already exists and does not carry the label "
			      "%s=%s", i, name, p->label.key, p->label.value);
		return -1;
	}
	if (by_uuid && by_uuid != old) {
		rpc_fault_set(f, old ? RPC_INVALID_ARGUMENT : RPC_VM_EXISTS,
			      "spec.vms[%zu].uuid: %s is the uuid of VM '%s'",
			      i, uuid, by_uuid->name);
		return -1;
	}
	p->e[i].old = old;
	return 0;
}

/* Entry i as vm-define or vm-update would store it, and its action. */
static int prepare(struct plan *p, size_t i, struct rpc_fault *f)
{
	struct entry *e = &p->e[i];
	struct json_object *config = NULL;
	char uuid[37];

	json_object_deep_copy(json_object_array_get_idx(p->vms, i), &config, NULL);
	e->config = config;
	if (!config) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	const char *name = rpc_member_str(config, "name");
	if (spec_label_add(config, &p->label, i, f) < 0 ||
	    find_old(p, i, config, f) < 0)
		return -1;
	if (vm_config_check_files(config, f) < 0)
		return entry_fault(f, i, name);
	if (e->old)
		snprintf(uuid, sizeof uuid, "%s", e->old->uuid);
	else if (rpc_member_str(config, "uuid"))
		snprintf(uuid, sizeof uuid, "%s", rpc_member_str(config, "uuid"));
	else
		vm_new_uuid(uuid);
	json_object_object_add(config, "uuid", json_object_new_string(uuid));
	if (vm_config_check(e->old, uuid, config, f) < 0)
		return entry_fault(f, i, name);
	/* a dry run's new uuid is not the one a real run would give */
	bool fresh = !e->old && !rpc_member_str(json_object_array_get_idx(
							p->vms, i), "uuid");
	e->action = e->old ? spec_diff(name, uuid, e->old->config, config,
				       vm_is_active(e->old)) :
		    spec_action(name, p->dry_run && fresh ? NULL : uuid, "create");
	json_object_array_add(p->actions, e->action);
	return 0;
}

/* vm_config_check() knows the MACs of the VMs there are, not those the
 * spec's other new definitions take. */
static int check_macs(struct plan *p, struct rpc_fault *f)
{
	struct json_object *seen = json_object_new_object(), *nics, *at;
	char key[32];
	uint64_t mac;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		json_object_object_get_ex(p->e[i].config, "nics", &nics);
		for (size_t j = 0; rc == 0 && j < json_object_array_length(nics); j++) {
			const char *s = rpc_member_str(json_object_array_get_idx(
							       nics, j), "mac");
			if (!s || mac_parse(s, &mac) < 0)
				continue;
			snprintf(key, sizeof key, "%" PRIx64, mac);
			if (json_object_object_get_ex(seen, key, &at)) {
				rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.vms[%zu]."
					      "nics[%zu].mac: %s is also a MAC of "
					      "spec.vms[%d]", i, j, s,
					      json_object_get_int(at));
				rc = -1;
			}
			json_object_object_add(seen, key, json_object_new_int((int)i));
		}
	}
	json_object_put(seen);
	return rc;
}

static bool in_spec(struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(rpc_member_str(p->e[i].config, "name"), name))
			return true;
	return false;
}

/* The VMs with the label that the spec no longer lists, each of which
 * must be one vm-undefine would remove. */
static int plan_prune(struct plan *p, struct rpc_fault *f)
{
	size_t n;
	struct vm **v = vm_sorted(&n);

	if (!v || !(p->prune = calloc(n + 1, sizeof *p->prune))) {
		free(v);
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!spec_label_on(v[i]->config, &p->label) || in_spec(p, v[i]->name))
			continue;
		if (vm_undefinable(v[i], f) < 0 ||
		    template_undefinable(v[i], f) < 0) {
			char msg[sizeof f->msg];
			snprintf(msg, sizeof msg, "%s", f->msg);
			rpc_fault_set(f, f->cls, "prune: %s", msg);
			free(v);
			return -1;
		}
		p->prune[p->nprune++] = v[i];
		json_object_array_add(p->actions, spec_action(v[i]->name,
							      v[i]->uuid, "delete"));
	}
	free(v);
	return 0;
}

static int make_plan(struct call *c, struct plan *p, struct rpc_fault *f)
{
	struct json_object *spec;

	json_object_object_get_ex(c->args, "spec", &spec);
	json_object_object_get_ex(spec, "vms", &p->vms);
	p->n = json_object_array_length(p->vms);
	p->actions = json_object_new_array();
	p->dry_run = call_bool(c, "dry_run");
	if (check_whole(spec, p, f) < 0)
		return -1;
	if (!(p->e = calloc(p->n + 1, sizeof *p->e))) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < p->n; i++)
		if (prepare(p, i, f) < 0)
			return -1;
	if (check_macs(p, f) < 0)
		return -1;
	return call_bool(c, "prune") ? plan_prune(p, f) : 0;
}

static bool to_do(struct json_object *action)
{
	return strcmp(spec_action_verb(action), "unchanged") != 0;
}

/* One entry's definition into the open transaction. */
static int write_entry(struct entry *e)
{
	const char *uuid = rpc_member_str(e->config, "uuid");
	const char *name = rpc_member_str(e->config, "name");
	const char *text = json_object_to_json_string(e->config);

	if (!to_do(e->action))
		return STORE_OK;
	return e->old ? store_vm_update(vmd.store, uuid, name, text) :
	       store_vm_insert(vmd.store, uuid, name, text);
}

/* Every change of the plan in one transaction: all or none. */
static int write_plan(struct plan *p, const char *who, struct rpc_fault *f)
{
	int rc = store_begin(vmd.store);

	for (size_t i = 0; rc == STORE_OK && i < p->n; i++)
		rc = write_entry(&p->e[i]);
	for (size_t i = 0; rc == STORE_OK && i < p->nprune; i++) {
		rc = store_vm_delete(vmd.store, p->prune[i]->uuid);
		if (rc == STORE_OK)
			rc = store_event_add(vmd.store, p->prune[i]->uuid,
					     p->prune[i]->name, "undefine", NULL,
					     NULL, "spec-apply prune", who);
	}
	if (rc == STORE_OK)
		rc = store_commit(vmd.store);
	else
		store_rollback(vmd.store);
	if (rc != STORE_OK) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "store: %s; nothing was "
			      "changed", store_errmsg(vmd.store));
		return -1;
	}
	return 0;
}

/* The registry follows the store, which has every change. */
static void apply_plan(struct plan *p)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < p->n; i++) {
		struct entry *e = &p->e[i];
		const char *name = rpc_member_str(e->config, "name");
		const char *uuid = rpc_member_str(e->config, "uuid");
		if (!to_do(e->action))
			continue;
		if (e->old) {
			vm_set_config(e->old, json_object_get(e->config));
			e->old->updated = now;
		} else if (!vm_add(uuid, name, json_object_get(e->config), now, now)) {
			json_object_put(e->config);
			log_vm(LOG_ERR, name, uuid, "defined in the store, but out "
			       "of memory to add it here");
		}
	}
	for (size_t i = 0; i < p->nprune; i++) {
		leftovers_undefined(p->prune[i]->uuid, p->prune[i]->name, false);
		vm_remove(p->prune[i]);
	}
}

static struct json_object *reply(struct plan *p, bool dry_run, bool changed)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(r, "changed", json_object_new_boolean(changed));
	json_object_object_add(r, "actions", json_object_get(p->actions));
	return r;
}

void cmd_spec_apply(struct call *c)
{
	struct plan p = {0};
	struct rpc_fault f;
	bool changed = false;

	if (make_plan(c, &p, &f) < 0) {
		call_fault(c, &f);
		plan_free(&p);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(p.actions); i++)
		changed |= to_do(json_object_array_get_idx(p.actions, i));
	if (p.dry_run || !changed) {
		call_return(c, reply(&p, p.dry_run, changed));
	} else if (write_plan(&p, c->who, &f) < 0) {
		call_fault(c, &f);
	} else {
		apply_plan(&p);
		call_reply_synced(c, reply(&p, false, true));
	}
	plan_free(&p);
}
