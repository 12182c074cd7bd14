/* Handlers for volumes: volume-create, volume-list, volume-show,
 * volume-delete, volume-resize.  Every file change is a qemu-img job
 * (job.c); the reply comes when it ends.  A client that disconnects
 * meanwhile does not stop the job: the volume is made all the same (see
 * volume-list), and job-cancel stops a job. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon/cmd_volume.h"
#include "daemon/commit.h"
#include "daemon/log.h"
#include "daemon/pool.h"
#include "daemon/qimg.h"
#include "daemon/qmp.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_volumes.h"
#include "daemon/vmd.h"

struct json_object *vop_volume_json(const struct volume *v)
{
	struct json_object *r = json_object_new_object();
	char path[4096];

	json_object_object_add(r, "name", json_object_new_string(v->name));
	json_object_object_add(r, "pool", json_object_new_string(v->pool));
	json_object_object_add(r, "format", json_object_new_string(v->format));
	json_object_object_add(r, "size", json_object_new_int64(v->size));
	json_object_object_add(r, "backing", v->backing[0] ?
			       json_object_new_string(v->backing) : NULL);
	json_object_object_add(r, "readonly", json_object_new_boolean(v->readonly));
	json_object_object_add(r, "created", json_object_new_int64(v->created));
	if (volume_path(v, path, sizeof path) == 0)
		json_object_object_add(r, "path", json_object_new_string(path));
	return r;
}

int vop_get(struct call *c, const char *key, struct volume *v)
{
	const char *name = call_str(c, key);
	int rc = volume_get(vmd.store, name, v);

	if (rc == STORE_NOT_FOUND)
		call_error(c, RPC_VOLUME_NOT_FOUND, "%s: no volume named '%s'",
			   key, name);
	else if (rc != STORE_OK)
		call_error(c, RPC_GENERIC_ERROR, "store: %s",
			   store_errmsg(vmd.store));
	return rc == STORE_OK ? 0 : -1;
}

/* The name is free: no row, no job making it, no file of that name. */
static int name_free(struct call *c, struct vop *op)
{
	struct volume old;
	struct stat st;

	if (volume_get(vmd.store, op->v.name, &old) == STORE_OK ||
	    job_busy(op->v.name)) {
		call_error(c, RPC_VOLUME_EXISTS, "name: a volume named '%s' %s",
			   op->v.name, job_busy(op->v.name) ? "is being made" :
			   "already exists");
		return -1;
	}
	if (lstat(op->path, &st) == 0) {
		call_error(c, RPC_VOLUME_EXISTS, "name: pool '%s' already has a "
			   "file %s that is no volume; move it away first",
			   op->v.pool, op->path);
		return -1;
	}
	return 0;
}

/* An empty operation of call c, or NULL after replying. */
static struct vop *vop_alloc(struct call *c)
{
	struct vop *op = calloc(1, sizeof *op);

	if (!op) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return NULL;
	}
	op->c = c;
	op->src_fd = -1;
	return op;
}

struct vop *vop_new(struct call *c, const char *name, const char *pool,
		    const char *format)
{
	struct vop *op = vop_alloc(c);

	if (!op)
		return NULL;
	if (!pool_dir(pool)) {
		call_error(c, RPC_INVALID_ARGUMENT, "pool: no pool named '%s' "
			   "(vmd's --pool)", pool);
	} else if (volume_init(&op->v, name, pool, format, 0, NULL) < 0 ||
		   volume_path(&op->v, op->path, sizeof op->path) < 0 ||
		   volume_tmp_path(&op->v, op->tmp, sizeof op->tmp) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "name: '%s' cannot be a "
			   "volume's name", name);
	} else if (name_free(c, op) == 0) {
		return op;
	}
	free(op);
	return NULL;
}

void vop_free(struct vop *op)
{
	if (op->src_fd >= 0)
		close(op->src_fd);
	free(op);
}

void vop_run(struct vop *op, const char *kind, char **argv, int64_t total,
	     job_done_cb done)
{
	struct job_spec spec = {
		.kind = kind, .volume = op->v.name, .argv = argv,
		.source = op->base.name[0] ? op->base.name : NULL,
		.keep_fds = &op->src_fd, .nkeep = 1,
		.tmp_path = strcmp(kind, "resize") ? op->tmp : NULL,
		.final_path = strcmp(kind, "resize") ? op->path : NULL,
		.total = total, .uid = op->c->uid,
	};
	struct rpc_fault f;

	if (!job_start(&spec, done, op, &f)) {
		call_fault(op->c, &f);
		vop_free(op);
	}
}

/* The end of an operation whose row change returned rc: the volume once
 * synced (and an audit row), else the store's error.  Frees op. */
static void vop_reply(struct vop *op, int rc, const char *action)
{
	if (rc != STORE_OK) {
		call_error(op->c, rc == STORE_EXISTS ? RPC_VOLUME_EXISTS :
			   RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
	} else {
		store_event_add(vmd.store, NULL, op->v.name, action, NULL, NULL,
				NULL, op->c->who);
		commit_reply(vop_volume_json(&op->v), call_synced, op->c);
	}
	vop_free(op);
}

void vop_created(void *ctx, struct job *j, const struct rpc_fault *err)
{
	struct vop *op = ctx;
	int rc;

	(void)j;
	if (err) {
		call_fault(op->c, err);
		vop_free(op);
		return;
	}
	op->v.created = (int64_t)time(NULL);
	if ((rc = volume_insert(vmd.store, &op->v)) != STORE_OK)
		unlink(op->path);
	vop_reply(op, rc, op->c->command);
}

/* The size argument in bytes (an integer, or "10G"), above 0 and within
 * what pool has free beyond `have` bytes it already holds; -1 after
 * replying. */
static int64_t size_arg(struct call *c, const char *pool, int64_t have)
{
	struct json_object *s = NULL;
	int64_t size, room;

	json_object_object_get_ex(c->args, "size", &s);
	size = json_object_is_type(s, json_type_int) ? json_object_get_int64(s)
	       : qimg_parse_size(json_object_get_string(s));
	if (size < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "size: '%s' is not a size "
			   "(bytes, or a number with K, M, G or T)",
			   json_object_get_string(s));
		return -1;
	}
	if (size == 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "size: must be more than 0");
		return -1;
	}
	room = pool_free_bytes(pool);
	if (room >= 0 && size - have > room) {
		call_error(c, RPC_INVALID_ARGUMENT, "size: %" PRId64 " bytes is "
			   "more than pool '%s' has free (%" PRId64 " bytes)",
			   size, pool, room);
		return -1;
	}
	return size;
}

void cmd_volume_create(struct call *c)
{
	struct vop *op = vop_new(c, call_str(c, "name"), call_str(c, "pool"),
				 call_str(c, "format"));
	char size[32];

	if (!op)
		return;
	if ((op->v.size = size_arg(c, op->v.pool, 0)) < 0) {
		vop_free(op);
		return;
	}
	snprintf(size, sizeof size, "%" PRId64, op->v.size);
	char *argv[] = {(char *)job_qemu_img(), "create", "-q", "-f",
			op->v.format, op->tmp, size, NULL};
	vop_run(op, "create", argv, 0, vop_created);
}

static int add_to_list(void *ctx, const struct volume *v)
{
	json_object_array_add(ctx, vop_volume_json(v));
	return 0;
}

void cmd_volume_list(struct call *c)
{
	struct json_object *list = json_object_new_array();

	if (volume_foreach(vmd.store, add_to_list, list) != STORE_OK) {
		json_object_put(list);
		call_error(c, RPC_GENERIC_ERROR, "store: %s",
			   store_errmsg(vmd.store));
		return;
	}
	call_return(c, list);
}

static int add_name(void *ctx, const struct volume *v)
{
	json_object_array_add(ctx, json_object_new_string(v->name));
	return 0;
}

void cmd_volume_show(struct call *c)
{
	struct volume v;
	struct json_object *r, *vms = json_object_new_array();
	struct json_object *clones = json_object_new_array();
	struct stat st;
	bool running;

	if (vop_get(c, "volume", &v) < 0) {
		json_object_put(vms);
		json_object_put(clones);
		return;
	}
	r = vop_volume_json(&v);
	vm_volumes_users(v.name, vms, &running);
	volume_foreach_child(vmd.store, v.name, add_name, clones);
	json_object_object_add(r, "used_by", vms);
	json_object_object_add(r, "clones", clones);
	json_object_object_add(r, "allocated", json_object_new_int64(
		stat(json_object_get_string(json_object_object_get(r, "path")),
		     &st) == 0 ? (int64_t)st.st_blocks * 512 : 0));
	call_return(c, r);
}

const char *vop_joined(struct json_object *names, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < json_object_array_length(names) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
			i ? ", " : "", json_object_get_string(
				json_object_array_get_idx(names, i)));
	return buf;
}

/* Refuses (and replies) when VMs or other volumes use v. */
static int in_use(struct call *c, const struct volume *v)
{
	struct json_object *names = json_object_new_array();
	char list[1024];
	bool running;
	int rc = -1;

	if (vm_volumes_users(v->name, names, &running))
		call_error(c, running ? RPC_BUSY : RPC_INVALID_STATE, "volume '%s' "
			   "is a disk of VM%s %s%s; remove it from %s first",
			   v->name, json_object_array_length(names) > 1 ? "s" : "",
			   vop_joined(names, list, sizeof list),
			   running ? " (running)" : "",
			   json_object_array_length(names) > 1 ? "their definitions"
			   : "its definition");
	else if (volume_foreach_child(vmd.store, v->name, add_name, names) ==
		 STORE_OK && json_object_array_length(names))
		call_error(c, RPC_INVALID_STATE, "volume '%s' is the base of "
			   "linked clone%s %s; delete %s first", v->name,
			   json_object_array_length(names) > 1 ? "s" : "",
			   vop_joined(names, list, sizeof list),
			   json_object_array_length(names) > 1 ? "them" : "it");
	else if (job_busy(v->name))
		call_error(c, RPC_BUSY, "volume '%s': a job reads it; wait for it "
			   "or cancel it (job-list)", v->name);
	else
		rc = 0;
	json_object_put(names);
	return rc;
}

/* The row's removal is on disk: so may the file's be. */
static void deleted(void *ctx, struct json_object *ret,
		    const struct rpc_fault *err)
{
	struct vop *op = ctx;

	if (!err && unlink(op->tmp) < 0 && errno != ENOENT)
		log_warn("volume '%s': cannot remove %s: %s", op->v.name,
			 op->tmp, strerror(errno));
	call_synced(op->c, ret, err);
	free(op);
}

/* The file first goes to its temporary name, then the row, then (once the
 * store has synced) the file: a crash anywhere leaves either the volume
 * whole or nothing, as the next start's sweep puts a temporary file whose
 * row exists back in place and removes the others. */
void cmd_volume_delete(struct call *c)
{
	struct vop *op = vop_alloc(c);

	if (!op)
		return;
	if (vop_get(c, "volume", &op->v) < 0 || in_use(c, &op->v) < 0) {
		free(op);
		return;
	}
	if (volume_path(&op->v, op->path, sizeof op->path) == 0 &&
	    volume_tmp_path(&op->v, op->tmp, sizeof op->tmp) == 0 &&
	    rename(op->path, op->tmp) < 0 && errno != ENOENT) {
		call_error(c, RPC_GENERIC_ERROR, "volume '%s': cannot remove %s: "
			   "%s", op->v.name, op->path, strerror(errno));
		free(op);
		return;
	}
	if (volume_delete(vmd.store, op->v.name) != STORE_OK) {
		rename(op->tmp, op->path);
		call_error(c, RPC_GENERIC_ERROR, "store: %s",
			   store_errmsg(vmd.store));
		free(op);
		return;
	}
	store_event_add(vmd.store, NULL, op->v.name, "volume-delete", NULL, NULL,
			NULL, c->who);
	commit_reply(NULL, deleted, op);
}

/* The new size is in the file (or the guest's disk): record it.  A
 * job_done_cb, also told by block_resized (j NULL). */
static void resized(void *ctx, struct job *j, const struct rpc_fault *err)
{
	struct vop *op = ctx;

	(void)j;
	if (err) {
		call_fault(op->c, err);
		vop_free(op);
		return;
	}
	vop_reply(op, volume_set_size(vmd.store, op->v.name, op->v.size),
		  "volume-resize");
}

static void block_resized(void *ctx, struct json_object *ret, rpc_err err,
			  const char *desc)
{
	struct vop *op = ctx;
	struct rpc_fault f;

	(void)ret;
	if (err)
		rpc_fault_set(&f, err, "volume '%s': QEMU could not grow the "
			      "disk: %s", op->v.name, desc ? desc : "");
	resized(op, NULL, err ? &f : NULL);
}

/* A running guest's disk grows in its QEMU (block_resize on the drive),
 * which also grows the file. */
static bool resize_online(struct vop *op, bool shrink)
{
	size_t disk;
	bool writable;
	struct vm *vm = vm_volumes_live_user(op->v.name, &disk, &writable);
	char dev[32];

	if (!vm)
		return false;
	if (shrink || !writable || !vm->qmp) {
		call_error(op->c, RPC_BUSY, "volume '%s' is disk %zu of running VM "
			   "'%s'; %s", op->v.name, disk, vm->name, shrink ?
			   "a disk in use cannot shrink: stop the VM first" :
			   "it is read-only or not reachable there now");
		vop_free(op);
		return true;
	}
	snprintf(dev, sizeof dev, "disk%zu", disk);
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "device", json_object_new_string(dev));
	json_object_object_add(args, "size", json_object_new_int64(op->v.size));
	qmp_exec(vm->qmp, "block_resize", args, block_resized, op);
	return true;
}

static struct vop *resize_op(struct call *c)
{
	struct vop *op = vop_alloc(c);

	if (!op)
		return NULL;
	if (vop_get(c, "volume", &op->v) < 0) {
		free(op);
		return NULL;
	}
	if (op->v.readonly || volume_path(&op->v, op->path, sizeof op->path) < 0 ||
	    job_busy(op->v.name)) {
		call_error(c, op->v.readonly ? RPC_INVALID_STATE : RPC_BUSY,
			   "volume '%s' %s", op->v.name, op->v.readonly ?
			   "is a read-only base of linked clones; it cannot change" :
			   job_busy(op->v.name) ? "has a job running" :
			   "is in a pool vmd was not given");
		free(op);
		return NULL;
	}
	return op;
}

void cmd_volume_resize(struct call *c)
{
	struct vop *op = resize_op(c);
	bool shrink = call_bool(c, "shrink");
	int64_t size;
	char arg[32];

	if (!op || (size = size_arg(c, op->v.pool, op->v.size)) < 0) {
		if (op)
			vop_free(op);
		return;
	}
	if (size < op->v.size && !shrink) {
		call_error(c, RPC_INVALID_ARGUMENT, "size: %" PRId64 " bytes is "
			   "less than volume '%s' has (%" PRId64 "); shrinking loses "
			   "the data past the end: pass \"shrink\": true", size,
			   op->v.name, op->v.size);
		vop_free(op);
		return;
	}
	shrink = size < op->v.size;
	op->v.size = size;
	if (resize_online(op, shrink))
		return;
	snprintf(arg, sizeof arg, "%" PRId64, size);
	char *argv[] = {(char *)job_qemu_img(), "resize", "-q", "-f",
			op->v.format, shrink ? "--shrink" : op->path,
			shrink ? op->path : arg, shrink ? arg : NULL, NULL};
	vop_run(op, "resize", argv, 0, resized);
}
