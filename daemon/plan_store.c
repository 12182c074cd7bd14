/* Billing's rows (see plan_store.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "daemon/meter_calc.h"
#include "daemon/meter_store.h"
#include "daemon/plan_store.h"
#include "daemon/store.h"


/* A statement with ?1.. bound to the texts given (NULL binds NULL). */
#define sql(s, ...) store_prepare_texts(s, "billing", __VA_ARGS__)

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

struct json_object *plan_store_load(struct store *s)
{
	sqlite3_stmt *st = sql(s, "SELECT name, def FROM plan ORDER BY name", 0);
	struct json_object *all = st ? json_object_new_object() : NULL;
	int rc;

	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_object_add(all, col(st, 0), json_tokener_parse(col(st, 1)));
	if (st && rc != SQLITE_DONE) {
		store_step_failed(s, "read the plans");
		json_object_put(all);
		all = NULL;
	}
	sqlite3_finalize(st);
	return all;
}

int plan_store_put(struct store *s, const char *name, const char *def)
{
	return store_run(s, sql(s, "INSERT OR REPLACE INTO plan (name, def) "
				"VALUES (?1, ?2)", 2, name, def), "define a plan");
}

int plan_store_delete(struct store *s, const char *name)
{
	return store_run(s, sql(s, "DELETE FROM plan WHERE name = ?1", 1, name),
			 "delete a plan");
}

static void fill_seg(sqlite3_stmt *st, struct plan_seg *seg)
{
	seg->since = sqlite3_column_int64(st, 0);
	snprintf(seg->plan, sizeof seg->plan, "%s", col(st, 1));
	snprintf(seg->customer, sizeof seg->customer, "%s", col(st, 2));
	seg->def = col(st, 3);
}

int plan_store_last(struct store *s, const char *uuid, struct plan_seg *seg)
{
	sqlite3_stmt *st = sql(s, "SELECT since, plan, customer, def FROM "
		"plan_history WHERE uuid = ?1 ORDER BY since DESC LIMIT 1", 1, uuid);
	int rc;

	if (!st)
		return STORE_ERR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		fill_seg(st, seg);
		seg->def = strdup(seg->def);
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_NOT_FOUND
				       : store_step_failed(s, "read the plan history");
	}
	sqlite3_finalize(st);
	return rc;
}

int plan_store_note(struct store *s, const char *uuid, const struct plan_seg *seg)
{
	sqlite3_stmt *st = sql(s, "INSERT OR REPLACE INTO plan_history (uuid, "
		"since, plan, customer, def) VALUES (?1, ?2, ?3, ?4, ?5)", 5, uuid,
		NULL, *seg->plan ? seg->plan : NULL,
		*seg->customer ? seg->customer : NULL, *seg->plan ? seg->def : NULL);

	if (st)
		sqlite3_bind_int64(st, 2, seg->since);
	return store_run(s, st, "record the plan history");
}

int plan_store_roll(struct store *s, const char *uuid, int64_t t0,
		    const struct meter_part *parts, size_t n)
{
	sqlite3_stmt *st = sql(s, "INSERT INTO usage_plan (uuid, month, since, "
		"counter, value) VALUES (?1, ?2, coalesce((SELECT max(since) FROM "
		"plan_history WHERE uuid = ?1 AND since <= ?3), 0), ?4, ?5) "
		"ON CONFLICT (uuid, month, since, counter) "
		"DO UPDATE SET value = value + excluded.value", 1, uuid);
	int rc = st ? STORE_OK : STORE_ERR;

	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		sqlite3_bind_int64(st, 2, meter_period_start(parts[i].hour, METER_MONTH));
		sqlite3_bind_int64(st, 3, t0);
		sqlite3_bind_text(st, 4, parts[i].counter, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)parts[i].value);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_step_failed(s, "add usage by plan");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

int plan_store_history(struct store *s, const char *customer, int64_t end,
		       plan_seg_cb cb, void *ctx)
{
	sqlite3_stmt *st = sql(s, "SELECT since, plan, customer, def, uuid FROM "
		"plan_history WHERE uuid IN (SELECT uuid FROM plan_history WHERE "
		"customer = ?1 AND since < ?2) ORDER BY uuid, since", 1, customer);
	struct plan_seg seg;
	int rc;

	if (!st)
		return STORE_ERR;
	sqlite3_bind_int64(st, 2, end);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fill_seg(st, &seg);
		if (cb(ctx, col(st, 4), &seg))
			break;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
		: store_step_failed(s, "read the plan history");
	sqlite3_finalize(st);
	return rc;
}

int plan_store_usage(struct store *s, const char *uuid, int64_t month,
		     int64_t since, plan_use_cb cb, void *ctx)
{
	sqlite3_stmt *st = sql(s, "SELECT counter, value FROM usage_plan WHERE "
		"uuid = ?1 AND month = ?2 AND since = ?3", 1, uuid);
	int rc;

	if (!st)
		return STORE_ERR;
	sqlite3_bind_int64(st, 2, month);
	sqlite3_bind_int64(st, 3, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, col(st, 0), sqlite3_column_int64(st, 1));
	rc = rc == SQLITE_DONE ? STORE_OK : store_step_failed(s, "read usage by plan");
	sqlite3_finalize(st);
	return rc;
}

int64_t plan_store_month_tx(struct store *s, const char *uuid, int64_t month)
{
	sqlite3_stmt *st = sql(s, "SELECT coalesce(sum(value), 0) FROM usage_rollup "
		"WHERE period = 'month' AND uuid = ?1 AND start = ?2 AND counter "
		"GLOB 'nic*.tx_bytes'",
		1, uuid);
	int64_t v = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 2, month);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		store_step_failed(s, "read the month's transfer");
	sqlite3_finalize(st);
	return v;
}
