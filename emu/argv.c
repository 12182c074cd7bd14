/* QEMU's command line, built from a validated VM configuration.
 *
 * Which QEMU options split their value on commas matters: -name, -machine,
 * -chardev, -mon, -drive, -netdev, -device, -boot, -vnc and -m are option
 * lists (QemuOpts or keyval), where ",," stands for a literal comma, so
 * every value placed in them goes through emu_opt_escape().  -kernel,
 * -initrd and -append are stored as raw strings by QEMU 7.2 (vl.c puts
 * them into the machine dictionary unparsed), -uuid is parsed as a UUID,
 * -smp gets a plain number: those are passed as they are.  Each value is
 * one argv element; nothing passes through a shell. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/argv.h"

char *emu_opt_escape(const char *s)
{
	size_t n = 0, commas = 0;
	char *out, *p;

	if (!s)
		return NULL;
	for (n = 0; s[n]; n++)
		if (s[n] == ',')
			commas++;
	out = malloc(n + commas + 1);
	if (!out)
		return NULL;
	p = out;
	for (; *s; s++) {
		*p++ = *s;
		if (*s == ',')
			*p++ = ',';
	}
	*p = '\0';
	return out;
}

void emu_argv_init(struct emu_argv *a)
{
	a->v = NULL;
	a->n = 0;
	a->cap = 0;
}

/* Takes ownership of s (freed on failure). */
static int argv_push(struct emu_argv *a, char *s)
{
	if (!s)
		return -1;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -1;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

int emu_argv_add(struct emu_argv *a, const char *s)
{
	return argv_push(a, s ? strdup(s) : NULL);
}

int emu_argv_addf(struct emu_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	return argv_push(a, s);
}

void emu_argv_free(struct emu_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	emu_argv_init(a);
}

/* --- rendering for logs ------------------------------------------------ */

static bool plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_-./:=,@+%", c);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Appends one argument the way a POSIX shell would read it back, so the
 * logged line can be pasted into a terminal.  Control characters need
 * bash's $'...' form; the line must stay one line. */
static void render_one(FILE *f, const char *s)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p && plain; p++)
		plain = plain_char((unsigned char)*p);
	if (plain) {
		fputs(s, f);
	} else if (!has_control(s)) {
		fputc('\'', f);
		for (; *s; s++)
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		fputc('\'', f);
	} else {
		fputs("$'", f);
		for (; *s; s++) {
			unsigned char c = (unsigned char)*s;
			if (c == '\n')
				fputs("\\n", f);
			else if (c == '\t')
				fputs("\\t", f);
			else if (c == '\\' || c == '\'')
				fprintf(f, "\\%c", c);
			else if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
		fputc('\'', f);
	}
}

char *emu_argv_render(const struct emu_argv *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (i)
			fputc(' ', f);
		render_one(f, a->v[i]);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* --- reading the configuration ------------------------------------------ */

struct build {
	struct emu_argv *out;
	char *err;
	size_t errlen;
	int failed;       /* set once; the first error message is kept */
};

static void fail(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->failed)
		return;
	b->failed = 1;
	if (!b->err || !b->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
}

static void add(struct build *b, const char *s)
{
	if (!b->failed && emu_argv_add(b->out, s) < 0)
		fail(b, "out of memory building the QEMU command line");
}

static void addf(struct build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void addf(struct build *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	if (b->failed)
		return;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0 || argv_push(b->out, s) < 0)
		fail(b, "out of memory building the QEMU command line");
}

/* Escaped copy of s, recorded in a small pool freed at the end. */
struct pool {
	char *s[64];
	size_t n;
};

static const char *esc(struct build *b, struct pool *p, const char *s)
{
	char *e;

	if (p->n == sizeof(p->s) / sizeof(p->s[0])) {
		fail(b, "internal error: escape pool full");
		return "";
	}
	e = emu_opt_escape(s);
	if (!e) {
		fail(b, "out of memory building the QEMU command line");
		return "";
	}
	p->s[p->n++] = e;
	return e;
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->s[i]);
	p->n = 0;
}

/* o's member key, of type t.  vmd fills every default vm-config.json gives
 * before a config gets here, so one missing that the schema defaults is a
 * bug to report (required), never a value to guess; one the schema lets
 * be left out is NULL. */
static struct json_object *member(struct build *b, struct json_object *o,
				  const char *where, const char *key,
				  json_type t, bool required)
{
	static const char *const names[] = {
		[json_type_string] = "a string", [json_type_int] = "an integer",
		[json_type_boolean] = "true or false", [json_type_array] = "an array",
	};
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v) {
		if (required)
			fail(b, "%s%s: missing (the configuration's defaults were "
			     "not filled in from vm-config.json)", where, key);
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		fail(b, "%s%s: expected %s", where, key, names[t]);
		return NULL;
	}
	return v;
}

static const char *get_str(struct build *b, struct json_object *o,
			   const char *where, const char *key)
{
	struct json_object *v = member(b, o, where, key, json_type_string, true);

	return v ? json_object_get_string(v) : "";
}

/* A member the schema gives no default: NULL when left out. */
static const char *opt_str(struct build *b, struct json_object *o,
			   const char *where, const char *key)
{
	struct json_object *v = member(b, o, where, key, json_type_string, false);

	return v ? json_object_get_string(v) : NULL;
}

static long long get_int(struct build *b, struct json_object *o,
			 const char *key, long long lo, long long hi)
{
	struct json_object *v = member(b, o, "", key, json_type_int, true);
	long long n = v ? json_object_get_int64(v) : lo;

	if (n < lo || n > hi) {
		fail(b, "%s: %lld is out of range %lld..%lld", key, n, lo, hi);
		return lo;
	}
	return n;
}

static bool get_bool(struct build *b, struct json_object *o, const char *where,
		     const char *key)
{
	struct json_object *v = member(b, o, where, key, json_type_boolean, true);

	return v && json_object_get_boolean(v);
}

/* An array member; NULL when absent and not required. */
static struct json_object *get_array(struct build *b, struct json_object *o,
				     const char *key, bool required)
{
	return member(b, o, "", key, json_type_array, required);
}

static struct json_object *get_item(struct build *b, struct json_object *arr,
				    size_t i, const char *what)
{
	struct json_object *v = json_object_array_get_idx(arr, i);

	if (!v || !json_object_is_type(v, json_type_object)) {
		fail(b, "%s[%zu]: expected an object", what, i);
		return NULL;
	}
	return v;
}

/* Maps s through a table of {config value, QEMU value} pairs. */
static const char *pick(struct build *b, const char *what, const char *s,
			const char *const *table)
{
	for (size_t i = 0; table[i]; i += 2)
		if (strcmp(s, table[i]) == 0)
			return table[i + 1];
	fail(b, "%s: unsupported value '%s'", what, s);
	return table[1];
}

static bool is_x86(const char *arch)
{
	return strcmp(arch, "x86_64") == 0 || strcmp(arch, "i386") == 0;
}

const char *emu_machine(const char *arch, const char *machine)
{
	if (machine)
		return machine;
	return is_x86(arch) ? "pc" : "virt";
}

/* --- the options, one group per function -------------------------------- */

static void add_machine(struct build *b, struct pool *p, struct json_object *c,
			const char *arch, const char *accel)
{
	const char *machine = emu_machine(arch, opt_str(b, c, "", "machine"));
	long long cpus = get_int(b, c, "cpus", 1, 288);
	long long mem = get_int(b, c, "memory_mib", 16, 1048576);

	add(b, "-machine");
	addf(b, "%s,accel=%s", esc(b, p, machine), accel);
	/* "max" gives a TCG guest every feature QEMU can emulate; under KVM
	 * "host" passes the real CPU through.  QEMU 7.2's riscv64 has no
	 * "max" model, so it keeps the machine's default there. */
	if (strcmp(accel, "kvm") == 0) {
		add(b, "-cpu");
		add(b, "host");
	} else if (strcmp(arch, "riscv64") != 0) {
		add(b, "-cpu");
		add(b, "max");
	}
	add(b, "-smp");
	addf(b, "%lld", cpus);
	add(b, "-m");
	addf(b, "%lldM", mem);
}

static void add_qmp(struct build *b, const struct emu_launch *l)
{
	if (l->qmp_fd < 0) {
		fail(b, "no QMP socket to give QEMU");
		return;
	}
	add(b, "-chardev");
	addf(b, "socket,id=qmp,fd=%d,server=on,wait=off", l->qmp_fd);
	add(b, "-mon");
	add(b, "chardev=qmp,mode=control");
}

static const char *const serial_types[] = {
	"console", "console", "tcp", "tcp", "host", "host", NULL, NULL };

/* Serial ports (the schema's default: one console port, ttyS0; [] means
 * none).  Whatever the type, QEMU's side of a port is a socket chardev on a
 * listening socket vmd made and is connected to before the guest runs:
 * vmd relays it to viewers (console, tcp) or to the host tty it holds
 * (host), so QEMU never opens a host device for a serial port and a
 * device that goes away cannot take the chardev down with it.  With a
 * log file QEMU also appends every byte the guest sends to it. */
static void add_serial(struct build *b, struct pool *p, struct json_object *c,
		       const struct emu_launch *l)
{
	struct json_object *ports = get_array(b, c, "serial", true);
	size_t n = ports ? json_object_array_length(ports) : 0;

	if (n > VMD_SERIAL_MAX) {
		fail(b, "serial: at most %d ports, got %zu", VMD_SERIAL_MAX, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *port = get_item(b, ports, i, "serial");
		const char *type = opt_str(b, port, "serial[].", "type");
		const char *path = opt_str(b, port, "serial[].", "path");

		if (!b->failed && !type)
			fail(b, "serial[%zu].type: missing", i);
		if (b->failed)
			return;
		type = pick(b, "serial[].type", type, serial_types);
		if (!b->failed && strcmp(type, "host") == 0 &&
		    (!path || path[0] != '/'))
			fail(b, "serial[%zu]: a host port needs an absolute "
			     "path", i);
		if (b->failed)
			return;
		if (l->console_fds[i] < 0) {
			fail(b, "serial[%zu]: no console socket for this port", i);
			return;
		}
		add(b, "-chardev");
		addf(b, "socket,id=serial%zu,fd=%d,server=on,wait=off", i,
		     l->console_fds[i]);
		add(b, "-serial");
		addf(b, "chardev:serial%zu", i);
	}
}

/* Parallel ports: QEMU opens the host device itself (chardev parallel,
 * ppdev ioctls); only PC machines have the ISA bus isa-parallel needs. */
static void add_parallel(struct build *b, struct pool *p, struct json_object *c,
			 const char *arch, const struct emu_launch *l)
{
	struct json_object *ports = get_array(b, c, "parallel", false);
	size_t n = ports ? json_object_array_length(ports) : 0;

	if (n > VMD_PARALLEL_MAX) {
		fail(b, "parallel: at most %d ports, got %zu", VMD_PARALLEL_MAX, n);
		return;
	}
	if (n && !is_x86(arch)) {
		fail(b, "parallel: parallel ports need an x86 machine "
		     "(isa-parallel); arch is %s", arch);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *port = get_item(b, ports, i, "parallel");
		const char *type = opt_str(b, port, "parallel[].", "type");
		const char *path = opt_str(b, port, "parallel[].", "path");

		if (b->failed)
			return;
		if (!type || strcmp(type, "host") != 0) {
			fail(b, "parallel[%zu].type: '%s' is not supported", i,
			     type ? type : "(missing)");
			return;
		}
		if (!path || path[0] != '/') {
			fail(b, "parallel[%zu].path: an absolute path is "
			     "required", i);
			return;
		}
		if (l->fds && l->fds->parallel[i] < 0) {
			fail(b, "parallel[%zu]: no descriptor for %s", i, path);
			return;
		}
		add(b, "-chardev");
		if (l->fds)
			addf(b, "parallel,id=parallel%zu,path=/proc/self/fd/%d", i,
			     l->fds->parallel[i]);
		else
			addf(b, "parallel,id=parallel%zu,path=%s", i,
			     esc(b, p, path));
		add(b, "-device");
		addf(b, "isa-parallel,chardev=parallel%zu", i);
	}
}

static const char *const disk_formats[] = {
	"raw", "raw", "qcow2", "qcow2", NULL, NULL };
static const char *const disk_buses[] = {
	"virtio", "virtio", "ide", "ide", NULL, NULL };

/* The disk's file: its path, or the fd set holding vmd's descriptor.
 * QEMU hands out a set's member by access mode (O_RDWR or O_RDONLY) and
 * never opens the path, so a set holds exactly one description: OFD locks
 * QEMU takes through a second one would outlive their fd (the set keeps
 * it) and refuse later permission changes ("Failed to get write lock" on
 * drive-backup).  Hence auto-read-only=off: with it on, QEMU opens a
 * writable -drive read-only first. */
static const char *disk_file(struct build *b, struct pool *p, size_t i,
			     const char *path, const struct emu_launch *l)
{
	char set[32];

	if (!l->fds)
		return esc(b, p, path);
	if (l->fds->disk[i] < 0) {
		fail(b, "disks[%zu]: no descriptor for %s", i, path);
		return "";
	}
	add(b, "-add-fd");
	addf(b, "fd=%d,set=%zu,opaque=disk%zu", l->fds->disk[i], i, i);
	snprintf(set, sizeof set, "/dev/fdset/%zu", i);
	return esc(b, p, set);
}

static void add_disks(struct build *b, struct pool *p, struct json_object *c,
		      const struct emu_launch *l)
{
	struct json_object *disks = get_array(b, c, "disks", true);
	size_t n = disks ? json_object_array_length(disks) : 0;

	if (n > VMD_DISK_MAX) {
		fail(b, "disks: at most %d, got %zu", VMD_DISK_MAX, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *d = get_item(b, disks, i, "disks");
		const char *path = opt_str(b, d, "disks[].", "path");
		const char *format = pick(b, "disks[].format",
			get_str(b, d, "disks[].", "format"), disk_formats);
		const char *bus = pick(b, "disks[].bus",
			get_str(b, d, "disks[].", "bus"), disk_buses);
		bool ro = get_bool(b, d, "disks[].", "readonly");

		if (b->failed)
			return;
		/* A path starting with '/' is never read as a protocol
		 * prefix ("nbd:", "json:") by QEMU's block layer. */
		if (!path || path[0] != '/') {
			fail(b, "disks[%zu].path: an absolute path is required", i);
			return;
		}
		/* QEMU's ide-hd refuses a read-only block node ("Block node
		 * is read-only"); say so before QEMU does. */
		if (ro && strcmp(bus, "ide") == 0) {
			fail(b, "disks[%zu]: an IDE disk cannot be read-only in "
			     "QEMU; use bus virtio", i);
			return;
		}
		const char *file = disk_file(b, p, i, path, l);
		add(b, "-drive");
		addf(b, "file=%s,format=%s,if=%s,id=disk%zu%s", file, format,
		     bus, i, ro ? ",readonly=on" : l->fds ? ",auto-read-only=off" : "");
	}
}

static const char *const nic_models[] = {
	"virtio", "virtio-net-pci", "e1000", "e1000", "rtl8139", "rtl8139",
	NULL, NULL };

static void add_nics(struct build *b, struct pool *p, struct json_object *c)
{
	struct json_object *nics = get_array(b, c, "nics", true);
	size_t n = nics ? json_object_array_length(nics) : 0;

	if (n > VMD_NIC_MAX) {
		fail(b, "nics: at most %d, got %zu", VMD_NIC_MAX, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *nic = get_item(b, nics, i, "nics");
		const char *type = opt_str(b, nic, "nics[].", "type");
		const char *mac = opt_str(b, nic, "nics[].", "mac");
		const char *model = pick(b, "nics[].model",
			get_str(b, nic, "nics[].", "model"), nic_models);

		if (b->failed)
			return;
		if (!type || strcmp(type, "user") != 0) {
			fail(b, "nics[%zu].type: '%s' is not supported", i,
			     type ? type : "(missing)");
			return;
		}
		add(b, "-netdev");
		addf(b, "user,id=net%zu", i);
		add(b, "-device");
		if (mac)
			addf(b, "%s,netdev=net%zu,mac=%s", model, i, esc(b, p, mac));
		else
			addf(b, "%s,netdev=net%zu", model, i);
	}
}

static void add_boot(struct build *b, struct pool *p, struct json_object *c,
		     const struct emu_launch *l)
{
	struct json_object *boot;
	const char *order, *kernel, *initrd, *cmdline;

	if (!json_object_object_get_ex(c, "boot", &boot) || !boot)
		return;
	if (!json_object_is_type(boot, json_type_object)) {
		fail(b, "boot: expected an object");
		return;
	}
	order = opt_str(b, boot, "boot.", "order");
	kernel = opt_str(b, boot, "boot.", "kernel");
	initrd = opt_str(b, boot, "boot.", "initrd");
	cmdline = opt_str(b, boot, "boot.", "cmdline");
	if (b->failed)
		return;
	if ((initrd || cmdline) && !kernel) {
		fail(b, "boot.%s needs boot.kernel", initrd ? "initrd" : "cmdline");
		return;
	}
	if (order) {
		add(b, "-boot");
		addf(b, "order=%s", esc(b, p, order));
	}
	if (l->fds && ((kernel && l->fds->kernel < 0) ||
		       (initrd && l->fds->initrd < 0))) {
		fail(b, "boot: no descriptor for the kernel or initrd");
		return;
	}
	/* Raw strings in QEMU 7.2: no comma escaping here. */
	if (kernel) {
		add(b, "-kernel");
		if (l->fds)
			addf(b, "/proc/self/fd/%d", l->fds->kernel);
		else
			add(b, kernel);
	}
	if (initrd) {
		add(b, "-initrd");
		if (l->fds)
			addf(b, "/proc/self/fd/%d", l->fds->initrd);
		else
			add(b, initrd);
	}
	if (cmdline) {
		add(b, "-append");
		add(b, cmdline);
	}
}

static void add_display(struct build *b, struct pool *p, struct json_object *c,
			const struct emu_launch *l, const char *arch)
{
	const char *display = get_str(b, c, "", "display");
	char *sock;

	if (b->failed)
		return;
	if (strcmp(display, "none") == 0) {
		add(b, "-display");
		add(b, "none");
		return;
	}
	if (strcmp(display, "vnc") != 0) {
		fail(b, "display: unsupported value '%s'", display);
		return;
	}
	if (!l->run_dir) {
		fail(b, "display vnc needs a run directory for its socket");
		return;
	}
	if (asprintf(&sock, "%s/vnc.sock", l->run_dir) < 0) {
		fail(b, "out of memory building the QEMU command line");
		return;
	}
	add(b, "-vnc");
	addf(b, "unix:%s", esc(b, p, sock));
	free(sock);
	/* -nodefaults removed the graphics card: give the viewer one. */
	add(b, "-device");
	if (is_x86(arch)) {
		add(b, "VGA");
	} else {
		add(b, "virtio-gpu-pci");
		add(b, "-device");
		add(b, "virtio-keyboard-pci");
		add(b, "-device");
		add(b, "virtio-tablet-pci");
	}
}

static const char *const arches[] = {
	"x86_64", "x86_64", "i386", "i386", "aarch64", "aarch64",
	"riscv64", "riscv64", NULL, NULL };

int emu_build_argv(struct json_object *config, const struct emu_launch *l,
		   struct emu_argv *out, char *err, size_t errlen)
{
	struct build b = { out, err, errlen, 0 };
	struct pool p = { .n = 0 };
	const char *name, *uuid, *arch;

	emu_argv_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!config || !json_object_is_type(config, json_type_object)) {
		fail(&b, "the VM configuration is not a JSON object");
		return -1;
	}
	if (!l || !l->qemu || !l->accel ||
	    (strcmp(l->accel, "kvm") != 0 && strcmp(l->accel, "tcg") != 0)) {
		fail(&b, "internal error: QEMU binary or accelerator (kvm|tcg) not set");
		return -1;
	}
	name = opt_str(&b, config, "", "name");
	uuid = opt_str(&b, config, "", "uuid");
	arch = pick(&b, "arch", get_str(&b, config, "", "arch"), arches);
	if (!b.failed && !name)
		fail(&b, "name: missing");
	if (!b.failed && !is_x86(arch) && strcmp(l->accel, "kvm") == 0)
		fail(&b, "arch %s runs under TCG only, not KVM", arch);

	add(&b, l->qemu);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-S");
	/* a guest that powers off leaves QEMU alive and stopped, so a vmd that
	 * was away at the time can still tell a clean shutdown from a crash;
	 * vmd then ends QEMU itself */
	add(&b, "-no-shutdown");
	if (l->sandbox) {
		/* -runas needs setuid, so privileges are denied only without it */
		add(&b, "-sandbox");
		add(&b, l->runas ? "on,obsolete=deny,spawn=deny,resourcecontrol=deny"
			: "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
			  "resourcecontrol=deny");
	}
	if (l->runas) {
		add(&b, "-runas");
		add(&b, l->runas);
	}
	if (!b.failed) {
		add(&b, "-name");
		addf(&b, "guest=%s", esc(&b, &p, name));
	}
	if (uuid) {
		add(&b, "-uuid");
		add(&b, uuid);
	}
	if (!b.failed)
		add_machine(&b, &p, config, arch, l->accel);
	add_qmp(&b, l);
	add_display(&b, &p, config, l, arch);
	add_serial(&b, &p, config, l);
	if (!b.failed)
		add_parallel(&b, &p, config, arch, l);
	add_disks(&b, &p, config, l);
	add_nics(&b, &p, config);
	add_boot(&b, &p, config, l);
	pool_free(&p);
	if (b.failed) {
		emu_argv_free(out);
		return -1;
	}
	return 0;
}

char *emu_qemu_for_arch(const char *arch, const char *default_qemu)
{
	const char *slash;
	char *path;

	if (!arch || !*arch)
		arch = "x86_64";
	/* The arch becomes part of a file name: allow only what real QEMU
	 * target names use. */
	for (const char *c = arch; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_'))
			return NULL;
	/* The configured binary is the x86_64 one, whatever its name. */
	if (strcmp(arch, "x86_64") == 0 && default_qemu && *default_qemu)
		return strdup(default_qemu);
	slash = default_qemu ? strrchr(default_qemu, '/') : NULL;
	if (slash) {
		if (asprintf(&path, "%.*s/qemu-system-%s",
			     (int)(slash - default_qemu), default_qemu, arch) < 0)
			return NULL;
	} else if (asprintf(&path, "/usr/bin/qemu-system-%s", arch) < 0) {
		return NULL;
	}
	return path;
}
