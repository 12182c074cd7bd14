/* VM disks that name volumes.  vmd opens a volume's file itself (pools
 * are vmd's 0700 directories) and every base under a linked clone, each
 * read-only, and hands them to QEMU as descriptors with the chain spelled
 * out (emu/argv_disk.c): QEMU never opens the base by the name written
 * in the overlay. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vm_files.h"
#include "daemon/job.h"
#include "daemon/vm_volumes.h"
#include "daemon/vmd.h"
#include "daemon/volume.h"
#include "rpc/schema.h"

static struct json_object *disks_of(struct json_object *config)
{
	struct json_object *arr = NULL;

	json_object_object_get_ex(config, "disks", &arr);
	return json_object_is_type(arr, json_type_array) ? arr : NULL;
}

static const char *volume_of(struct json_object *disks, size_t i)
{
	return rpc_member_str(json_object_array_get_idx(disks, i), "volume");
}

int vm_volumes_check(struct json_object *config, struct rpc_fault *f)
{
	struct json_object *disks = disks_of(config);
	struct volume v;

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++) {
		const char *name = volume_of(disks, i);
		if (name && volume_get(vmd.store, name, &v) != STORE_OK) {
			rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "config.disks[%zu]."
				      "volume: no volume named '%s'", i, name);
			return -1;
		}
	}
	return 0;
}

/* Opens one volume's file into files (vol, keep): the descriptor or -1. */
static int open_file(const struct volume *v, bool write, struct vm_files *files,
		     size_t disk, struct rpc_fault *f)
{
	char path[4096];
	int fd;

	if (volume_path(v, path, sizeof path) < 0) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: volume '%s' is "
			      "in pool '%s', which vmd was not given (--pool)",
			      disk, v->name, v->pool);
		return -1;
	}
	fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: the file of "
			      "volume '%s' (%s) cannot be opened: %s", disk,
			      v->name, path, strerror(errno));
		return -1;
	}
	files->vol[files->nvol++] = fd;
	files->keep[files->nkeep++] = fd;
	return fd;
}

static const char *format_literal(const char *format)
{
	return !strcmp(format, "qcow2") ? "qcow2" : "raw";
}

/* The bases under v, nearest first, into ch. */
static int open_bases(const struct volume *top, struct emu_chain *ch,
		      struct vm_files *files, size_t disk, struct rpc_fault *f)
{
	struct volume v = *top;

	while (v.backing[0]) {
		char base[sizeof v.backing];
		snprintf(base, sizeof base, "%s", v.backing);
		if (ch->n == EMU_CHAIN_MAX) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "disks[%zu]: volume "
				      "'%s' has more than %d bases", disk,
				      top->name, EMU_CHAIN_MAX);
			return -1;
		}
		if (volume_get(vmd.store, base, &v) != STORE_OK) {
			rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: the "
				      "base '%s' of volume '%s' is gone", disk,
				      base, top->name);
			return -1;
		}
		ch->fmt[ch->n] = format_literal(v.format);
		if ((ch->fd[ch->n] = open_file(&v, false, files, disk, f)) < 0)
			return -1;
		ch->n++;
	}
	return 0;
}

static int open_disk(struct json_object *d, size_t i, struct vm_files *files,
		     struct rpc_fault *f)
{
	const char *name = rpc_member_str(d, "volume");
	bool write = !rpc_member_bool(d, "readonly");
	struct emu_chain *ch = &files->fds.chain[i];
	struct volume v;

	if (volume_get(vmd.store, name, &v) != STORE_OK) {
		rpc_fault_set(f, RPC_VOLUME_NOT_FOUND, "disks[%zu]: no volume "
			      "named '%s'", i, name);
		return -1;
	}
	/* a copy reading it would not be consistent; one being made has no
	 * file yet */
	if (job_busy(name)) {
		rpc_fault_set(f, RPC_BUSY, "disks[%zu]: volume '%s' has a job "
			      "running (job-list); start the VM when it ends",
			      i, name);
		return -1;
	}
	if (write && v.readonly) {
		rpc_fault_set(f, RPC_INVALID_STATE, "disks[%zu]: volume '%s' is a "
			      "read-only base; attach it with \"readonly\": true, "
			      "or use a linked clone of it", i, name);
		return -1;
	}
	memset(ch, 0, sizeof *ch);
	ch->format = format_literal(v.format);
	if ((files->fds.disk[i] = open_file(&v, write, files, i, f)) < 0)
		return -1;
	return open_bases(&v, ch, files, i, f);
}

int vm_volumes_open(struct json_object *config, struct vm_files *files,
		    struct rpc_fault *f)
{
	struct json_object *disks = disks_of(config);

	for (size_t i = 0; disks && i < json_object_array_length(disks) &&
			   i < VMD_DISK_MAX; i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		if (rpc_member_str(d, "volume") && open_disk(d, i, files, f) < 0)
			return -1;
	}
	return 0;
}

/* The index of volume among config's disks, or -1. */
static int disk_index(struct json_object *config, const char *volume)
{
	struct json_object *disks = disks_of(config);

	for (size_t i = 0; disks && i < json_object_array_length(disks); i++) {
		const char *name = volume_of(disks, i);
		if (name && !strcmp(name, volume))
			return (int)i;
	}
	return -1;
}

size_t vm_volumes_users(const char *volume, struct json_object *names,
			bool *running)
{
	size_t n, count = 0;
	struct vm **v = vm_sorted(&n);

	*running = false;
	for (size_t i = 0; v && i < n; i++) {
		bool live = vm_is_active(v[i]) &&
			    disk_index(vm_live_config(v[i]), volume) >= 0;
		if (!live && disk_index(v[i]->config, volume) < 0)
			continue;
		*running |= live;
		count++;
		json_object_array_add(names, json_object_new_string(v[i]->name));
	}
	free(v);
	return count;
}

struct vm *vm_volumes_live_user(const char *volume, size_t *disk,
				bool *writable)
{
	size_t n;
	struct vm **v = vm_sorted(&n), *found = NULL;

	for (size_t i = 0; v && i < n && !found; i++) {
		int k;
		if (!vm_is_active(v[i]) ||
		    (k = disk_index(vm_live_config(v[i]), volume)) < 0)
			continue;
		found = v[i];
		*disk = (size_t)k;
		*writable = !rpc_member_bool(json_object_array_get_idx(
			disks_of(vm_live_config(v[i])), (size_t)k), "readonly");
	}
	free(v);
	return found;
}
