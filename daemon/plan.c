/* Plans and each VM's plan over time (see plan.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/plan.h"
#include "daemon/plan_store.h"
#include "daemon/quota.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/volume.h"
#include "rpc/schema.h"

static struct json_object *plans;   /* {name: definition} */
static bool ready;                  /* plan_init() has loaded them */

struct json_object *plan_all(void)
{
	if (!plans)
		plans = json_object_new_object();
	return plans;
}

static struct json_object *labels_of(struct json_object *o)
{
	struct json_object *l = NULL;

	json_object_object_get_ex(o, "labels", &l);
	return json_object_is_type(l, json_type_object) &&
	       json_object_object_length(l) ? l : NULL;
}

/* Two label sets select a VM in common unless a key they share differs. */
static bool overlap(struct json_object *a, struct json_object *b)
{
	struct json_object *v;

	json_object_object_foreach(a, k, va)
		if (json_object_object_get_ex(b, k, &v) &&
		    strcmp(json_object_get_string(va), json_object_get_string(v)))
			return false;
	return true;
}

static bool carries(struct json_object *config, struct json_object *want)
{
	struct json_object *have = labels_of(config), *v;

	json_object_object_foreach(want, k, val)
		if (!have || !json_object_object_get_ex(have, k, &v) ||
		    strcmp(json_object_get_string(v), json_object_get_string(val)))
			return false;
	return true;
}

const char *plan_for(struct json_object *config)
{
	const char *p = rpc_member_str(config, "plan");

	if (p)
		return p;
	json_object_object_foreach(plan_all(), name, def) {
		struct json_object *sel = labels_of(def);
		if (sel && carries(config, sel))
			return name;
	}
	return NULL;
}

static void note_all(void)
{
	size_t n;
	struct vm **v = vm_sorted(&n);

	for (size_t i = 0; v && i < n; i++)
		plan_note(v[i]);
	free(v);
}

int plan_define(const char *name, struct json_object *def, struct rpc_fault *f)
{
	struct json_object *sel = labels_of(def);

	json_object_object_foreach(plan_all(), other, odef) {
		struct json_object *osel = labels_of(odef);
		if (sel && osel && strcmp(other, name) && overlap(sel, osel)) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "labels: plan '%s' "
				      "selects VMs by %s, which can be the same VMs; "
				      "add a label on which they differ", other,
				      json_object_to_json_string(osel));
			return -1;
		}
	}
	if (plan_store_put(vmd.store, name, json_object_to_json_string_ext(def,
			   JSON_C_TO_STRING_PLAIN)) != STORE_OK) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return -1;
	}
	json_object_object_add(plan_all(), name, json_object_get(def));
	note_all();
	return 0;
}

int plan_delete(const char *name, struct rpc_fault *f)
{
	struct json_object *users = json_object_new_array();
	size_t n;
	struct vm **v = vm_sorted(&n);

	if (!json_object_object_get_ex(plan_all(), name, NULL)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "name: no plan '%s'", name);
		json_object_put(users);
		free(v);
		return -1;
	}
	for (size_t i = 0; v && i < n; i++) {
		const char *p = plan_for(v[i]->config);
		if (p && !strcmp(p, name))
			json_object_array_add(users, json_object_new_string(v[i]->name));
	}
	free(v);
	if (json_object_array_length(users)) {
		rpc_fault_set(f, RPC_INVALID_STATE, "plan '%s' is the plan of VMs %s",
			      name, json_object_to_json_string_ext(users,
			      JSON_C_TO_STRING_PLAIN));
	} else if (plan_store_delete(vmd.store, name) != STORE_OK) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
	} else {
		json_object_object_del(plan_all(), name);
		json_object_put(users);
		return 0;
	}
	json_object_put(users);
	return -1;
}

int plan_check_config(struct json_object *config, struct rpc_fault *f)
{
	const char *p = rpc_member_str(config, "plan");

	if (p && !json_object_object_get_ex(plan_all(), p, NULL)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.plan: no plan '%s' "
			      "(plan-list shows them)", p);
		return -1;
	}
	return 0;
}

struct json_object *plan_quota(struct json_object *config)
{
	struct json_object *q = NULL, *def;
	const char *p;

	if (json_object_object_get_ex(config, "transfer_quota", &q))
		return q;
	if ((p = plan_for(config)) &&
	    json_object_object_get_ex(plan_all(), p, &def) &&
	    json_object_object_get_ex(def, "transfer_quota", &q))
		return q;
	return NULL;
}

static bool same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

void plan_note(struct vm *vm)
{
	struct plan_seg last = { 0 }, now = { 0 };
	struct json_object *def = NULL, *labels = labels_of(vm->config), *cust;
	const char *p = plan_for(vm->config);
	int rc;

	if (!ready)
		return;
	rc = plan_store_last(vmd.store, vm->uuid, &last);

	if (p)
		json_object_object_get_ex(plan_all(), p, &def);
	snprintf(now.plan, sizeof now.plan, "%s", p && def ? p : "");
	if (labels && json_object_object_get_ex(labels, "customer", &cust))
		snprintf(now.customer, sizeof now.customer, "%s",
			 json_object_get_string(cust));
	now.def = def ? json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN) : "";
	if (rc == STORE_ERR ||
	    (rc == STORE_OK && same(last.plan, now.plan) &&
	     same(last.customer, now.customer) && same(last.def, now.def)) ||
	    (rc == STORE_NOT_FOUND && !*now.plan && !*now.customer)) {
		free((char *)last.def);
		quota_check(vm);
		return;
	}
	free((char *)last.def);
	now.since = meter_cut(vm);
	if (plan_store_note(vmd.store, vm->uuid, &now) != STORE_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "billing: %s",
		       store_errmsg(vmd.store));
	quota_check(vm);
}

void plan_disk_mib(struct vm *vm, uint64_t mib[VMD_DISK_MAX])
{
	struct json_object *disks = NULL;
	struct volume v;

	memset(mib, 0, VMD_DISK_MAX * sizeof *mib);
	json_object_object_get_ex(vm_live_config(vm), "disks", &disks);
	for (size_t i = 0; i < json_object_array_length(disks) && i < VMD_DISK_MAX; i++) {
		const char *name = rpc_member_str(json_object_array_get_idx(disks, i),
						  "volume");
		if (name && volume_get(vmd.store, name, &v) == STORE_OK && v.size > 0)
			mib[i] = ((uint64_t)v.size + (1 << 20) - 1) >> 20;
	}
}

void plan_init(void)
{
	struct json_object *all = plan_store_load(vmd.store);

	if (!all) {
		log_err("billing: %s", store_errmsg(vmd.store));
		return;
	}
	json_object_put(plans);
	plans = all;
	ready = true;
	note_all();
}

void plan_shutdown(void)
{
	json_object_put(plans);
	plans = NULL;
	ready = false;
}
