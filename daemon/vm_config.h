/* What a VM definition must satisfy beyond its schema (CPUs per machine
 * type, unique MAC addresses, assigned where left out), and the two
 * configs of a running VM: the one its QEMU was started with and the
 * definition, which vm-update changes and which applies at the next start
 * (except the members that apply at once, VM_CONFIG_AT_ONCE). */
#ifndef VMD_DAEMON_VM_CONFIG_H
#define VMD_DAEMON_VM_CONFIG_H

#include <stdbool.h>
#include <string.h>
#include <json-c/json.h>
#include "rpc/errors.h"

struct vm;

/* The most vCPUs QEMU's machine type allows for arch (machine NULL: the
 * default one), 0 when vmd does not know that machine. */
int vm_cpus_max(const char *arch, const char *machine);

/* Check config (of a new VM when self is NULL) and fill in a MAC for each
 * NIC without one: the one the NIC at the same place in self's definition
 * has, else one derived from uuid.  -1 with the error in f when the
 * config cannot be used. */
int vm_config_check(struct vm *self, const char *uuid,
		    struct json_object *config, struct rpc_fault *f);

/* Checks of the files config names (its disks, kernel and initrd must be
 * there for QEMU) and of members that only make sense together; -1 with f
 * set (InvalidArgument, naming the member as "config.MEMBER").  The
 * volumes its disks name are vm_volumes_check's (spec-apply may make
 * them). */
int vm_config_check_files(struct json_object *config, struct rpc_fault *f);

/* Members whose change vmd applies at once, running or not (vm-update's
 * description lists them); a change of any other waits for the next
 * start.  Inline: spec.c's unit test links no registry. */
static inline bool vm_config_applies_at_once(const char *key)
{
	static const char *const at_once[] = {
		"name", "uuid", "labels", "autostart", "restart_policy",
		"restart_max", "restart_window_s", NULL,
	};

	for (size_t i = 0; at_once[i]; i++)
		if (!strcmp(at_once[i], key))
			return true;
	return false;
}

/* Keep the host-wide MAC index in step with vm->config. */
void vm_config_index(struct vm *vm);
void vm_config_unindex(struct vm *vm);
/* Definitions stored by an older vmd: give their NICs MACs, store them. */
void vm_config_fill_macs(struct vm *vm);

/* The config the VM's QEMU runs with while one exists, else the
 * definition: everything about the running QEMU (ports, consoles) reads
 * this one. */
struct json_object *vm_live_config(const struct vm *vm);
/* At start: the definition becomes the running config, kept in the run
 * directory so that a later vmd that re-adopts the QEMU knows it.  -1 with
 * the error in f when it cannot be written. */
int vm_run_config_save(struct vm *vm, struct rpc_fault *f);
/* After vmd restarted: read it back (the definition when it is missing). */
void vm_run_config_load(struct vm *vm);
void vm_run_config_drop(struct vm *vm);
/* The top-level members in which a running VM's definition differs from
 * what it runs with (those that apply at once left out); NULL when none
 * or the VM does not run. */
struct json_object *vm_pending_changes(const struct vm *vm);

#endif
