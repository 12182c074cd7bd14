/* Restart policy.  A guest that crashes is started again after 1 s, then
 * 2 s, 4 s ... at most 60 s, counting the restarts within the VM's window;
 * past restart_max in the window vmd gives up, so a guest that cannot boot
 * does not spin QEMU for ever.  Each decision is an event and an audit
 * row. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "daemon/log.h"
#include "daemon/restart.h"
#include "daemon/conn.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/message.h"

#define BACKOFF_MAX_MS 60000

static bool policy_applies(const struct vm *vm, const char *reason)
{
	const char *policy = vm_cfg_str(vm, "restart_policy");

	if (!strcmp(reason, "crash"))
		return strcmp(policy, "no") != 0;
	return !strcmp(reason, "guest-shutdown") && !strcmp(policy, "always");
}

/* Restarts within the window, this one included; older ones are dropped. */
static int count_in_window(struct vm *vm, time_t now)
{
	int window = vm_cfg_int(vm, "restart_window_s"), kept = 0;

	for (int i = 0; i < vm->restarts_n; i++)
		if (now - vm->restarts[i] < window)
			vm->restarts[kept++] = vm->restarts[i];
	vm->restarts_n = kept;
	if (vm->restarts_n < VM_RESTART_HISTORY)
		vm->restarts[vm->restarts_n++] = now;
	return vm->restarts_n;
}

static void announce(struct vm *vm, const char *action, int attempt,
		     long delay_ms, const char *reason)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "vm", json_object_new_string(vm->name));
	json_object_object_add(d, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(d, "action", json_object_new_string(action));
	json_object_object_add(d, "attempt", json_object_new_int(attempt));
	json_object_object_add(d, "delay_ms", json_object_new_int64(delay_ms));
	json_object_object_add(d, "reason", json_object_new_string(reason));
	store_event_add(vmd.store, vm->uuid, vm->name,
			!strcmp(action, "gave-up") ? "restart-give-up" : "restart",
			NULL, NULL, reason, "vmd");
	server_broadcast(rpc_event_new("VM_RESTART", d));
}

static void on_restart_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (vm->state == VM_STOPPED || vm->state == VM_CRASHED)
		vm_start_internal(vm);
}

void restart_consider(struct vm *vm, const char *reason)
{
	if (!policy_applies(vm, reason))
		return;
	int attempt = count_in_window(vm, time(NULL));
	int max = vm_cfg_int(vm, "restart_max");
	if (attempt > max) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "%d restarts within %d s: "
		       "giving up", attempt - 1, vm_cfg_int(vm, "restart_window_s"));
		announce(vm, "gave-up", attempt, 0, reason);
		vm->restarts_n--;  /* the refused one does not count */
		return;
	}
	long delay = 1000L << (attempt - 1 < 16 ? attempt - 1 : 16);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	if (!vm->restart_timer)
		vm->restart_timer = evtimer_new(vmd.base, on_restart_timer, vm);
	struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
	evtimer_add(vm->restart_timer, &tv);
	log_vm(LOG_INFO, vm->name, vm->uuid, "restart %d in %ld ms (%s)", attempt,
	       delay, reason);
	announce(vm, "scheduled", attempt, delay, reason);
}

bool restart_cancel(struct vm *vm)
{
	bool pending = vm->restart_timer &&
		       event_pending(vm->restart_timer, EV_TIMEOUT, NULL);

	if (pending)
		event_del(vm->restart_timer);
	return pending;
}
