/* Token rows (see token_store.h). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include "daemon/store.h"
#include "daemon/token_store.h"

#define COLUMNS "id, label, scope, created, IFNULL(expires, 0), " \
		"IFNULL(revoked, 0), hash"

static sqlite3_stmt *prepare(struct store *s, const char *sql)
{
	return store_prepare(s, "tokens", sql);
}

int token_insert(struct store *s, const struct token *t)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO tokens (id, label, scope, "
		"created, expires, hash) VALUES (?1, ?2, ?3, ?4, NULLIF(?5, 0), ?6)");

	if (st) {
		sqlite3_bind_text(st, 1, t->id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, t->label, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, json_object_to_json_string_ext(t->scope,
				  JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, t->created);
		sqlite3_bind_int64(st, 5, t->expires);
		sqlite3_bind_blob(st, 6, t->hash, TOKEN_HASH_BYTES, SQLITE_TRANSIENT);
	}
	return store_run(s, st, "add token");
}

/* A row into t; -1 if it does not hold a valid token (a damaged store). */
static int read_row(sqlite3_stmt *st, struct token *t)
{
	const void *hash = sqlite3_column_blob(st, 6);
	const char *scope = (const char *)sqlite3_column_text(st, 2);
	struct json_object *j = scope ? json_tokener_parse(scope) : NULL;
	char why[128];

	memset(t, 0, sizeof *t);
	snprintf(t->id, sizeof t->id, "%s", sqlite3_column_text(st, 0));
	snprintf(t->label, sizeof t->label, "%s", sqlite3_column_text(st, 1));
	t->created = sqlite3_column_int64(st, 3);
	t->expires = sqlite3_column_int64(st, 4);
	t->revoked = sqlite3_column_int64(st, 5);
	if (!hash || sqlite3_column_bytes(st, 6) != TOKEN_HASH_BYTES || !j ||
	    token_set_scope(t, j, why, sizeof why) < 0) {
		json_object_put(j);
		return -1;
	}
	json_object_put(j);
	memcpy(t->hash, hash, TOKEN_HASH_BYTES);
	return 0;
}

int token_get(struct store *s, const char *id, struct token *t)
{
	static const char sql[] = "SELECT " COLUMNS " FROM tokens WHERE id = ?1";
	sqlite3_stmt *st = store_cached(s, "tokens", sql);
	int rc;

	if (!st)
		return STORE_ERR;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = read_row(st, t) == 0 ? STORE_OK : STORE_NOT_FOUND;
	else
		rc = rc == SQLITE_DONE ? STORE_NOT_FOUND : store_step_failed(s, "token");
	store_release(s, st);
	return rc;
}

int token_revoke(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = prepare(s, "UPDATE tokens SET revoked = "
				   "IFNULL(revoked, ?2) WHERE id = ?1");
	int rc;

	if (st) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
	}
	rc = store_run(s, st, "revoke token");
	if (rc == STORE_OK && sqlite3_changes(store_db(s)) == 0)
		return STORE_NOT_FOUND;
	return rc;
}

int token_count_active(struct store *s, int64_t now)
{
	sqlite3_stmt *st = prepare(s, "SELECT count(*) FROM tokens WHERE "
		"revoked IS NULL AND (expires IS NULL OR expires > ?1)");
	int n = -1;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

int token_foreach(struct store *s, token_cb cb, void *ctx)
{
	sqlite3_stmt *st = prepare(s, "SELECT " COLUMNS " FROM tokens "
				   "ORDER BY created, id");
	struct token t;
	int rc = 0, step = SQLITE_DONE;

	if (!st)
		return STORE_ERR;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_row(st, &t) == 0)
			rc = cb(ctx, &t);
		token_clear(&t);
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_step_failed(s, "list tokens");
	sqlite3_finalize(st);
	return rc;
}
