/* The handler of spec-apply: make the host's volumes and VMs what a spec
 * says.  The plan is made whole first (spec.c's checks, each entry filled
 * and checked as vm-define and vm-update would, the volumes and the
 * overlays of VMs made from templates, the VMs to prune), and nothing
 * changes until it has passed.  Then the files are made (spec_files.c,
 * qemu-img jobs; the reply waits for them), and every volume row and
 * definition goes to the store in one transaction; only once that has
 * committed does the registry follow.  A failure on the way removes the
 * files made: a bad entry anywhere in the spec changes nothing.  One
 * apply makes files at a time; another meanwhile is Busy. */
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
#include "daemon/qimg.h"
#include "daemon/plan.h"
#include "daemon/spec.h"
#include "daemon/spec_files.h"
#include "daemon/store.h"
#include "daemon/template.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

/* A VM the plan changes or keeps: found again by uuid after the files
 * are made, and refused then if its definition changed meanwhile. */
struct held {
	struct vm *vm;
	char uuid[37];
	struct json_object *seen;      /* vm->config when planned (a ref) */
};

/* One VM of the spec: the VM of that name (old.vm NULL: to create), its
 * new definition, filled in and checked, and the action. */
struct entry {
	struct held old;
	struct json_object *config;
	struct json_object *action;    /* borrowed from plan.actions */
};

struct plan {
	struct call *c;
	struct json_object *vms, *volumes;   /* the spec's, borrowed */
	struct spec_label label;
	size_t n;
	struct entry *e;
	struct held *prune;
	size_t nprune;
	struct json_object *actions, *vol_actions;
	struct spec_files files;
	bool dry_run;
};

static struct plan *applying;  /* making its files */

static void hold(struct held *h, struct vm *vm)
{
	h->vm = vm;
	snprintf(h->uuid, sizeof h->uuid, "%s", vm->uuid);
	h->seen = json_object_get(vm->config);
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; p->e && i < p->n; i++) {
		json_object_put(p->e[i].config);
		json_object_put(p->e[i].old.seen);
	}
	for (size_t i = 0; i < p->nprune; i++)
		json_object_put(p->prune[i].seen);
	free(p->e);
	free(p->prune);
	json_object_put(p->actions);
	json_object_put(p->vol_actions);
	spec_files_free(&p->files);
	free(p);
}

/* What the spec must be as a whole, before any entry is looked at. */
static int check_whole(struct json_object *spec, struct plan *p,
		       struct rpc_fault *f)
{
	if (spec_label_parse(rpc_member_str(spec, "label"), &p->label) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.label: not KEY=VALUE");
		return -1;
	}
	return spec_check_volume_names(p->volumes, f) < 0 ||
	       spec_check_names(p->vms, f) < 0 ||
	       spec_check_templates(p->vms, f) < 0 ? -1 : 0;
}

/* f's message after "PREFIX: ". */
static int prefixed(struct rpc_fault *f, const char *prefix)
{
	char msg[sizeof f->msg];

	snprintf(msg, sizeof msg, "%s", f->msg);
	rpc_fault_set(f, f->cls, "%s: %s", prefix, msg);
	return -1;
}

/* The fault of entry i, as "spec.vms[I] 'NAME': what vm-define says". */
static int entry_fault(struct rpc_fault *f, size_t i, const char *name)
{
	char prefix[128];

	snprintf(prefix, sizeof prefix, "spec.vms[%zu] '%s'", i, name);
	return prefixed(f, prefix);
}

/* Volume entry i: unchanged, differs (left alone), or a file to make. */
static int plan_volume(struct plan *p, size_t i, struct rpc_fault *f)
{
	struct json_object *entry = json_object_array_get_idx(p->volumes, i), *s;
	const char *name = rpc_member_str(entry, "name");
	struct volume v, old;
	int64_t size;
	char where[64];

	snprintf(where, sizeof where, "spec.volumes[%zu]", i);
	json_object_object_get_ex(entry, "size", &s);
	size = json_object_is_type(s, json_type_int) ? json_object_get_int64(s)
	       : qimg_parse_size(json_object_get_string(s));
	if (size <= 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.size: '%s' is not a size "
			      "above 0", where, json_object_get_string(s));
		return -1;
	}
	if (volume_get(vmd.store, name, &old) == STORE_OK) {
		json_object_array_add(p->vol_actions, spec_volume_action(
			entry, size, old.pool, old.format, old.size));
		return 0;
	}
	if (volume_init(&v, name, rpc_member_str(entry, "pool"),
			rpc_member_str(entry, "format"), size, NULL) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "%s.name: '%s' cannot be "
			      "a volume's name", where, name);
		return -1;
	}
	if (spec_files_add(&p->files, &v, NULL, f) < 0)
		return prefixed(f, where);
	json_object_array_add(p->vol_actions, spec_volume_action(entry, size,
								 NULL, NULL, 0));
	return 0;
}

/* The VM the entry names, if any; refused when it is not the spec's. */
static int find_old(struct plan *p, size_t i, struct json_object *entry,
		    struct rpc_fault *f)
{
	const char *name = rpc_member_str(entry, "name");
	const char *uuid = rpc_member_str(entry, "uuid");
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
	if (old)
		hold(&p->e[i].old, old);
	return 0;
}

/* A new VM from template tname: its config (the template's, the
 * overlays on its bases planned), or NULL with f set. */
static struct json_object *from_template(struct plan *p, size_t i,
					 const char *name, const char *tname,
					 struct rpc_fault *f)
{
	struct vm *tpl = vm_find(tname);
	struct json_object *config, *disks;
	struct volume base, v;
	char path[4096];

	if (!tpl || !tpl->is_template) {
		rpc_fault_set(f, tpl ? RPC_INVALID_STATE : RPC_VM_NOT_FOUND,
			      "spec.vms[%zu].from_template: %s '%s'%s", i, tpl ?
			      "VM" : "no VM named", tname, tpl ? " is not a "
			      "template; make it one first (vm-template)" : "");
		return NULL;
	}
	if (!(config = template_clone_config(tpl, name))) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return NULL;
	}
	json_object_object_get_ex(config, "disks", &disks);
	for (size_t d = 0; d < json_object_array_length(disks); d++) {
		struct json_object *disk = json_object_array_get_idx(disks, d);
		const char *b = rpc_member_str(disk, "volume");
		if (!b)
			continue;
		if (template_plan_disk(name, d, b, false, &base, &v, path,
				       sizeof path, f) < 0 ||
		    spec_files_add(&p->files, &v, &base, f) < 0) {
			json_object_put(config);
			entry_fault(f, i, name);
			return NULL;
		}
		json_object_object_add(disk, "volume", json_object_new_string(
					       v.name));
	}
	return config;
}

/* Entry i's definition before the checks: the entry itself; for one
 * from a template, the members it gives over the VM's definition, or
 * over the template's for a new VM.  NULL with f set. */
static struct json_object *entry_config(struct plan *p, size_t i,
					struct rpc_fault *f)
{
	struct json_object *entry = json_object_array_get_idx(p->vms, i), *c = NULL;
	const char *tname = rpc_member_str(entry, "from_template");
	struct vm *old = p->e[i].old.vm;

	if (!tname || old) {
		if (json_object_deep_copy(tname ? old->config : entry, &c, NULL) < 0)
			c = NULL;
	} else if (!(c = from_template(p, i, rpc_member_str(entry, "name"),
				       tname, f))) {
		return NULL;
	}
	if (!c)
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
	else if (tname)
		spec_overlay(c, entry);
	return c;
}

/* Entry i as vm-define or vm-update would store it, and its action. */
static int prepare(struct plan *p, size_t i, struct rpc_fault *f)
{
	struct entry *e = &p->e[i];
	struct json_object *entry = json_object_array_get_idx(p->vms, i);
	const char *name = rpc_member_str(entry, "name");
	char uuid[37];

	if (find_old(p, i, entry, f) < 0 || !(e->config = entry_config(p, i, f)))
		return -1;
	struct json_object *config = e->config;
	struct vm *old = e->old.vm;
	if (spec_label_add(config, &p->label, i, f) < 0)
		return -1;
	if (vm_config_check_files(config, f) < 0 ||
	    (old && template_check_update(old, config, f) < 0))
		return entry_fault(f, i, name);
	if (old)
		snprintf(uuid, sizeof uuid, "%s", old->uuid);
	else if (rpc_member_str(config, "uuid"))
		snprintf(uuid, sizeof uuid, "%s", rpc_member_str(config, "uuid"));
	else
		vm_new_uuid(uuid);
	json_object_object_add(config, "uuid", json_object_new_string(uuid));
	if (vm_config_check(old, uuid, config, f) < 0 ||
	    plan_check_config(config, f) < 0)
		return entry_fault(f, i, name);
	/* a dry run's new uuid is not the one a real run would give */
	bool fresh = !old && !rpc_member_str(entry, "uuid");
	e->action = old ? spec_diff(name, uuid, old->config, config,
				    vm_is_active(old)) :
		    spec_action(name, p->dry_run && fresh ? NULL : uuid, "create");
	json_object_array_add(p->actions, e->action);
	return 0;
}

/* Every volume a disk names exists, or the spec makes it. */
static int check_volumes(struct plan *p, struct rpc_fault *f)
{
	struct json_object *disks;
	struct volume v;

	for (size_t i = 0; i < p->n; i++) {
		json_object_object_get_ex(p->e[i].config, "disks", &disks);
		for (size_t d = 0; d < json_object_array_length(disks); d++) {
			const char *name = rpc_member_str(json_object_array_get_idx(
							  disks, d), "volume");
			if (!name || spec_files_find(&p->files, name) ||
			    volume_get(vmd.store, name, &v) == STORE_OK)
				continue;
			rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "spec.vms[%zu] '%s': "
				      "disks[%zu].volume: no volume named '%s', "
				      "and spec.volumes does not make it", i,
				      rpc_member_str(p->e[i].config, "name"), d,
				      name);
			return -1;
		}
	}
	return spec_files_check_space(&p->files, f);
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

/* vm may go: what vm-undefine asks; -1 with f ("prune: ..."). */
static int prunable(struct vm *vm, struct rpc_fault *f)
{
	if (vm_undefinable(vm, f) < 0 || template_undefinable(vm, f) < 0)
		return prefixed(f, "prune");
	return 0;
}

/* The VMs with the label that the spec no longer lists, each of which
 * must be one vm-undefine would remove. */
static int plan_prune(struct plan *p, struct rpc_fault *f)
{
	size_t n;
	struct vm **v = vm_sorted(&n);
	int rc = 0;

	if (!v || !(p->prune = calloc(n + 1, sizeof *p->prune))) {
		free(v);
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!spec_label_on(v[i]->config, &p->label) || in_spec(p, v[i]->name))
			continue;
		if ((rc = prunable(v[i], f)) < 0)
			break;
		hold(&p->prune[p->nprune++], v[i]);
		json_object_array_add(p->actions, spec_action(v[i]->name,
							      v[i]->uuid, "delete"));
	}
	free(v);
	return rc;
}

static int make_plan(struct plan *p, struct rpc_fault *f)
{
	struct json_object *spec;

	json_object_object_get_ex(p->c->args, "spec", &spec);
	json_object_object_get_ex(spec, "vms", &p->vms);
	json_object_object_get_ex(spec, "volumes", &p->volumes);
	p->n = json_object_array_length(p->vms);
	p->actions = json_object_new_array();
	p->vol_actions = json_object_new_array();
	p->dry_run = call_bool(p->c, "dry_run");
	p->files.uid = p->c->uid;
	if (check_whole(spec, p, f) < 0)
		return -1;
	if (!(p->e = calloc(p->n + 1, sizeof *p->e))) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(p->volumes); i++)
		if (plan_volume(p, i, f) < 0)
			return -1;
	for (size_t i = 0; i < p->n; i++)
		if (prepare(p, i, f) < 0)
			return -1;
	if (check_macs(p, f) < 0 || check_volumes(p, f) < 0)
		return -1;
	return call_bool(p->c, "prune") ? plan_prune(p, f) : 0;
}

static bool to_do(struct json_object *action)
{
	return strcmp(spec_action_verb(action), "unchanged") != 0 &&
	       strcmp(spec_action_verb(action), "differs") != 0;
}

/* The VM h held is there still, as it was planned. */
static int still(struct held *h, const char *name, struct rpc_fault *f)
{
	h->vm = vm_find(h->uuid);
	if (h->vm && h->vm->config == h->seen)
		return 0;
	rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' was changed or undefined "
		      "while this apply made its files; nothing was changed: "
		      "apply again", name);
	return -1;
}

/* After the files are made (the loop ran meanwhile): the registry is
 * still what the plan was made of. */
static int recheck(struct plan *p, struct rpc_fault *f)
{
	for (size_t i = 0; i < p->n; i++) {
		const char *name = rpc_member_str(p->e[i].config, "name");
		if (p->e[i].old.seen ? still(&p->e[i].old, name, f) < 0 :
		    vm_find(name) != NULL) {
			if (!p->e[i].old.seen)
				rpc_fault_set(f, RPC_VM_EXISTS, "spec.vms[%zu]: a VM "
					      "named '%s' was defined meanwhile; "
					      "nothing was changed", i, name);
			return -1;
		}
	}
	for (size_t i = 0; i < p->nprune; i++)
		if (still(&p->prune[i], json_object_get_string(json_object_object_get(
				p->prune[i].seen, "name")), f) < 0 ||
		    prunable(p->prune[i].vm, f) < 0)
			return -1;
	return 0;
}

/* One entry's definition into the open transaction. */
static int write_entry(struct entry *e)
{
	const char *uuid = rpc_member_str(e->config, "uuid");
	const char *name = rpc_member_str(e->config, "name");
	const char *text = json_object_to_json_string(e->config);

	if (!to_do(e->action))
		return STORE_OK;
	return e->old.vm ? store_vm_update(vmd.store, uuid, name, text) :
	       store_vm_insert(vmd.store, uuid, name, text);
}

/* Every change of the plan in one transaction: all or none. */
static int write_plan(struct plan *p, const char *who, struct rpc_fault *f)
{
	int rc = store_begin(vmd.store);

	if (rc == STORE_OK)
		rc = spec_files_insert(&p->files);
	for (size_t i = 0; rc == STORE_OK && i < p->n; i++)
		rc = write_entry(&p->e[i]);
	for (size_t i = 0; rc == STORE_OK && i < p->nprune; i++) {
		struct vm *vm = p->prune[i].vm;
		rc = store_vm_delete(vmd.store, vm->uuid);
		if (rc == STORE_OK)
			rc = store_event_add(vmd.store, vm->uuid, vm->name,
					     "undefine", NULL, NULL,
					     "spec-apply prune", who);
	}
	if (rc == STORE_OK)
		rc = store_commit(vmd.store);
	else
		store_rollback(vmd.store);
	if (rc != STORE_OK) {
		rpc_fault_set(f, rc == STORE_EXISTS ? RPC_VM_EXISTS :
			      RPC_GENERIC_ERROR, "store: %s; nothing was changed",
			      store_errmsg(vmd.store));
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
		if (e->old.vm) {
			vm_set_config(e->old.vm, json_object_get(e->config));
			e->old.vm->updated = now;
		} else if (!vm_add(uuid, name, json_object_get(e->config), now, now)) {
			json_object_put(e->config);
			log_vm(LOG_ERR, name, uuid, "defined in the store, but out "
			       "of memory to add it here");
		}
	}
	for (size_t i = 0; i < p->nprune; i++) {
		leftovers_undefined(p->prune[i].vm->uuid, p->prune[i].vm->name,
				    false);
		vm_remove(p->prune[i].vm);
	}
}

static struct json_object *reply(struct plan *p, bool changed)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "dry_run", json_object_new_boolean(p->dry_run));
	json_object_object_add(r, "changed", json_object_new_boolean(changed));
	json_object_object_add(r, "actions", json_object_get(p->actions));
	json_object_object_add(r, "volumes", json_object_get(p->vol_actions));
	return r;
}

/* The files are made (or not): commit, or remove them.  Frees p. */
static void commit_plan(void *ctx, const struct rpc_fault *err)
{
	struct plan *p = ctx;
	struct rpc_fault f;

	if (applying == p)
		applying = NULL;
	if (err)
		f = *err;
	if (err || recheck(p, &f) < 0 || write_plan(p, p->c->who, &f) < 0) {
		spec_files_remove(&p->files);
		call_fault(p->c, &f);
	} else {
		spec_files_place(&p->files);
		apply_plan(p);
		call_reply_synced(p->c, reply(p, true));
	}
	plan_free(p);
}

static bool any_to_do(struct plan *p)
{
	bool changed = p->files.n > 0;

	for (size_t i = 0; i < json_object_array_length(p->actions); i++)
		changed |= to_do(json_object_array_get_idx(p->actions, i));
	return changed;
}

void cmd_spec_apply(struct call *c)
{
	struct plan *p = calloc(1, sizeof *p);
	struct rpc_fault f;

	if (!p) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	p->c = c;
	if (applying) {
		call_error(c, RPC_BUSY, "another spec-apply is making its files; "
			   "apply again once it has replied");
		plan_free(p);
	} else if (make_plan(p, &f) < 0) {
		call_fault(c, &f);
		plan_free(p);
	} else if (p->dry_run || !any_to_do(p)) {
		call_return(c, reply(p, any_to_do(p)));
		plan_free(p);
	} else if (p->files.n) {
		applying = p;
		spec_files_make(&p->files, commit_plan, p);
	} else {
		commit_plan(p, NULL);
	}
}
