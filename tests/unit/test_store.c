/* Unit tests for daemon/store.c: migrations, the VM table and its
 * constraints, runtime rows, the audit log, durability across reopen.
 * Each test gets a fresh directory from mkdtemp and looks at the database
 * behind the store's back with plain SQLite where that proves more. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/quota.h"
#include "daemon/store.h"
#include "schemas/embedded.h"

#define UUID_A "11111111-1111-4111-8111-111111111111"
#define UUID_B "22222222-2222-4222-8222-222222222222"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
};

static int newest_version(void)
{
	int v = 0;

	for (const struct vmd_migration *m = vmd_migrations; m->sql; m++)
		if (m->version > v)
			v = m->version;
	return v;
}

static struct store *open_store(struct fixture *f)
{
	char err[512] = "";
	struct store *s = store_open(f->path, err, sizeof(err));

	if (!s)
		fail_msg("store_open: %s", err);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/vmd-store-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vmd.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	const char *suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	store_close(f->s);
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Plain SQLite next to the store, for checks the API does not offer. */
static sqlite3 *raw_open(struct fixture *f)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

/* The first column of the first row as an integer; -1 if no row. */
static long long raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Collects what store_vm_foreach reports, copying the strings out. */
struct seen {
	int n;
	char name[8][64], uuid[8][40], config[8][128], state[8][16];
	pid_t pid[8];
	unsigned long long starttime[8];
	int64_t created[8], updated[8];
	int stop_after;
};

static int collect(void *ctx, const struct store_vm *vm)
{
	struct seen *seen = ctx;
	int i = seen->n++;

	assert_true(i < 8);
	snprintf(seen->name[i], sizeof(seen->name[i]), "%s", vm->name);
	snprintf(seen->uuid[i], sizeof(seen->uuid[i]), "%s", vm->uuid);
	snprintf(seen->config[i], sizeof(seen->config[i]), "%s", vm->config);
	snprintf(seen->state[i], sizeof(seen->state[i]), "%s", vm->state);
	seen->pid[i] = vm->pid;
	seen->starttime[i] = vm->starttime;
	seen->created[i] = vm->created;
	seen->updated[i] = vm->updated;
	return seen->stop_after && seen->n >= seen->stop_after ? 42 : 0;
}

static void list(struct store *s, struct seen *seen)
{
	memset(seen, 0, sizeof(*seen));
	assert_int_equal(store_vm_foreach(s, collect, seen), STORE_OK);
}

static void test_fresh_migrates(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	assert_true(newest_version() >= 1);
	f->s = open_store(f);
	assert_int_equal(store_schema_version(f->s), newest_version());
	db = raw_open(f);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), newest_version());
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
				 " WHERE type = 'table' AND name IN"
				 " ('vms', 'runtime', 'events', 'usage_meter',"
				 " 'usage_sample', 'usage_rollup')"), 6);
	/* migration 0004 replaced it */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
				 " WHERE name = 'usage'"), 0);
	sqlite3_close(db);
}

/* If the migrations ran again, the table dropped behind the store's back
 * would come back. */
static void test_reopen_keeps_version(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	f->s = open_store(f);
	store_close(f->s);
	f->s = NULL;
	db = raw_open(f);
	raw_exec(db, "DROP TABLE usage_rollup");
	sqlite3_close(db);

	f->s = open_store(f);
	assert_int_equal(store_schema_version(f->s), newest_version());
	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"
				 " WHERE name = 'usage_rollup'"), 0);
	sqlite3_close(db);
}

static void test_newer_db_refused(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	sqlite3 *db = raw_open(f);

	raw_exec(db, "PRAGMA user_version = 999");
	sqlite3_close(db);
	f->s = store_open(f->path, err, sizeof(err));
	assert_null(f->s);
	assert_non_null(strstr(err, "999"));
	assert_non_null(strstr(err, "newer"));
	/* refused untouched: still the old journal mode, no tables */
	db = raw_open(f);
	assert_int_equal(raw_int(db, "PRAGMA user_version"), 999);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
	sqlite3_close(db);
}

static void test_not_a_database(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	fputs("this is not an SQLite database, not even close to one.\n"
	      "this is not an SQLite database, not even close to one.\n",
	      fp);
	fclose(fp);
	f->s = store_open(f->path, err, sizeof(err));
	assert_null(f->s);
	assert_non_null(strstr(err, f->path));
	assert_true(strlen(err) > strlen(f->path) + 2);
}

static void test_journal_is_wal(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	f->s = open_store(f);
	db = raw_open(f);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_insert_list_update_delete(void **state)
{
	struct fixture *f = *state;
	struct seen seen;

	f->s = open_store(f);
	list(f->s, &seen);
	assert_int_equal(seen.n, 0);

	assert_int_equal(store_vm_insert(f->s, UUID_B, "web2", "{\"b\":1}"),
			 STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{\"a\":1}"),
			 STORE_OK);
	list(f->s, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.name[0], "web1"); /* ordered by name */
	assert_string_equal(seen.uuid[0], UUID_A);
	assert_string_equal(seen.config[0], "{\"a\":1}");
	assert_string_equal(seen.state[0], "stopped");
	assert_int_equal(seen.pid[0], 0);
	assert_true(seen.created[0] > 1600000000);
	assert_string_equal(seen.name[1], "web2");

	assert_int_equal(store_vm_update(f->s, UUID_A, "alpha", "{\"a\":2}"),
			 STORE_OK);
	list(f->s, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.name[0], "alpha");
	assert_string_equal(seen.config[0], "{\"a\":2}");

	assert_int_equal(store_vm_delete(f->s, UUID_B), STORE_OK);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.uuid[0], UUID_A);
}

static void test_missing_uuid(void **state)
{
	struct fixture *f = *state;

	f->s = open_store(f);
	assert_int_equal(store_vm_update(f->s, UUID_A, "x", "{}"),
			 STORE_NOT_FOUND);
	assert_non_null(strstr(store_errmsg(f->s), UUID_A));
	assert_int_equal(store_vm_delete(f->s, UUID_A), STORE_NOT_FOUND);
	assert_int_equal(store_runtime_set(f->s, UUID_A, "running", 1, 1,
					   NULL), STORE_NOT_FOUND);
}

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct seen seen;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"),
			 STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "web1", "{}"),
			 STORE_EXISTS);
	assert_non_null(strstr(store_errmsg(f->s), "web1"));
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web9", "{}"),
			 STORE_EXISTS);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "web2", "{}"),
			 STORE_OK);
	assert_int_equal(store_vm_update(f->s, UUID_B, "web1", "{}"),
			 STORE_EXISTS);
	/* nothing changed by the refused calls */
	list(f->s, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.name[0], "web1");
	assert_string_equal(seen.uuid[0], UUID_A);
	assert_string_equal(seen.name[1], "web2");
	/* renaming onto its own name is no clash */
	assert_int_equal(store_vm_update(f->s, UUID_B, "web2", "{\"x\":1}"),
			 STORE_OK);
}

/* A transaction rolled back leaves nothing of its changes; one committed
 * keeps them all. */
static void test_transaction(void **state)
{
	struct fixture *f = *state;
	struct seen seen;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"), STORE_OK);
	assert_int_equal(store_begin(f->s), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "web2", "{}"), STORE_OK);
	assert_int_equal(store_vm_update(f->s, UUID_A, NULL, "{\"a\":1}"),
			 STORE_OK);
	store_rollback(f->s);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.config[0], "{}");

	assert_int_equal(store_begin(f->s), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "web2", "{}"), STORE_OK);
	assert_int_equal(store_vm_delete(f->s, UUID_A), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.name[0], "web2");
	/* without a transaction, rollback is a no-op */
	store_rollback(f->s);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
}

static void test_runtime_upsert(void **state)
{
	struct fixture *f = *state;
	struct seen seen;
	sqlite3 *db;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"),
			 STORE_OK);
	assert_int_equal(store_runtime_set(f->s, UUID_A, "starting", 1234,
					   987654321ULL, "/run/vmd/a/qmp.sock"),
			 STORE_OK);
	list(f->s, &seen);
	assert_string_equal(seen.state[0], "starting");
	assert_int_equal(seen.pid[0], 1234);
	assert_int_equal(seen.starttime[0], 987654321ULL);

	assert_int_equal(store_runtime_set(f->s, UUID_A, "running", 1234,
					   987654321ULL, "/run/vmd/a/qmp.sock"),
			 STORE_OK);
	list(f->s, &seen);
	assert_string_equal(seen.state[0], "running");

	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM runtime"), 1);
	sqlite3_close(db);

	assert_int_equal(store_runtime_set(f->s, UUID_A, "stopped", 0, 0,
					   NULL), STORE_OK);
	list(f->s, &seen);
	assert_string_equal(seen.state[0], "stopped");
	assert_int_equal(seen.pid[0], 0);
}

static void test_delete_cascades_keeps_events(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"),
			 STORE_OK);
	assert_int_equal(store_runtime_set(f->s, UUID_A, "crashed", 0, 0,
					   NULL), STORE_OK);
	assert_int_equal(store_event_add(f->s, UUID_A, "web1", "define",
					 NULL, NULL, NULL, "uid=0 pid=1"),
			 STORE_OK);
	assert_int_equal(store_event_add(f->s, UUID_A, "web1", "state",
					 "running", "crashed", "crash", "vmd"),
			 STORE_OK);
	assert_int_equal(store_vm_delete(f->s, UUID_A), STORE_OK);

	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM runtime"), 0);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM events"
				 " WHERE uuid = '" UUID_A "'"), 2);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE"
				 " old_state = 'running' AND new_state ="
				 " 'crashed' AND reason = 'crash' AND"
				 " who = 'vmd' AND vm_name = 'web1'"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE"
				 " action = 'define' AND old_state IS NULL"),
			 1);
	assert_true(raw_int(db, "SELECT min(ts) FROM events") > 1600000000);
	sqlite3_close(db);
}

static void test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct seen seen;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{\"m\":64}"),
			 STORE_OK);
	assert_int_equal(store_runtime_set(f->s, UUID_A, "running", 77, 5,
					   "/q"), STORE_OK);
	store_close(f->s);
	f->s = NULL;
	f->s = open_store(f);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.name[0], "web1");
	assert_string_equal(seen.config[0], "{\"m\":64}");
	assert_string_equal(seen.state[0], "running");
	assert_int_equal(seen.pid[0], 77);
	assert_int_equal(seen.starttime[0], 5);
}

static void keep_row(void *ctx, const struct quota_row *r)
{
	struct quota_row *out = ctx;

	out[out[0].uuid[0] ? 1 : 0] = *r;
}

/* A quota vmd enforces: written, replaced, read back after a reopen, and
 * gone with the VM's definition or when lifted. */
static void test_quota_rows(void **state)
{
	struct fixture *f = *state;
	struct quota_row r = {UUID_A, "pause", 1798761600, false, 1798761601};
	struct quota_row got[2];

	memset(got, 0, sizeof got);
	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "web2", "{}"), STORE_OK);
	assert_int_equal(quota_store_put(f->s, &r), STORE_OK);
	r.paused = true;
	assert_int_equal(quota_store_put(f->s, &r), STORE_OK);
	store_close(f->s);
	f->s = open_store(f);
	assert_int_equal(quota_store_foreach(f->s, keep_row, got), STORE_OK);
	assert_string_equal(got[0].uuid, UUID_A);
	assert_string_equal(got[0].action, "pause");
	assert_int_equal(got[0].month, 1798761600);
	assert_true(got[0].paused);
	assert_int_equal(got[0].since, 1798761601);
	assert_int_equal(got[1].uuid[0], 0);
	memcpy(r.uuid, UUID_B, sizeof r.uuid);
	assert_int_equal(quota_store_put(f->s, &r), STORE_OK);
	assert_int_equal(store_vm_delete(f->s, UUID_A), STORE_OK);
	assert_int_equal(quota_store_delete(f->s, UUID_B), STORE_OK);
	memset(got, 0, sizeof got);
	assert_int_equal(quota_store_foreach(f->s, keep_row, got), STORE_OK);
	assert_int_equal(got[0].uuid[0], 0);
}

/* A non-zero callback value stops the walk and is handed back. */
static void test_foreach_stops(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { .stop_after = 1 };

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "a", "{}"), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "b", "{}"), STORE_OK);
	assert_int_equal(store_vm_foreach(f->s, collect, &seen), 42);
	assert_int_equal(seen.n, 1);
	/* and the cached statement is ready again */
	list(f->s, &seen);
	assert_int_equal(seen.n, 2);
}

/* A callback may use the store, even list again. */
struct nested {
	struct store *s;
	int outer, inner;
};

static int count_inner(void *ctx, const struct store_vm *vm)
{
	((struct nested *)ctx)->inner++;
	return 0;
}

static int list_again(void *ctx, const struct store_vm *vm)
{
	struct nested *n = ctx;

	n->outer++;
	assert_int_equal(store_vm_foreach(n->s, count_inner, n), STORE_OK);
	assert_int_equal(store_runtime_set(n->s, vm->uuid, "running", 1, 1,
					   NULL), STORE_OK);
	return 0;
}

static void test_foreach_nested(void **state)
{
	struct fixture *f = *state;
	struct nested n = { 0 };
	struct seen seen;

	f->s = open_store(f);
	n.s = f->s;
	assert_int_equal(store_vm_insert(f->s, UUID_A, "a", "{}"), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_B, "b", "{}"), STORE_OK);
	assert_int_equal(store_vm_foreach(f->s, list_again, &n), STORE_OK);
	assert_int_equal(n.outer, 2);
	assert_int_equal(n.inner, 4);
	list(f->s, &seen);
	assert_string_equal(seen.state[0], "running");
	assert_string_equal(seen.state[1], "running");
}

/* store_sync is the group commit's fsync: it must work before anything
 * was written (no WAL yet) and after, and a synced change is committed for
 * every other reader. */
static void test_sync(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	sqlite3_stmt *st;

	f->s = open_store(f);
	assert_int_equal(store_sync(f->s), STORE_OK);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"), STORE_OK);
	assert_int_equal(store_sync(f->s), STORE_OK);
	db = raw_open(f);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM vms", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(st, 0), "web1");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A path SQLite cannot open: refused with SQLite's own reason. */
static void test_open_missing_dir(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[160], want[600];

	snprintf(path, sizeof(path), "%s/no-such-dir/vmd.db", f->dir);
	assert_null(store_open(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: unable to open database file", path);
	assert_string_equal(err, want);
}

/* The listing reports each column from its own place. */
static void test_list_columns(void **state)
{
	struct fixture *f = *state;
	struct seen seen;
	sqlite3 *db;

	f->s = open_store(f);
	assert_int_equal(store_vm_insert(f->s, UUID_A, "web1", "{}"),
			 STORE_OK);
	db = raw_open(f);
	raw_exec(db, "UPDATE vms SET created = 1000, updated = 2000");
	sqlite3_close(db);
	assert_int_equal(store_runtime_set(f->s, UUID_A, "running", 4321,
					   8765, "/q"), STORE_OK);
	list(f->s, &seen);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.created[0], 1000);
	assert_int_equal(seen.updated[0], 2000);
	assert_int_equal(seen.pid[0], 4321);
	assert_int_equal(seen.starttime[0], 8765);
}

/* A database that cannot use WAL (an in-memory one) is refused: without
 * WAL, synchronous=NORMAL would not make a commit crash-safe. */
static void test_no_wal_refused(void **state)
{
	char err[512] = "";

	(void)state;
	assert_null(store_open(":memory:", err, sizeof(err)));
	assert_string_equal(err, ":memory:: cannot switch the journal to WAL"
			    " (still 'memory')");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_fresh_migrates),
		T(test_reopen_keeps_version),
		T(test_newer_db_refused),
		T(test_not_a_database),
		T(test_journal_is_wal),
		T(test_insert_list_update_delete),
		T(test_missing_uuid),
		T(test_duplicates),
		T(test_transaction),
		T(test_runtime_upsert),
		T(test_delete_cascades_keeps_events),
		T(test_survives_reopen),
		T(test_quota_rows),
		T(test_foreach_stops),
		T(test_foreach_nested),
		T(test_sync),
		T(test_open_missing_dir),
		T(test_list_columns),
		T(test_no_wal_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
