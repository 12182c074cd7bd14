/* Unit tests for emu/: comma escaping, the QEMU command line built from a
 * VM configuration filled with vm-config.json's defaults as vmd fills it
 * (exact elements around each option, hostile names and paths, defaults
 * from the schema and none of argv.c's own, kvm/tcg, non-x86, serial port types and their
 * journals, parallel ports, host files passed as descriptors and opened
 * as the QEMU user).  test_spawn.c tests the processes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "emu/argv.h"
#include "emu/hostfile.h"
#include "rpc/schema.h"
#include "schemas/embedded.h"
#include "tests/unit/emu_test.h"

#ifdef QEMU_SYSTEM_DEFAULT
#define QEMU QEMU_SYSTEM_DEFAULT
#else
#define QEMU "/usr/bin/qemu-system-x86_64"
#endif
#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

/* --- helpers ------------------------------------------------------------ */

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (!o)
		fail_msg("test config does not parse: %s", text);
	return o;
}

/* text filled with the defaults of schema (vm-config.json by default), as
 * vmd fills a definition.  Not validated: some configs here are invalid on
 * purpose, to see argv.c's own checks. */
static struct json_object *schema;

static int free_schema(void **state)
{
	(void)state;
	json_object_put(schema);
	return 0;
}

static struct json_object *parse_filled(const char *text)
{
	struct json_object *o = parse(text), *s = schema;

	if (!s && !(s = schema = json_tokener_parse(vmd_schema_vm_config)))
		fail_msg("embedded vm-config.json does not parse");
	assert_int_equal(rpc_schema_fill(NULL, s, o), 0);
	return o;
}

static struct emu_launch launch(const char *accel)
{
	struct emu_launch l = {
		.qemu = QEMU, .accel = accel, .qmp_fd = 7,
		.console_fds = { 8, 9, -1, -1 }, .run_dir = "/run/vmd/x",
		.sandbox = 1,
	};
	return l;
}

/* Builds argv or fails the test with QEMU's would-be error. */
static void build(const char *config, const struct emu_launch *l,
		  struct emu_argv *a)
{
	struct json_object *c = parse_filled(config);
	char err[256] = "";

	if (emu_build_argv(c, l, a, err, sizeof(err)) != 0)
		fail_msg("emu_build_argv failed: %s", err);
	json_object_put(c);
	assert_non_null(a->v);
	assert_null(a->v[a->n]);
}

/* Expects failure and an error message containing want. */
static void build_fails(const char *config, const struct emu_launch *l,
			const char *want)
{
	struct json_object *c = parse_filled(config);
	struct emu_argv a;
	char err[256] = "";

	assert_int_equal(emu_build_argv(c, l, &a, err, sizeof(err)), -1);
	json_object_put(c);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
	assert_int_equal(a.n, 0);
	assert_null(a.v);
	emu_argv_free(&a);
}

/* Index of the nth (0-based) occurrence of opt, -1 when absent. */
static int find_opt(const struct emu_argv *a, const char *opt, int nth)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], opt) == 0 && nth-- == 0)
			return (int)i;
	return -1;
}

static int count_opt(const struct emu_argv *a, const char *opt)
{
	int n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += strcmp(a->v[i], opt) == 0;
	return n;
}

/* The nth opt must be followed by exactly val. */
static void expect_opt(const struct emu_argv *a, const char *opt, int nth,
		       const char *val)
{
	int i = find_opt(a, opt, nth);

	if (i < 0)
		fail_msg("option %s #%d missing", opt, nth);
	if ((size_t)i + 1 >= a->n)
		fail_msg("option %s #%d has no value", opt, nth);
	assert_string_equal(a->v[i + 1], val);
}

/* --- escaping and argv plumbing ------------------------------------------ */

static void check_escape(const char *in, const char *want)
{
	char *out = emu_opt_escape(in);

	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void test_escape(void **state)
{
	check_escape("plain", "plain");
	check_escape("a,b", "a,,b");
	check_escape("a,,b", "a,,,,b");
	check_escape("", "");
	check_escape(",", ",,");
	check_escape(",,,,", ",,,,,,,,");
	check_escape("/all/,,,", "/all/,,,,,,");
	check_escape("with space, 'single' \"double\"",
		     "with space,, 'single' \"double\"");
	check_escape("new\nline,\ttab", "new\nline,,\ttab");
	check_escape(",lead and trail,", ",,lead and trail,,");
	assert_null(emu_opt_escape(NULL));
}

static void test_argv_add_render(void **state)
{
	struct emu_argv a;
	char *r;

	emu_argv_init(&a);
	for (int i = 0; i < 100; i++)   /* past the first growth */
		assert_int_equal(emu_argv_addf(&a, "x%d", i), 0);
	assert_int_equal(a.n, 100);
	assert_string_equal(a.v[99], "x99");
	assert_null(a.v[100]);
	emu_argv_free(&a);
	assert_int_equal(a.n, 0);
	assert_null(a.v);

	emu_argv_init(&a);
	assert_int_equal(emu_argv_add(&a, "/usr/bin/qemu"), 0);
	assert_int_equal(emu_argv_add(&a, "file=/a,,b"), 0);
	assert_int_equal(emu_argv_add(&a, "a b"), 0);
	assert_int_equal(emu_argv_add(&a, "it's"), 0);
	assert_int_equal(emu_argv_add(&a, "x\ny"), 0);
	assert_int_equal(emu_argv_add(&a, ""), 0);
	r = emu_argv_render(&a);
	assert_non_null(r);
	assert_string_equal(r, "/usr/bin/qemu file=/a,,b 'a b' 'it'\\''s' "
			    "$'x\\ny' ''");
	assert_null(strchr(r, '\n'));
	free(r);
	emu_argv_free(&a);
}

/* --- emu_build_argv ---------------------------------------------------- */

static const char full_config[] =
	"{\"name\": \"web1\", \"uuid\": \"" UUID "\", \"arch\": \"x86_64\","
	" \"accel\": \"auto\", \"cpus\": 4, \"memory_mib\": 1024,"
	" \"machine\": \"q35\","
	" \"boot\": {\"order\": \"cd\", \"kernel\": \"/boot/vmlinuz\","
	"   \"initrd\": \"/boot/initrd.img\","
	"   \"cmdline\": \"console=ttyS0,115200 root=/dev/vda\"},"
	" \"disks\": [{\"path\": \"/var/lib/vmd/web1.qcow2\", \"format\": \"qcow2\","
	"   \"bus\": \"virtio\"},"
	"   {\"path\": \"/srv/iso/data.img\", \"readonly\": true},"
	"   {\"path\": \"/srv/old.img\", \"bus\": \"ide\"}],"
	" \"nics\": [{\"type\": \"user\", \"mac\": \"52:54:00:12:34:56\","
	"   \"model\": \"e1000\"}, {\"type\": \"user\"},"
	"   {\"type\": \"user\", \"model\": \"rtl8139\"}],"
	" \"serial\": [{\"type\": \"console\"}, {\"type\": \"console\"}],"
	" \"display\": \"none\", \"autostart\": true,"
	" \"labels\": {\"owner\": \"alice\", \"plan\": \"small\"}}";

static void test_full_config(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;

	build(full_config, &l, &a);
	assert_string_equal(a.v[0], QEMU);
	assert_string_equal(a.v[1], "-nodefaults");
	assert_string_equal(a.v[2], "-no-user-config");
	assert_string_equal(a.v[3], "-S");
	assert_string_equal(a.v[4], "-no-shutdown");
	expect_opt(&a, "-sandbox", 0, "on,obsolete=deny,elevateprivileges=deny,"
		   "spawn=deny,resourcecontrol=deny");
	assert_int_equal(find_opt(&a, "-runas", 0), -1);
	expect_opt(&a, "-name", 0, "guest=web1");
	expect_opt(&a, "-uuid", 0, UUID);
	expect_opt(&a, "-machine", 0, "q35,accel=tcg");
	expect_opt(&a, "-cpu", 0, "max");
	expect_opt(&a, "-smp", 0, "4");
	expect_opt(&a, "-m", 0, "1024M");
	expect_opt(&a, "-chardev", 0, "socket,id=qmp,fd=7,server=on,wait=off");
	expect_opt(&a, "-mon", 0, "chardev=qmp,mode=control");
	expect_opt(&a, "-display", 0, "none");
	expect_opt(&a, "-chardev", 1, "socket,id=serial0,fd=8,server=on,wait=off");
	expect_opt(&a, "-serial", 0, "chardev:serial0");
	expect_opt(&a, "-chardev", 2, "socket,id=serial1,fd=9,server=on,wait=off");
	expect_opt(&a, "-serial", 1, "chardev:serial1");
	assert_int_equal(count_opt(&a, "-serial"), 2);
	expect_opt(&a, "-drive", 0, "file=/var/lib/vmd/web1.qcow2,format=qcow2,"
		   "if=virtio,id=disk0");
	expect_opt(&a, "-drive", 1, "file=/srv/iso/data.img,format=raw,"
		   "if=virtio,id=disk1,readonly=on");
	expect_opt(&a, "-drive", 2, "file=/srv/old.img,format=raw,if=ide,id=disk2");
	assert_int_equal(count_opt(&a, "-drive"), 3);
	expect_opt(&a, "-netdev", 0, "user,id=net0");
	expect_opt(&a, "-device", 0, "e1000,netdev=net0,mac=52:54:00:12:34:56");
	expect_opt(&a, "-netdev", 1, "user,id=net1");
	expect_opt(&a, "-device", 1, "virtio-net-pci,netdev=net1");
	expect_opt(&a, "-netdev", 2, "user,id=net2");
	expect_opt(&a, "-device", 2, "rtl8139,netdev=net2");
	assert_int_equal(count_opt(&a, "-device"), 3);
	expect_opt(&a, "-boot", 0, "order=cd");
	expect_opt(&a, "-kernel", 0, "/boot/vmlinuz");
	expect_opt(&a, "-initrd", 0, "/boot/initrd.img");
	/* -append is a raw string to QEMU: its comma stays single. */
	expect_opt(&a, "-append", 0, "console=ttyS0,115200 root=/dev/vda");
	/* Nothing vmd does not configure. */
	assert_int_equal(find_opt(&a, "-vnc", 0), -1);
	assert_int_equal(find_opt(&a, "-accel", 0), -1);
	assert_int_equal(find_opt(&a, "-daemonize", 0), -1);
	emu_argv_free(&a);
}

/* With vmd's descriptors, no configured path reaches QEMU: disks are fd
 * sets of one member (writable ones with auto-read-only=off, so QEMU asks
 * for the read-write member only), the kernel, initrd and parallel
 * devices /proc/self/fd/N. */
static void test_host_fds(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_fds fds;
	struct emu_argv a;

	memset(&fds, -1, sizeof fds);
	fds.disk[0] = 20;
	fds.disk[1] = 22;
	fds.kernel = 23;
	fds.initrd = 24;
	fds.parallel[0] = 25;
	l.fds = &fds;
	build("{\"name\":\"f\",\"disks\":[{\"path\":\"/x/a,b.img\"},"
	      "{\"path\":\"/x/ro.img\",\"readonly\":true}],"
	      "\"parallel\":[{\"type\":\"host\",\"path\":\"/dev/parport0\"}],"
	      "\"boot\":{\"kernel\":\"/x/k\",\"initrd\":\"/x/i\"}}", &l, &a);
	expect_opt(&a, "-add-fd", 0, "fd=20,set=0,opaque=disk0");
	expect_opt(&a, "-add-fd", 1, "fd=22,set=1,opaque=disk1");
	assert_int_equal(count_opt(&a, "-add-fd"), 2);
	expect_opt(&a, "-drive", 0, "file=/dev/fdset/0,format=raw,if=virtio,"
		   "id=disk0,auto-read-only=off");
	expect_opt(&a, "-drive", 1, "file=/dev/fdset/1,format=raw,if=virtio,"
		   "id=disk1,readonly=on");
	expect_opt(&a, "-kernel", 0, "/proc/self/fd/23");
	expect_opt(&a, "-initrd", 0, "/proc/self/fd/24");
	expect_opt(&a, "-chardev", 2, "parallel,id=parallel0,path=/proc/self/fd/25");
	for (size_t i = 0; i < a.n; i++)
		assert_null(strstr(a.v[i], "/x/"));
	/* the fd set comes before the drive that names it */
	assert_true(find_opt(&a, "-add-fd", 1) < find_opt(&a, "-drive", 1));
	emu_argv_free(&a);
	/* a missing descriptor is an error, never a fallback to the path */
	fds.disk[0] = -1;
	build_fails("{\"name\":\"f\",\"disks\":[{\"path\":\"/x/a.img\"}]}",
		    &l, "disks[0]: no descriptor for /x/a.img");
}

/* emu_open_files as this process: access modes, kinds, no blocking on a
 * FIFO, and the qcow2 check. */
static void test_open_files(void **state)
{
	char dir[64], file[128], fifo[128], qcow[128], err[512];
	unsigned char hdr[104] = {0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3};
	struct emu_file_req r[2];
	int fd;

	make_tmpdir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/disk", dir);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	snprintf(qcow, sizeof qcow, "%s/q", dir);
	assert_true((fd = open(file, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	memset(r, 0, sizeof r);
	r[0] = (struct emu_file_req){.what = "disk", .path = file,
				     .kind = EMU_FILE_DISK, .write = true};
	r[1] = (struct emu_file_req){.what = "kernel", .path = file,
				     .kind = EMU_FILE_REGULAR};
	assert_int_equal(emu_open_files(NULL, r, 2, 1000, err, sizeof err), 0);
	assert_int_equal(fcntl(r[0].fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(fcntl(r[1].fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(r[0].fd, F_GETFD) & FD_CLOEXEC);
	emu_close_files(r, 2);
	r[1].path = fifo;
	assert_int_equal(emu_open_files(NULL, r, 2, 1000, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(r[0].fd, -1);   /* nothing left open */
	r[0].path = dir;
	assert_int_equal(emu_open_files(NULL, r, 1, 1000, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot open it read-write: Is a directory"));
	/* a qcow2 header naming a backing file at offset 96 */
	hdr[15] = 96;   /* backing_file_offset */
	hdr[19] = 8;    /* backing_file_size */
	memcpy(hdr + 96, "/etc/pwd", 8);
	assert_true((fd = open(qcow, O_CREAT | O_WRONLY, 0600)) >= 0);
	assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	close(fd);
	r[0] = (struct emu_file_req){.what = "disk", .path = qcow,
				     .kind = EMU_FILE_DISK, .qcow2 = true};
	assert_int_equal(emu_open_files(NULL, r, 1, 1000, err, sizeof err), -1);
	assert_non_null(strstr(err, "backing file (/etc/pwd)"));
	r[0].qcow2 = false;   /* as raw, the same bytes are just data */
	assert_int_equal(emu_open_files(NULL, r, 1, 1000, err, sizeof err), 0);
	emu_close_files(r, 1);
	if (geteuid() == 0) {   /* as nobody, root's 0600 file is closed */
		r[0].path = file;
		assert_int_equal(emu_open_files("nobody", r, 1, 5000, err,
						sizeof err), -1);
		assert_non_null(strstr(err, "the QEMU user nobody cannot open "
				       "it read-only: Permission denied"));
		assert_int_equal(chown(file, 65534, 65534), 0);
		assert_int_equal(chmod(dir, 0711), 0);
		assert_int_equal(emu_open_files("nobody", r, 1, 5000, err,
						sizeof err), 0);
		assert_true(r[0].fd >= 0);
		emu_close_files(r, 1);
	}
	remove_tree(dir);
}

/* Names and paths with commas, spaces, quotes and newlines: each stays one
 * argv element, commas doubled where QEMU splits, nothing else touched. */
static void test_hostile_values(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;
	size_t n_plain;

	build("{\"name\": \"x\", \"disks\": [{\"path\": \"/d/x.img\"}]}", &l, &a);
	n_plain = a.n;
	emu_argv_free(&a);

	build("{\"name\": \"we,b 'one' \\\"q\\\"\\nz\","
	      " \"disks\": [{\"path\": \"/srv/a,b c/'q' \\\"d\\\"\\nx,.img\"}]}",
	      &l, &a);
	assert_int_equal(a.n, n_plain);
	expect_opt(&a, "-name", 0, "guest=we,,b 'one' \"q\"\nz");
	expect_opt(&a, "-drive", 0,
		   "file=/srv/a,,b c/'q' \"d\"\nx,,.img,format=raw,if=virtio,id=disk0");
	emu_argv_free(&a);

	/* A path that is nothing but commas after the slash. */
	build("{\"name\": \"x\", \"disks\": [{\"path\": \"/,,,\"}]}", &l, &a);
	assert_int_equal(a.n, n_plain);
	expect_opt(&a, "-drive", 0, "file=/,,,,,,,format=raw,if=virtio,id=disk0");
	emu_argv_free(&a);

	/* Raw options keep their commas single. */
	build("{\"name\": \"x\", \"boot\": {\"kernel\": \"/k,1 x\","
	      " \"initrd\": \"/i,2\", \"cmdline\": \"a=b,c\\nd\"}}", &l, &a);
	expect_opt(&a, "-kernel", 0, "/k,1 x");
	expect_opt(&a, "-initrd", 0, "/i,2");
	expect_opt(&a, "-append", 0, "a=b,c\nd");
	emu_argv_free(&a);

	/* The VNC socket lives in the run dir, which may hold a comma. */
	l.run_dir = "/run/vmd/a,b";
	build("{\"name\": \"x\", \"display\": \"vnc\"}", &l, &a);
	expect_opt(&a, "-vnc", 0, "unix:/run/vmd/a,,b/vnc.sock");
	expect_opt(&a, "-device", 0, "VGA");
	assert_int_equal(find_opt(&a, "-display", 0), -1);
	emu_argv_free(&a);
}

/* Root's QEMU drops to a user; the sandbox then still allows setuid. */
static void test_runas(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;

	(void)state;
	l.runas = "nobody";
	build("{\"name\": \"x\"}", &l, &a);
	expect_opt(&a, "-runas", 0, "nobody");
	expect_opt(&a, "-sandbox", 0, "on,obsolete=deny,spawn=deny,"
		   "resourcecontrol=deny");
	emu_argv_free(&a);
}

static void test_defaults(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;

	l.sandbox = 0;
	build("{\"name\": \"min\"}", &l, &a);
	assert_int_equal(find_opt(&a, "-sandbox", 0), -1);
	expect_opt(&a, "-name", 0, "guest=min");
	assert_int_equal(find_opt(&a, "-uuid", 0), -1);
	expect_opt(&a, "-machine", 0, "pc,accel=tcg");
	expect_opt(&a, "-cpu", 0, "max");
	expect_opt(&a, "-smp", 0, "1");
	expect_opt(&a, "-m", 0, "256M");
	expect_opt(&a, "-display", 0, "none");
	/* Left out, serial is the schema's one console port on ttyS0. */
	assert_int_equal(count_opt(&a, "-serial"), 1);
	expect_opt(&a, "-chardev", 1, "socket,id=serial0,fd=8,server=on,wait=off");
	expect_opt(&a, "-serial", 0, "chardev:serial0");
	assert_int_equal(count_opt(&a, "-drive"), 0);
	assert_int_equal(count_opt(&a, "-netdev"), 0);
	assert_int_equal(count_opt(&a, "-boot"), 0);
	assert_int_equal(count_opt(&a, "-kernel"), 0);
	/* qemu -nodefaults -no-user-config -S -no-shutdown -name .. -machine ..
	 * -cpu .. -smp .. -m .. -chardev .. -mon .. -display .. -chardev ..
	 * -serial .. */
	assert_int_equal(a.n, 5 + 2 * 10);
	emu_argv_free(&a);

	/* [] is not absent: no serial port at all. */
	build("{\"name\": \"min\", \"serial\": [], \"disks\": [], \"nics\": []}",
	      &l, &a);
	assert_int_equal(count_opt(&a, "-serial"), 0);
	assert_int_equal(count_opt(&a, "-chardev"), 1);
	emu_argv_free(&a);

	/* Disk members default: raw, virtio, writable. */
	build("{\"name\": \"d\", \"disks\": [{\"path\": \"/x\"}]}", &l, &a);
	expect_opt(&a, "-drive", 0, "file=/x,format=raw,if=virtio,id=disk0");
	emu_argv_free(&a);
}

static struct json_object *at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void set_default(struct json_object *prop, struct json_object *v)
{
	json_object_object_add(prop, "default", v);
}

/* argv.c has no default of its own: change them in vm-config.json and the
 * command line follows. */
static void test_defaults_from_schema(void **state)
{
	struct json_object *saved = schema, *props, *defs;
	struct emu_launch l = launch("tcg");
	struct emu_argv a;

	(void)state;
	schema = parse(vmd_schema_vm_config);
	props = at(schema, "properties");
	defs = at(schema, "$defs");
	set_default(at(props, "cpus"), json_object_new_int(2));
	set_default(at(props, "memory_mib"), json_object_new_int(512));
	set_default(at(props, "display"), json_object_new_string("vnc"));
	set_default(at(at(at(defs, "Disk"), "properties"), "format"),
		    json_object_new_string("qcow2"));
	set_default(at(at(at(defs, "Disk"), "properties"), "bus"),
		    json_object_new_string("ide"));
	set_default(at(at(at(defs, "Nic"), "properties"), "model"),
		    json_object_new_string("e1000"));
	build("{\"name\": \"d\", \"disks\": [{\"path\": \"/x\"}],"
	      " \"nics\": [{\"type\": \"user\"}]}", &l, &a);
	expect_opt(&a, "-smp", 0, "2");
	expect_opt(&a, "-m", 0, "512M");
	expect_opt(&a, "-vnc", 0, "unix:/run/vmd/x/vnc.sock");
	expect_opt(&a, "-drive", 0, "file=/x,format=qcow2,if=ide,id=disk0");
	expect_opt(&a, "-device", 1, "e1000,netdev=net0");
	emu_argv_free(&a);
	json_object_put(schema);
	schema = saved;
}

/* A config without the defaults filled in is refused, naming the member,
 * for each member argv.c reads that the schema defaults. */
static void test_unfilled_refused(void **state)
{
	static const char *const members[] = {
		"arch", "cpus", "memory_mib", "display", "serial", "disks", "nics",
		"disks[].format", "disks[].bus", "disks[].readonly", "nics[].model",
	};
	struct emu_launch l = launch("tcg");

	(void)state;
	for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
		struct json_object *c = parse_filled("{\"name\": \"u\", \"disks\":"
			" [{\"path\": \"/x\"}], \"nics\": [{\"type\": \"user\"}]}");
		const char *m = members[i], *dot = strchr(m, '.');
		struct json_object *o = c;
		struct emu_argv a;
		char err[256] = "", want[64];

		if (dot) {  /* "disks[].format": in the first item */
			char list[16];
			snprintf(list, sizeof list, "%.*s", (int)(dot - m - 2), m);
			o = json_object_array_get_idx(at(c, list), 0);
		}
		json_object_object_del(o, dot ? dot + 1 : m);
		assert_int_equal(emu_build_argv(c, &l, &a, err, sizeof err), -1);
		snprintf(want, sizeof want, "%s: missing (the configuration's "
			 "defaults", m);
		if (!strstr(err, want))
			fail_msg("without %s: '%s'", m, err);
		json_object_put(c);
	}
}

static void test_kvm_vs_tcg(void **state)
{
	struct emu_launch l = launch("kvm");
	struct emu_argv a;

	build("{\"name\": \"k\", \"accel\": \"kvm\"}", &l, &a);
	expect_opt(&a, "-machine", 0, "pc,accel=kvm");
	expect_opt(&a, "-cpu", 0, "host");
	emu_argv_free(&a);

	/* The resolved accel counts, not the configured "auto". */
	l = launch("tcg");
	build("{\"name\": \"k\", \"accel\": \"auto\", \"arch\": \"i386\"}", &l, &a);
	expect_opt(&a, "-machine", 0, "pc,accel=tcg");
	expect_opt(&a, "-cpu", 0, "max");
	emu_argv_free(&a);

	l = launch("auto");
	build_fails("{\"name\": \"k\"}", &l, "accelerator");
}

#define TWO_PORTS "[{\"type\": \"console\"}, {\"type\": \"console\"}]"

static void test_non_x86(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;

	l.qemu = "/usr/bin/qemu-system-aarch64";
	build("{\"name\": \"arm\", \"arch\": \"aarch64\", \"display\": \"vnc\"}",
	      &l, &a);
	assert_string_equal(a.v[0], "/usr/bin/qemu-system-aarch64");
	expect_opt(&a, "-machine", 0, "virt,accel=tcg");
	expect_opt(&a, "-cpu", 0, "max");
	expect_opt(&a, "-device", 0, "virtio-gpu-pci");
	emu_argv_free(&a);

	/* QEMU 7.2 has no riscv64 "max" CPU: the machine default stays. */
	build("{\"name\": \"rv\", \"arch\": \"riscv64\", \"machine\": \"sifive_u\"}",
	      &l, &a);
	expect_opt(&a, "-machine", 0, "sifive_u,accel=tcg");
	assert_int_equal(find_opt(&a, "-cpu", 0), -1);
	emu_argv_free(&a);

	/* s390x: its own machine, virtio on the channel subsystem */
	build("{\"name\": \"z\", \"arch\": \"s390x\", \"serial\": " TWO_PORTS ","
	      " \"nics\": [{\"type\": \"user\"}], \"display\": \"vnc\"}", &l, &a);
	expect_opt(&a, "-machine", 0, "s390-ccw-virtio,accel=tcg");
	expect_opt(&a, "-cpu", 0, "max");
	expect_opt(&a, "-device", 0, "virtio-gpu-ccw");
	expect_opt(&a, "-device", 3, "virtio-net-ccw,netdev=net0");
	emu_argv_free(&a);
	/* a port the machine has no UART for would vanish silently */
	build_fails("{\"name\": \"arm\", \"arch\": \"aarch64\", \"serial\": "
		    TWO_PORTS "}", &l, "aarch64 has 1 serial port (PL011)");
	build_fails("{\"name\": \"z\", \"arch\": \"s390x\", \"serial\": "
		    "[{\"type\": \"console\"}, {\"type\": \"console\"}, "
		    "{\"type\": \"console\"}]}", &l, "s390x has 2 serial ports");

	l = launch("kvm");
	build_fails("{\"name\": \"arm\", \"arch\": \"aarch64\"}", &l, "TCG only");
}

static void test_argv_errors(void **state)
{
	struct emu_launch l = launch("tcg");

	build_fails("{}", &l, "name");
	build_fails("[1]", &l, "not a JSON object");
	build_fails("{\"name\": 5}", &l, "name: expected a string");
	build_fails("{\"name\": \"x\", \"cpus\": \"4\"}", &l, "cpus");
	build_fails("{\"name\": \"x\", \"cpus\": 0}", &l, "cpus");
	build_fails("{\"name\": \"x\", \"memory_mib\": 99999999999}", &l,
		    "memory_mib");
	build_fails("{\"name\": \"x\", \"arch\": \"mips\"}", &l, "arch");
	build_fails("{\"name\": \"x\", \"boot\": {\"initrd\": \"/i\"}}", &l,
		    "boot.initrd needs boot.kernel");
	build_fails("{\"name\": \"x\", \"boot\": {\"cmdline\": \"q\"}}", &l,
		    "boot.cmdline needs boot.kernel");
	build_fails("{\"name\": \"x\", \"disks\": [{\"path\": \"rel.img\"}]}", &l,
		    "absolute path");
	build_fails("{\"name\": \"x\", \"disks\": [{}]}", &l, "disks[0].path");
	build_fails("{\"name\": \"x\", \"disks\": [{\"path\": \"/a\","
		    " \"format\": \"vmdk\"}]}", &l, "vmdk");
	build_fails("{\"name\": \"x\", \"disks\": [{\"path\": \"/a\","
		    " \"bus\": \"ide\", \"readonly\": true}]}", &l, "IDE");
	build_fails("{\"name\": \"x\", \"disks\": 3}", &l, "disks");
	build_fails("{\"name\": \"x\", \"nics\": [{\"type\": \"tap\"}]}", &l,
		    "tap");
	build_fails("{\"name\": \"x\", \"nics\": [{\"type\": \"user\","
		    " \"model\": \"ne2k\"}]}", &l, "ne2k");
	/* Three console ports but only two sockets from vmd. */
	build_fails("{\"name\": \"x\", \"serial\": [{\"type\": \"console\"},"
		    " {\"type\": \"console\"}, {\"type\": \"console\"}]}", &l,
		    "serial[2]");
	build_fails("{\"name\": \"x\", \"serial\": [{\"type\": \"host\"}]}", &l,
		    "host port needs an absolute path");
	build_fails("{\"name\": \"x\", \"display\": \"sdl\"}", &l, "sdl");
	l.qmp_fd = -1;
	build_fails("{\"name\": \"x\"}", &l, "QMP");
}

/* Every serial port, whatever its type, is a socket chardev on the fd vmd
 * gives for that index, and nothing else: the keeper journals. */
static void test_serial_types(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a;
	int i;

	l.console_fds[0] = 20;
	l.console_fds[1] = 31;
	l.console_fds[2] = 42;
	l.console_fds[3] = 53;
	build("{\"name\": \"s\", \"serial\": [{\"type\": \"console\"},"
	      " {\"type\": \"tcp\", \"port\": 4555},"
	      " {\"type\": \"host\", \"path\": \"/dev/serial/by-id/usb-FTDI,x\","
	      "  \"baud\": 9600, \"parity\": \"even\", \"flow\": \"rtscts\"},"
	      " {\"type\": \"host\", \"path\": \"/dev/ttyS0\"}]}", &l, &a);
	expect_opt(&a, "-chardev", 1, "socket,id=serial0,fd=20,server=on,wait=off");
	expect_opt(&a, "-chardev", 2, "socket,id=serial1,fd=31,server=on,wait=off");
	/* vmd holds host ttys itself: QEMU never sees the device path. */
	expect_opt(&a, "-chardev", 3, "socket,id=serial2,fd=42,server=on,wait=off");
	expect_opt(&a, "-chardev", 4, "socket,id=serial3,fd=53,server=on,wait=off");
	assert_int_equal(count_opt(&a, "-chardev"), 5);
	for (i = 0; i < 4; i++) {
		char want[32];
		snprintf(want, sizeof(want), "chardev:serial%d", i);
		expect_opt(&a, "-serial", i, want);
		/* each -serial right after its own -chardev */
		assert_int_equal(find_opt(&a, "-serial", i),
				 find_opt(&a, "-chardev", i + 1) + 2);
	}
	for (size_t k = 0; k < a.n; k++)
		assert_null(strstr(a.v[k], "usb-FTDI"));
	assert_int_equal(count_opt(&a, "-device"), 0);
	emu_argv_free(&a);

	/* A host port needs its socket like any other, and a path. */
	l.console_fds[1] = -1;
	build_fails("{\"name\": \"s\", \"serial\": [{\"type\": \"console\"},"
		    " {\"type\": \"host\", \"path\": \"/dev/ttyS0\"}]}", &l,
		    "serial[1]: no console socket");
	l.console_fds[1] = 31;
	build_fails("{\"name\": \"s\", \"serial\": [{\"type\": \"console\"},"
		    " {\"type\": \"host\"}]}", &l, "serial[1]: a host port needs");
	build_fails("{\"name\": \"s\", \"serial\": [{\"type\": \"host\","
		    " \"path\": \"ttyS0\"}]}", &l, "absolute path");
	build_fails("{\"name\": \"s\", \"serial\": [{\"type\": \"pty\"}]}", &l,
		    "'pty'");
	build_fails("{\"name\": \"s\", \"serial\": [{}, {}, {}, {}, {}]}", &l,
		    "at most 4");
}

static void test_parallel(void **state)
{
	struct emu_launch l = launch("tcg");
	struct emu_argv a, plain;
	int i;

	build("{\"name\": \"p\"}", &l, &plain);
	build("{\"name\": \"p\", \"parallel\": [{\"type\": \"host\","
	      " \"path\": \"/dev/parport0\"}, {\"type\": \"host\","
	      " \"path\": \"/dev/by,comma/lp 1\"}]}", &l, &a);
	assert_int_equal(a.n, plain.n + 8);
	/* chardev 0 is QMP, 1 is serial0 */
	expect_opt(&a, "-chardev", 2, "parallel,id=parallel0,path=/dev/parport0");
	expect_opt(&a, "-device", 0, "isa-parallel,chardev=parallel0");
	expect_opt(&a, "-chardev", 3,
		   "parallel,id=parallel1,path=/dev/by,,comma/lp 1");
	expect_opt(&a, "-device", 1, "isa-parallel,chardev=parallel1");
	for (i = 0; i < 2; i++)
		assert_int_equal(find_opt(&a, "-device", i),
				 find_opt(&a, "-chardev", i + 2) + 2);
	assert_int_equal(find_opt(&a, "-parallel", 0), -1);
	emu_argv_free(&a);
	emu_argv_free(&plain);

	/* [] is no port at all. */
	build("{\"name\": \"p\", \"parallel\": []}", &l, &a);
	assert_int_equal(count_opt(&a, "-device"), 0);
	emu_argv_free(&a);

	build_fails("{\"name\": \"p\", \"parallel\": [{\"type\": \"host\"}]}",
		    &l, "parallel[0].path");
	build_fails("{\"name\": \"p\", \"parallel\": [{\"type\": \"host\","
		    " \"path\": \"parport0\"}]}", &l, "parallel[0].path");
	build_fails("{\"name\": \"p\", \"parallel\": [{\"type\": \"file\","
		    " \"path\": \"/x\"}]}", &l, "parallel[0].type");
	build_fails("{\"name\": \"p\", \"parallel\": [{\"path\": \"/x\"}]}",
		    &l, "parallel[0].type");
	build_fails("{\"name\": \"p\", \"parallel\": [{}, {}, {}, {}]}", &l,
		    "at most 3");
	build_fails("{\"name\": \"p\", \"parallel\": {\"type\": \"host\"}}",
		    &l, "parallel: expected an array");
	l.qemu = "/usr/bin/qemu-system-aarch64";
	build_fails("{\"name\": \"p\", \"arch\": \"aarch64\", \"parallel\":"
		    " [{\"type\": \"host\", \"path\": \"/dev/parport0\"}]}", &l,
		    "x86");
	build_fails("{\"name\": \"p\", \"arch\": \"riscv64\", \"parallel\":"
		    " [{\"type\": \"host\", \"path\": \"/dev/parport0\"}]}", &l,
		    "riscv64");
	/* ... but an empty list is fine anywhere. */
	build("{\"name\": \"p\", \"arch\": \"aarch64\", \"parallel\": []}", &l, &a);
	emu_argv_free(&a);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_argv_add_render),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_host_fds),
		cmocka_unit_test(test_open_files),
		cmocka_unit_test(test_runas),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_from_schema),
		cmocka_unit_test(test_unfilled_refused),
		cmocka_unit_test(test_kvm_vs_tcg),
		cmocka_unit_test(test_non_x86),
		cmocka_unit_test(test_argv_errors),
		cmocka_unit_test(test_serial_types),
		cmocka_unit_test(test_parallel),
	};

	return cmocka_run_group_tests(tests, NULL, free_schema);
}
