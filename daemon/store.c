/* The store: VM definitions, runtime rows and the audit log in SQLite.
 *
 * One connection, WAL journal, synchronous=NORMAL: a change is committed to
 * the WAL (safe from a crash of vmd) before the call returns, and
 * store_sync() makes every commit so far durable against power loss with
 * one fsync of the WAL.  vmd acknowledges a definition only after that
 * sync, and syncs once for all the changes of one event-loop turn (group
 * commit): an fsync costs ~4.5 ms on the CI disk, so one per change would
 * cap vmd at ~200 defines/s.  The schema comes only from the
 * numbered migrations compiled in from schemas/migrations; PRAGMA
 * user_version records the newest one applied.  Statements are prepared
 * once and kept on the struct, since vmd runs the same few all day. */
#include "config.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "daemon/store.h"
#include "schemas/embedded.h"

enum stmt_id {
	ST_VM_INSERT,
	ST_VM_UPDATE,
	ST_VM_DELETE,
	ST_VM_LIST,
	ST_RUNTIME_SET,
	ST_EVENT_ADD,
	ST_COUNT
};

/* Columns are named, never "SELECT *", so a later migration that adds a
 * column does not shift what the code reads. */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_VM_INSERT] =
		"INSERT INTO vms (uuid, name, config, created, updated)"
		" VALUES (?1, ?2, ?3, ?4, ?4)",
	/* NULL name or config keeps the stored value. */
	[ST_VM_UPDATE] =
		"UPDATE vms SET name = COALESCE(?2, name),"
		" config = COALESCE(?3, config), updated = ?4"
		" WHERE uuid = ?1",
	[ST_VM_DELETE] =
		"DELETE FROM vms WHERE uuid = ?1",
	[ST_VM_LIST] =
		"SELECT v.uuid, v.name, v.config, v.created, v.updated,"
		" COALESCE(r.state, 'stopped'), COALESCE(r.pid, 0),"
		" COALESCE(r.starttime, 0)"
		" FROM vms v LEFT JOIN runtime r ON r.uuid = v.uuid"
		" ORDER BY v.name",
	[ST_RUNTIME_SET] =
		"INSERT INTO runtime (uuid, state, pid, starttime, qmp_path,"
		" updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		" ON CONFLICT (uuid) DO UPDATE SET state = excluded.state,"
		" pid = excluded.pid, starttime = excluded.starttime,"
		" qmp_path = excluded.qmp_path, updated = excluded.updated",
	[ST_EVENT_ADD] =
		"INSERT INTO events (ts, uuid, vm_name, action, old_state,"
		" new_state, reason, who)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	/* other files' hot statements (store_cached), by their SQL's address */
	struct { const char *sql; sqlite3_stmt *st; } cache[STORE_CACHE_MAX];
	int ncache;
	int listing;          /* store_vm_foreach calls in progress */
	char errmsg[512];
};


void store_set_err(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

/* Turns a failed step into a store_rc, keeping SQLite's words for the
 * message.  Unique and primary key clashes are the caller's business
 * (VmExists); a foreign key failure means the VM is gone. */
static int step_failed(struct store *s, const char *what)
{
	int ext = sqlite3_extended_errcode(s->db);

	store_set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
	if (ext == SQLITE_CONSTRAINT_UNIQUE ||
	    ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return STORE_EXISTS;
	if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		return STORE_NOT_FOUND;
	return STORE_ERR;
}

/* Runs SQL that returns no rows (PRAGMAs, migrations, BEGIN/COMMIT). */
static int exec_sql(struct store *s, const char *what, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		store_set_err(s, "%s: %s", what,
			msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return STORE_ERR;
	}
	return STORE_OK;
}

/* Runs a PRAGMA whose answer is one integer, e.g. user_version. */
static int pragma_int(struct store *s, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_err(s, "%s: %s", sql, sqlite3_errmsg(s->db));
		return STORE_ERR;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		store_set_err(s, "%s: %s", sql, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? STORE_OK : STORE_ERR;
}

/* WAL lets readers (vmctl list while a VM starts) go on during writes;
 * SQLite answers with the mode it actually set, so check it. */
static int set_wal(struct store *s)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	int ok = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st,
			       NULL) != SQLITE_OK) {
		store_set_err(s, "journal_mode: %s", sqlite3_errmsg(s->db));
		return STORE_ERR;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		mode = sqlite3_column_text(st, 0);
		ok = mode && strcmp((const char *)mode, "wal") == 0;
		if (!ok)
			store_set_err(s, "cannot switch the journal to WAL (still"
				" '%s')", mode ? (const char *)mode : "?");
	} else {
		store_set_err(s, "journal_mode: %s", sqlite3_errmsg(s->db));
	}
	sqlite3_finalize(st);
	return ok ? STORE_OK : STORE_ERR;
}

static int newest_migration(void)
{
	int v = 0;

	for (const struct vmd_migration *m = vmd_migrations; m->sql; m++)
		if (m->version > v)
			v = m->version;
	return v;
}

/* One migration and the user_version that records it commit together, so
 * a crash leaves the database at the old or the new version, never in
 * between. */
static int apply_migration(struct store *s, const struct vmd_migration *m)
{
	char what[160], sql[64];

	snprintf(what, sizeof(what), "migration %s", m->name);
	if (exec_sql(s, what, "BEGIN IMMEDIATE") != STORE_OK)
		return STORE_ERR;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", m->version);
	if (exec_sql(s, what, m->sql) != STORE_OK ||
	    exec_sql(s, what, sql) != STORE_OK) {
		/* keep the first error: ROLLBACK may fail too */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return STORE_ERR;
	}
	return exec_sql(s, what, "COMMIT");
}

/* A database from a newer vmd is refused rather than used: its tables may
 * mean something this version does not know. */
static int check_version(struct store *s, int *current)
{
	int newest = newest_migration();

	if (pragma_int(s, "PRAGMA user_version", current) != STORE_OK)
		return STORE_ERR;
	if (*current > newest) {
		store_set_err(s, "database schema version %d is newer than this"
			" vmd knows (%d); use a newer vmd", *current, newest);
		return STORE_ERR;
	}
	if (*current < 0) {
		store_set_err(s, "database schema version %d is not valid",
			*current);
		return STORE_ERR;
	}
	return STORE_OK;
}

static int migrate(struct store *s, int current)
{
	for (const struct vmd_migration *m = vmd_migrations; m->sql; m++) {
		if (m->version <= current)
			continue;
		if (apply_migration(s, m) != STORE_OK)
			return STORE_ERR;
		current = m->version;
	}
	return STORE_OK;
}

static int prepare_all(struct store *s)
{
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[i], NULL) != SQLITE_OK) {
			store_set_err(s, "prepare: %s", sqlite3_errmsg(s->db));
			return STORE_ERR;
		}
	}
	return STORE_OK;
}

/* Settings that are per connection, so they are set at every open.  The
 * version check comes first so that a refused database is not touched. */
static int setup(struct store *s)
{
	int current;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	if (check_version(s, &current) != STORE_OK)
		return STORE_ERR;
	if (set_wal(s) != STORE_OK ||
	    exec_sql(s, "synchronous", "PRAGMA synchronous=NORMAL") != STORE_OK ||
	    exec_sql(s, "foreign_keys", "PRAGMA foreign_keys=ON") != STORE_OK ||
	    migrate(s, current) != STORE_OK)
		return STORE_ERR;
	return prepare_all(s);
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		store_set_err(s, "%s", s->db ? sqlite3_errmsg(s->db)
				      : sqlite3_errstr(rc));
	} else if (setup(s) == STORE_OK) {
		return s;
	}
	snprintf(err, errlen, "%s: %s", path, s->errmsg);
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (int i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	/* close_v2 still closes if a statement were left over */
	sqlite3_close_v2(s->db);
	free(s);
}

int store_sync(struct store *s)
{
	sqlite3_file *wal = NULL;
	int rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
				      &wal);

	if (rc != SQLITE_OK) {
		store_set_err(s, "cannot find the WAL: %s", sqlite3_errstr(rc));
		return STORE_ERR;
	}
	if (!wal || !wal->pMethods)  /* nothing written since open */
		return STORE_OK;
	rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
	if (rc != SQLITE_OK) {
		store_set_err(s, "fsync of the WAL failed: %s", sqlite3_errstr(rc));
		return STORE_ERR;
	}
	return STORE_OK;
}

const char *store_errmsg(struct store *s)
{
	return s->errmsg;
}

struct sqlite3 *store_db(struct store *s)
{
	return s->db;
}

int store_step_failed(struct store *s, const char *what)
{
	return step_failed(s, what);
}

int store_run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return STORE_ERR;
	rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : step_failed(s, what);
	sqlite3_finalize(st);
	return rc;
}

sqlite3_stmt *store_prepare(struct store *s, const char *what, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
		return NULL;
	}
	return st;
}

sqlite3_stmt *store_prepare_texts(struct store *s, const char *what,
				  const char *sql, int n, ...)
{
	sqlite3_stmt *st = store_prepare(s, what, sql);
	va_list ap;

	if (!st)
		return NULL;
	va_start(ap, n);
	for (int i = 1; i <= n; i++) {
		const char *t = va_arg(ap, const char *);
		if (t)
			sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
	}
	va_end(ap);
	return st;
}

sqlite3_stmt *store_cached(struct store *s, const char *what, const char *sql)
{
	for (int i = 0; i < s->ncache; i++)
		if (s->cache[i].sql == sql)
			return s->cache[i].st;
	sqlite3_stmt *st = store_prepare(s, what, sql);
	/* a full cache is a programming error: then the statement is
	 * prepared each time, as store_prepare's callers do */
	assert(s->ncache < STORE_CACHE_MAX);
	if (st && s->ncache < STORE_CACHE_MAX) {
		s->cache[s->ncache].sql = sql;
		s->cache[s->ncache++].st = st;
	}
	return st;
}

void store_release(struct store *s, sqlite3_stmt *st)
{
	for (int i = 0; i < s->ncache; i++)
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

int store_schema_version(struct store *s)
{
	int v;

	return pragma_int(s, "PRAGMA user_version", &v) == STORE_OK ? v : -1;
}

/* Binds text, or NULL for a NULL pointer. */
static void bind_text(sqlite3_stmt *st, int col, const char *text)
{
	if (text)
		sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

/* Steps a cached statement that returns no rows, then resets it so it is
 * ready (and holds no locks) for the next call. */
static int run(struct store *s, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = s->stmt[id];
	int rc = sqlite3_step(st);
	int ret = STORE_OK;

	if (rc != SQLITE_DONE)
		ret = step_failed(s, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ret;
}

int store_vm_insert(struct store *s, const char *uuid, const char *name,
		    const char *config)
{
	sqlite3_stmt *st = s->stmt[ST_VM_INSERT];
	char what[128];

	snprintf(what, sizeof(what), "define VM '%s'", name ? name : "");
	bind_text(st, 1, uuid);
	bind_text(st, 2, name);
	bind_text(st, 3, config);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	return run(s, ST_VM_INSERT, what);
}

/* name or config may be NULL to keep the stored one. */
int store_vm_update(struct store *s, const char *uuid, const char *name,
		    const char *config)
{
	sqlite3_stmt *st = s->stmt[ST_VM_UPDATE];
	char what[128];
	int rc;

	snprintf(what, sizeof(what), "update VM %s", uuid ? uuid : "");
	bind_text(st, 1, uuid);
	bind_text(st, 2, name);
	bind_text(st, 3, config);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	rc = run(s, ST_VM_UPDATE, what);
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0) {
		store_set_err(s, "%s: no such VM", what);
		return STORE_NOT_FOUND;
	}
	return rc;
}

/* The runtime row goes with the VM through ON DELETE CASCADE; events
 * have no foreign key, so the audit log keeps the VM's history. */
int store_vm_delete(struct store *s, const char *uuid)
{
	char what[128];
	int rc;

	snprintf(what, sizeof(what), "delete VM %s", uuid ? uuid : "");
	bind_text(s->stmt[ST_VM_DELETE], 1, uuid);
	rc = run(s, ST_VM_DELETE, what);
	if (rc == STORE_OK && sqlite3_changes(s->db) == 0) {
		store_set_err(s, "%s: no such VM", what);
		return STORE_NOT_FOUND;
	}
	return rc;
}

int store_begin(struct store *s)
{
	return exec_sql(s, "begin a transaction", "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
	int rc = exec_sql(s, "commit", "COMMIT");

	/* a COMMIT that failed may leave the transaction open */
	if (rc != STORE_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Keeps the error of the change that failed: ROLLBACK's own is not news. */
void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* The cached statement serves the usual call; a callback that lists again
 * from inside gets its own statement, as resetting the cached one would
 * pull the rows from under the outer loop. */
int store_vm_foreach(struct store *s, store_vm_cb cb, void *ctx)
{
	sqlite3_stmt *st = s->stmt[ST_VM_LIST];
	struct store_vm vm;
	int rc, ret = STORE_OK;

	assert(cb && s->listing >= 0);
	if (s->listing > 0 &&
	    sqlite3_prepare_v2(s->db, stmt_sql[ST_VM_LIST], -1, &st,
			       NULL) != SQLITE_OK) {
		store_set_err(s, "list VMs: %s", sqlite3_errmsg(s->db));
		return STORE_ERR;
	}
	s->listing++;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		vm.uuid = col_text(st, 0);
		vm.name = col_text(st, 1);
		vm.config = col_text(st, 2);
		vm.created = sqlite3_column_int64(st, 3);
		vm.updated = sqlite3_column_int64(st, 4);
		vm.state = col_text(st, 5);
		vm.pid = (pid_t)sqlite3_column_int64(st, 6);
		vm.starttime = (unsigned long long)sqlite3_column_int64(st, 7);
		ret = cb(ctx, &vm);
		if (ret != 0)
			break;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = step_failed(s, "list VMs");
	s->listing--;
	if (st == s->stmt[ST_VM_LIST])
		sqlite3_reset(st);
	else
		sqlite3_finalize(st);
	return ret;
}

/* An unknown uuid fails the foreign key and comes back STORE_NOT_FOUND. */
int store_runtime_set(struct store *s, const char *uuid, const char *state,
		      pid_t pid, unsigned long long starttime,
		      const char *qmp_path)
{
	sqlite3_stmt *st = s->stmt[ST_RUNTIME_SET];
	char what[128];

	snprintf(what, sizeof(what), "record state of VM %s",
		 uuid ? uuid : "");
	bind_text(st, 1, uuid);
	bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, pid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)starttime);
	bind_text(st, 5, qmp_path);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	return run(s, ST_RUNTIME_SET, what);
}

int store_event_add(struct store *s, const char *uuid, const char *vm_name,
		    const char *action, const char *old_state,
		    const char *new_state, const char *reason, const char *who)
{
	sqlite3_stmt *st = s->stmt[ST_EVENT_ADD];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	bind_text(st, 2, uuid);
	bind_text(st, 3, vm_name);
	bind_text(st, 4, action);
	bind_text(st, 5, old_state);
	bind_text(st, 6, new_state);
	bind_text(st, 7, reason);
	bind_text(st, 8, who);
	return run(s, ST_EVENT_ADD, "add to the audit log");
}
