/* Unit tests for daemon/volume.c: volume rows in a real store (migration
 * 0002), names, clashes, bases and their clones, the vms.template
 * column the templates build on. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/pool.h"
#include "daemon/store.h"
#include "daemon/volume.h"

static char dir[64];

static int open_fresh(void **state)
{
	char path[128], err[512] = "";
	struct store *s;

	snprintf(dir, sizeof dir, "/tmp/vmd-volume-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/vmd.db", dir);
	if (!(s = store_open(path, err, sizeof err)))
		fail_msg("store_open: %s", err);
	*state = s;
	return 0;
}

static int close_and_remove(void **state)
{
	char cmd[128];

	store_close(*state);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void add(struct store *s, const char *name, const char *format,
		const char *backing)
{
	struct volume v;

	assert_int_equal(volume_init(&v, name, "default", format, 1 << 20,
				     backing), 0);
	assert_int_equal(volume_insert(s, &v), STORE_OK);
}

static void test_insert_get(void **state)
{
	struct store *s = *state;
	struct volume v;

	add(s, "web1-root", "qcow2", NULL);
	assert_int_equal(volume_get(s, "web1-root", &v), STORE_OK);
	assert_string_equal(v.file, "web1-root.qcow2");
	assert_string_equal(v.format, "qcow2");
	assert_string_equal(v.pool, "default");
	assert_string_equal(v.backing, "");
	assert_int_equal(v.size, 1 << 20);
	assert_false(v.readonly);
	assert_true(v.created > 0);
	assert_int_equal(volume_get(s, "nosuch", &v), STORE_NOT_FOUND);
	assert_non_null(strstr(store_errmsg(s), "nosuch"));
}

static void test_names_and_formats(void **state)
{
	struct volume v;

	(void)state;
	assert_int_equal(volume_init(&v, "../etc", "default", "raw", 1, NULL), -1);
	assert_int_equal(volume_init(&v, ".hidden", "default", "raw", 1, NULL), -1);
	assert_int_equal(volume_init(&v, "", "default", "raw", 1, NULL), -1);
	assert_int_equal(volume_init(&v, "a b", "default", "raw", 1, NULL), -1);
	assert_int_equal(volume_init(&v, "a", "default", "vmdk", 1, NULL), -1);
	assert_int_equal(volume_init(&v, "a", "default", "raw", 1, "../b"), -1);
	assert_int_equal(volume_init(&v, "a_1.b-2", "p", "raw", 1, "base"), 0);
	assert_string_equal(v.file, "a_1.b-2.raw");
	assert_string_equal(v.backing, "base");
}

static void test_clash(void **state)
{
	struct store *s = *state;
	struct volume v;

	add(s, "a", "raw", NULL);
	volume_init(&v, "a", "default", "qcow2", 1, NULL);
	assert_int_equal(volume_insert(s, &v), STORE_EXISTS);
	assert_int_equal(volume_delete(s, "a"), STORE_OK);
	assert_int_equal(volume_delete(s, "a"), STORE_NOT_FOUND);
	assert_int_equal(volume_insert(s, &v), STORE_OK);
}

static int count(void *ctx, const struct volume *v)
{
	char *names = ctx;

	strcat(names, v->name);
	strcat(names, " ");
	return 0;
}

static int stop_at_first(void *ctx, const struct volume *v)
{
	(void)v;
	++*(int *)ctx;
	return 7;
}

static void test_list_and_children(void **state)
{
	struct store *s = *state;
	char names[256] = "";
	int calls = 0;

	add(s, "base", "raw", NULL);
	add(s, "c2", "qcow2", "base");
	add(s, "c1", "qcow2", "base");
	add(s, "other", "raw", NULL);
	assert_int_equal(volume_foreach(s, count, names), STORE_OK);
	assert_string_equal(names, "base c1 c2 other ");
	names[0] = 0;
	assert_int_equal(volume_foreach_child(s, "base", count, names), STORE_OK);
	assert_string_equal(names, "c1 c2 ");
	names[0] = 0;
	assert_int_equal(volume_foreach_child(s, "other", count, names), STORE_OK);
	assert_string_equal(names, "");
	assert_int_equal(volume_foreach(s, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
}

static void test_base_must_exist_and_stays(void **state)
{
	struct store *s = *state;
	struct volume v;

	/* the foreign key: no clone of a volume that is not there */
	volume_init(&v, "orphan", "default", "qcow2", 1, "nosuch");
	assert_int_equal(volume_insert(s, &v), STORE_NOT_FOUND);
	add(s, "base", "raw", NULL);
	add(s, "clone", "qcow2", "base");
	assert_int_not_equal(volume_delete(s, "base"), STORE_OK);
	assert_int_equal(volume_get(s, "base", &v), STORE_OK);
}

static void test_size_and_readonly(void **state)
{
	struct store *s = *state;
	struct volume v;

	add(s, "a", "qcow2", NULL);
	assert_int_equal(volume_set_size(s, "a", 5LL << 30), STORE_OK);
	assert_int_equal(volume_set_readonly(s, "a", true), STORE_OK);
	assert_int_equal(volume_get(s, "a", &v), STORE_OK);
	assert_int_equal(v.size, 5LL << 30);
	assert_true(v.readonly);
	assert_int_equal(volume_set_size(s, "nosuch", 1), STORE_NOT_FOUND);
	assert_int_equal(volume_set_readonly(s, "nosuch", 1), STORE_NOT_FOUND);
}

static void test_template_column(void **state)
{
	struct store *s = *state;
	sqlite3_stmt *st;

	assert_int_equal(store_vm_insert(s, "11111111-1111-4111-8111-111111111111",
					 "t", "{}"), STORE_OK);
	assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT template FROM vms",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
}

static void test_path(void **state)
{
	struct volume v;
	char err[256], path[256];

	(void)state;
	assert_int_equal(pool_add("fast=/srv/fast", err, sizeof err), 0);
	assert_int_equal(pool_add("fast=/srv/other", err, sizeof err), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(pool_add("x=relative", err, sizeof err), -1);
	assert_int_equal(pool_add("../x=/a", err, sizeof err), -1);
	volume_init(&v, "db", "fast", "raw", 1, NULL);
	assert_int_equal(volume_path(&v, path, sizeof path), 0);
	assert_string_equal(path, "/srv/fast/db.raw");
	volume_init(&v, "db", "nosuch", "raw", 1, NULL);
	assert_int_equal(volume_path(&v, path, sizeof path), -1);
	pool_free_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, open_fresh, close_and_remove)
		T(test_insert_get),
		T(test_names_and_formats),
		T(test_clash),
		T(test_list_and_children),
		T(test_base_must_exist_and_stays),
		T(test_size_and_readonly),
		T(test_template_column),
		T(test_path),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
