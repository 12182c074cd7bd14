/* Handlers that copy data into a new volume: volume-import (a host file)
 * and volume-clone (linked: a qcow2 overlay on the source, which becomes
 * a read-only base; full: a copy), and the jobs: job-list, job-cancel.
 * Copies are `qemu-img convert -p` jobs whose progress goes out as
 * VOLUME_PROGRESS events; the reply comes when the copy ends. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/cmd_volume.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_volumes.h"
#include "daemon/vmd.h"
#include "emu/argv.h"
#include "emu/hostfile.h"

/* The host file's virtual size: a qcow2 header's, else its length. */
static int64_t source_size(int fd)
{
	unsigned char h[32];
	int64_t n = 0;

	if (pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h &&
	    h[0] == 'Q' && h[1] == 'F' && h[2] == 'I' && h[3] == 0xfb) {
		for (int i = 24; i < 32; i++)
			n = n << 8 | h[i];
		return n;
	}
	n = lseek(fd, 0, SEEK_END);
	return n < 0 ? 0 : n;
}

/* The caller names the host file; it is opened as the QEMU user (as a
 * disk of a VM would be), so an admin reaches only what that user may
 * read, and qemu-img reads it through the descriptor (/dev/fd/N).  A
 * qcow2 source that names a backing file is refused: qemu-img would open
 * that by name, as root. */
static int open_source(struct vop *op, const char *file, const char *fmt)
{
	struct emu_file_req r = {.what = "file", .path = file,
				 .kind = EMU_FILE_DISK,
				 .qcow2 = !strcmp(fmt, "qcow2")};
	char err[1024];

	if (emu_open_files(vm_qemu_user(), &r, 1, 10000, err, sizeof err) < 0) {
		call_error(op->c, RPC_INVALID_ARGUMENT, "%s", err);
		return -1;
	}
	op->src_fd = r.fd;
	snprintf(op->src, sizeof op->src, "/dev/fd/%d", r.fd);
	return 0;
}

void cmd_volume_import(struct call *c)
{
	const char *src_fmt = call_str(c, "source_format");
	struct vop *op = vop_new(c, call_str(c, "name"), call_str(c, "pool"),
				 call_str(c, "format"));

	if (!op)
		return;
	if (open_source(op, call_str(c, "file"), src_fmt) < 0) {
		vop_free(op);
		return;
	}
	op->v.size = source_size(op->src_fd);
	char *argv[] = {(char *)job_qemu_img(), "convert", "-p", "-f",
			(char *)src_fmt, "-O", op->v.format, op->src, op->tmp,
			NULL};
	vop_run(op, "import", argv, op->v.size, vop_created);
}

/* A full copy needs a point where the source does not change: refused
 * while a running guest may write it. */
static int source_still(struct call *c, const struct volume *src)
{
	size_t disk;
	bool writable;
	struct vm *vm = vm_volumes_live_user(src->name, &disk, &writable);

	if (vm && writable) {
		call_error(c, RPC_BUSY, "source: volume '%s' is disk %zu of running "
			   "VM '%s', which writes it; stop the VM for a consistent "
			   "copy", src->name, disk, vm->name);
		return -1;
	}
	return 0;
}

static void full_clone(struct vop *op)
{
	char *argv[] = {(char *)job_qemu_img(), "convert", "-p", "-f",
			op->base.format, "-O", op->v.format, op->src, op->tmp,
			NULL};
	vop_run(op, "clone", argv, op->v.size, vop_created);
}

/* The overlay is made; its base may never change again (its clones would
 * read garbage): it becomes a read-only base, file mode 0444. */
static void linked(void *ctx, struct job *j, const struct rpc_fault *err)
{
	struct vop *op = ctx;

	if (!err && !op->base.readonly &&
	    (volume_set_readonly(vmd.store, op->base.name, true) != STORE_OK ||
	     chmod(op->src, 0444) < 0))
		log_msg(LOG_WARNING, "volume %s: cannot make it read-only: %s",
			op->base.name, store_errmsg(vmd.store));
	vop_created(op, j, err);
}

static void linked_clone(struct vop *op)
{
	snprintf(op->v.backing, sizeof op->v.backing, "%s", op->base.name);
	char *argv[] = {(char *)job_qemu_img(), "create", "-q", "-f", "qcow2",
			"-F", op->base.format, "-b", op->src, op->tmp, NULL};
	vop_run(op, "clone", argv, 0, linked);
}

void cmd_volume_clone(struct call *c)
{
	struct volume src;
	const char *pool = call_str(c, "pool"), *format = call_str(c, "format");
	bool full = !strcmp(call_str(c, "mode"), "full");
	struct vop *op;

	if (vop_get(c, "source", &src) < 0 || (full && source_still(c, &src) < 0))
		return;
	if (!full && format && strcmp(format, "qcow2")) {
		call_error(c, RPC_INVALID_ARGUMENT, "format: a linked clone is a "
			   "qcow2 overlay; %s is for full clones", format);
		return;
	}
	if (!full && src.pool[0] && pool && strcmp(pool, src.pool)) {
		call_error(c, RPC_INVALID_ARGUMENT, "pool: a linked clone lives in "
			   "its base's pool, '%s'", src.pool);
		return;
	}
	/* QEMU is given each base as an fd set: at most EMU_CHAIN_MAX */
	if (!full && volume_bases(vmd.store, &src, EMU_CHAIN_MAX) >=
		     EMU_CHAIN_MAX) {
		call_error(c, RPC_INVALID_ARGUMENT, "source: volume '%s' stands on "
			   "%d bases already, the most a disk may have; make a "
			   "full clone of it", src.name, EMU_CHAIN_MAX);
		return;
	}
	format = format ? format : full ? src.format : "qcow2";
	if (!(op = vop_new(c, call_str(c, "name"), pool ? pool : src.pool, format)))
		return;
	op->base = src;
	op->v.size = src.size;
	if (volume_path(&src, op->src, sizeof op->src) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "source: volume '%s' is in pool "
			   "'%s', which vmd was not given", src.name, src.pool);
		vop_free(op);
		return;
	}
	if (full)
		full_clone(op);
	else
		linked_clone(op);
}

void cmd_job_list(struct call *c)
{
	call_return(c, job_list());
}

void cmd_job_cancel(struct call *c)
{
	struct rpc_fault f;

	if (job_cancel((unsigned)call_int(c, "job"), &f) < 0)
		call_fault(c, &f);
	else
		call_return(c, NULL);
}
