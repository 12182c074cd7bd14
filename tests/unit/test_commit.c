/* Unit tests for the durability promise of daemon/commit.c with
 * daemon/store.c: a reply that acknowledges a change is released only after
 * the WAL holding that change was synced.  A crash test cannot see this
 * (after SIGKILL the data is still in the page cache), so a SQLite VFS shim
 * wraps the default unix VFS and writes every WAL write ('W') and WAL sync
 * ('S') into one trace, into which the fake reply sink writes 'R' (reply)
 * or 'E' (error reply). */
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
#include <event2/event.h>
#include <sqlite3.h>

#include "daemon/commit.h"
#include "daemon/log.h"
#include "daemon/store.h"
#include "daemon/vmd.h"
#include "tests/unit/commit_trace.h"

#define UUID_A "11111111-1111-4111-8111-111111111111"
#define UUID_B "22222222-2222-4222-8222-222222222222"

struct vmd vmd;

/* ---- the trace ------------------------------------------------------- */

static int fail_sync;          /* the next WAL syncs fail with an I/O error */

/* ---- the fake reply sink (server.c's part) ---------------------------- */

/* ---- the VFS shim ----------------------------------------------------- */

struct rec_file {
	sqlite3_file base;     /* pMethods = &rec_io */
	int is_wal;
	sqlite3_file *real;    /* the unix VFS's file, right after us */
};

static sqlite3_vfs *unix_vfs;

static int rec_close(sqlite3_file *f)
{
	struct rec_file *r = (struct rec_file *)f;
	int rc = r->real->pMethods ? r->real->pMethods->xClose(r->real) : SQLITE_OK;

	return rc;
}

#define REAL(f) (((struct rec_file *)(f))->real)

static int rec_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int rec_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (((struct rec_file *)f)->is_wal)
		note('W');
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int rec_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int rec_sync(sqlite3_file *f, int flags)
{
	if (((struct rec_file *)f)->is_wal) {
		if (fail_sync)
			return SQLITE_IOERR_FSYNC;
		note('S');
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int rec_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int rec_lock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int rec_unlock(sqlite3_file *f, int lock)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int rec_check_lock(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int rec_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int rec_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int rec_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int rec_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
		       void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, p);
}

static int rec_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void rec_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int rec_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int rec_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}

static int rec_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods rec_io = {
	.iVersion = 3,
	.xClose = rec_close, .xRead = rec_read, .xWrite = rec_write,
	.xTruncate = rec_truncate, .xSync = rec_sync, .xFileSize = rec_size,
	.xLock = rec_lock, .xUnlock = rec_unlock,
	.xCheckReservedLock = rec_check_lock, .xFileControl = rec_fcntl,
	.xSectorSize = rec_sector, .xDeviceCharacteristics = rec_devchar,
	.xShmMap = rec_shm_map, .xShmLock = rec_shm_lock,
	.xShmBarrier = rec_shm_barrier, .xShmUnmap = rec_shm_unmap,
	.xFetch = rec_fetch, .xUnfetch = rec_unfetch,
};

static int rec_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		    int flags, int *out_flags)
{
	struct rec_file *r = (struct rec_file *)f;
	int rc;

	(void)vfs;
	memset(r, 0, sizeof(*r));
	r->real = (sqlite3_file *)(r + 1);
	r->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = unix_vfs->xOpen(unix_vfs, name, r->real, flags, out_flags);
	/* SQLite calls xClose only if pMethods is set */
	r->base.pMethods = r->real->pMethods ? &rec_io : NULL;
	return rc;
}

static sqlite3_vfs rec_vfs;

/* Pass-throughs for the VFS calls that do not touch a file. */
static int rec_delete(sqlite3_vfs *v, const char *n, int sync_dir)
{
	(void)v;
	return unix_vfs->xDelete(unix_vfs, n, sync_dir);
}

static int rec_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
	(void)v;
	return unix_vfs->xAccess(unix_vfs, n, flags, out);
}

static int rec_full(sqlite3_vfs *v, const char *n, int len, char *out)
{
	(void)v;
	return unix_vfs->xFullPathname(unix_vfs, n, len, out);
}

static int rec_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return unix_vfs->xRandomness(unix_vfs, n, out);
}

static int rec_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return unix_vfs->xSleep(unix_vfs, us);
}

static int rec_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return unix_vfs->xCurrentTime(unix_vfs, out);
}

static int rec_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return unix_vfs->xGetLastError(unix_vfs, n, out);
}

static int rec_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return unix_vfs->xCurrentTimeInt64(unix_vfs, out);
}

static void register_shim(void)
{
	unix_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(unix_vfs);
	rec_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct rec_file) + unix_vfs->szOsFile,
		.mxPathname = unix_vfs->mxPathname,
		.zName = "vmd-test-rec",
		.xOpen = rec_open, .xDelete = rec_delete, .xAccess = rec_access,
		.xFullPathname = rec_full, .xRandomness = rec_random,
		.xSleep = rec_sleep, .xCurrentTime = rec_time,
		.xGetLastError = rec_last_error,
		.xCurrentTimeInt64 = rec_time64,
	};
	assert_int_equal(sqlite3_vfs_register(&rec_vfs, 1), SQLITE_OK);
}

/* ---- fixture ---------------------------------------------------------- */

struct fixture {
	char dir[64];
	char path[128];
};

static struct fixture fx;

static int setup(void **state)
{
	char err[512] = "";
	const char *tmp = getenv("TMPDIR");

	(void)state;
	fail_sync = 0;
	snprintf(fx.dir, sizeof(fx.dir), "%s/vmd-commit-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/vmd.db", fx.dir);
	vmd.base = event_base_new();
	assert_non_null(vmd.base);
	vmd.store = store_open(fx.path, err, sizeof(err));
	if (!vmd.store)
		fail_msg("store_open: %s", err);
	/* a VM to update, delete and run in the tests */
	assert_int_equal(store_vm_insert(vmd.store, UUID_A, "web1",
					 "{\"name\":\"web1\"}"), STORE_OK);
	trace_reset();
	return 0;
}

static int teardown(void **state)
{
	const char *suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	(void)state;
	commit_shutdown();
	store_close(vmd.store);
	vmd.store = NULL;
	event_base_free(vmd.base);
	vmd.base = NULL;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", fx.path, suffix[i]);
		unlink(p);
	}
	rmdir(fx.dir);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

/* Queue the reply to a change, as a handler does right after it. */
static void acknowledge(void)
{
	commit_reply(json_object_new_string("done"), trace_reply, NULL);
}

/* Run the event-loop turns that release the queued replies. */
static void run_loop(void)
{
	assert_int_not_equal(event_base_loop(vmd.base, EVLOOP_NONBLOCK), -1);
}

/* The change was written to the WAL, then the WAL synced, then each of the
 * n replies released: "W...WS" followed by n 'R' and nothing else. */
static void assert_synced_then_replied(int n)
{
	const char *t = trace;
	size_t w = strspn(t, "W");

	if (w == 0)
		fail_msg("the change did not reach the WAL: trace \"%s\"", trace);
	if (t[w] != 'S')
		fail_msg("no WAL sync between the change and the reply "
			 "(W=WAL write, S=WAL sync, R=reply): \"%s\"", trace);
	for (int i = 0; i < n; i++)
		if (t[w + 1 + i] != 'R')
			fail_msg("reply %d not released after the sync: \"%s\"",
				 i, trace);
	if (t[w + 1 + n] != '\0')
		fail_msg("unexpected steps after the replies: \"%s\"", trace);
}

/* ---- tests ------------------------------------------------------------ */

/* The reply waits for the event loop: queuing it releases nothing. */
static void test_reply_held_until_loop(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	acknowledge();
	assert_null(strchr(trace, 'R'));
	assert_null(strchr(trace, 'S'));
	run_loop();
	assert_synced_then_replied(1);
}

static void test_define(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(1);
}

static void test_update(void **state)
{
	(void)state;
	assert_int_equal(store_vm_update(vmd.store, UUID_A, "web2",
					 "{\"name\":\"web2\"}"), STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(1);
}

/* cmd_vm_undefine: delete, then the audit row, then the reply. */
static void test_undefine(void **state)
{
	(void)state;
	assert_int_equal(store_vm_delete(vmd.store, UUID_A), STORE_OK);
	assert_int_equal(store_event_add(vmd.store, UUID_A, "web1", "undefine",
					 NULL, NULL, NULL, "uid=0"), STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(1);
}

/* A state transition as vm.c records it: runtime row and audit row. */
static void test_state_transition(void **state)
{
	(void)state;
	assert_int_equal(store_runtime_set(vmd.store, UUID_A, "running", 42,
					   7, "/run/qmp"), STORE_OK);
	assert_int_equal(store_event_add(vmd.store, UUID_A, "web1", "state",
					 "stopped", "running", NULL, "vmd"),
			 STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(1);
}

/* Group commit: the changes of one turn share one sync, and every reply
 * of that turn waits for it. */
static void test_group_commit(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	acknowledge();
	assert_int_equal(store_vm_update(vmd.store, UUID_A, NULL,
					 "{\"name\":\"web1\",\"x\":1}"), STORE_OK);
	acknowledge();
	assert_int_equal(store_vm_delete(vmd.store, UUID_B), STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(3);
}

/* A change queued after a flush waits for a sync of its own. */
static void test_second_turn_syncs_again(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	acknowledge();
	run_loop();
	trace_reset();
	assert_int_equal(store_vm_update(vmd.store, UUID_B, "db2",
					 "{\"name\":\"db2\"}"), STORE_OK);
	acknowledge();
	run_loop();
	assert_synced_then_replied(1);
}

/* A failed sync never turns into a success reply. */
static void test_failed_sync_is_an_error(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	fail_sync = 1;
	acknowledge();
	acknowledge();
	run_loop();
	fail_sync = 0;
	assert_null(strchr(trace, 'R'));
	assert_string_equal(trace + strspn(trace, "W"), "EE");
}

/* Shutdown answers what is still waiting, after a sync. */
static void test_shutdown_syncs_first(void **state)
{
	(void)state;
	assert_int_equal(store_vm_insert(vmd.store, UUID_B, "db1",
					 "{\"name\":\"db1\"}"), STORE_OK);
	acknowledge();
	commit_shutdown();
	assert_synced_then_replied(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reply_held_until_loop),
		T(test_define),
		T(test_update),
		T(test_undefine),
		T(test_state_transition),
		T(test_group_commit),
		T(test_second_turn_syncs_again),
		T(test_failed_sync_is_an_error),
		T(test_shutdown_syncs_first),
#undef T
	};

	register_shim();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
