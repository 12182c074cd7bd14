/* invoice: one customer's month, rated (rate.h) per VM, plan segment and
 * resource from the usage kept per plan segment (plan_store.c). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/dispatch.h"
#include "daemon/meter_calc.h"
#include "daemon/plan_store.h"
#include "daemon/rate.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

#define GIB (1024ULL * 1024 * 1024)

/* What a resource bills: counters named prefix*suffix (or exactly name). */
struct resource {
	const char *name, *prefix, *suffix, *price, *unit_name;
	uint64_t unit;            /* 0: GiB-months, set from the month */
};

static const struct resource resources[] = {
	{ "vcpu", "vcpu_s", "", "vcpu_hour", "vCPU-hour", 3600 },
	{ "memory", "mib_s", "", "memory_gib_hour", "GiB-hour", 1024 * 3600 },
	{ "volume", "disk", ".size_mib_s", "volume_gib_month", "GiB-month", 0 },
	{ "transfer", "nic", ".tx_bytes", "transfer_gib", "GiB", GIB },
};
#define NRES (sizeof resources / sizeof resources[0])

struct invoice {
	const char *customer;
	int64_t from, to;
	struct json_object *lines;
	int64_t total;
	char currency[16];
	char uuid[37];
	struct plan_seg prev;     /* the VM's previous row, def owned */
	bool have_prev;
	int err;                  /* rpc_err of a failure, 0 */
	char why[256];
};

static bool is_of(const struct resource *r, const char *counter)
{
	size_t p = strlen(r->prefix), s = strlen(r->suffix), n = strlen(counter);

	if (!s)
		return !strcmp(counter, r->prefix);
	return n > p + s && !strncmp(counter, r->prefix, p) &&
	       !strcmp(counter + n - s, r->suffix);
}

static void sum_use(void *ctx, const char *counter, int64_t value)
{
	uint64_t *q = ctx;

	for (size_t i = 0; i < NRES; i++)
		if (is_of(&resources[i], counter))
			q[i] += (uint64_t)value;
}

static int64_t member(struct json_object *def, const char *group, const char *key)
{
	struct json_object *g;

	return json_object_object_get_ex(def, group, &g) ? rpc_member_int(g, key) : 0;
}

static void line(struct invoice *inv, const struct plan_seg *seg,
		 const struct resource *r, struct rate_line *l, int64_t a,
		 int64_t b)
{
	struct json_object *o = json_object_new_object();
	struct vm *vm = vm_find(inv->uuid);
	char buf[48];
	int64_t amount = 0;

	if (rate_amount(l, &amount) < 0) {
		inv->err = RPC_INVALID_ARGUMENT;
		snprintf(inv->why, sizeof inv->why, "VM %s, %s: the amount does not "
			 "fit 64 bits", inv->uuid, r->name);
	}
	json_object_object_add(o, "vm", json_object_new_string(vm ? vm->name : inv->uuid));
	json_object_object_add(o, "uuid", json_object_new_string(inv->uuid));
	json_object_object_add(o, "plan", json_object_new_string(seg->plan));
	meter_format_time(a, buf, sizeof buf);
	json_object_object_add(o, "from", json_object_new_string(buf));
	meter_format_time(b, buf, sizeof buf);
	json_object_object_add(o, "to", json_object_new_string(buf));
	json_object_object_add(o, "resource", json_object_new_string(r->name));
	rate_quantity(l, buf, sizeof buf);
	json_object_object_add(o, "quantity", json_object_new_string(buf));
	rate_included(l, buf, sizeof buf);
	json_object_object_add(o, "included", json_object_new_string(buf));
	json_object_object_add(o, "unit", json_object_new_string(r->unit_name));
	json_object_object_add(o, "unit_price", json_object_new_int64(l->price));
	json_object_object_add(o, "amount", json_object_new_int64(amount));
	json_object_array_add(inv->lines, o);
	inv->total += amount;
}

static void currency(struct invoice *inv, struct json_object *def)
{
	const char *cur = rpc_member_str(def, "currency");

	if (!*inv->currency)
		snprintf(inv->currency, sizeof inv->currency, "%s", cur ? cur : "");
	else if (cur && strcmp(cur, inv->currency)) {
		inv->err = RPC_INVALID_ARGUMENT;
		snprintf(inv->why, sizeof inv->why, "customer's plans bill in %s "
			 "and %s: one invoice has one currency", inv->currency, cur);
	}
}

/* The segment seg of inv->uuid, which ends at end: its lines. */
static void bill(struct invoice *inv, const struct plan_seg *seg, int64_t end)
{
	int64_t a = seg->since > inv->from ? seg->since : inv->from;
	int64_t b = end < inv->to ? end : inv->to;
	uint64_t q[NRES] = { 0 };
	struct json_object *def;

	if (a >= b || !*seg->plan || strcmp(seg->customer, inv->customer))
		return;
	if (!(def = json_tokener_parse(seg->def)))
		return;
	currency(inv, def);
	if (plan_store_usage(vmd.store, inv->uuid, inv->from, seg->since,
			     sum_use, q) != STORE_OK) {
		inv->err = RPC_GENERIC_ERROR;
		snprintf(inv->why, sizeof inv->why, "store: %s", store_errmsg(vmd.store));
	}
	for (size_t i = 0; i < NRES && !inv->err; i++) {
		const struct resource *r = &resources[i];
		struct rate_line l = {
			.q = q[i],
			.unit = r->unit ? r->unit : 1024ULL * (uint64_t)(inv->to - inv->from),
			.price = member(def, "prices", r->price),
			.incl = member(def, "included", r->price),
			.seg = b - a, .month = inv->to - inv->from,
		};
		line(inv, seg, r, &l, a, b);
	}
	json_object_put(def);
}

static void flush(struct invoice *inv, int64_t end)
{
	if (inv->have_prev)
		bill(inv, &inv->prev, end);
	free((char *)inv->prev.def);
	inv->prev.def = NULL;
	inv->have_prev = false;
}

static int on_seg(void *ctx, const char *uuid, const struct plan_seg *seg)
{
	struct invoice *inv = ctx;

	if (strcmp(uuid, inv->uuid))
		flush(inv, INT64_MAX);
	else
		flush(inv, seg->since);
	snprintf(inv->uuid, sizeof inv->uuid, "%s", uuid);
	inv->prev = *seg;
	inv->prev.def = strdup(seg->def);
	inv->have_prev = true;
	return inv->err != 0;
}

void cmd_invoice(struct call *c)
{
	struct invoice inv = { .customer = call_str(c, "customer") };
	const char *month = call_str(c, "month");

	if (strlen(month) != 7 || meter_parse_time(month, &inv.from) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "month: '%s' is not a month "
			   "(YYYY-MM)", month);
		return;
	}
	inv.to = meter_period_next(inv.from, METER_MONTH);
	inv.lines = json_object_new_array();
	if (plan_store_history(vmd.store, inv.customer, inv.to, on_seg, &inv)
	    != STORE_OK && !inv.err) {
		inv.err = RPC_GENERIC_ERROR;
		snprintf(inv.why, sizeof inv.why, "store: %s", store_errmsg(vmd.store));
	}
	flush(&inv, INT64_MAX);
	if (inv.err) {
		json_object_put(inv.lines);
		call_error(c, inv.err, "%s", inv.why);
		return;
	}
	struct json_object *ret = json_object_new_object();
	json_object_object_add(ret, "customer", json_object_new_string(inv.customer));
	json_object_object_add(ret, "month", json_object_new_string(month));
	json_object_object_add(ret, "currency", json_object_new_string(inv.currency));
	json_object_object_add(ret, "lines", inv.lines);
	json_object_object_add(ret, "total", json_object_new_int64(inv.total));
	call_return(c, ret);
}
