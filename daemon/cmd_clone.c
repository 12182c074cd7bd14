/* Handler vm-clone: a new VM from a template.  Its config is the
 * template's with a new name, a new uuid and new MAC addresses; each
 * disk is a new volume NAME-diskN in its base's pool: linked, a qcow2
 * overlay on the base (qemu-img create, a few milliseconds whatever the
 * base's size), or full, a copy (qemu-img convert, with VOLUME_PROGRESS).
 * The files are made one job after the other, each keeping its temporary
 * name (.FILE.part); the volume rows and the VM row then go into the store
 * in one transaction, and only then do the files take their names.  Any
 * failure removes the files made so far: no half-made VM, no stray volume
 * (also when vmd exits: job_kill_all tells the job running, which fails
 * the clone; when vmd is killed, pool_sweep removes them at its start). */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-id128.h>
#include "daemon/commit.h"
#include "daemon/dispatch.h"
#include "daemon/job.h"
#include "daemon/log.h"
#include "daemon/pool.h"
#include "daemon/store.h"
#include "daemon/template.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/volume.h"
#include "rpc/schema.h"

struct clone {
	struct call *c;
	char name[VOLUME_NAME_MAX + 1];   /* the new VM's */
	bool full;
	struct json_object *config;       /* the new VM's, disks renamed */
	size_t n, next;                   /* volume disks; the one being made */
	struct volume vol[VMD_DISK_MAX];  /* the new volumes, disk order */
	struct volume base[VMD_DISK_MAX];
	bool made[VMD_DISK_MAX];          /* its temporary file is made */
	char path[VMD_DISK_MAX][4096];
	char tmp[VMD_DISK_MAX][4200];     /* the file until the rows are in */
	struct clone *next_op;
};

static struct clone *clones;  /* in flight: names taken, files to remove */

static void forget(struct clone *op)
{
	for (struct clone **p = &clones; *p; p = &(*p)->next_op)
		if (*p == op) {
			*p = op->next_op;
			break;
		}
	job_release(op);
	json_object_put(op->config);
	free(op);
}

static void remove_files(struct clone *op)
{
	for (size_t i = 0; i < op->n; i++)
		if (op->made[i] && unlink(op->tmp[i]) < 0 && errno != ENOENT)
			log_msg(LOG_ERR, "clone %s: cannot remove %s: %s", op->name,
				op->tmp[i], strerror(errno));
}

/* The rows are stored: the files take their names (a crash before this
 * leaves them to pool_sweep, which puts them in place). */
static void place_files(struct clone *op)
{
	for (size_t i = 0; i < op->n; i++)
		if (rename(op->tmp[i], op->path[i]) < 0)
			log_msg(LOG_ERR, "clone %s: cannot rename %s to %s: %s",
				op->name, op->tmp[i], op->path[i], strerror(errno));
}

/* Undoes what was made, replies err. */
static void fail(struct clone *op, const struct rpc_fault *err)
{
	remove_files(op);
	call_fault(op->c, err);
	forget(op);
}

static bool cloning(const char *name)
{
	for (struct clone *op = clones; op; op = op->next_op)
		if (!strcmp(op->name, name))
			return true;
	return false;
}

/* Every volume row and the VM row, or none. */
static int store_clone(struct clone *op, const char *uuid, struct rpc_fault *f)
{
	int rc = template_tx("BEGIN IMMEDIATE");

	for (size_t i = 0; rc == STORE_OK && i < op->n; i++) {
		op->vol[i].created = (int64_t)time(NULL);
		rc = volume_insert(vmd.store, &op->vol[i]);
	}
	if (rc == STORE_OK)
		rc = store_vm_insert(vmd.store, uuid, op->name,
				     json_object_to_json_string(op->config));
	if (rc == STORE_OK)
		rc = template_tx("COMMIT");
	if (rc == STORE_OK)
		return 0;
	rpc_fault_set(f, rc == STORE_EXISTS ? RPC_VM_EXISTS : RPC_GENERIC_ERROR,
		      "store: %s", store_errmsg(vmd.store));
	template_tx("ROLLBACK");
	return -1;
}

static void new_uuid(char out[37])
{
	sd_id128_t id;

	if (sd_id128_randomize(&id) < 0)
		memset(&id, 0, sizeof id);
	snprintf(out, 37, SD_ID128_UUID_FORMAT_STR, SD_ID128_FORMAT_VAL(id));
}

/* Every file is made: the rows, the files named, the VM, the reply. */
static void finish(struct clone *op)
{
	struct json_object *r, *vols = json_object_new_array();
	struct rpc_fault f;
	char uuid[37];
	struct vm *vm;

	new_uuid(uuid);
	json_object_object_add(op->config, "uuid", json_object_new_string(uuid));
	if (vm_find(op->name))  /* the row's insert would say it less well */
		rpc_fault_set(&f, RPC_VM_EXISTS, "name: a VM named '%s' was "
			      "defined meanwhile", op->name);
	else if (vm_config_check(NULL, uuid, op->config, &f) == 0 &&
		 store_clone(op, uuid, &f) == 0)
		f.cls = RPC_OK;
	if (f.cls != RPC_OK) {
		json_object_put(vols);
		fail(op, &f);
		return;
	}
	place_files(op);
	vm = vm_add(uuid, op->name, json_object_get(op->config), time(NULL),
		    time(NULL));
	if (!vm)  /* it is stored: the next vmd loads it */
		log_msg(LOG_ERR, "clone %s: out of memory to add it", op->name);
	store_event_add(vmd.store, uuid, op->name, op->full ? "clone full" :
			"clone", NULL, NULL, NULL, op->c->who);
	for (size_t i = 0; i < op->n; i++)
		json_object_array_add(vols, json_object_new_string(op->vol[i].name));
	r = json_object_new_object();
	json_object_object_add(r, "name", json_object_new_string(op->name));
	json_object_object_add(r, "uuid", json_object_new_string(uuid));
	json_object_object_add(r, "volumes", vols);
	commit_reply(r, call_synced, op->c);
	forget(op);
}

static void start_next(struct clone *op);

static void disk_made(void *ctx, struct job *j, const struct rpc_fault *err)
{
	struct clone *op = ctx;

	(void)j;
	if (err) {
		fail(op, err);
		return;
	}
	op->made[op->next++] = true;
	start_next(op);
}

/* The job making disk op->next: an overlay on its base or a copy of it,
 * written to a temporary file the job renames when qemu-img succeeded. */
static void start_next(struct clone *op)
{
	size_t i = op->next;
	struct volume *b = &op->base[i];
	char from[4096], size[32];
	struct rpc_fault f;

	if (i == op->n) {
		finish(op);
		return;
	}
	volume_path(b, from, sizeof from);
	snprintf(size, sizeof size, "%" PRId64, b->size);
	char *linked[] = {(char *)job_qemu_img(), "create", "-q", "-f", "qcow2",
			  "-F", b->format, "-b", from, op->tmp[i], size, NULL};
	char *full[] = {(char *)job_qemu_img(), "convert", "-p", "-f", b->format,
			"-O", b->format, from, op->tmp[i], NULL};
	struct job_spec spec = {
		.kind = "clone", .volume = op->vol[i].name, .source = b->name,
		.argv = op->full ? full : linked, .tmp_path = op->tmp[i],
		.total = op->full ? b->size : 0,
		.uid = op->c->uid,
	};
	if (!job_start(&spec, disk_made, op, &f))
		fail(op, &f);
}

/* Disk i of the template, base volume name: its new volume planned, or
 * -1 after replying. */
static int plan_disk(struct clone *op, size_t i, const char *name)
{
	struct rpc_fault f;

	if (template_plan_disk(op->name, i, name, op->full, &op->base[op->n],
			       &op->vol[op->n], op->path[op->n],
			       sizeof op->path[op->n], &f) < 0) {
		call_fault(op->c, &f);
		return -1;
	}
	volume_tmp_path(&op->vol[op->n], op->tmp[op->n], sizeof op->tmp[op->n]);
	if (job_hold(op->vol[op->n].name, op) < 0) {
		call_error(op->c, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	json_object_object_add(json_object_array_get_idx(
		json_object_object_get(op->config, "disks"), i), "volume",
		json_object_new_string(op->vol[op->n].name));
	op->n++;
	return 0;
}

/* The template may be cloned under that name: -1 after replying. */
static int may_clone(struct call *c, const struct vm *tpl, const char *name)
{
	if (!tpl->is_template) {
		call_error(c, RPC_INVALID_STATE, "vm: VM '%s' is not a template; "
			   "make it one first (vm-template), or copy its volumes "
			   "(volume-clone)", tpl->name);
		return -1;
	}
	if (vm_find(name) || cloning(name)) {
		call_error(c, RPC_VM_EXISTS, "name: a VM named '%s' %s", name,
			   cloning(name) ? "is being cloned" : "already exists");
		return -1;
	}
	return 0;
}

void cmd_vm_clone(struct call *c)
{
	struct vm *tpl = call_vm(c);
	const char *name = call_str(c, "name");
	struct json_object *disks;
	struct clone *op;

	if (!tpl || may_clone(c, tpl, name) < 0)
		return;
	if (!(op = calloc(1, sizeof *op)) || !(op->config = template_clone_config(tpl, name))) {
		free(op);
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	op->c = c;
	op->full = !strcmp(call_str(c, "mode"), "full");
	snprintf(op->name, sizeof op->name, "%s", name);
	op->next_op = clones;
	clones = op;
	disks = json_object_object_get(op->config, "disks");
	for (size_t i = 0; disks && i < json_object_array_length(disks); i++) {
		const char *base = rpc_member_str(json_object_array_get_idx(disks, i),
						  "volume");
		if (base && plan_disk(op, i, base) < 0) {
			forget(op);
			return;
		}
	}
	start_next(op);
}
