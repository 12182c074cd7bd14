/* The store: VM definitions, runtime rows, the audit log, in SQLite (WAL).
 * A change returns once it is committed to the WAL (it survives a crash of
 * vmd); store_sync() then makes all commits so far durable against power
 * loss.  vmd acknowledges a definition only after store_sync().  The schema is created and upgraded from the
 * numbered migrations in schemas/migrations (PRAGMA user_version). */
#ifndef VMD_DAEMON_STORE_H
#define VMD_DAEMON_STORE_H

#include <stdint.h>
#include <sys/types.h>

struct store;

enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,       /* SQLite failure; store_errmsg() says which */
	STORE_EXISTS = -2,    /* unique name or uuid already taken */
	STORE_NOT_FOUND = -3,
};

/* Open (creating) the database at path, apply pending migrations, set WAL
 * and synchronous=NORMAL. NULL on failure with err set. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *s);
const char *store_errmsg(struct store *s);
/* fsync the WAL: every commit made so far is on disk after STORE_OK. */
int store_sync(struct store *s);
int store_schema_version(struct store *s);

/* For modules with tables of their own (volume.c): the connection, the
 * store's error message, and a failed step as a store_rc (a unique clash
 * is STORE_EXISTS). */
struct sqlite3;
struct sqlite3 *store_db(struct store *s);
void store_set_err(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int store_step_failed(struct store *s, const char *what);
/* Step a statement that returns no rows (NULL: a failed prepare, already
 * in the error message) and finalize it: STORE_OK or the failure. */
struct sqlite3_stmt;
int store_run(struct store *s, struct sqlite3_stmt *st, const char *what);
/* A statement of sql, or NULL with "what: SQLite's words" as the error. */
struct sqlite3_stmt *store_prepare(struct store *s, const char *what,
				   const char *sql);
/* ... with ?1..?n bound to the n texts that follow (NULL: SQL NULL). */
struct sqlite3_stmt *store_prepare_texts(struct store *s, const char *what,
					 const char *sql, int n, ...);
/* The same, prepared once and kept for the store's life, for a statement
 * run on every call (a token's check): sql must be a string constant, its
 * address is the key.  Give it back with store_release, not finalize. */
#define STORE_CACHE_MAX 8
struct sqlite3_stmt *store_cached(struct store *s, const char *what,
				  const char *sql);
/* Reset a store_cached statement (finalize any other). */
void store_release(struct store *s, struct sqlite3_stmt *st);

struct store_vm {
	const char *uuid, *name, *config; /* config: JSON text */
	int64_t created, updated;         /* unix seconds */
	/* runtime row, if any (state "stopped" and pid 0 otherwise) */
	const char *state;
	pid_t pid;
	unsigned long long starttime;
};

int store_vm_insert(struct store *s, const char *uuid, const char *name,
		    const char *config);
int store_vm_update(struct store *s, const char *uuid, const char *name,
		    const char *config);
/* Deletes the VM and its runtime row; audit rows stay. */
int store_vm_delete(struct store *s, const char *uuid);

/* Several changes as one: after store_begin() none of them is seen until
 * store_commit(); store_rollback() drops them all (spec-apply's rule that
 * a bad entry changes nothing).  No transaction nests. */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* Calls cb for every VM, ordered by name; the strings live only during the
 * call.  Stops early and returns cb's value when it is non-zero. */
typedef int (*store_vm_cb)(void *ctx, const struct store_vm *vm);
int store_vm_foreach(struct store *s, store_vm_cb cb, void *ctx);

/* Record the VM's runtime state (upsert). */
int store_runtime_set(struct store *s, const char *uuid, const char *state,
		      pid_t pid, unsigned long long starttime,
		      const char *qmp_path);

/* Append to the audit log: a transition (old -> new) or an action, with who
 * asked ("uid=0 pid=123", "vmd"). old/new may be NULL for actions. */
int store_event_add(struct store *s, const char *uuid, const char *vm_name,
		    const char *action, const char *old_state,
		    const char *new_state, const char *reason, const char *who);

#endif
