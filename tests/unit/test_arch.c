/* emu/arch.c and emu/emulator.c: the table of guest architectures agrees
 * with vm-config.json, --qemu [ARCH=]PATH, the binary for each arch, and
 * the emulators found (with real QEMU binaries when installed) and their
 * cache. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "emu/arch.h"
#include "emu/emulator.h"
#include "emu/probe.h"
#include "schemas/embedded.h"
#include "tests/unit/emu_test.h"

/* Every arch the schema allows has an entry, and no entry is missing from
 * the schema. */
static void test_table_matches_schema(void **state)
{
	struct json_object *s = json_tokener_parse(vmd_schema_vm_config), *e;
	size_t n;
	const struct emu_arch *all = emu_arch_all(&n);

	(void)state;
	assert_non_null(s);
	assert_true(json_object_object_get_ex(s, "properties", &e));
	assert_true(json_object_object_get_ex(e, "arch", &e));
	assert_true(json_object_object_get_ex(e, "enum", &e));
	assert_int_equal(json_object_array_length(e), n);
	for (size_t i = 0; i < n; i++) {
		const char *name = json_object_get_string(
			json_object_array_get_idx(e, i));
		assert_ptr_equal(emu_arch(name), &all[i]);
		assert_non_null(all[i].machine);
		assert_true(all[i].serial_max >= 1);
	}
	assert_null(emu_arch("arm"));
	assert_null(emu_arch(NULL));
	json_object_put(s);
}

static void test_native(void **state)
{
	(void)state;
	/* this test runs on an x86_64 host */
	if (strcmp(emu_host_arch(), "x86_64"))
		skip();
	assert_true(emu_arch_native(emu_arch("x86_64")));
	assert_true(emu_arch_native(emu_arch("i386")));
	assert_false(emu_arch_native(emu_arch("aarch64")));
	assert_false(emu_arch_native(emu_arch("s390x")));
	assert_false(emu_arch_native(NULL));
}

static void test_qemu_option(void **state)
{
	const struct emu_arch *a;
	const char *path;

	(void)state;
	assert_int_equal(emu_qemu_option("/opt/q/qemu-system-x86_64", &a, &path), 0);
	assert_null(a);
	assert_string_equal(path, "/opt/q/qemu-system-x86_64");
	assert_int_equal(emu_qemu_option("aarch64=/opt/q/arm", &a, &path), 0);
	assert_string_equal(a->name, "aarch64");
	assert_string_equal(path, "/opt/q/arm");
	/* '=' inside a path is the path's */
	assert_int_equal(emu_qemu_option("/opt/a=b/qemu", &a, &path), 0);
	assert_null(a);
	assert_string_equal(path, "/opt/a=b/qemu");
	assert_int_equal(emu_qemu_option("arm=/opt/q/arm", &a, &path), -1);
	assert_int_equal(emu_qemu_option("aarch=/x", &a, &path), -1);
}

static void expect_path(const char *arch, const char *x86, const char *want)
{
	char *p = emu_qemu_for_arch(arch, x86);

	assert_string_equal(p, want);
	free(p);
}

/* {arch, x86_64's binary, arch's}: the configured binary is x86_64's,
 * whatever its name; the others are found beside it. */
static const char *const beside[][3] = {
	{ "aarch64", "/usr/bin/qemu-system-x86_64", "/usr/bin/qemu-system-aarch64" },
	{ "riscv64", "/opt/q/bin/qemu-system-x86_64", "/opt/q/bin/qemu-system-riscv64" },
	{ "x86_64", "/usr/libexec/qemu-kvm", "/usr/libexec/qemu-kvm" },
	{ "i386", "qemu-system-x86_64", "/usr/bin/qemu-system-i386" },
};

static void test_qemu_path(void **state)
{
	char *set[EMU_ARCH_N] = { NULL };
	char *p;

	(void)state;
	for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++)
		expect_path(beside[i][0], beside[i][1], beside[i][2]);
	assert_null(emu_qemu_for_arch("../../bin/sh", "/usr/bin/qemu-system-x86_64"));
	assert_null(emu_qemu_for_arch("aarch64/x", "/usr/bin/qemu-system-x86_64"));

	/* --qemu s390x=PATH wins over the one beside x86_64's */
	set[emu_arch("s390x") - emu_arch("x86_64")] = "/opt/z/qemu";
	p = emu_qemu_path("s390x", set, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(p, "/opt/z/qemu");
	free(p);
	p = emu_qemu_path("aarch64", set, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(p, "/usr/bin/qemu-system-aarch64");
	free(p);
}

static struct json_object *entry(struct json_object *list, const char *arch)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *v;
		if (json_object_object_get_ex(e, "arch", &v) &&
		    !strcmp(json_object_get_string(v), arch))
			return e;
	}
	return NULL;
}

static const char *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
		json_object_get_string(v) : NULL;
}

/* The real binaries: each found one tells its version and machines; a
 * second call reads the cache, which a changed binary invalidates. */
static void test_emulators(void **state)
{
	char dir[256], cache[512], *paths[EMU_ARCH_N];
	size_t n;
	const struct emu_arch *all = emu_arch_all(&n);
	struct json_object *list, *e, *c, *m;

	(void)state;
	if (access("/usr/bin/qemu-system-aarch64", X_OK) < 0)
		skip();
	make_tmpdir(dir, sizeof dir);
	snprintf(cache, sizeof cache, "%s/emulators.json", dir);
	for (size_t i = 0; i < n; i++)
		paths[i] = emu_qemu_for_arch(all[i].name, "/usr/bin/qemu-system-x86_64");
	free(paths[3]);
	paths[3] = strdup("/nonexistent/qemu-system-riscv64");
	list = emu_emulators(paths, dir, cache);
	e = entry(list, "aarch64");
	assert_non_null(e);
	assert_string_equal(member(e, "path"), "/usr/bin/qemu-system-aarch64");
	assert_non_null(strstr(member(e, "version"), "."));
	assert_true(json_object_object_get_ex(e, "machines", &m));
	assert_non_null(strstr(json_object_to_json_string(m), "\"virt\""));
	assert_null(entry(list, "riscv64"));
	json_object_put(list);

	/* the cache answers while its key holds... */
	c = json_object_from_file(cache);
	assert_true(json_object_object_get_ex(c, "aarch64", &e));
	json_object_object_add(e, "version", json_object_new_string("cached"));
	assert_int_equal(json_object_to_file(cache, c), 0);
	list = emu_emulators(paths, dir, cache);
	assert_string_equal(member(entry(list, "aarch64"), "version"), "cached");
	json_object_put(list);
	/* ...and not once the binary changed */
	json_object_object_add(e, "key", json_object_new_string("other"));
	assert_int_equal(json_object_to_file(cache, c), 0);
	list = emu_emulators(paths, dir, cache);
	assert_string_not_equal(member(entry(list, "aarch64"), "version"), "cached");
	json_object_put(list);
	json_object_put(c);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_schema),
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_qemu_option),
		cmocka_unit_test(test_qemu_path),
		cmocka_unit_test(test_emulators),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
