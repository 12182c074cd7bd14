/* The cloud-init seed below the daemon: the documents seed.c makes, the
 * ISO seed_iso.c writes, cloud_init.c's password hashing and QEMU's
 * options for the CD-ROM (emu/cdrom.c).  tests/e2e/test_cloudinit.py reads
 * real seeds with cloud-init's own code. */
#include "config.h"
#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "daemon/cloud_init.h"
#include "daemon/seed.h"
#include "daemon/vmd.h"
#include "emu/cdrom.h"

struct vmd vmd;

static const char *config_text =
	"{\"name\": \"t\", \"uuid\": \"0b2c0a4e-7d3f-4b52-9a51-2f9c6f0d1e77\","
	" \"nics\": [{\"type\": \"user\", \"mac\": \"52:54:00:12:34:56\"}],"
	" \"cloud_init\": {\"hostname\": \"h1\", \"users\": [{\"name\": \"a\","
	" \"password\": \"pw\"}], \"network\": [{\"nic\": 0, \"addresses\":"
	" [\"192.0.2.2/24\"], \"gateway\": \"192.0.2.1\"}]}}";

static struct json_object *at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static void test_cdrom_argv(void **state)
{
	static const struct {
		const char *arch, *machine, *device;
	} cases[] = {
		{"x86_64", NULL, "ide-cd,drive=cidata"},
		{"x86_64", "q35", "ide-cd,drive=cidata"},
		{"x86_64", "isapc", "ide-cd,drive=cidata"},
		{"aarch64", NULL, "virtio-scsi-pci,id=cidata-scsi"},
	};
	(void)state;
	assert_false(emu_seed_attachable("x86_64", "microvm"));
	assert_true(emu_seed_attachable("x86_64", NULL));
	assert_true(emu_seed_attachable("aarch64", "virt"));
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct emu_argv a;
		emu_argv_init(&a);
		assert_int_equal(emu_argv_add_seed(&a, 42, cases[i].arch,
						   cases[i].machine), 0);
		assert_string_equal(a.v[0], "-add-fd");
		assert_string_equal(a.v[1], "fd=42,set=128,opaque=cidata");
		assert_string_equal(a.v[3], "file=/dev/fdset/128,format=raw,"
				    "if=none,id=cidata,readonly=on");
		assert_string_equal(a.v[5], cases[i].device);
		assert_int_equal(a.n, strstr(cases[i].device, "scsi") ? 8 : 6);
		emu_argv_free(&a);
	}
}

/* The password is hashed in place, and the hash verifies. */
static void test_password_hashed(void **state)
{
	struct json_object *c = json_tokener_parse(config_text);
	struct rpc_fault f;
	struct crypt_data cd;

	(void)state;
	assert_int_equal(cloud_init_check(c, NULL, &f), 0);
	struct json_object *u = json_object_array_get_idx(
		at(at(c, "cloud_init"), "users"), 0);
	assert_null(at(u, "password"));
	const char *h = json_object_get_string(at(u, "password_hash"));
	assert_non_null(h);
	assert_memory_equal(h, "$6$", 3);
	memset(&cd, 0, sizeof cd);
	assert_string_equal(crypt_r("pw", h, &cd), h);
	/* a hash is kept as given; a broken one is refused */
	assert_int_equal(cloud_init_check(c, NULL, &f), 0);
	assert_string_equal(json_object_get_string(at(u, "password_hash")), h);
	json_object_object_add(u, "password_hash", json_object_new_string("$6$x$y"));
	assert_int_equal(cloud_init_check(c, NULL, &f), -1);
	assert_int_equal(f.cls, RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(f.msg, "config.cloud_init.users[0].password_hash"));
	json_object_put(c);
}

static const char *hash_of(struct json_object *c)
{
	return json_object_get_string(at(json_object_array_get_idx(
		at(at(c, "cloud_init"), "users"), 0), "password_hash"));
}

/* An update with the same password keeps the hash (and so the seed's
 * instance-id); another password gets a new one. */
static void test_same_password_same_hash(void **state)
{
	struct json_object *old = json_tokener_parse(config_text);
	struct json_object *same = json_tokener_parse(config_text);
	struct json_object *other = json_tokener_parse(config_text);
	struct rpc_fault f;

	(void)state;
	json_object_object_add(json_object_array_get_idx(at(at(other,
		"cloud_init"), "users"), 0), "password", json_object_new_string("x"));
	assert_int_equal(cloud_init_check(old, NULL, &f), 0);
	assert_int_equal(cloud_init_check(same, old, &f), 0);
	assert_int_equal(cloud_init_check(other, old, &f), 0);
	assert_string_equal(hash_of(same), hash_of(old));
	assert_string_not_equal(hash_of(other), hash_of(old));
	json_object_put(old);
	json_object_put(same);
	json_object_put(other);
}

static void test_documents(void **state)
{
	struct json_object *c = json_tokener_parse(config_text), *o;
	struct seed s, s2;
	struct rpc_fault f;

	(void)state;
	assert_int_equal(cloud_init_check(c, NULL, &f), 0);
	assert_int_equal(seed_make(c, &s), 0);
	assert_memory_equal(s.user, "#cloud-config\n", 14);
	o = json_tokener_parse(s.user + 14);
	assert_string_equal(json_object_get_string(at(o, "hostname")), "h1");
	json_object_put(o);
	o = json_tokener_parse(s.network);
	struct json_object *nic = at(at(o, "ethernets"), "nic0");
	assert_string_equal(json_object_get_string(at(at(nic, "match"),
		"macaddress")), "52:54:00:12:34:56");
	assert_string_equal(json_object_get_string(at(nic, "gateway4")), "192.0.2.1");
	json_object_put(o);
	o = json_tokener_parse(s.meta);
	assert_string_equal(json_object_get_string(at(o, "instance-id")), s.iid);
	assert_string_equal(json_object_get_string(at(o, "local-hostname")), "h1");
	json_object_put(o);
	assert_null(s.vendor);

	/* the same block gives the same id; another hostname another */
	assert_int_equal(seed_make(c, &s2), 0);
	assert_string_equal(s.iid, s2.iid);
	seed_free(&s2);
	json_object_object_add(at(c, "cloud_init"), "hostname",
			       json_object_new_string("h2"));
	assert_int_equal(seed_make(c, &s2), 0);
	assert_string_not_equal(s.iid, s2.iid);
	seed_free(&s2);
	seed_free(&s);
	json_object_put(c);
}

static void test_iso(void **state)
{
	char dir[] = "/tmp/vmd-seed-XXXXXX", path[64];
	struct seed_file files[] = {{"meta-data", "{}\n", 3}, {"user-data", "x", 1}};
	unsigned char pvd[2048];
	char err[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/s.iso", dir);
	assert_int_equal(seed_iso_write(path, "cidata", files, 2, err, sizeof err), 0);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 16 * 2048, SEEK_SET), 0);
	assert_int_equal(fread(pvd, 1, sizeof pvd, fp), sizeof pvd);
	fclose(fp);
	assert_memory_equal(pvd + 1, "CD001", 5);    /* ISO 9660 */
	assert_memory_equal(pvd + 40, "cidata  ", 8); /* volume id, kept lower */
	char tmp[80];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	assert_int_not_equal(access(tmp, F_OK), 0);   /* renamed */
	/* an unwritable place: an error, no file */
	snprintf(path, sizeof path, "%s/none/s.iso", dir);
	assert_int_equal(seed_iso_write(path, "cidata", files, 2, err, sizeof err), -1);
	assert_non_null(strstr(err, "none/s.iso.new"));
	snprintf(path, sizeof path, "%s/s.iso", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdrom_argv),
		cmocka_unit_test(test_password_hashed),
		cmocka_unit_test(test_same_password_same_hash),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_iso),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
