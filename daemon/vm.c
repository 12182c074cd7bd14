/* The registry of VMs and their state machine.  The store is the truth on
 * disk; this is the daemon's view in memory, so that vm-list over thousands
 * of VMs never touches SQLite.  A transition is written to the store, then
 * announced as a VM_STATE event, never the other way round. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-id128.h>
#include "daemon/schema_doc.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vm_index.h"
#include "daemon/mac.h"
#include "daemon/meter.h"
#include "daemon/plan.h"
#include "daemon/quota.h"
#include "daemon/log.h"
#include "daemon/conn.h"
#include "daemon/store.h"
#include "daemon/vmd.h"
#include "daemon/vm_paths.h"
#include "rpc/message.h"
#include "rpc/schema.h"

static struct vm *vms;

static const char *const state_names[] = {
	[VM_STOPPED] = "stopped", [VM_STARTING] = "starting",
	[VM_RUNNING] = "running", [VM_PAUSED] = "paused",
	[VM_STOPPING] = "stopping", [VM_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s)
{
	return state_names[s];
}

static enum vm_state state_from_name(const char *s)
{
	for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
		if (!strcmp(state_names[i], s))
			return (enum vm_state)i;
	return VM_STOPPED;
}

bool vm_is_active(const struct vm *vm)
{
	return vm->pid > 0;
}

struct vm *vm_find(const char *key)
{
	return vm_index_find(key);
}

struct vm *vm_find_pid(pid_t pid)
{
	for (struct vm *vm = vms; vm; vm = vm->next)
		if (vm->pid == pid)
			return vm;
	return NULL;
}

struct vm *vm_add(const char *uuid, const char *name, struct json_object *config,
		  time_t created, time_t updated)
{
	struct vm *vm = calloc(1, sizeof *vm);

	if (!vm || !(vm->name = strdup(name))) {
		free(vm);
		return NULL;
	}
	snprintf(vm->uuid, sizeof vm->uuid, "%s", uuid);
	if (vm_index_add(vm) < 0) {
		free(vm->name);
		free(vm);
		return NULL;
	}
	vm->config = config;
	vm_config_index(vm);
	vm->lock_fd = -1;
	vm->created = created;
	vm->updated = updated;
	vm->next = vms;
	vms = vm;
	plan_note(vm);   /* a no-op until plan_init(): then for every VM */
	return vm;
}

void vm_new_uuid(char out[37])
{
	sd_id128_t id;

	if (sd_id128_randomize(&id) < 0)
		memset(&id, 0, sizeof id);
	/* RFC 4122 version 4 layout */
	snprintf(out, 37, SD_ID128_UUID_FORMAT_STR, SD_ID128_FORMAT_VAL(id));
}

int vm_undefinable(const struct vm *vm, struct rpc_fault *f)
{
	char holder[32];
	int lock;

	if (vm->state != VM_STOPPED && vm->state != VM_CRASHED) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' is %s; stop it first",
			      vm->name, vm_state_name(vm->state));
		return -1;
	}
	if (vm_is_active(vm)) {  /* a start that failed, its QEMU not reaped */
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s': its QEMU (pid %d) "
			      "is still ending", vm->name, (int)vm->pid);
		return -1;
	}
	/* its run directory belongs to a QEMU vmd lost track of */
	lock = vm_lock_run_dir(vm, holder, sizeof holder);
	if (lock < 0 && errno == EWOULDBLOCK) {
		rpc_fault_set(f, RPC_INVALID_STATE, "VM '%s' still has a QEMU (pid "
			      "%s) though vmd does not run it; end that process "
			      "first", vm->name, holder);
		return -1;
	}
	if (lock >= 0)
		close(lock);
	return 0;
}

void vm_changed(struct vm *vm)
{
	free(vm->summary);
	vm->summary = NULL;
	vm->summary_len = 0;
}

static void vm_free(struct vm *vm)
{
	if (vm->start_timer)
		event_free(vm->start_timer);
	if (vm->stop_timer)
		event_free(vm->stop_timer);
	if (vm->restart_timer)
		event_free(vm->restart_timer);
	vm_changed(vm);
	meter_forget(vm);
	quota_forget(vm);
	vm_config_unindex(vm);
	vm_run_config_drop(vm);
	json_object_put(vm->config);
	free(vm->name);
	free(vm->run_dir);
	if (vm->lock_fd >= 0)
		close(vm->lock_fd);
	free(vm);
}

int vm_rename(struct vm *vm, const char *name)
{
	char *copy = strdup(name);

	if (!copy)
		return -1;
	vm_index_del(vm);
	free(vm->name);
	vm->name = copy;
	vm_changed(vm);
	return vm_index_add(vm);
}

void vm_set_config(struct vm *vm, struct json_object *config)
{
	vm_config_unindex(vm);
	json_object_put(vm->config);
	vm->config = config;
	vm_config_index(vm);
	vm_changed(vm);
	plan_note(vm);
}

void vm_remove(struct vm *vm)
{
	vm_index_del(vm);
	for (struct vm **p = &vms; *p; p = &(*p)->next)
		if (*p == vm) {
			*p = vm->next;
			break;
		}
	vm_free(vm);
}

size_t vm_count(size_t *running)
{
	size_t n = 0, r = 0;

	for (struct vm *vm = vms; vm; vm = vm->next, n++)
		r += vm_is_active(vm);
	if (running)
		*running = r;
	return n;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct vm *const *)a)->name, (*(struct vm *const *)b)->name);
}

struct vm **vm_sorted(size_t *n)
{
	size_t count = vm_count(NULL), i = 0;
	struct vm **v = malloc((count ? count : 1) * sizeof *v);

	if (!v)
		return NULL;
	for (struct vm *vm = vms; vm; vm = vm->next)
		v[i++] = vm;
	qsort(v, count, sizeof *v, by_name);
	*n = count;
	return v;
}

static int load_one(void *ctx, const struct store_vm *row)
{
	struct json_object *config = json_tokener_parse(row->config);
	struct vm *vm;

	if (!config) {
		log_err("stored config of %s does not parse; skipped", row->name);
		return 0;
	}
	/* one stored by an older vmd lacks the defaults */
	if (schema_doc_fill_config(vmd.vm_schema, config) < 0) {
		json_object_put(config);
		return -1;
	}
	vm = vm_add(row->uuid, row->name, config, row->created, row->updated);
	if (!vm)
		return -1;
	vm->state = state_from_name(row->state);
	vm->pid = row->pid;
	vm->starttime = row->starttime;
	return 0;
}

int vm_load_all(void)
{
	int rc = store_vm_foreach(vmd.store, load_one, NULL);

	if (rc < 0)
		return rc;
	/* once all are known, so that no MAC given is another VM's */
	for (struct vm *vm = vms; vm; vm = vm->next)
		vm_config_fill_macs(vm);
	return 0;
}

void vm_free_all(void)
{
	vm_index_clear();
	while (vms) {
		struct vm *vm = vms;
		vms = vm->next;
		vm_free(vm);
	}
	mac_index_clear();
}

/* The runtime row is what a restarted vmd trusts; the audit row only
 * tells the story, so failing to add it is logged, not fatal. */
static int record(struct vm *vm, enum vm_state old, enum vm_state s,
		  const char *reason, const char *who)
{
	if (store_runtime_set(vmd.store, vm->uuid, vm_state_name(s), vm->pid,
			      vm->starttime, NULL) != STORE_OK) {
		log_vm(LOG_ERR, vm->name, vm->uuid, "cannot record state %s: %s",
		       vm_state_name(s), store_errmsg(vmd.store));
		return -1;
	}
	if (store_event_add(vmd.store, vm->uuid, vm->name, "state",
			    vm_state_name(old), vm_state_name(s), reason,
			    who ? who : "vmd") != STORE_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "cannot add to the audit "
		       "log: %s", store_errmsg(vmd.store));
	return 0;
}

static void announce(struct vm *vm, enum vm_state old, const char *reason)
{
	struct json_object *data;
	enum vm_state s = vm->state;

	log_vm(LOG_INFO, vm->name, vm->uuid, "%s -> %s (%s)", vm_state_name(old),
	       vm_state_name(s), reason);
	data = json_object_new_object();
	json_object_object_add(data, "vm", json_object_new_string(vm->name));
	json_object_object_add(data, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(data, "old", json_object_new_string(vm_state_name(old)));
	json_object_object_add(data, "new", json_object_new_string(vm_state_name(s)));
	json_object_object_add(data, "reason", json_object_new_string(reason));
	server_broadcast(rpc_event_new("VM_STATE", data));
}

int vm_set_state(struct vm *vm, enum vm_state s, const char *reason,
		 const char *who)
{
	enum vm_state old = vm->state;
	int rc;

	if (old == s)
		return 0;
	vm->state = s;
	vm_changed(vm);
	rc = record(vm, old, s, reason, who);
	meter_transition(vm, old);
	announce(vm, old, reason);
	return rc;
}

int vm_try_state(struct vm *vm, enum vm_state s, const char *reason,
		 const char *who)
{
	enum vm_state old = vm->state;

	if (old == s)
		return 0;
	if (record(vm, old, s, reason, who) < 0)
		return -1;
	vm->state = s;
	vm_changed(vm);
	meter_transition(vm, old);
	announce(vm, old, reason);
	return 0;
}

int vm_lock_run_dir(const struct vm *vm, char *holder, size_t cap)
{
	char dir[4096], path[4200];
	int fd;

	snprintf(holder, cap, "unknown");
	vm_run_dir_path(dir, sizeof dir, vmd.run_dir, vm->uuid);
	vm_run_path(path, sizeof path, dir, VM_RUN_LOCK);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	int e = errno;
	ssize_t n = pread(fd, holder, cap - 1, 0);
	if (n > 0) {
		holder[n] = 0;
		holder[strcspn(holder, "\n")] = 0;
	}
	close(fd);
	errno = e;
	return -1;
}

void vm_lock_note_pid(int fd, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%d\n", (int)pid);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
		log_warn("cannot write the pid of QEMU into its lock file: %s",
			 strerror(errno));
}

const char *vm_cfg_str(const struct vm *vm, const char *key)
{
	return rpc_member_str(vm->config, key);
}

int vm_cfg_int(const struct vm *vm, const char *key)
{
	return (int)rpc_member_int(vm->config, key);
}

bool vm_cfg_bool(const struct vm *vm, const char *key)
{
	return rpc_member_bool(vm->config, key);
}

const char *vm_file_problem(const char *path, bool block_ok)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return strerror(errno);
	if (S_ISREG(st.st_mode) || (block_ok && S_ISBLK(st.st_mode)))
		return NULL;
	return block_ok ? "not a regular file or block device" :
			  "not a regular file";
}
