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

/* A VM over its quota, and what vmd did about it (its row in the store). */
struct over {
	struct quota_row r;
	struct over *next;
};

static struct over *overs;

static struct over **find(const char *uuid)
{
	struct over **o = &overs;

	while (*o && strcmp((*o)->r.uuid, uuid))
		o = &(*o)->next;
	return o;
}

static struct over *add(const struct quota_row *r)
{
	struct over *n = calloc(1, sizeof *n);

	if (n) {
		n->r = *r;
		n->next = overs;
		overs = n;
	}
	return n;
}

static void restore(void *ctx, const struct quota_row *r)
{
	(void)ctx;
	if (!*find(r->uuid))
		add(r);
}

int quota_init(void)
{
	if (quota_store_foreach(vmd.store, restore, NULL) == STORE_OK)
		return 0;
	log_err("quota: %s", store_errmsg(vmd.store));
	return -1;
}

/* A failed write is logged: vmd goes on enforcing from its memory. */
static void save(struct vm *vm, const struct over *o)
{
	if ((o ? quota_store_put(vmd.store, &o->r)
	       : quota_store_delete(vmd.store, vm->uuid)) != STORE_OK)
		log_vm(LOG_ERR, vm->name, vm->uuid, "quota: %s",
		       store_errmsg(vmd.store));
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
 * taps, gets it at the next check.  A running guest is not paused by the
 * quota (any more): only a pause vmd made for it is undone. */
static void act(struct vm *vm, struct over *o, struct json_object *q, bool on)
{
	const char *action = o->r.action;
	bool stopping = vm->pending_op && !strcmp(vm->pending_op, "quota");

	if (!strcmp(action, "throttle") && on) {
		quota_tc_throttle(vm, rpc_member_int(q, "rate_kbit"));
	} else if (!strcmp(action, "throttle")) {
		quota_tc_lift(vm);
	} else if (!strcmp(action, "pause") && on && vm->state == VM_RUNNING &&
		   !stopping) {
		bool paused = cpus(vm, false);
		if (paused != o->r.paused) {
			o->r.paused = paused;
			save(vm, o);
		}
	} else if (!strcmp(action, "pause") && !on && o->r.paused) {
		cpus(vm, true);
	}
}

/* Its QEMU ended: the pause, and the ifbs of the taps, went with it. */
static void gone(struct vm *vm, struct over *o)
{
	if (!strcmp(o->r.action, "throttle"))
		quota_tc_lift(vm);
	if (o->r.paused) {
		o->r.paused = false;
		save(vm, o);
	}
}

static void reach(struct vm *vm, struct json_object *q, int64_t month,
		  int64_t used)
{
	const char *action = rpc_member_str(q, "action");
	struct quota_row r = {.month = month, .since = meter_now_ms() / 1000};
	struct over *n;

	action = action ? action : "event";
	snprintf(r.uuid, sizeof r.uuid, "%s", vm->uuid);
	snprintf(r.action, sizeof r.action, "%s", action);
	if (!(n = add(&r)))
		return;
	save(vm, n);
	announce(vm, "reached", month, used, rpc_member_int(q, "bytes"), action);
	act(vm, n, q, true);
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
	if (*o && (!over || (*o)->r.month != month)) {
		n = *o;
		*o = n->next;
		act(vm, n, q, false);
		save(vm, NULL);
		announce(vm, "lifted", month, used, bytes, n->r.action);
		free(n);
	}
	if (*o && !vm_is_active(vm))
		gone(vm, *o);
	if (!over || !vm_is_active(vm))
		return;
	if (!*o)
		reach(vm, q, month, used);
	else if (vm->state == VM_RUNNING)
		act(vm, *o, q, true);
}

void quota_forget(struct vm *vm)
{
	struct over **o = find(vm->uuid), *n = *o;

	if (n) {
		*o = n->next;
		free(n);
	}
}
