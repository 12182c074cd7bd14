/* Monthly transfer quotas (see quota.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/meter_calc.h"
#include "daemon/plan.h"
#include "daemon/plan_store.h"
#include "daemon/qmp.h"
#include "daemon/quota.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/message.h"
#include "rpc/schema.h"

/* A VM over its quota, and what vmd did about it. */
struct over {
	char uuid[37];
	int64_t month;
	char action[12];
	bool paused;               /* vmd paused the guest for it */
	struct over *next;
};

static struct over *overs;

static struct over **find(const char *uuid)
{
	struct over **o = &overs;

	while (*o && strcmp((*o)->uuid, uuid))
		o = &(*o)->next;
	return o;
}

static void announce(struct vm *vm, const char *what, int64_t month,
		     int64_t used, int64_t bytes, const char *action)
{
	struct json_object *d = json_object_new_object();
	char when[32];

	meter_format_time(month, when, sizeof when);
	json_object_object_add(d, "vm", json_object_new_string(vm->name));
	json_object_object_add(d, "uuid", json_object_new_string(vm->uuid));
	json_object_object_add(d, "state", json_object_new_string(what));
	json_object_object_add(d, "month", json_object_new_string(when));
	json_object_object_add(d, "used", json_object_new_int64(used));
	json_object_object_add(d, "quota", bytes < 0 ? NULL : json_object_new_int64(bytes));
	json_object_object_add(d, "action", json_object_new_string(action));
	log_vm(LOG_NOTICE, vm->name, vm->uuid, "transfer quota %s: %lld bytes "
	       "sent this month, action %s", what, (long long)used, action);
	server_broadcast(rpc_event_new("USAGE_QUOTA", d));
}

static bool cpus(struct vm *vm, bool run);

/* QEMU's STOP and RESUME events set the state (with pending_op as the
 * reason); a quota lifted while "stop" was in flight resumes here. */
static void cpu_done(void *ctx, struct json_object *ret, rpc_err err,
		     const char *desc)
{
	struct vm *vm = ctx;
	bool paused = !strcmp(vm->pending_op, "quota");

	(void)ret;
	vm->pending_op = NULL;
	if (err != RPC_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "quota: %s", desc);
	else if (paused && !*find(vm->uuid))
		cpus(vm, true);
}

/* QMP "stop" (pause) or "cont" (resume), as vm-pause and vm-resume do. */
static bool cpus(struct vm *vm, bool run)
{
	if (!vm->qmp || vm->pending_op ||
	    vm->state != (run ? VM_PAUSED : VM_RUNNING))
		return false;
	vm->pending_op = run ? "quota-lifted" : "quota";
	qmp_exec(vm->qmp, run ? "cont" : "stop", NULL, cpu_done, vm);
	return true;
}

/* Takes (on) or undoes the action of o; taking it again is harmless, so
 * a guest that was starting, or resumed by hand, or a new QEMU with new
 * taps, gets it at the next check. */
static void act(struct vm *vm, struct over *o, struct json_object *q, bool on)
{
	if (!strcmp(o->action, "throttle") && on)
		quota_tc_throttle(vm, rpc_member_int(q, "rate_kbit"));
	else if (!strcmp(o->action, "throttle"))
		quota_tc_lift(vm);
	else if (!strcmp(o->action, "pause") && (on || o->paused))
		o->paused |= cpus(vm, !on);
}

void quota_check(struct vm *vm)
{
	struct json_object *q = plan_quota(vm->config);
	int64_t month = meter_period_start(meter_now_ms() / 1000, METER_MONTH);
	int64_t bytes = q ? rpc_member_int(q, "bytes") : -1;
	int64_t used = plan_store_month_tx(vmd.store, vm->uuid, month);
	struct over **o = find(vm->uuid), *n;
	bool over = q && used >= 0 && used >= bytes;

	if (used < 0)
		return;
	if (*o && (!over || (*o)->month != month)) {
		n = *o;
		*o = n->next;
		act(vm, n, q, false);
		announce(vm, "lifted", month, used, bytes, n->action);
		free(n);
	}
	if (*o && !vm_is_active(vm) && !strcmp((*o)->action, "throttle"))
		quota_tc_lift(vm);   /* the taps went with QEMU: the ifbs too */
	if (!over || !vm_is_active(vm))
		return;
	const char *action = rpc_member_str(q, "action");
	action = action ? action : "event";
	if (!*o && (n = calloc(1, sizeof *n))) {
		snprintf(n->uuid, sizeof n->uuid, "%s", vm->uuid);
		snprintf(n->action, sizeof n->action, "%s", action);
		n->month = month;
		n->next = overs;
		overs = n;
		announce(vm, "reached", month, used, bytes, action);
		act(vm, n, q, true);
	} else if (*o && vm->state == VM_RUNNING) {
		act(vm, *o, q, true);
	}
}

void quota_forget(struct vm *vm)
{
	struct over **o = find(vm->uuid), *n = *o;

	if (n) {
		*o = n->next;
		free(n);
	}
}
