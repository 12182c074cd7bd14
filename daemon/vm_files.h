/* The host files of a VM's configuration (disks, kernel, initrd, parallel
 * devices), opened for one start with the rights of the user QEMU runs as
 * (see emu/hostfile.h) and passed to QEMU as descriptors; and its
 * cloud-init seed, which vmd builds and opens itself (seed.h). */
#ifndef VMD_DAEMON_VM_FILES_H
#define VMD_DAEMON_VM_FILES_H

#include "emu/argv.h"
#include "emu/hostfile.h"
#include "rpc/errors.h"

struct vm;

/* + kernel, initrd; the cloud-init seed is not a request */
#define VM_FILES_MAX (VMD_DISK_MAX + 2 + VMD_PARALLEL_MAX)

/* + a volume disk's file and its bases, opened by vmd itself */
#define VM_FILES_VOL_MAX (VMD_DISK_MAX * (1 + EMU_CHAIN_MAX))

/* every descriptor QEMU keeps of these: + the seed, taps and vhost-nets */
#define VM_FILES_KEEP_MAX (VM_FILES_MAX + VM_FILES_VOL_MAX + 1 + 2 * VMD_NIC_MAX)

struct vm_files {
	struct emu_file_req req[VM_FILES_MAX];
	int req_disk[VM_FILES_MAX]; /* a disk request's index in disks */
	size_t n;
	int vol[VM_FILES_VOL_MAX];  /* volume files' descriptors */
	size_t nvol;
	struct emu_fds fds;     /* for emu_build_argv */
	int keep[VM_FILES_KEEP_MAX]; /* for emu_spawn */
	size_t nkeep;
};

/* 0, or -1 with an InvalidArgument error in fault naming the file, the
 * user and the reason.  Bridged NICs' taps too (tap.h; kvm: whether QEMU
 * will run under KVM, which vhost-net needs). */
int vm_files_open(struct vm *vm, struct vm_files *f, bool kvm,
		  struct rpc_fault *fault);
void vm_files_close(struct vm_files *f);

#endif
