/* The quotas vmd enforces, kept in the store (see quota.h). */
#include "config.h"
#include <stdio.h>
#include <sqlite3.h>
#include "daemon/quota.h"
#include "daemon/store.h"

int quota_store_put(struct store *s, const struct quota_row *r)
{
	sqlite3_stmt *st = store_prepare_texts(s, "quota", "INSERT OR REPLACE "
		"INTO quota_enforced (uuid, action, month, paused, since) "
		"VALUES (?1, ?2, ?3, ?4, ?5)", 2, r->uuid, r->action);

	if (st) {
		sqlite3_bind_int64(st, 3, r->month);
		sqlite3_bind_int(st, 4, r->paused);
		sqlite3_bind_int64(st, 5, r->since);
	}
	return store_run(s, st, "record a quota reached");
}

int quota_store_delete(struct store *s, const char *uuid)
{
	return store_run(s, store_prepare_texts(s, "quota", "DELETE FROM "
		"quota_enforced WHERE uuid = ?1", 1, uuid), "record a quota lifted");
}

int quota_store_foreach(struct store *s, quota_row_cb cb, void *ctx)
{
	sqlite3_stmt *st = store_prepare(s, "quota", "SELECT uuid, action, "
		"month, paused, since FROM quota_enforced");
	struct quota_row r;
	int rc;

	if (!st)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(r.uuid, sizeof r.uuid, "%s", sqlite3_column_text(st, 0));
		snprintf(r.action, sizeof r.action, "%s", sqlite3_column_text(st, 1));
		r.month = sqlite3_column_int64(st, 2);
		r.paused = sqlite3_column_int(st, 3) != 0;
		r.since = sqlite3_column_int64(st, 4);
		cb(ctx, &r);
	}
	rc = rc == SQLITE_DONE ? STORE_OK : store_step_failed(s, "read the quotas");
	sqlite3_finalize(st);
	return rc;
}
