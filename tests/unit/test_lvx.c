/* The libvirt bridge (bridge/): domain XML to a vmd config, what is not
 * mapped listed by element and reason, malformed input refused, and a
 * config exported and imported again comes back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "bridge/lvx.h"

static const char full[] =
	"<domain type='kvm' id='3'>\n"
	"  <name>web1</name>\n"
	"  <uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid>\n"
	"  <memory unit='KiB'>1048576</memory>\n"
	"  <currentMemory unit='GiB'>1</currentMemory>\n"
	"  <vcpu placement='static'>2</vcpu>\n"
	"  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
	"    <kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd.img</initrd>\n"
	"    <cmdline>console=ttyS0</cmdline><boot dev='hd'/><boot dev='cdrom'/></os>\n"
	"  <features><acpi/><apic/></features>\n"
	"  <clock offset='utc'/>\n"
	"  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot>\n"
	"  <on_crash>restart</on_crash>\n"
	"  <devices>\n"
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
	"    <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>\n"
	"      <source file='/var/lib/libvirt/images/web1.qcow2'/><target dev='vda' bus='virtio'/>\n"
	"      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></disk>\n"
	"    <disk type='block' device='disk'><driver name='qemu' type='raw'/>\n"
	"      <source dev='/dev/sdb'/><target dev='sda' bus='sata'/><readonly/></disk>\n"
	"    <disk type='file' device='cdrom'><source file='/iso/d.iso'/>\n"
	"      <target dev='hdc' bus='ide'/><readonly/></disk>\n"
	"    <disk type='file' device='disk'><driver name='qemu' type='vmdk'/>\n"
	"      <source file='/x.vmdk'/><target dev='vdc' bus='virtio'/></disk>\n"
	"    <controller type='usb' model='piix3-uhci'/>\n"
	"    <interface type='user'><mac address='52:54:00:AB:CD:EF'/><model type='e1000'/></interface>\n"
	"    <interface type='network'><source network='default'/></interface>\n"
	"    <interface type='bridge'><source bridge='br0'/></interface>\n"
	"    <serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial>\n"
	"    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/>\n"
	"      <protocol type='raw'/><target port='1'/></serial>\n"
	"    <serial type='unix'><source mode='bind' path='/tmp/s'/><target port='2'/></serial>\n"
	"    <console type='pty'><target type='serial' port='0'/></console>\n"
	"    <parallel type='dev'><source path='/dev/parport0'/><target port='0'/></parallel>\n"
	"    <input type='mouse' bus='ps2'/>\n"
	"    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
	"  </devices>\n"
	"</domain>\n";

static struct json_object *at(struct json_object *o, const char *path)
{
	return json_object_object_get_ex(o, path, &o) ? o : NULL;
}

static const char *s(struct json_object *o, const char *key)
{
	return json_object_get_string(at(o, key));
}

/* The reason listed for element (exactly), or NULL. */
static const char *reason(struct json_object *list, const char *element)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		if (!strcmp(s(e, "element"), element))
			return s(e, "reason");
	}
	return NULL;
}

static void import(const char *xml, const struct lvx_host *h, struct lvx_import *out)
{
	struct rpc_fault f;

	assert_int_equal(lvx_import(xml, strlen(xml), h, out, &f), 0);
}

static void test_members(void **state)
{
	struct json_object *bridges = json_tokener_parse("{\"default\": \"virbr0\"}");
	struct lvx_host h = {.autostart = 1, .bridges = bridges};
	struct lvx_import r;

	(void)state;
	import(full, &h, &r);
	struct json_object *c = r.config;
	assert_string_equal(s(c, "name"), "web1");
	assert_string_equal(s(c, "uuid"), "c7a5fdbd-edaf-9455-926a-d65c16db1809");
	assert_int_equal(json_object_get_int(at(c, "memory_mib")), 1024);
	assert_int_equal(json_object_get_int(at(c, "cpus")), 2);
	assert_string_equal(s(c, "arch"), "x86_64");
	assert_string_equal(s(c, "machine"), "pc-q35-7.2");
	assert_string_equal(s(c, "accel"), "auto");
	assert_string_equal(s(c, "restart_policy"), "on-failure");
	assert_true(json_object_get_boolean(at(c, "autostart")));
	struct json_object *boot = at(c, "boot");
	assert_string_equal(s(boot, "kernel"), "/boot/vmlinuz");
	assert_string_equal(s(boot, "initrd"), "/boot/initrd.img");
	assert_string_equal(s(boot, "cmdline"), "console=ttyS0");
	assert_string_equal(s(boot, "order"), "cd");
	json_object_put(bridges);
	lvx_import_free(&r);
}

static void test_devices(void **state)
{
	struct lvx_import r;

	(void)state;
	import(full, NULL, &r);
	struct json_object *disks = at(r.config, "disks");
	assert_int_equal(json_object_array_length(disks), 2);
	struct json_object *d0 = json_object_array_get_idx(disks, 0);
	struct json_object *d1 = json_object_array_get_idx(disks, 1);
	assert_string_equal(s(d0, "path"), "/var/lib/libvirt/images/web1.qcow2");
	assert_string_equal(s(d0, "format"), "qcow2");
	assert_string_equal(s(d0, "bus"), "virtio");
	assert_false(json_object_get_boolean(at(d0, "readonly")));
	assert_string_equal(s(d1, "path"), "/dev/sdb");
	/* sata and read-only: QEMU has no read-only IDE disk, so virtio */
	assert_string_equal(s(d1, "bus"), "virtio");
	assert_true(json_object_get_boolean(at(d1, "readonly")));
	struct json_object *nic = json_object_array_get_idx(at(r.config, "nics"), 0);
	assert_int_equal(json_object_array_length(at(r.config, "nics")), 1);
	assert_string_equal(s(nic, "mac"), "52:54:00:ab:cd:ef");
	assert_string_equal(s(nic, "model"), "e1000");
	struct json_object *ser = at(r.config, "serial");
	assert_int_equal(json_object_array_length(ser), 2);
	assert_string_equal(s(json_object_array_get_idx(ser, 0), "type"), "console");
	assert_string_equal(s(json_object_array_get_idx(ser, 1), "type"), "tcp");
	assert_int_equal(json_object_get_int(at(json_object_array_get_idx(ser, 1), "port")), 4555);
	struct json_object *par = json_object_array_get_idx(at(r.config, "parallel"), 0);
	assert_string_equal(s(par, "path"), "/dev/parport0");
	lvx_import_free(&r);
}

static void test_listed(void **state)
{
	struct json_object *bridges = json_tokener_parse("{\"default\": \"virbr0\"}");
	struct lvx_host h = {.autostart = -1, .bridges = bridges};
	struct lvx_import r;

	(void)state;
	import(full, &h, &r);
	struct json_object *u = r.unmapped, *ig = r.ignored;
	assert_non_null(strstr(reason(u, "/domain/devices/disk[2]/target/@bus"), "read-only IDE"));
	assert_non_null(strstr(reason(u, "/domain/devices/disk[3]"), "CD-ROM"));
	assert_non_null(strstr(reason(u, "/domain/devices/disk[4]"), "vmdk"));
	assert_non_null(reason(u, "/domain/devices/disk[1]/driver/@cache"));
	assert_non_null(strstr(reason(u, "/domain/devices/interface[2]"), "bridge virbr0"));
	assert_non_null(strstr(reason(u, "/domain/devices/interface[3]"), "bridge br0"));
	assert_non_null(reason(u, "/domain/devices/serial[3]"));
	assert_non_null(strstr(reason(u, "/domain/devices/rng"), "<rng>"));
	assert_non_null(reason(ig, "/domain/devices/emulator"));
	assert_non_null(reason(ig, "/domain/devices/controller"));
	assert_non_null(reason(ig, "/domain/devices/console"));
	assert_non_null(reason(ig, "/domain/devices/disk[1]/address"));
	assert_non_null(reason(ig, "/domain/devices/input"));
	assert_non_null(reason(ig, "/domain/features/acpi"));
	if (json_object_array_length(u) != 8)
		fail_msg("%s", json_object_to_json_string(u));
	assert_null(at(r.config, "autostart"));
	json_object_put(bridges);
	lvx_import_free(&r);
}

static void test_refused(void **state)
{
	static const char *const bad[][2] = {
		{"<domain><name>a", "not well-formed"},
		{"<vm><name>a</name></vm>", "not <domain>"},
		{"<domain><uuid>x</uuid></domain>", "no <name>"},
		{"<domain><name>has space</name></domain>", "not a vmd name"},
		{"<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
		 "<domain><name>&e;</name></domain>", "no <name>"},
	};
	struct lvx_import r;
	struct rpc_fault f;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(lvx_import(bad[i][0], strlen(bad[i][0]), NULL, &r, &f), -1);
		assert_int_equal(f.cls, RPC_INVALID_ARGUMENT);
		if (!strstr(f.msg, bad[i][1]))
			fail_msg("%s: %s", bad[i][0], f.msg);
	}
}

static void test_foreign(void **state)
{
	static const char xml[] =
		"<domain type='qemu'><name>p</name><memory unit='MiB'>512</memory>"
		"<os><type arch='ppc64le' machine='pseries'>hvm</type></os>"
		"<on_crash>coredump-destroy</on_crash></domain>";
	struct lvx_import r;

	(void)state;
	import(xml, NULL, &r);
	assert_non_null(strstr(reason(r.unmapped, "/domain/os/type/@arch"), "not mapped"));
	assert_non_null(reason(r.unmapped, "/domain/on_crash"));
	assert_null(at(r.config, "arch"));
	assert_null(at(r.config, "machine"));
	assert_string_equal(s(r.config, "accel"), "tcg");
	assert_int_equal(json_object_get_int(at(r.config, "memory_mib")), 512);
	lvx_import_free(&r);
}

/* A filled config, exported and imported, is the same config. */
static void test_round_trip(void **state)
{
	static const char cfg[] = "{\"name\": \"rt\", \"uuid\": "
		"\"0b5c9f7e-1d2a-4c6b-8e3f-5a7d9c1b2e4f\", \"arch\": \"i386\", "
		"\"accel\": \"tcg\", \"cpus\": 3, \"memory_mib\": 300, \"machine\": \"pc\", "
		"\"boot\": {\"order\": \"dc\", \"kernel\": \"/k\", \"cmdline\": \"x=1\"}, "
		"\"disks\": [{\"path\": \"/a.qcow2\", \"format\": \"qcow2\", \"bus\": "
		"\"virtio\", \"readonly\": true}, {\"path\": \"/dev/vg/b\", \"format\": "
		"\"raw\", \"bus\": \"ide\", \"readonly\": false}], \"nics\": [{\"type\": "
		"\"user\", \"mac\": \"52:54:00:01:02:03\", \"model\": \"rtl8139\"}], "
		"\"serial\": [{\"type\": \"console\"}, {\"type\": \"tcp\", \"port\": 4000}, "
		"{\"type\": \"host\", \"path\": \"/dev/ttyUSB0\"}], \"parallel\": "
		"[{\"type\": \"host\", \"path\": \"/dev/parport0\"}], \"display\": \"vnc\", "
		"\"autostart\": true, \"restart_policy\": \"always\", \"restart_max\": 7, "
		"\"restart_window_s\": 60, \"labels\": {\"owner\": \"ann & bob\"}}";
	struct json_object *c = json_tokener_parse(cfg), *lost;
	struct rpc_fault f;
	struct lvx_import r;
	char *xml;

	(void)state;
	assert_non_null(c);
	assert_non_null(xml = lvx_export(c, &lost, &f));
	assert_int_equal(json_object_array_length(lost), 0);
	import(xml, NULL, &r);
	if (json_object_array_length(r.unmapped))
		fail_msg("unmapped: %s", json_object_to_json_string(r.unmapped));
	if (!json_object_equal(c, r.config))
		fail_msg("%s\nbecame\n%s\nfrom\n%s", cfg,
			 json_object_to_json_string(r.config), xml);
	free(xml);
	json_object_put(lost);
	json_object_put(c);
	lvx_import_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_listed),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
