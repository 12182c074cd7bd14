/* Templates: the flag in the store (vms.template), turning a stopped VM
 * into one, and the checks that keep one unchanged.  A template's disks
 * must be volumes: vmd owns their files, so it can make them read-only
 * and know every overlay standing on them (volumes.backing).  A disk
 * given by path is refused; volume-import makes it a volume. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "daemon/job.h"
#include "daemon/store.h"
#include "daemon/template.h"
#include "daemon/vm.h"
#include "daemon/vm_volumes.h"
#include "daemon/vmd.h"
#include "emu/argv.h"
#include "daemon/volume.h"
#include "rpc/schema.h"

int template_tx(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(store_db(vmd.store), sql, NULL, NULL, &msg) == SQLITE_OK)
		return STORE_OK;
	store_set_err(vmd.store, "%s: %s", sql, msg ? msg :
		      sqlite3_errmsg(store_db(vmd.store)));
	sqlite3_free(msg);
	return STORE_ERR;
}

static sqlite3_stmt *prepare(const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(store_db(vmd.store), sql, -1, &st, NULL) ==
	    SQLITE_OK)
		return st;
	store_set_err(vmd.store, "templates: %s",
		      sqlite3_errmsg(store_db(vmd.store)));
	return NULL;
}

int template_load_all(void)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = prepare("SELECT uuid FROM vms WHERE template != 0")))
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct vm *vm = vm_find((const char *)sqlite3_column_text(st, 0));
		if (vm)
			vm->is_template = true;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? STORE_OK : store_step_failed(vmd.store,
								 "templates");
}

static int set_flag(const char *uuid)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = prepare("UPDATE vms SET template = 1 WHERE uuid = ?1")))
		return STORE_ERR;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK :
	     store_step_failed(vmd.store, "template");
	sqlite3_finalize(st);
	return rc;
}

static struct json_object *disks_of(const struct vm *vm)
{
	struct json_object *d = NULL;

	json_object_object_get_ex(vm->config, "disks", &d);
	return json_object_is_type(d, json_type_array) ? d : NULL;
}

/* Disk i of vm can become a base: a volume that no job touches and that
 * no other VM has as a disk.  Its row into v. */
static int check_disk(struct vm *vm, size_t i, struct volume *v,
		      struct rpc_fault *f)
{
	struct json_object *d = json_object_array_get_idx(disks_of(vm), i);
	struct json_object *users;
	const char *name = rpc_member_str(d, "volume");
	bool running;

	if (!name) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.disks[%zu].path: "
			      "disk %zu of VM '%s' is the host file %s, not a "
			      "volume; a template's disks must be volumes: import "
			      "it first (volume-import) and name it as {\"volume\":"
			      " NAME}", i, i, vm->name, rpc_member_str(d, "path"));
		return -1;
	}
	if (volume_get(vmd.store, name, v) != STORE_OK) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "config.disks[%zu].volume: "
			      "no volume named '%s'", i, name);
		return -1;
	}
	if (job_busy(name)) {
		rpc_fault_set(f, RPC_BUSY, "config.disks[%zu]: volume '%s' has a "
			      "job running; wait for it (job-list)", i, name);
		return -1;
	}
	users = json_object_new_array();
	vm_volumes_users(name, users, &running);
	for (size_t k = 0; k < json_object_array_length(users); k++) {
		const char *u = json_object_get_string(
			json_object_array_get_idx(users, k));
		if (strcmp(u, vm->name)) {
			rpc_fault_set(f, RPC_INVALID_STATE, "config.disks[%zu]: "
				      "volume '%s' is also a disk of VM '%s'; a "
				      "template's bases are its own", i, name, u);
			json_object_put(users);
			return -1;
		}
	}
	json_object_put(users);
	return 0;
}

/* The files of the bases become 0444; on failure those done go back. */
static int make_readonly(struct volume *v, mode_t *old, size_t n,
			 struct rpc_fault *f)
{
	char path[4096];
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		if (volume_path(&v[i], path, sizeof path) < 0 ||
		    stat(path, &st) < 0 || chmod(path, 0444) < 0) {
			rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "volume '%s': its file "
				      "%s cannot be made read-only: %s", v[i].name,
				      path, strerror(errno));
			while (i-- > 0)
				if (volume_path(&v[i], path, sizeof path) == 0)
					chmod(path, old[i]);
			return -1;
		}
		old[i] = st.st_mode & 07777;
	}
	return 0;
}

/* The rows: every base read-only and the flag, or nothing. */
static int store_template(struct vm *vm, struct volume *v, size_t n,
			  struct rpc_fault *f)
{
	int rc = template_tx("BEGIN IMMEDIATE");

	for (size_t i = 0; rc == STORE_OK && i < n; i++)
		rc = volume_set_readonly(vmd.store, v[i].name, true);
	if (rc == STORE_OK)
		rc = set_flag(vm->uuid);
	if (rc == STORE_OK)
		rc = template_tx("COMMIT");
	if (rc != STORE_OK) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "store: %s",
			      store_errmsg(vmd.store));
		template_tx("ROLLBACK");
		return -1;
	}
	return 0;
}

int template_make(struct vm *vm, const char *who, struct json_object *bases,
		  struct rpc_fault *f)
{
	struct json_object *disks = disks_of(vm);
	struct volume v[VMD_DISK_MAX];
	mode_t old[VMD_DISK_MAX];
	size_t n = disks ? json_object_array_length(disks) : 0;

	if ((vm->state != VM_STOPPED && vm->state != VM_CRASHED) ||
	    vm_is_active(vm)) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' is %s; a template is "
			      "made of a stopped VM: stop it first", vm->name,
			      vm_state_name(vm->state));
		return -1;
	}
	if (vm_cfg_bool(vm, "autostart")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.autostart: VM '%s' "
			      "starts with vmd (autostart: true), and a template "
			      "cannot start: clear autostart first (vm-update)",
			      vm->name);
		return -1;
	}
	for (size_t i = 0; i < n && i < VMD_DISK_MAX; i++)
		if (check_disk(vm, i, &v[i], f) < 0)
			return -1;
	if (make_readonly(v, old, n, f) < 0)
		return -1;
	if (store_template(vm, v, n, f) < 0) {
		char path[4096];
		for (size_t i = 0; i < n; i++)
			if (volume_path(&v[i], path, sizeof path) == 0)
				chmod(path, old[i]);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_object_array_add(bases, json_object_new_string(v[i].name));
	vm->is_template = true;
	vm_changed(vm);
	store_event_add(vmd.store, vm->uuid, vm->name, "template", NULL, NULL,
			NULL, who);
	return 0;
}

static bool has_name(struct json_object *names, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(names); i++)
		if (!strcmp(json_object_get_string(
				json_object_array_get_idx(names, i)), name))
			return true;
	return false;
}

/* Adds the VMs that use overlay v (a clone's disk) to ctx's names. */
static int add_users(void *ctx, const struct volume *v)
{
	struct json_object *names = ctx, *users = json_object_new_array();
	bool running;

	vm_volumes_users(v->name, users, &running);
	for (size_t i = 0; i < json_object_array_length(users); i++) {
		const char *u = json_object_get_string(
			json_object_array_get_idx(users, i));
		if (!has_name(names, u))
			json_object_array_add(names, json_object_new_string(u));
	}
	json_object_put(users);
	return 0;
}

size_t template_clone_users(const struct vm *template,
			    struct json_object *names)
{
	struct json_object *disks = disks_of(template);

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++) {
		const char *base = rpc_member_str(json_object_array_get_idx(disks, i),
						  "volume");
		if (base)
			volume_foreach_child(vmd.store, base, add_users, names);
	}
	return json_object_array_length(names);
}

int template_check_update(const struct vm *vm, struct json_object *config,
			  struct rpc_fault *f)
{
	struct json_object *now = disks_of(vm), *next = NULL;

	if (!vm->is_template)
		return 0;
	if (rpc_member_bool(config, "autostart")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.autostart: VM '%s' "
			      "is a template, which cannot start: autostart must "
			      "stay false (set it on its clones)", vm->name);
		return -1;
	}
	json_object_object_get_ex(config, "disks", &next);
	if (json_object_equal(now, next))
		return 0;
	rpc_fault_set(f, RPC_INVALID_STATE, "config.disks: VM '%s' is a "
		      "template; its disks are read-only bases that clones stand "
		      "on and cannot change (clone it and change the clone)",
		      vm->name);
	return -1;
}

struct json_object *template_clone_config(const struct vm *tpl,
					  const char *name)
{
	struct json_object *config = NULL, *nics;

	if (json_object_deep_copy(tpl->config, &config, NULL) < 0)
		return NULL;
	json_object_object_add(config, "name", json_object_new_string(name));
	json_object_object_del(config, "uuid");
	if (json_object_object_get_ex(config, "nics", &nics))
		for (size_t i = 0; i < json_object_array_length(nics); i++)
			json_object_object_del(json_object_array_get_idx(nics, i),
					       "mac");
	return config;
}

int template_plan_disk(const char *clone, size_t i, const char *base,
		       bool full, struct volume *b, struct volume *v,
		       char *path, size_t len, struct rpc_fault *f)
{
	char vname[VOLUME_NAME_MAX + 16];
	struct volume old;
	struct stat st;

	if (volume_get(vmd.store, base, b) != STORE_OK) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: the template's "
			      "base volume '%s' is gone", i, base);
		return -1;
	}
	if (volume_path(b, path, len) < 0 || stat(path, &st) < 0) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: the file of the "
			      "template's base volume '%s' (%s) is missing: %s", i,
			      base, path, strerror(errno));
		return -1;
	}
	if (!full && volume_bases(vmd.store, b, EMU_CHAIN_MAX) >= EMU_CHAIN_MAX) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "disks[%zu]: the template's "
			      "base volume '%s' stands on %d bases already, the "
			      "most a disk may have; make a full clone", i, base,
			      EMU_CHAIN_MAX);
		return -1;
	}
	snprintf(vname, sizeof vname, "%s-disk%zu", clone, i);
	if (volume_init(v, vname, b->pool, full ? b->format : "qcow2", b->size,
			full ? NULL : b->name) < 0 || volume_path(v, path, len) < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "name: '%s' cannot be a "
			      "volume's name (at most %d characters)", vname,
			      VOLUME_NAME_MAX);
		return -1;
	}
	if (volume_get(vmd.store, vname, &old) == STORE_OK || job_busy(vname) ||
	    lstat(path, &st) == 0) {
		rpc_fault_set(f, RPC_VOLUME_EXISTS, "name: the volume '%s' (%s) "
			      "exists already; delete it or choose another name",
			      vname, path);
		return -1;
	}
	return 0;
}
