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

#include "emu/arch.h"
#include "emu/argv.h"
#include "emu/argv_int.h"

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

void argv_fail(struct build *b, const char *fmt, ...)
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

void argv_add(struct build *b, const char *s)
{
	if (!b->failed && emu_argv_add(b->out, s) < 0)
		argv_fail(b, "out of memory building the QEMU command line");
}

void argv_addf(struct build *b, const char *fmt, ...)
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
		argv_fail(b, "out of memory building the QEMU command line");
}

const char *argv_esc(struct build *b, struct pool *p, const char *s)
{
	char *e;

	if (p->n == sizeof(p->s) / sizeof(p->s[0])) {
		argv_fail(b, "internal error: escape pool full");
		return "";
	}
	e = emu_opt_escape(s);
	if (!e) {
		argv_fail(b, "out of memory building the QEMU command line");
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
			argv_fail(b, "%s%s: missing (the configuration's defaults were "
			     "not filled in from vm-config.json)", where, key);
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		argv_fail(b, "%s%s: expected %s", where, key, names[t]);
		return NULL;
	}
	return v;
}

const char *argv_get_str(struct build *b, struct json_object *o,
			   const char *where, const char *key)
{
	struct json_object *v = member(b, o, where, key, json_type_string, true);

	return v ? json_object_get_string(v) : "";
}

/* A member the schema gives no default: NULL when left out. */
const char *argv_opt_str(struct build *b, struct json_object *o,
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
		argv_fail(b, "%s: %lld is out of range %lld..%lld", key, n, lo, hi);
		return lo;
	}
	return n;
}

bool argv_get_bool(struct build *b, struct json_object *o, const char *where,
		     const char *key)
{
	struct json_object *v = member(b, o, where, key, json_type_boolean, true);

	return v && json_object_get_boolean(v);
}

/* An array member; NULL when absent and not required. */
struct json_object *argv_get_array(struct build *b, struct json_object *o,
				     const char *key, bool required)
{
	return member(b, o, "", key, json_type_array, required);
}

struct json_object *argv_get_item(struct build *b, struct json_object *arr,
				    size_t i, const char *what)
{
	struct json_object *v = json_object_array_get_idx(arr, i);

	if (!v || !json_object_is_type(v, json_type_object)) {
		argv_fail(b, "%s[%zu]: expected an object", what, i);
		return NULL;
	}
	return v;
}

/* Maps s through a table of {config value, QEMU value} pairs. */
const char *argv_pick(struct build *b, const char *what, const char *s,
			const char *const *table)
{
	for (size_t i = 0; table[i]; i += 2)
		if (strcmp(s, table[i]) == 0)
			return table[i + 1];
	argv_fail(b, "%s: unsupported value '%s'", what, s);
	return table[1];
}

const char *emu_machine(const char *arch, const char *machine)
{
	const struct emu_arch *a = emu_arch(arch);

	if (machine)
		return machine;
	return a ? a->machine : "pc";
}

/* --- the options, one group per function -------------------------------- */

static void add_machine(struct build *b, struct pool *p, struct json_object *c,
			const struct emu_arch *arch, const char *accel)
{
	const char *machine = emu_machine(arch->name,
					  argv_opt_str(b, c, "", "machine"));
	long long cpus = get_int(b, c, "cpus", 1, 288);
	long long mem = get_int(b, c, "memory_mib", 16, 1048576);

	argv_add(b, "-machine");
	argv_addf(b, "%s,accel=%s", argv_esc(b, p, machine), accel);
	/* "max" gives a TCG guest every feature QEMU can emulate; under KVM
	 * "host" passes the real CPU through. */
	if (strcmp(accel, "kvm") == 0) {
		argv_add(b, "-cpu");
		argv_add(b, "host");
	} else if (arch->cpu_tcg) {
		argv_add(b, "-cpu");
		argv_add(b, arch->cpu_tcg);
	}
	argv_add(b, "-smp");
	argv_addf(b, "%lld", cpus);
	argv_add(b, "-m");
	argv_addf(b, "%lldM", mem);
}

static void add_qmp(struct build *b, const struct emu_launch *l)
{
	if (l->qmp_fd < 0) {
		argv_fail(b, "no QMP socket to give QEMU");
		return;
	}
	argv_add(b, "-chardev");
	argv_addf(b, "socket,id=qmp,fd=%d,server=on,wait=off", l->qmp_fd);
	argv_add(b, "-mon");
	argv_add(b, "chardev=qmp,mode=control");
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
		       const struct emu_arch *arch, const struct emu_launch *l)
{
	struct json_object *ports = argv_get_array(b, c, "serial", true);
	size_t n = ports ? json_object_array_length(ports) : 0;

	if (n > VMD_SERIAL_MAX) {
		argv_fail(b, "serial: at most %d ports, got %zu", VMD_SERIAL_MAX, n);
		return;
	}
	/* QEMU silently drops the ports a machine has no UART for. */
	if (n > (size_t)arch->serial_max) {
		argv_fail(b, "serial: arch %s has %d serial port%s (%s), got %zu",
			  arch->name, arch->serial_max,
			  arch->serial_max == 1 ? "" : "s", arch->serial, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *port = argv_get_item(b, ports, i, "serial");
		const char *type = argv_opt_str(b, port, "serial[].", "type");
		const char *path = argv_opt_str(b, port, "serial[].", "path");

		if (!b->failed && !type)
			argv_fail(b, "serial[%zu].type: missing", i);
		if (b->failed)
			return;
		type = argv_pick(b, "serial[].type", type, serial_types);
		if (!b->failed && strcmp(type, "host") == 0 &&
		    (!path || path[0] != '/'))
			argv_fail(b, "serial[%zu]: a host port needs an absolute "
			     "path", i);
		if (b->failed)
			return;
		if (l->console_fds[i] < 0) {
			argv_fail(b, "serial[%zu]: no console socket for this port", i);
			return;
		}
		argv_add(b, "-chardev");
		argv_addf(b, "socket,id=serial%zu,fd=%d,server=on,wait=off", i,
		     l->console_fds[i]);
		argv_add(b, "-serial");
		argv_addf(b, "chardev:serial%zu", i);
	}
}

/* Parallel ports: QEMU opens the host device itself (chardev parallel,
 * ppdev ioctls); only PC machines have the ISA bus isa-parallel needs. */
static void add_parallel(struct build *b, struct pool *p, struct json_object *c,
			 const struct emu_arch *arch, const struct emu_launch *l)
{
	struct json_object *ports = argv_get_array(b, c, "parallel", false);
	size_t n = ports ? json_object_array_length(ports) : 0;

	if (n > VMD_PARALLEL_MAX) {
		argv_fail(b, "parallel: at most %d ports, got %zu", VMD_PARALLEL_MAX, n);
		return;
	}
	if (n && !arch->isa) {
		argv_fail(b, "parallel: parallel ports need an x86 machine "
		     "(isa-parallel); arch is %s", arch->name);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *port = argv_get_item(b, ports, i, "parallel");
		const char *type = argv_opt_str(b, port, "parallel[].", "type");
		const char *path = argv_opt_str(b, port, "parallel[].", "path");

		if (b->failed)
			return;
		if (!type || strcmp(type, "host") != 0) {
			argv_fail(b, "parallel[%zu].type: '%s' is not supported", i,
			     type ? type : "(missing)");
			return;
		}
		if (!path || path[0] != '/') {
			argv_fail(b, "parallel[%zu].path: an absolute path is "
			     "required", i);
			return;
		}
		if (l->fds && l->fds->parallel[i] < 0) {
			argv_fail(b, "parallel[%zu]: no descriptor for %s", i, path);
			return;
		}
		argv_add(b, "-chardev");
		if (l->fds)
			argv_addf(b, "parallel,id=parallel%zu,path=/proc/self/fd/%d", i,
			     l->fds->parallel[i]);
		else
			argv_addf(b, "parallel,id=parallel%zu,path=%s", i,
			     argv_esc(b, p, path));
		argv_add(b, "-device");
		argv_addf(b, "isa-parallel,chardev=parallel%zu", i);
	}
}

static const char *const nic_models[] = {
	"virtio", "virtio-net", "e1000", "e1000", "rtl8139", "rtl8139",
	NULL, NULL };

/* A bridge NIC's backend: the tap vmd made, and its vhost-net if any. */
static void add_tap(struct build *b, size_t i, const struct emu_launch *l)
{
	if (!l->fds || l->fds->tap[i] < 0) {
		argv_fail(b, "nics[%zu]: a bridge NIC needs its tap's descriptor", i);
		return;
	}
	if (l->fds->vhost[i] >= 0)
		argv_addf(b, "tap,id=net%zu,fd=%d,vhost=on,vhostfd=%d", i,
			  l->fds->tap[i], l->fds->vhost[i]);
	else
		argv_addf(b, "tap,id=net%zu,fd=%d", i, l->fds->tap[i]);
}

static void add_nics(struct build *b, struct pool *p, struct json_object *c,
		     const struct emu_arch *arch, const struct emu_launch *l)
{
	struct json_object *nics = argv_get_array(b, c, "nics", true);
	size_t n = nics ? json_object_array_length(nics) : 0;

	if (n > VMD_NIC_MAX) {
		argv_fail(b, "nics: at most %d, got %zu", VMD_NIC_MAX, n);
		return;
	}
	for (size_t i = 0; i < n && !b->failed; i++) {
		struct json_object *nic = argv_get_item(b, nics, i, "nics");
		const char *type = argv_opt_str(b, nic, "nics[].", "type");
		const char *mac = argv_opt_str(b, nic, "nics[].", "mac");
		const char *model = argv_pick(b, "nics[].model",
			argv_get_str(b, nic, "nics[].", "model"), nic_models);

		if (b->failed)
			return;
		bool bridge = type && !strcmp(type, "bridge");
		if (!type || (strcmp(type, "user") && !bridge)) {
			argv_fail(b, "nics[%zu].type: '%s' is not supported", i,
			     type ? type : "(missing)");
			return;
		}
		argv_add(b, "-netdev");
		if (bridge)
			add_tap(b, i, l);
		else
			argv_addf(b, "user,id=net%zu", i);
		/* virtio-net-pci, or virtio-net-ccw on s390x */
		const char *bus = strcmp(model, "virtio-net") ? "" : arch->virtio;

		argv_add(b, "-device");
		if (mac)
			argv_addf(b, "%s%s%s,netdev=net%zu,mac=%s", model,
				  *bus ? "-" : "", bus, i, argv_esc(b, p, mac));
		else
			argv_addf(b, "%s%s%s,netdev=net%zu", model, *bus ? "-" : "",
				  bus, i);
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
		argv_fail(b, "boot: expected an object");
		return;
	}
	order = argv_opt_str(b, boot, "boot.", "order");
	kernel = argv_opt_str(b, boot, "boot.", "kernel");
	initrd = argv_opt_str(b, boot, "boot.", "initrd");
	cmdline = argv_opt_str(b, boot, "boot.", "cmdline");
	if (b->failed)
		return;
	if ((initrd || cmdline) && !kernel) {
		argv_fail(b, "boot.%s needs boot.kernel", initrd ? "initrd" : "cmdline");
		return;
	}
	if (order) {
		argv_add(b, "-boot");
		argv_addf(b, "order=%s", argv_esc(b, p, order));
	}
	if (l->fds && ((kernel && l->fds->kernel < 0) ||
		       (initrd && l->fds->initrd < 0))) {
		argv_fail(b, "boot: no descriptor for the kernel or initrd");
		return;
	}
	/* Raw strings in QEMU 7.2: no comma escaping here. */
	if (kernel) {
		argv_add(b, "-kernel");
		if (l->fds)
			argv_addf(b, "/proc/self/fd/%d", l->fds->kernel);
		else
			argv_add(b, kernel);
	}
	if (initrd) {
		argv_add(b, "-initrd");
		if (l->fds)
			argv_addf(b, "/proc/self/fd/%d", l->fds->initrd);
		else
			argv_add(b, initrd);
	}
	if (cmdline) {
		argv_add(b, "-append");
		argv_add(b, cmdline);
	}
}

static void add_display(struct build *b, struct pool *p, struct json_object *c,
			const struct emu_launch *l, const struct emu_arch *arch)
{
	const char *display = argv_get_str(b, c, "", "display");
	char *sock;

	if (b->failed)
		return;
	if (strcmp(display, "none") == 0) {
		argv_add(b, "-display");
		argv_add(b, "none");
		return;
	}
	if (strcmp(display, "vnc") != 0) {
		argv_fail(b, "display: unsupported value '%s'", display);
		return;
	}
	if (!l->run_dir) {
		argv_fail(b, "display vnc needs a run directory for its socket");
		return;
	}
	if (asprintf(&sock, "%s/vnc.sock", l->run_dir) < 0) {
		argv_fail(b, "out of memory building the QEMU command line");
		return;
	}
	argv_add(b, "-vnc");
	argv_addf(b, "unix:%s", argv_esc(b, p, sock));
	free(sock);
	/* -nodefaults removed the graphics card: give the viewer one. */
	argv_add(b, "-device");
	if (arch->isa) {
		argv_add(b, "VGA");
	} else {
		argv_addf(b, "virtio-gpu-%s", arch->virtio);
		argv_add(b, "-device");
		argv_addf(b, "virtio-keyboard-%s", arch->virtio);
		argv_add(b, "-device");
		argv_addf(b, "virtio-tablet-%s", arch->virtio);
	}
}

int emu_build_argv(struct json_object *config, const struct emu_launch *l,
		   struct emu_argv *out, char *err, size_t errlen)
{
	struct build b = { out, err, errlen, 0 };
	struct pool p = { .n = 0 };
	const char *name, *uuid, *arch_name;
	const struct emu_arch *arch;

	emu_argv_init(out);
	if (err && errlen)
		err[0] = '\0';
	if (!config || !json_object_is_type(config, json_type_object)) {
		argv_fail(&b, "the VM configuration is not a JSON object");
		return -1;
	}
	if (!l || !l->qemu || !l->accel ||
	    (strcmp(l->accel, "kvm") != 0 && strcmp(l->accel, "tcg") != 0)) {
		argv_fail(&b, "internal error: QEMU binary or accelerator (kvm|tcg) not set");
		return -1;
	}
	name = argv_opt_str(&b, config, "", "name");
	uuid = argv_opt_str(&b, config, "", "uuid");
	arch_name = argv_get_str(&b, config, "", "arch");
	arch = emu_arch(arch_name);
	if (!b.failed && !arch)
		argv_fail(&b, "arch: unsupported value '%s'", arch_name);
	if (!b.failed && !name)
		argv_fail(&b, "name: missing");
	if (!b.failed && !emu_arch_native(arch) && strcmp(l->accel, "kvm") == 0)
		argv_fail(&b, "arch %s runs under TCG only on this %s host, "
			  "not KVM", arch->name, emu_host_arch());
	if (b.failed) {
		emu_argv_free(out);
		return -1;
	}

	argv_add(&b, l->qemu);
	argv_add(&b, "-nodefaults");
	argv_add(&b, "-no-user-config");
	argv_add(&b, "-S");
	/* a guest that powers off leaves QEMU alive and stopped, so a vmd that
	 * was away at the time can still tell a clean shutdown from a crash;
	 * vmd then ends QEMU itself */
	argv_add(&b, "-no-shutdown");
	if (l->sandbox) {
		/* -runas needs setuid, so privileges are denied only without it */
		argv_add(&b, "-sandbox");
		argv_add(&b, l->runas ? "on,obsolete=deny,spawn=deny,resourcecontrol=deny"
			: "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
			  "resourcecontrol=deny");
	}
	if (l->runas) {
		argv_add(&b, "-runas");
		argv_add(&b, l->runas);
	}
	if (!b.failed) {
		argv_add(&b, "-name");
		argv_addf(&b, "guest=%s", argv_esc(&b, &p, name));
	}
	if (uuid) {
		argv_add(&b, "-uuid");
		argv_add(&b, uuid);
	}
	if (!b.failed)
		add_machine(&b, &p, config, arch, l->accel);
	add_qmp(&b, l);
	add_display(&b, &p, config, l, arch);
	add_serial(&b, &p, config, arch, l);
	if (!b.failed)
		add_parallel(&b, &p, config, arch, l);
	argv_add_disks(&b, &p, config, l);
	add_nics(&b, &p, config, arch, l);
	add_boot(&b, &p, config, l);
	pool_free(&p);
	if (b.failed) {
		emu_argv_free(out);
		return -1;
	}
	return 0;
}
