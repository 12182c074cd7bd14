/* usage-report: the roll-ups of metering (meter_store.c) per VM and
 * period, bounded (10 years at most, `limit` rows a reply, `next` for the
 * rest). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/auth.h"
#include "daemon/dispatch.h"
#include "daemon/meter_calc.h"
#include "daemon/meter_store.h"
#include "daemon/store.h"
#include "daemon/token.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/schema.h"

struct report {
	int gran, limit, rows;
	struct json_object *out;       /* the rows */
	struct json_object *row;       /* the one being filled */
	char uuid[37];
	int64_t start;
	bool more;                     /* a row beyond the limit exists */
};

static bool has_labels(const struct vm *vm, struct json_object *want)
{
	struct json_object *labels = NULL, *v;

	json_object_object_get_ex(vm->config, "labels", &labels);
	json_object_object_foreach(want, k, val)
		if (!labels || !json_object_object_get_ex(labels, k, &v) ||
		    strcmp(json_object_get_string(v), json_object_get_string(val)))
			return false;
	return true;
}

static bool uuid_shaped(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
		    : !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* A token scoped to VMs sees only those, and no undefined VM. */
static bool scoped(const struct call *c)
{
	return c->token && c->token->kind == TOKEN_VMS;
}

/* The uuids asked for, as a JSON array; NULL for every row of the store.
 * -1 after replying. */
static int pick(struct call *c, struct json_object **uuids)
{
	struct json_object *vms = NULL, *labels = NULL;
	struct json_object *out = json_object_new_array();

	json_object_object_get_ex(c->args, "vms", &vms);
	json_object_object_get_ex(c->args, "labels", &labels);
	*uuids = NULL;
	if (!vms && !labels && !scoped(c)) {
		json_object_put(out);
		return 0;     /* every row, undefined VMs' too */
	}
	for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
		const char *ref = json_object_get_string(json_object_array_get_idx(vms, i));
		struct vm *vm = vm_find(ref);
		if (vm ? !auth_sees_vm(c, vm->name) : !uuid_shaped(ref) || scoped(c)) {
			call_error(c, RPC_VM_NOT_FOUND, "vms[%zu]: no VM named '%s'", i, ref);
			json_object_put(out);
			return -1;
		}
		if (!vm || !labels || has_labels(vm, labels))
			json_object_array_add(out, json_object_new_string(vm ? vm->uuid : ref));
	}
	if (!vms) {
		size_t n;
		struct vm **v = vm_sorted(&n);
		for (size_t i = 0; v && i < n; i++)
			if (auth_sees_vm(c, v[i]->name) &&
			    (!labels || has_labels(v[i], labels)))
				json_object_array_add(out, json_object_new_string(v[i]->uuid));
		free(v);
	}
	*uuids = out;
	return 0;
}

static struct json_object *group_of(struct json_object *row, const char *counter,
				    const char **key)
{
	const char *dot = strchr(counter, '.');
	struct json_object *g, *dev;
	char name[24];

	if (!dot) {
		json_object_object_get_ex(row, "usage", &g);
		*key = counter;
		return g;
	}
	json_object_object_get_ex(row, "devices", &g);
	snprintf(name, sizeof name, "%.*s", (int)(dot - counter), counter);
	if (!json_object_object_get_ex(g, name, &dev)) {
		dev = json_object_new_object();
		json_object_object_add(g, name, dev);
	}
	*key = dot + 1;
	return dev;
}

static struct json_object *new_row(const char *uuid, int64_t start)
{
	struct json_object *row = json_object_new_object();
	struct vm *vm = vm_find(uuid);
	char when[32];

	meter_format_time(start, when, sizeof when);
	json_object_object_add(row, "vm", vm ? json_object_new_string(vm->name) : NULL);
	json_object_object_add(row, "uuid", json_object_new_string(uuid));
	json_object_object_add(row, "start", json_object_new_string(when));
	json_object_object_add(row, "usage", json_object_new_object());
	json_object_object_add(row, "devices", json_object_new_object());
	return row;
}

static int on_value(void *ctx, const char *uuid, int64_t start,
		    const char *counter, int64_t value)
{
	struct report *r = ctx;
	const char *key = counter;

	if (!r->row || strcmp(uuid, r->uuid) || start != r->start) {
		if (r->rows == r->limit) {
			r->more = true;
			return 1;
		}
		r->row = new_row(uuid, start);
		json_object_array_add(r->out, r->row);
		r->rows++;
		snprintf(r->uuid, sizeof r->uuid, "%s", uuid);
		r->start = start;
	}
	if (value) {
		struct json_object *g = group_of(r->row, counter, &key);
		json_object_object_add(g, key, json_object_new_int64(value));
	}
	return 0;
}

/* "UUID/START" of the last row sent. */
static int parse_after(const char *after, char uuid[37], int64_t *start)
{
	char *end;

	if (strlen(after) < 38 || after[36] != '/')
		return -1;
	memcpy(uuid, after, 36);
	uuid[36] = 0;
	*start = strtoll(after + 37, &end, 10);
	return uuid_shaped(uuid) && !*end ? 0 : -1;
}

static int parse_period(struct call *c, int64_t *from, int64_t *to, int *gran)
{
	char why[256];

	*gran = meter_gran_from_name(call_str(c, "granularity"));
	if (meter_parse_time(call_str(c, "from"), from) < 0 ||
	    meter_parse_time(call_str(c, "to"), to) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "'%s': not a date of the "
			   "calendar", meter_parse_time(call_str(c, "from"), from) < 0
			   ? "from" : "to");
		return -1;
	}
	if (meter_period_check(*from, *to, *gran, why, sizeof why) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "%s", why);
		return -1;
	}
	return 0;
}

static struct json_object *reply(struct report *r, int64_t from, int64_t to)
{
	struct json_object *ret = json_object_new_object();
	static const char *const grans[] = { "hour", "day", "month" };
	char a[32], b[32];

	meter_format_time(from, a, sizeof a);
	meter_format_time(to, b, sizeof b);
	json_object_object_add(ret, "from", json_object_new_string(a));
	json_object_object_add(ret, "to", json_object_new_string(b));
	json_object_object_add(ret, "granularity", json_object_new_string(grans[r->gran]));
	json_object_object_add(ret, "rows", r->out);
	if (r->more) {
		char next[64];
		snprintf(next, sizeof next, "%s/%lld", r->uuid, (long long)r->start);
		json_object_object_add(ret, "next", json_object_new_string(next));
	}
	return ret;
}

void cmd_usage_report(struct call *c)
{
	struct report r = { .limit = call_int(c, "limit") };
	struct json_object *uuids;
	int64_t from, to, after_start = 0;
	char after_uuid[37];
	const char *after = call_str(c, "after");

	if (parse_period(c, &from, &to, &r.gran) < 0)
		return;
	if (after && parse_after(after, after_uuid, &after_start) < 0) {
		call_error(c, RPC_INVALID_ARGUMENT, "'after': not the 'next' of "
			   "a usage-report");
		return;
	}
	if (pick(c, &uuids) < 0)
		return;
	r.out = json_object_new_array();
	int rc = meter_store_report(vmd.store, uuids, r.gran, from, to,
				    after ? after_uuid : NULL, after_start,
				    on_value, &r);
	json_object_put(uuids);
	if (rc != STORE_OK) {
		json_object_put(r.out);
		call_error(c, RPC_GENERIC_ERROR, "store: %s", store_errmsg(vmd.store));
		return;
	}
	call_return(c, reply(&r, from, to));
}
