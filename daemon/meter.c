/* Usage metering (see meter.h).
 *
 * Exactness.  Each VM's meter holds how far time is counted (t, with the
 * state since then) and the last raw reading of its counters with the
 * QEMU they belong to (epoch "PID:STARTTIME").  A sample adds, for each
 * counter, the reading minus the last one of the same QEMU; a new QEMU's
 * counters start at 0, so its first reading counts whole (a restart by the
 * policy, after a crash or a kill -9 of QEMU, resets nothing in the
 * totals).  Console ports count bytes of the VM's whole log, which
 * outlives QEMUs: their first reading is only a baseline.  A counter that
 * went backward adds nothing and keeps the last reading.  The amounts,
 * split over the hours they span (meter_calc.c's rule), and the new meter
 * row commit in one transaction (meter_store.c): a vmd killed at any
 * moment finds the meter of its last commit and continues from it when it
 * re-adopts the QEMU, so nothing is lost or counted twice.
 *
 * What vmd cannot know it does not bill: the seconds between the last
 * commit and a QEMU's exit while vmd was away (it learns of the exit only
 * when it is back), and counters QEMU had not been asked for when it
 * exited (the last reading is the one at the previous sample or at the
 * change to stopping). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/meter_calc.h"
#include "daemon/meter_store.h"
#include "daemon/plan.h"
#include "daemon/quota.h"
#include "daemon/store.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/vmstats.h"
#include "rpc/schema.h"

#define PRUNE_BATCH 10000   /* samples dropped per tick at most */

struct meter {
	struct meter_row row;      /* as last committed, raw included */
	bool live;                 /* vmd watches a QEMU of this VM */
	bool reading, again;       /* a vmstats_read() in flight; another wanted */
	int64_t t;                 /* time counted up to (parts pending) */
	int64_t t_committed;       /* ... as of the last commit */
	int64_t since;             /* when the current QEMU started */
	int64_t read_at;           /* when the reading in flight was asked */
	int cpus, memory_mib;      /* what the current QEMU holds */
	uint64_t disk_mib[VMD_DISK_MAX]; /* its volumes' sizes (plan.c) */
	struct meter_part *parts;  /* amounts not yet committed */
	size_t nparts, cap;
};

static struct event *tick_ev;

static int64_t now_s(void)
{
	return meter_now_ms() / 1000;
}

static bool has_qemu(const char *state)
{
	return !strcmp(state, "starting") || !strcmp(state, "running") ||
	       !strcmp(state, "paused") || !strcmp(state, "stopping");
}

static struct meter *meter_of(struct vm *vm)
{
	struct meter *m = vm->meter;

	if (m)
		return m;
	if (!(m = calloc(1, sizeof *m)))
		return NULL;
	if (meter_store_load(vmd.store, vm->uuid, &m->row) != STORE_OK) {
		m->row.t = m->row.traw = now_s();
		snprintf(m->row.state, sizeof m->row.state, "%s",
			 vm_state_name(vm->state));
		m->row.raw = json_object_new_object();
	}
	m->t = m->t_committed = m->row.t;
	vm->meter = m;
	return m;
}

struct adder {
	struct meter *m;
	const char *counter;
};

static void add_part(void *ctx, int64_t hour, uint64_t part)
{
	struct adder *a = ctx;
	struct meter *m = a->m;

	if (m->nparts == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct meter_part *p = realloc(m->parts, cap * sizeof *p);
		if (!p) {
			log_err("metering: out of memory; %s lost", a->counter);
			return;
		}
		m->parts = p;
		m->cap = cap;
	}
	struct meter_part *p = &m->parts[m->nparts++];
	p->hour = hour;
	snprintf(p->counter, sizeof p->counter, "%s", a->counter);
	p->value = part;
}

static void add(struct meter *m, const char *counter, int64_t t0, int64_t t1,
		uint64_t amount)
{
	struct adder a = { m, counter };

	if (amount)
		meter_split(t0, t1, amount, add_part, &a);
}

/* Time-based amounts of [m->t, t1), in the state held since m->t. */
static void count_time(struct meter *m, int64_t t1)
{
	int64_t t0 = m->t, secs = t1 - t0;

	if (secs <= 0)   /* the clock stepped back: wait for it */
		return;
	m->t = t1;
	if (!m->live || !has_qemu(m->row.state))
		return;
	add(m, "vcpu_s", t0, t1, (uint64_t)secs * (uint64_t)m->cpus);
	add(m, "mib_s", t0, t1, (uint64_t)secs * (uint64_t)m->memory_mib);
	if (!strcmp(m->row.state, "running"))
		add(m, "running_s", t0, t1, (uint64_t)secs);
	for (int i = 0; i < VMD_DISK_MAX; i++) {
		char name[24];
		snprintf(name, sizeof name, "disk%d.size_mib_s", i);
		add(m, name, t0, t1, (uint64_t)secs * m->disk_mib[i]);
	}
}

static void hold(struct meter *m, struct vm *vm)
{
	struct json_object *cfg = vm_live_config(vm);

	m->cpus = (int)rpc_member_int(cfg, "cpus");
	m->memory_mib = (int)rpc_member_int(cfg, "memory_mib");
	plan_disk_mib(vm, m->disk_mib);
	m->live = true;
}

/* One counter of a reading into the new raw reading and the parts. */
struct reading {
	struct meter *m;
	struct json_object *raw;   /* the new raw reading */
	bool fresh;                /* a QEMU not read before */
	int64_t from, to;
};

static void counter(struct reading *r, const char *name, uint64_t now,
		    bool of_qemu)
{
	struct json_object *v;
	bool had = json_object_object_get_ex(r->raw, name, &v);
	uint64_t prev = had ? (uint64_t)json_object_get_int64(v) : 0;

	if (of_qemu && r->fresh)
		prev = 0;
	else if (!of_qemu && !had)
		prev = now;   /* a log's first reading: its baseline */
	if (now < prev)
		return;
	add(r->m, name, r->from, r->to, meter_delta(prev, now));
	json_object_object_add(r->raw, name, json_object_new_int64((int64_t)now));
}

static void qemu_counters(struct reading *r, const struct vmstats *st)
{
	char name[24];
	static const char *const dk[] = { "rd_bytes", "wr_bytes", "rd_ops", "wr_ops" };
	static const char *const nk[] = { "rx_bytes", "tx_bytes", "rx_packets",
					  "tx_packets" };

	if (st->have_cpu)
		counter(r, "cpu_us", st->cpu_usec, true);
	for (int i = 0; st->have_disks && i < st->ndisks; i++) {
		const struct vmstats_disk *d = &st->disk[i];
		const uint64_t v[] = { d->rd_bytes, d->wr_bytes, d->rd_ops, d->wr_ops };
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof name, "disk%d.%s", d->index, dk[k]);
			counter(r, name, v[k], true);
		}
	}
	for (int i = 0; i < st->nnics; i++) {
		const struct vmstats_nic *n = &st->nic[i];
		const uint64_t v[] = { n->rx_bytes, n->tx_bytes, n->rx_packets,
				       n->tx_packets };
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof name, "nic%d.%s", n->index, nk[k]);
			counter(r, name, v[k], true);
		}
	}
}

/* A new QEMU's counters replace the old one's in the raw reading. */
static struct json_object *raw_for(struct meter *m, bool fresh)
{
	struct json_object *raw = json_object_new_object();

	json_object_object_foreach(m->row.raw, k, v)
		if (!fresh || !strncmp(k, "serial", 6))
			json_object_object_add(raw, k, json_object_get(v));
	return raw;
}

static void commit(struct vm *vm, struct meter *m, struct reading *r,
		   const char *epoch)
{
	struct meter_row row = m->row;
	int64_t t1 = m->t > r->to ? m->t : r->to;

	row.t = m->t;
	snprintf(row.state, sizeof row.state, "%s", vm_state_name(vm->state));
	snprintf(row.epoch, sizeof row.epoch, "%s", epoch);
	row.traw = r->to;
	row.raw = r->raw;
	if (meter_store_commit(vmd.store, vm->uuid, m->t_committed, t1, m->parts,
			       m->nparts, &row) != STORE_OK) {
		/* the store still has the last meter: the next sample recounts */
		log_vm(LOG_ERR, vm->name, vm->uuid, "metering: %s",
		       store_errmsg(vmd.store));
		json_object_put(r->raw);
		return;
	}
	json_object_put(m->row.raw);
	m->row = row;
	m->t_committed = m->t;
	m->nparts = 0;
	quota_check(vm);
}

static void request(struct vm *vm, struct meter *m, int64_t now);

static void on_reading(void *arg, const struct vmstats *st)
{
	struct vm *vm = arg;
	struct meter *m = vm->meter;
	char epoch[48];
	struct reading r = { .m = m, .to = m->read_at };

	m->reading = false;
	if (st->qemu_pid)
		snprintf(epoch, sizeof epoch, "%d:%llu", (int)st->qemu_pid,
			 st->qemu_starttime);
	else
		snprintf(epoch, sizeof epoch, "%s", m->row.epoch);
	r.fresh = strcmp(epoch, m->row.epoch) != 0;
	r.from = r.fresh ? (m->since ? m->since : r.to) : m->row.traw;
	r.raw = raw_for(m, r.fresh);
	if (st->qemu_pid)
		qemu_counters(&r, st);
	for (int i = 0; i < st->nports; i++) {
		char name[24];
		snprintf(name, sizeof name, "serial%d.bytes", st->port[i].port);
		counter(&r, name, st->port[i].bytes, false);
	}
	commit(vm, m, &r, epoch);
	if (m->again) {
		m->again = false;
		request(vm, m, now_s());
	}
}

/* One reading at a time per VM, so readings apply in the order taken.
 * now is the time counted to: a sample's counters and time span alike. */
static void request(struct vm *vm, struct meter *m, int64_t now)
{
	if (m->reading) {
		m->again = true;
		return;
	}
	m->reading = true;
	m->read_at = now;
	vmstats_read(vm, on_reading, vm);
}

void meter_transition(struct vm *vm, enum vm_state old)
{
	struct meter *m = meter_of(vm);
	int64_t now = now_s();

	if (!m)
		return;
	if ((old == VM_STOPPED || old == VM_CRASHED) && vm_is_active(vm)) {
		hold(m, vm);          /* a QEMU vmd has just started */
		m->since = now;
	}
	count_time(m, now);
	snprintf(m->row.state, sizeof m->row.state, "%s", vm_state_name(vm->state));
	if (!vm_is_active(vm) || vm->state == VM_STOPPED || vm->state == VM_CRASHED)
		m->live = false;
	request(vm, m, now);
}

void meter_adopted(struct vm *vm)
{
	struct meter *m = meter_of(vm);
	char epoch[48];
	int64_t now = now_s();

	if (!m)
		return;
	snprintf(epoch, sizeof epoch, "%d:%llu", (int)vm->pid, vm->starttime);
	hold(m, vm);
	if (strcmp(epoch, m->row.epoch)) {
		/* started by a vmd that died before its first sample: from now */
		m->t = now;
		m->since = now;
	}
	count_time(m, now);
	/* adopt() may leave the state as the store had it: count in it */
	snprintf(m->row.state, sizeof m->row.state, "%s", vm_state_name(vm->state));
	request(vm, m, now);
}

int64_t meter_cut(struct vm *vm)
{
	struct meter *m = vm->meter;
	int64_t now = now_s();

	if (m && m->live) {
		count_time(m, now);
		request(vm, m, now);
	}
	return now;
}

void meter_forget(struct vm *vm)
{
	struct meter *m = vm->meter;

	if (!m)
		return;
	json_object_put(m->row.raw);
	free(m->parts);
	free(m);
	vm->meter = NULL;
}

static void arm(void)
{
	int64_t ms = meter_now_ms(), period = (int64_t)vmd.meter_interval * 1000;
	int64_t wait = period - ms % period;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	evtimer_add(tick_ev, &tv);
}

static void prune(void)
{
	int64_t before = now_s() - (int64_t)vmd.meter_retention * 86400;

	if (meter_store_prune(vmd.store, before, PRUNE_BATCH) < 0)
		log_warn("metering: %s", store_errmsg(vmd.store));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	size_t n;
	struct vm **v = vm_sorted(&n);
	int64_t now = now_s();

	(void)fd, (void)what, (void)arg;
	for (size_t i = 0; v && i < n; i++) {
		struct meter *m = v[i]->meter;
		if (m && m->live) {
			count_time(m, now);
			plan_disk_mib(v[i], m->disk_mib);
			request(v[i], m, now);
		}
	}
	free(v);
	prune();
	arm();
}

void meter_init(void)
{
	tick_ev = evtimer_new(vmd.base, on_tick, NULL);
	if (!tick_ev) {
		log_err("metering: cannot make its timer");
		return;
	}
	prune();
	arm();
}

void meter_shutdown(void)
{
	if (tick_ev)
		event_free(tick_ev);
	tick_ev = NULL;
}
