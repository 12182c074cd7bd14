/* Checks of a VM definition the schema cannot express, MAC addresses vmd
 * assigns, and the config a running VM was started with (see vm_config.h).
 *
 * vm-update replaces the definition at once but QEMU keeps running with
 * what it was started with: consoles, ports and the monitor must go on
 * following that, or a running guest's consoles vanish with an update.
 * The running config is written to the VM's run directory at start (where
 * the sockets are, and gone with them at reboot), so that a vmd started
 * later re-adopts the QEMU with the config it really runs. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/cloud_init.h"
#include "daemon/log.h"
#include "daemon/mac.h"
#include "daemon/store.h"
#include "daemon/schema_doc.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "emu/argv.h"
#include "rpc/schema.h"

/* --- CPUs per machine type ---------------------------------------------- */

/* From QEMU 7.2's query-machines (cpu-max) and its sources.  aarch64 virt:
 * 512 in principle, but without a gic-version QEMU 7.2 gives a TCG guest
 * GICv2, which has 8 CPU interfaces. */
static const struct {
	const char *arch, *machine; /* arch "x86": x86_64 and i386 */
	bool prefix;                /* machine is a prefix (versioned types) */
	int max;
} cpu_limits[] = {
	{"x86", "pc", false, 255},
	{"x86", "pc-i440fx-", true, 255},
	{"x86", "q35", false, 288},
	{"x86", "pc-q35-2.4", false, 255},
	{"x86", "pc-q35-2.5", false, 255},
	{"x86", "pc-q35-2.6", false, 255},
	{"x86", "pc-q35-2.7", false, 255},
	{"x86", "pc-q35-", true, 288},
	{"x86", "microvm", false, 288},
	{"x86", "isapc", false, 1},
	{"aarch64", "virt", false, 8},
	{"aarch64", "virt-", true, 8},
	{"riscv64", "virt", false, 512},
	{"s390x", "s390-ccw-virtio", true, 248},
};

static bool is_x86(const char *arch)
{
	return !strcmp(arch, "x86_64") || !strcmp(arch, "i386");
}

int vm_cpus_max(const char *arch, const char *machine)
{
	const char *family = is_x86(arch) ? "x86" : arch;

	machine = emu_machine(arch, machine);
	for (size_t i = 0; i < sizeof cpu_limits / sizeof cpu_limits[0]; i++) {
		const char *m = cpu_limits[i].machine;
		if (strcmp(cpu_limits[i].arch, family))
			continue;
		if (cpu_limits[i].prefix ? !strncmp(machine, m, strlen(m)) :
					   !strcmp(machine, m))
			return cpu_limits[i].max;
	}
	return 0;
}

static int check_cpus(struct rpc_fault *f, struct json_object *config)
{
	const char *arch = rpc_member_str(config, "arch");
	const char *machine = emu_machine(arch, rpc_member_str(config, "machine"));
	int cpus = (int)rpc_member_int(config, "cpus"), max = vm_cpus_max(arch, machine);
	if (max && cpus > max) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.cpus: %d, but "
			      "machine '%s' (%s) allows at most %d CPUs", cpus,
			      machine, arch, max);
		return -1;
	}
	return 0;
}

/* --- MAC addresses ------------------------------------------------------- */

static struct json_object *nics_of(struct json_object *config)
{
	struct json_object *nics;

	return config && json_object_object_get_ex(config, "nics", &nics) &&
	       json_object_is_type(nics, json_type_array) ? nics : NULL;
}

static size_t nic_count(struct json_object *config)
{
	struct json_object *nics = nics_of(config);

	return nics ? json_object_array_length(nics) : 0;
}

static const char *nic_mac(struct json_object *config, size_t i)
{
	struct json_object *nics = nics_of(config);

	return nics ? rpc_member_str(json_object_array_get_idx(nics, i), "mac") : NULL;
}

/* The NIC of config that has mac, -1 if none. */
static long nic_with(struct json_object *config, uint64_t mac, size_t below)
{
	uint64_t m;

	for (size_t i = 0; i < nic_count(config) && i < below; i++) {
		const char *s = nic_mac(config, i);
		if (s && mac_parse(s, &m) == 0 && m == mac)
			return (long)i;
	}
	return -1;
}

/* Another VM's NIC has mac: say which (in f unless NULL). */
static bool taken(struct rpc_fault *f, const struct vm *self, uint64_t mac,
		  size_t i, const char *text)
{
	const struct vm *other = mac_index_find(mac);

	if (!other || other == self)
		return false;
	if (f)
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.nics[%zu].mac: %s "
			      "is already the MAC of nics[%ld] of VM '%s'", i,
			      text, nic_with(other->config, mac, SIZE_MAX),
			      other->name);
	return true;
}

static int check_given_macs(struct rpc_fault *f, const struct vm *self,
			    struct json_object *config)
{
	uint64_t mac;
	const char *why;

	for (size_t i = 0; i < nic_count(config); i++) {
		const char *s = nic_mac(config, i);
		if (!s)
			continue;
		why = mac_parse(s, &mac) < 0 ? "not six hex octets" : mac_problem(mac);
		if (why) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.nics[%zu]."
				      "mac: %s: %s", i, s, why);
			return -1;
		}
		long j = nic_with(config, mac, i);
		if (j >= 0) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.nics[%zu]."
				      "mac: %s is also the MAC of nics[%ld]", i, s, j);
			return -1;
		}
		if (taken(f, self, mac, i, s))
			return -1;
	}
	return 0;
}

/* A free MAC for NIC i: the one the same NIC has now, else a derived one
 * no NIC of this config or of another VM has. */
static int pick_mac(const struct vm *self, const char *uuid,
		    struct json_object *config, size_t i, uint64_t *out)
{
	const char *old = self ? nic_mac(self->config, i) : NULL;
	uint64_t mac;

	if (old && mac_parse(old, &mac) == 0 && !mac_problem(mac) &&
	    nic_with(config, mac, SIZE_MAX) < 0 && !taken(NULL, self, mac, i, old)) {
		*out = mac;
		return 0;
	}
	for (unsigned attempt = 0; attempt < 1000; attempt++) {
		mac = mac_derive(uuid, (unsigned)i, attempt);
		if (nic_with(config, mac, SIZE_MAX) < 0 && !taken(NULL, self, mac, i, NULL)) {
			*out = mac;
			return 0;
		}
	}
	return -1;
}

static int fill_macs(struct rpc_fault *f, const struct vm *self, const char *uuid,
		     struct json_object *config)
{
	char text[MAC_TEXT];
	uint64_t mac;

	for (size_t i = 0; i < nic_count(config); i++) {
		if (nic_mac(config, i))
			continue;
		if (pick_mac(self, uuid, config, i, &mac) < 0) {
			rpc_fault_set(f, RPC_GENERIC_ERROR, "config.nics[%zu]: no "
				      "free MAC address found; give one", i);
			return -1;
		}
		mac_format(mac, text);
		json_object_object_add(json_object_array_get_idx(nics_of(config), i),
				       "mac", json_object_new_string(text));
	}
	return 0;
}

int vm_config_check(struct vm *self, const char *uuid,
		    struct json_object *config, struct rpc_fault *f)
{
	if (check_cpus(f, config) < 0 || check_given_macs(f, self, config) < 0 ||
	    cloud_init_check(config, self ? self->config : NULL, f) < 0)
		return -1;
	return fill_macs(f, self, uuid, config);
}

static int check_disk(struct json_object *disk, size_t i, struct rpc_fault *f)
{
	const char *p = rpc_member_str(disk, "path"), *bus = rpc_member_str(disk, "bus");
	const char *why = p ? vm_file_problem(p, true) : NULL;  /* else a volume */

	if (why) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.disks[%zu].path: "
			      "%s: %s", i, p, why);
		return -1;
	}
	/* QEMU refuses read-only IDE drives ("Block node is read-only") */
	if (!strcmp(bus, "ide") && rpc_member_bool(disk, "readonly")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.disks[%zu]: an IDE "
			      "disk cannot be read-only; use bus \"virtio\"", i);
		return -1;
	}
	return 0;
}

int vm_config_check_files(struct json_object *config, struct rpc_fault *f)
{
	struct json_object *disks, *boot;
	const char *p;

	if (json_object_object_get_ex(config, "disks", &disks))
		for (size_t i = 0; i < json_object_array_length(disks); i++)
			if (check_disk(json_object_array_get_idx(disks, i), i, f) < 0)
				return -1;
	if (!json_object_object_get_ex(config, "boot", &boot))
		return 0;
	if (rpc_member_str(boot, "initrd") && !rpc_member_str(boot, "kernel")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.boot: initrd needs "
			      "a kernel");
		return -1;
	}
	static const char *const files[] = {"kernel", "initrd"};
	for (size_t i = 0; i < 2; i++)
		if ((p = rpc_member_str(boot, files[i])) && vm_file_problem(p, false)) {
			rpc_fault_set(f, RPC_INVALID_ARGUMENT, "config.boot.%s: "
				      "%s: %s", files[i], p, vm_file_problem(p, false));
			return -1;
		}
	return 0;
}

void vm_config_index(struct vm *vm)
{
	uint64_t mac;

	for (size_t i = 0; i < nic_count(vm->config); i++) {
		const char *s = nic_mac(vm->config, i);
		if (s && mac_parse(s, &mac) == 0 && mac_index_add(mac, vm) < 0)
			log_vm(LOG_ERR, vm->name, vm->uuid, "out of memory for "
			       "the MAC index");
	}
}

void vm_config_unindex(struct vm *vm)
{
	uint64_t mac;

	for (size_t i = 0; i < nic_count(vm->config); i++) {
		const char *s = nic_mac(vm->config, i);
		if (s && mac_parse(s, &mac) == 0)
			mac_index_del(mac, vm);
	}
}

void vm_config_fill_macs(struct vm *vm)
{
	size_t i, n = nic_count(vm->config);

	for (i = 0; i < n && nic_mac(vm->config, i); i++)
		;
	if (i == n)
		return;
	/* a QEMU it runs now has QEMU's own MACs: that is what it runs with */
	if (vm_is_active(vm) && !vm->run_config)
		json_object_deep_copy(vm->config, &vm->run_config, NULL);
	vm_config_unindex(vm);
	struct rpc_fault f;
	if (fill_macs(&f, vm, vm->uuid, vm->config) < 0)
		log_vm(LOG_ERR, vm->name, vm->uuid, "%s", f.msg);
	else if (store_vm_update(vmd.store, vm->uuid, NULL,
				 json_object_to_json_string(vm->config)) != STORE_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "cannot store the MACs "
		       "given to its NICs: %s", store_errmsg(vmd.store));
	vm_config_index(vm);
}

/* --- the running config ------------------------------------------------- */

struct json_object *vm_live_config(const struct vm *vm)
{
	return vm->run_config && vm_is_active(vm) ? vm->run_config : vm->config;
}

static void run_config_path(const struct vm *vm, char *buf, size_t cap)
{
	vm_run_path(buf, cap, vm->run_dir, VM_RUN_CONFIG);
}

int vm_run_config_save(struct vm *vm, struct rpc_fault *f)
{
	char path[4096], tmp[4200];
	size_t len;
	const char *text = json_object_to_json_string_length(
		vm->config, JSON_C_TO_STRING_PLAIN, &len);

	run_config_path(vm, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok || rename(tmp, path) < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': cannot write %s: %s",
			      vm->name, path, strerror(errno ? errno : EIO));
		unlink(tmp);
		return -1;
	}
	vm_run_config_drop(vm);
	vm->run_config = json_object_get(vm->config);
	return 0;
}

void vm_run_config_load(struct vm *vm)
{
	char path[4096];
	struct json_object *o;

	run_config_path(vm, path, sizeof path);
	if (!(o = json_object_from_file(path))) {
		/* started by a vmd that did not keep it: the best guess */
		if (!vm->run_config)
			vm->run_config = json_object_get(vm->config);
		log_vm(LOG_WARNING, vm->name, vm->uuid, "%s: cannot read the "
		       "config QEMU was started with; taking the definition",
		       path);
		return;
	}
	/* kept by an older vmd, without defaults: fill them in, or every one
	 * would count as a pending change */
	if (schema_doc_fill_config(vmd.vm_schema, o) < 0)
		log_vm(LOG_ERR, vm->name, vm->uuid, "out of memory filling in "
		       "the defaults of its running config");
	vm_run_config_drop(vm);
	vm->run_config = o;
}

void vm_run_config_drop(struct vm *vm)
{
	json_object_put(vm->run_config);
	vm->run_config = NULL;
}

static void add_if_changed(struct json_object *list, const char *key,
			   struct json_object *a, struct json_object *b)
{
	struct json_object *va = NULL, *vb = NULL;

	if (vm_config_applies_at_once(key))
		return;
	json_object_object_get_ex(a, key, &va);
	json_object_object_get_ex(b, key, &vb);
	if (json_object_equal(va, vb))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)),
			    key))
			return;
	json_object_array_add(list, json_object_new_string(key));
}

static int by_text(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
		      json_object_get_string(*(struct json_object *const *)b));
}

struct json_object *vm_pending_changes(const struct vm *vm)
{
	struct json_object *list;

	if (!vm_is_active(vm) || !vm->run_config || vm->run_config == vm->config)
		return NULL;
	list = json_object_new_array();
	json_object_object_foreach(vm->config, k1, v1) {
		(void)v1;
		add_if_changed(list, k1, vm->config, vm->run_config);
	}
	json_object_object_foreach(vm->run_config, k2, v2) {
		(void)v2;
		add_if_changed(list, k2, vm->config, vm->run_config);
	}
	if (json_object_array_length(list) == 0) {
		json_object_put(list);
		return NULL;
	}
	json_object_array_sort(list, by_text);
	return list;
}
