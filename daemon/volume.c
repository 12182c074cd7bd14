/* Volume rows in the store.  Statements are prepared per call: volumes
 * change at human pace, unlike the VM rows store.c keeps statements for.
 * Columns are named, never "SELECT *". */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "daemon/pool.h"
#include "daemon/store.h"
#include "daemon/volume.h"

#define COLUMNS "name, pool, file, format, size, COALESCE(backing, ''), " \
	"readonly, created"

bool volume_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > VOLUME_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_-.", s[i])))
			return false;
	return true;
}

int volume_init(struct volume *v, const char *name, const char *pool,
		const char *format, int64_t size, const char *backing)
{
	memset(v, 0, sizeof *v);
	if (!volume_name_ok(name, strlen(name)) ||
	    !volume_name_ok(pool, strlen(pool)) ||
	    (backing && !volume_name_ok(backing, strlen(backing))) ||
	    (strcmp(format, "raw") && strcmp(format, "qcow2")))
		return -1;
	snprintf(v->name, sizeof v->name, "%s", name);
	snprintf(v->pool, sizeof v->pool, "%s", pool);
	snprintf(v->file, sizeof v->file, "%s.%s", name, format);
	snprintf(v->format, sizeof v->format, "%s", format);
	snprintf(v->backing, sizeof v->backing, "%s", backing ? backing : "");
	v->size = size;
	v->created = (int64_t)time(NULL);
	return 0;
}

/* A statement with its text arguments bound (NULL for an SQL NULL). */
#define prepare(s, ...) store_prepare_texts(s, "volumes", __VA_ARGS__)

/* Steps a statement that returns no rows, and finalizes it. */
static int run(struct store *s, sqlite3_stmt *st, const char *what,
	       const char *name)
{
	int rc = store_run(s, st, what);

	if (rc == STORE_OK && sqlite3_changes(store_db(s)) == 0) {
		store_set_err(s, "%s: no volume named '%s'", what, name);
		return STORE_NOT_FOUND;
	}
	return rc;
}

int volume_insert(struct store *s, const struct volume *v)
{
	sqlite3_stmt *st = prepare(s, "INSERT INTO volumes (name, pool, file,"
		" format, backing, size, readonly, created) VALUES (?1, ?2, ?3,"
		" ?4, NULLIF(?5, ''), ?6, ?7, ?8)", 5, v->name, v->pool, v->file,
		v->format, v->backing);

	if (st) {
		sqlite3_bind_int64(st, 6, v->size);
		sqlite3_bind_int(st, 7, v->readonly);
		sqlite3_bind_int64(st, 8, v->created);
	}
	return run(s, st, "add volume", v->name);
}

int volume_delete(struct store *s, const char *name)
{
	return run(s, prepare(s, "DELETE FROM volumes WHERE name = ?1", 1, name),
		   "delete volume", name);
}

/* One number of a row: sql sets it from ?2 where name is ?1. */
static int set_number(struct store *s, const char *sql, const char *what,
		      const char *name, int64_t value)
{
	sqlite3_stmt *st = prepare(s, sql, 1, name);

	if (st)
		sqlite3_bind_int64(st, 2, value);
	return run(s, st, what, name);
}

int volume_set_size(struct store *s, const char *name, int64_t size)
{
	return set_number(s, "UPDATE volumes SET size = ?2 WHERE name = ?1",
			  "resize volume", name, size);
}

int volume_set_readonly(struct store *s, const char *name, bool readonly)
{
	return set_number(s, "UPDATE volumes SET readonly = ?2 WHERE name = ?1",
			  "mark volume", name, readonly);
}

static void read_row(sqlite3_stmt *st, struct volume *v)
{
	const char *t;

	memset(v, 0, sizeof *v);
#define TEXT(col, field) \
	t = (const char *)sqlite3_column_text(st, col); \
	snprintf(v->field, sizeof v->field, "%s", t ? t : "")
	TEXT(0, name);
	TEXT(1, pool);
	TEXT(2, file);
	TEXT(3, format);
	TEXT(5, backing);
#undef TEXT
	v->size = sqlite3_column_int64(st, 4);
	v->readonly = sqlite3_column_int(st, 6) != 0;
	v->created = sqlite3_column_int64(st, 7);
}

/* Calls cb for each row of st, then finalizes it. */
static int each(struct store *s, sqlite3_stmt *st, volume_cb cb, void *ctx)
{
	struct volume v;
	int rc, ret = STORE_OK;

	if (!st)
		return STORE_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_row(st, &v);
		if ((ret = cb(ctx, &v)) != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_step_failed(s, "list volumes");
	sqlite3_finalize(st);
	return ret;
}

static int copy_one(void *ctx, const struct volume *v)
{
	*(struct volume *)ctx = *v;
	return 1;
}

int volume_get(struct store *s, const char *name, struct volume *out)
{
	int rc = each(s, prepare(s, "SELECT " COLUMNS " FROM volumes WHERE"
				 " name = ?1", 1, name), copy_one, out);

	if (rc == 1)
		return STORE_OK;
	if (rc == STORE_OK) {
		store_set_err(s, "no volume named '%s'", name);
		return STORE_NOT_FOUND;
	}
	return rc;
}

int volume_foreach(struct store *s, volume_cb cb, void *ctx)
{
	return each(s, prepare(s, "SELECT " COLUMNS " FROM volumes ORDER BY"
			       " name", 0), cb, ctx);
}

int volume_foreach_child(struct store *s, const char *name, volume_cb cb,
			 void *ctx)
{
	return each(s, prepare(s, "SELECT " COLUMNS " FROM volumes WHERE"
			       " backing = ?1 ORDER BY name", 1, name), cb, ctx);
}

int volume_path(const struct volume *v, char *buf, size_t len)
{
	return pool_path(v->pool, v->file, buf, len);
}

size_t volume_bases(struct store *s, const struct volume *v, size_t max)
{
	struct volume b;
	char name[sizeof v->backing];
	size_t n = 0;

	snprintf(name, sizeof name, "%s", v->backing);
	while (name[0] && n <= max && volume_get(s, name, &b) == STORE_OK) {
		n++;
		snprintf(name, sizeof name, "%s", b.backing);
	}
	return n;
}

int volume_tmp_path(const struct volume *v, char *buf, size_t len)
{
	char name[sizeof v->file + 8];

	snprintf(name, sizeof name, ".%s.part", v->file);
	return pool_path(v->pool, name, buf, len);
}
