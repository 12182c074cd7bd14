/* Metering's rows (see meter_store.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "daemon/meter_calc.h"
#include "daemon/meter_store.h"
#include "daemon/plan_store.h"
#include "daemon/store.h"

static sqlite3_stmt *prepare(struct store *s, const char *sql)
{
	return store_prepare(s, "usage", sql);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int meter_store_load(struct store *s, const char *uuid, struct meter_row *row)
{
	sqlite3_stmt *st = prepare(s, "SELECT t, state, epoch, traw, raw FROM "
				   "usage_meter WHERE uuid = ?1");
	int rc;

	if (!st)
		return STORE_ERR;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row->t = sqlite3_column_int64(st, 0);
		copy_col(row->state, sizeof row->state, st, 1);
		copy_col(row->epoch, sizeof row->epoch, st, 2);
		row->traw = sqlite3_column_int64(st, 3);
		row->raw = json_tokener_parse((const char *)sqlite3_column_text(st, 4));
		if (!json_object_is_type(row->raw, json_type_object)) {
			json_object_put(row->raw);
			row->raw = json_object_new_object();
		}
		rc = STORE_OK;
	} else {
		rc = rc == SQLITE_DONE ? STORE_NOT_FOUND
				       : store_step_failed(s, "read the meter");
	}
	sqlite3_finalize(st);
	return rc;
}

static int add_roll(struct store *s, sqlite3_stmt *st, const char *uuid,
		    const char *period, int64_t start, const struct meter_part *p)
{
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, start);
	sqlite3_bind_text(st, 4, p->counter, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)p->value);
	int rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK
			: store_step_failed(s, "add usage");
	sqlite3_reset(st);
	return rc;
}

/* Each part to its hour and its month. */
static int add_parts(struct store *s, const char *uuid,
		     const struct meter_part *parts, size_t n)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO usage_rollup (uuid, period, "
		"start, counter, value) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
		"(period, uuid, start, counter) DO UPDATE SET value = value + "
		"excluded.value");
	int rc = st ? STORE_OK : STORE_ERR;

	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		rc = add_roll(s, st, uuid, "hour", parts[i].hour, &parts[i]);
		if (rc == STORE_OK)
			rc = add_roll(s, st, uuid, "month", meter_period_start(
					parts[i].hour, METER_MONTH), &parts[i]);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The sample's amounts per counter, summed over its hours. */
static char *sample_json(const struct meter_part *parts, size_t n)
{
	struct json_object *o = json_object_new_object(), *v;
	char *text;

	for (size_t i = 0; i < n; i++) {
		int64_t before = json_object_object_get_ex(o, parts[i].counter, &v)
				 ? json_object_get_int64(v) : 0;
		json_object_object_add(o, parts[i].counter, json_object_new_int64(
			before + (int64_t)parts[i].value));
	}
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return text;
}

static int put_sample(struct store *s, const char *uuid, int64_t t0,
		      int64_t t1, const struct meter_part *parts, size_t n)
{
	char *delta;
	sqlite3_stmt *st;

	if (n == 0)   /* nothing happened: no row */
		return STORE_OK;
	if (!(delta = sample_json(parts, n)))
		return STORE_ERR;
	st = prepare(s, "INSERT INTO usage_sample (uuid, t0, t1, delta) "
		     "VALUES (?1, ?2, ?3, ?4)");
	if (st) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t0);
		sqlite3_bind_int64(st, 3, t1);
		sqlite3_bind_text(st, 4, delta, -1, SQLITE_TRANSIENT);
	}
	free(delta);
	return store_run(s, st, "add a usage sample");
}

static int put_meter(struct store *s, const char *uuid,
		     const struct meter_row *row)
{
	sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO usage_meter (uuid, "
		"t, state, epoch, traw, raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

	if (st) {
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, row->t);
		sqlite3_bind_text(st, 3, row->state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, row->epoch, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, row->traw);
		sqlite3_bind_text(st, 6, json_object_to_json_string_ext(row->raw,
				  JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	}
	return store_run(s, st, "record the meter");
}

int meter_store_commit(struct store *s, const char *uuid, int64_t t0,
		       int64_t t1, const struct meter_part *parts, size_t n,
		       const struct meter_row *row)
{
	int rc = store_begin(s);

	if (rc != STORE_OK)
		return rc;
	rc = put_sample(s, uuid, t0, t1, parts, n);
	if (rc == STORE_OK)
		rc = add_parts(s, uuid, parts, n);
	if (rc == STORE_OK)
		rc = plan_store_roll(s, uuid, t0, parts, n);
	if (rc == STORE_OK)
		rc = put_meter(s, uuid, row);
	if (rc != STORE_OK) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s);
}

int meter_store_prune(struct store *s, int64_t before, int max)
{
	sqlite3_stmt *st = prepare(s, "DELETE FROM usage_sample WHERE rowid IN "
		"(SELECT rowid FROM usage_sample WHERE t1 < ?1 LIMIT ?2)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, max);
	if (store_run(s, st, "drop old usage samples") != STORE_OK)
		return -1;
	return sqlite3_changes(store_db(s));
}

/* ?1 the uuids as JSON (NULL: all), ?2 from, ?3 to, ?4 and ?5 the row
 * after which to go on (NULL: from the first). */
#define REPORT_WHERE(period) \
	" WHERE (?1 IS NULL OR uuid IN (SELECT value FROM json_each(?1)))" \
	" AND start >= ?2 AND start < ?3" \
	" AND (?4 IS NULL OR uuid > ?4 OR (uuid = ?4 AND " period " > ?5))"

static const char *const report_sql[] = {
	[METER_HOUR] = "SELECT uuid, start, counter, value FROM usage_rollup"
		REPORT_WHERE("start") " AND period = 'hour'"
		" ORDER BY uuid, start, counter",
	[METER_DAY] = "SELECT uuid, start / 86400 * 86400 AS day, counter, "
		"sum(value) FROM usage_rollup" REPORT_WHERE("start / 86400 * 86400")
		" AND period = 'hour' GROUP BY uuid, day, counter"
		" ORDER BY uuid, day, counter",
	[METER_MONTH] = "SELECT uuid, start, counter, value FROM usage_rollup"
		REPORT_WHERE("start") " AND period = 'month'"
		" ORDER BY uuid, start, counter",
};

int meter_store_report(struct store *s, struct json_object *uuids,
		       int gran, int64_t from, int64_t to,
		       const char *after_uuid, int64_t after_start,
		       meter_report_cb cb, void *ctx)
{
	sqlite3_stmt *st = prepare(s, report_sql[gran]);
	int rc;

	if (!st)
		return STORE_ERR;
	if (uuids)
		sqlite3_bind_text(st, 1, json_object_to_json_string_ext(uuids,
				  JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	if (after_uuid) {
		sqlite3_bind_text(st, 4, after_uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, after_start);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(ctx, (const char *)sqlite3_column_text(st, 0),
		       sqlite3_column_int64(st, 1),
		       (const char *)sqlite3_column_text(st, 2),
		       sqlite3_column_int64(st, 3)))
			break;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
		: store_step_failed(s, "usage report");
	sqlite3_finalize(st);
	return rc;
}
