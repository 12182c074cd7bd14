/* Which host files a configuration names, and how each is opened: disks
 * read-write unless "readonly", everything else read-only. */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include "daemon/seed.h"
#include "daemon/tap.h"
#include "daemon/vm.h"
#include "daemon/vm_files.h"
#include "daemon/vm_volumes.h"
#include "rpc/errors.h"
#include "rpc/schema.h"

/* The QEMU user may sit on a hung NFS mount: vmd does not wait forever. */
#define OPEN_TIMEOUT_MS 10000


static struct emu_file_req *want(struct vm_files *f, const char *what,
				 const char *path, enum emu_file_kind kind)
{
	struct emu_file_req *r = &f->req[f->n++];

	memset(r, 0, sizeof *r);
	r->what = what;
	r->path = path;
	r->kind = kind;
	return r;
}

/* The requests, in the order: disks, kernel, initrd, parallel ports. */
static void plan(struct vm *vm, struct vm_files *f)
{
	struct json_object *arr, *boot;
	const char *p;

	if (json_object_object_get_ex(vm->config, "disks", &arr))
		for (size_t i = 0; i < json_object_array_length(arr) &&
				   i < VMD_DISK_MAX; i++) {
			struct json_object *d = json_object_array_get_idx(arr, i);
			const char *fmt = rpc_member_str(d, "format");
			if (rpc_member_str(d, "volume"))
				continue;  /* vm_volumes_open's */
			f->req_disk[f->n] = (int)i;
			struct emu_file_req *r = want(f, "disk", rpc_member_str(d, "path"),
						      EMU_FILE_DISK);
			r->write = !rpc_member_bool(d, "readonly");
			r->qcow2 = fmt && !strcmp(fmt, "qcow2");
		}
	if (json_object_object_get_ex(vm->config, "boot", &boot)) {
		if ((p = rpc_member_str(boot, "kernel")))
			want(f, "kernel", p, EMU_FILE_REGULAR);
		if ((p = rpc_member_str(boot, "initrd")))
			want(f, "initrd", p, EMU_FILE_REGULAR);
	}
	if (json_object_object_get_ex(vm->config, "parallel", &arr))
		for (size_t i = 0; i < json_object_array_length(arr) &&
				   i < VMD_PARALLEL_MAX; i++) {
			p = rpc_member_str(json_object_array_get_idx(arr, i), "path");
			want(f, "parallel port", p, EMU_FILE_CHARDEV)->write = true;
		}
}

static void hand_out(struct vm_files *f)
{
	size_t k = f->nkeep, par = 0;

	for (size_t i = 0; i < f->n; i++) {
		struct emu_file_req *r = &f->req[i];
		if (!strcmp(r->what, "disk")) {
			f->fds.disk[f->req_disk[i]] = r->fd;
		} else if (!strcmp(r->what, "kernel")) {
			f->fds.kernel = r->fd;
		} else if (!strcmp(r->what, "initrd")) {
			f->fds.initrd = r->fd;
		} else {
			f->fds.parallel[par++] = r->fd;
		}
		f->keep[k++] = r->fd;
	}
	f->nkeep = k;
}

/* The bridged NICs' taps, last: nothing after them can fail. */
static int open_taps(struct vm *vm, struct vm_files *f, bool kvm,
		     struct rpc_fault *fault)
{
	if (tap_open_all(vm, vm->config, kvm, f->fds.tap, f->fds.vhost, fault) < 0)
		return -1;
	for (size_t i = 0; i < VMD_NIC_MAX; i++) {
		if (f->fds.tap[i] >= 0)
			f->keep[f->nkeep++] = f->fds.tap[i];
		if (f->fds.vhost[i] >= 0)
			f->keep[f->nkeep++] = f->fds.vhost[i];
	}
	return 0;
}

int vm_files_open(struct vm *vm, struct vm_files *f, bool kvm,
		  struct rpc_fault *fault)
{
	char err[1024];

	memset(f, 0, sizeof *f);
	memset(&f->fds, -1, sizeof f->fds);
	memset(f->fds.chain, 0, sizeof f->fds.chain);
	plan(vm, f);
	for (size_t i = 0; i < f->n; i++)
		if (!f->req[i].path) {
			rpc_fault_set(fault, RPC_INVALID_ARGUMENT, "VM '%s': a %s "
				      "has no path", vm->name, f->req[i].what);
			return -1;
		}
	if (emu_open_files(vm_qemu_user(), f->req, f->n, OPEN_TIMEOUT_MS, err,
			   sizeof err) < 0) {
		rpc_fault_set(fault, RPC_INVALID_ARGUMENT, "VM '%s': %s", vm->name,
			      err);
		return -1;
	}
	if (vm_volumes_open(vm->config, f, fault) < 0) {
		vm_files_close(f);
		return -1;
	}
	hand_out(f);
	if (seed_open(vm, &f->fds.seed, fault) < 0) {
		vm_files_close(f);
		return -1;
	}
	if (f->fds.seed >= 0)
		f->keep[f->nkeep++] = f->fds.seed;
	if (open_taps(vm, f, kvm, fault) < 0) {
		vm_files_close(f);
		return -1;
	}
	return 0;
}

void vm_files_close(struct vm_files *f)
{
	emu_close_files(f->req, f->n);
	if (f->fds.seed >= 0)
		close(f->fds.seed);
	f->fds.seed = -1;
	for (size_t i = 0; i < VMD_NIC_MAX; i++) {
		if (f->fds.tap[i] >= 0)
			close(f->fds.tap[i]);
		if (f->fds.vhost[i] >= 0)
			close(f->fds.vhost[i]);
		f->fds.tap[i] = f->fds.vhost[i] = -1;
	}
	for (size_t i = 0; i < f->nvol; i++)
		close(f->vol[i]);
	f->n = f->nkeep = f->nvol = 0;
}
