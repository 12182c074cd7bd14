/* query-metrics: every VM's raw counters (vmstats.h), read for all VMs at
 * once, and vmd's own (counters.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/auth.h"
#include "daemon/counters.h"
#include "daemon/dispatch.h"
#include "daemon/token.h"
#include "daemon/vmstats.h"

struct gather;
struct slot {                    /* one VM */
	struct gather *g;
	char name[64];                /* vm-config.json's Name: 63 at most */
	pid_t pid;
	struct json_object *json;     /* NULL until its counters came */
};

struct gather {
	struct call *call;
	size_t n, waiting;
	bool with_vmd;
	struct slot slot[];
};

static struct json_object *u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* {"index": i, keys[0]: vals[0], ...} */
static struct json_object *counts(int index, const char *const *keys,
				  const uint64_t *vals, size_t n)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "index", json_object_new_int(index));
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, keys[i], u64(vals[i]));
	return o;
}

/* "disks" or, with nics, "nics": one object of counts per device. */
static struct json_object *devices_json(const struct vmstats *st, bool nics)
{
	static const char *const keys[2][4] = {
		{ "read_bytes", "write_bytes", "read_ops", "write_ops" },
		{ "rx_bytes", "tx_bytes", "rx_packets", "tx_packets" } };
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < (nics ? st->nnics : st->ndisks); i++) {
		const struct vmstats_disk *d = &st->disk[i];
		const struct vmstats_nic *n = &st->nic[i];
		const uint64_t v[] = {
			nics ? n->rx_bytes : d->rd_bytes,
			nics ? n->tx_bytes : d->wr_bytes,
			nics ? n->rx_packets : d->rd_ops,
			nics ? n->tx_packets : d->wr_ops };
		struct json_object *o = counts(nics ? n->index : d->index,
					       keys[nics], v, 4);
		if (nics)
			json_object_object_add(o, "ifname",
					       json_object_new_string(n->ifname));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *ports_json(const struct vmstats *st)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < st->nports; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "port", json_object_new_int(st->port[i].port));
		json_object_object_add(o, "bytes", u64(st->port[i].bytes));
		json_object_object_add(o, "viewers",
				       json_object_new_int(st->port[i].viewers));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *vm_json(const struct slot *s, const struct vmstats *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "uuid", json_object_new_string(st->uuid));
	json_object_object_add(o, "state",
			       json_object_new_string(vm_state_name(st->state)));
	json_object_object_add(o, "pid", json_object_new_int(s->pid));
	if (st->have_cpu) {
		json_object_object_add(o, "cpu_seconds",
				       json_object_new_double(st->cpu_usec / 1e6));
		json_object_object_add(o, "cpu_source", json_object_new_string(
			st->cpu_from_cgroup ? "cgroup" : "proc"));
	}
	if (st->have_rss)
		json_object_object_add(o, "rss_bytes", u64(st->rss_bytes));
	json_object_object_add(o, "disks", devices_json(st, false));
	json_object_object_add(o, "nics", devices_json(st, true));
	json_object_object_add(o, "ports", ports_json(st));
	return o;
}

static void reply(struct gather *g)
{
	struct json_object *r = json_object_new_object(), *a = json_object_new_array();
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_object_add(r, "time", json_object_new_double(
		(double)now.tv_sec + now.tv_nsec / 1e9));
	for (size_t i = 0; i < g->n; i++)
		json_object_array_add(a, g->slot[i].json);
	json_object_object_add(r, "vms", a);
	if (g->with_vmd)
		json_object_object_add(r, "vmd", counters_json());
	call_return(g->call, r);
	free(g);
}

static void got_stats(void *arg, const struct vmstats *st)
{
	struct slot *s = arg;
	struct gather *g = s->g;

	s->json = vm_json(s, st);
	if (--g->waiting == 0)
		reply(g);
}

/* A token scoped to VMs sees those it may show (as vm-show). */
static bool may_show(const struct call *c, const char *vm)
{
	return !c->token || c->token->kind != TOKEN_VMS ||
	       token_allows(c->token, vm, "show");
}

/* The VMs asked for, in *out (freed by the caller); -1 after replying. */
static int pick(struct call *c, struct vm ***out, size_t *n)
{
	const char *only = call_str(c, "vm");

	if (only) {
		if (!may_show(c, only)) {
			call_error(c, RPC_PERMISSION_DENIED, "token %s does not allow "
				   "\"show\" (query-metrics) on VM '%s'",
				   c->token->id, only);
			return -1;
		}
		struct vm *vm = call_vm(c);
		if (!vm)
			return -1;
		if (!(*out = malloc(sizeof **out))) {
			call_error(c, RPC_GENERIC_ERROR, "out of memory");
			return -1;
		}
		(*out)[0] = vm;
		*n = 1;
		return 0;
	}
	size_t all, seen = 0;
	struct vm **v = vm_sorted(&all);
	if (!v && all) {
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < all; i++)
		if (may_show(c, v[i]->name))
			v[seen++] = v[i];
	*out = v;
	*n = seen;
	return 0;
}

void cmd_query_metrics(struct call *c)
{
	struct vm **v = NULL;
	size_t n = 0;

	if (pick(c, &v, &n) < 0)
		return;
	struct gather *g = calloc(1, sizeof *g + n * sizeof g->slot[0]);
	if (!g) {
		free(v);
		call_error(c, RPC_GENERIC_ERROR, "out of memory");
		return;
	}
	g->call = c;
	g->n = n;
	g->with_vmd = !c->token || c->token->kind != TOKEN_VMS;
	g->waiting = n + 1;  /* + 1: a reading done at once cannot reply early */
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &g->slot[i];
		s->g = g;
		snprintf(s->name, sizeof s->name, "%s", v[i]->name);
		s->pid = v[i]->pid > 0 ? v[i]->pid : 0;
		vmstats_read(v[i], got_stats, s);
	}
	free(v);
	if (--g->waiting == 0)
		reply(g);
}
