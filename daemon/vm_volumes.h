/* VM disks that name a volume ({"volume": "web1-root"}): checked at
 * define, opened by vmd at start (the volume's file and every base under
 * it, each its own descriptor: emu_chain), and the VMs that use a volume,
 * for refusals and online resize. */
#ifndef VMD_DAEMON_VM_VOLUMES_H
#define VMD_DAEMON_VM_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

struct vm;
struct vm_files;

/* Every volume config's disks name exists: 0, or -1 with VolumeNotFound
 * naming the disk. */
int vm_volumes_check(struct json_object *config, struct rpc_fault *f);
/* Opens the volume disks of the config QEMU starts with into f (fds.disk,
 * fds.chain, keep).  0, or -1 with f naming the volume and the file. */
int vm_volumes_open(struct json_object *config, struct vm_files *files,
		    struct rpc_fault *f);
/* The VMs whose definition, or running QEMU, has volume as a disk: their
 * names appended to the array names, the count returned; *running set
 * when one of them runs (has a QEMU). */
size_t vm_volumes_users(const char *volume, struct json_object *names,
			bool *running);
/* A VM whose QEMU has volume as disk *disk, writable or not, or NULL. */
struct vm *vm_volumes_live_user(const char *volume, size_t *disk,
				bool *writable);

#endif
