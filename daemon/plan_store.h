/* Billing's rows (migration 0005): plans, each VM's plan history and the
 * usage per plan segment. */
#ifndef VMD_DAEMON_PLAN_STORE_H
#define VMD_DAEMON_PLAN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

struct store;
struct meter_part;

/* Every plan: {name: definition}, a new object; NULL on error. */
struct json_object *plan_store_load(struct store *s);
int plan_store_put(struct store *s, const char *name, const char *def);
int plan_store_delete(struct store *s, const char *name);

/* One row of plan_history; strings "" for NULL. */
struct plan_seg {
	int64_t since;
	char plan[65];
	char customer[257];
	const char *def;          /* JSON text, valid during a callback */
};

/* The VM's last row: STORE_OK, STORE_NOT_FOUND or STORE_ERR.  seg->def
 * is a copy the caller frees. */
int plan_store_last(struct store *s, const char *uuid, struct plan_seg *seg);
int plan_store_note(struct store *s, const char *uuid, const struct plan_seg *seg);

/* meter_store_commit()'s hook, inside its transaction: the parts of a
 * sample that starts at t0 into the segment that holds t0. */
int plan_store_roll(struct store *s, const char *uuid, int64_t t0,
		    const struct meter_part *parts, size_t n);

/* The history of every VM that was customer's before end, ordered by
 * uuid and since. */
typedef int (*plan_seg_cb)(void *ctx, const char *uuid, const struct plan_seg *seg);
int plan_store_history(struct store *s, const char *customer, int64_t end,
		       plan_seg_cb cb, void *ctx);
/* A segment's usage in month: cb per counter. */
typedef void (*plan_use_cb)(void *ctx, const char *counter, int64_t value);
int plan_store_usage(struct store *s, const char *uuid, int64_t month,
		     int64_t since, plan_use_cb cb, void *ctx);
/* What the VM's bridged NICs sent in month (nicN.tx_bytes), or -1. */
int64_t plan_store_month_tx(struct store *s, const char *uuid, int64_t month);

#endif
