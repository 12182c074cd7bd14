/* Unit tests for bridged NICs: the tap's name (daemon/tap.c) and the
 * -netdev QEMU gets for it (emu/argv.c): the descriptor vmd made, with
 * vhost-net's when vmd opened one, and no tap without a descriptor. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "daemon/tap.h"
#include "emu/argv.h"

static void test_name(void **state)
{
	char name[TAP_NAME_SIZE];

	(void)state;
	tap_name("0D6F3F7E-6a53-4c2f-9a0e-4b1d2c3e4f50", 7, name);
	assert_string_equal(name, "vmd0d6f3f7e6an7");
	assert_int_equal(strlen(name), TAP_NAME_SIZE - 1);
	assert_true(tap_is_vmd_name(name));
	assert_false(tap_is_vmd_name("vmd0d6f3f7e6an8"));
	assert_false(tap_is_vmd_name("vmd0D6f3f7e6an0"));
	assert_false(tap_is_vmd_name("vmd0d6f3f7e6a0n0"));
	assert_false(tap_is_vmd_name("vmdtbr1234"));
	assert_false(tap_is_vmd_name("br0"));
}

/* The -netdev value of a config with one NIC of the given type. */
static int netdev(const char *type, const struct emu_fds *fds, char *out,
		  size_t cap)
{
	char text[512];
	struct emu_launch l = {.qemu = "qemu", .accel = "tcg", .qmp_fd = 3,
			       .console_fds = {-1, -1, -1, -1}, .run_dir = "/r",
			       .fds = fds};
	struct emu_argv a;
	int rc;

	snprintf(text, sizeof text, "{\"name\": \"n\", \"arch\": \"x86_64\","
		 " \"cpus\": 1, \"memory_mib\": 64, \"display\": \"none\","
		 " \"serial\": [], \"disks\": [], \"nics\": [{\"type\": \"%s\","
		 " \"bridge\": \"br0\", \"model\": \"virtio\"}]}", type);
	struct json_object *c = json_tokener_parse(text);
	rc = emu_build_argv(c, &l, &a, out, cap);
	json_object_put(c);
	for (size_t i = 0; rc == 0 && i + 1 < a.n; i++)
		if (!strcmp(a.v[i], "-netdev"))
			snprintf(out, cap, "%s", a.v[i + 1]);
	if (rc == 0)
		emu_argv_free(&a);
	return rc;
}

static void test_netdev(void **state)
{
	struct emu_fds fds;
	char out[256];

	(void)state;
	memset(&fds, -1, sizeof fds);
	memset(fds.chain, 0, sizeof fds.chain);
	fds.tap[0] = 21;
	assert_int_equal(netdev("bridge", &fds, out, sizeof out), 0);
	assert_string_equal(out, "tap,id=net0,fd=21");
	fds.vhost[0] = 22;
	assert_int_equal(netdev("bridge", &fds, out, sizeof out), 0);
	assert_string_equal(out, "tap,id=net0,fd=21,vhost=on,vhostfd=22");
	assert_int_equal(netdev("user", &fds, out, sizeof out), 0);
	assert_string_equal(out, "user,id=net0");
	fds.tap[0] = -1;
	assert_int_equal(netdev("bridge", &fds, out, sizeof out), -1);
	assert_non_null(strstr(out, "nics[0]: a bridge NIC needs its tap's descriptor"));
	assert_int_equal(netdev("bridge", NULL, out, sizeof out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_netdev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
