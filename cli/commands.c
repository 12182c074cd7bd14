/* One handler per vmctl command.  Each parses its own options, makes exactly
 * one protocol call through ctl_call() (which calls the protocol command the
 * table names for it), and prints the result: a short line or a table for
 * people, the return value as JSON with --json.  The console commands, which
 * do more than one call, live in console.c and console_log.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/client.h"
#include "rpc/stream.h"

static const struct option no_options[] = { { NULL, 0, NULL, 0 } };

/* Parse text as one JSON value.  NULL with a message naming the line on
 * malformed input or trailing garbage. */
static struct json_object *parse_json(const char *text, size_t len,
				      char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t end, line = 1;
	int trailing = 0;

	if (tok == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Strict: the daemon must get what the file says, not what json-c's
	 * leniency (trailing commas) made of it. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o == NULL && jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o != NULL && end + strspn(text + end, " \t\r\n") < len)
		trailing = 1;
	if (jerr == json_tokener_success && !trailing)
		return o;
	json_object_put(o);
	for (size_t i = 0; i < end && i < len; i++)
		line += text[i] == '\n';
	snprintf(err, errlen, "invalid JSON at line %zu: %s", line, trailing ?
		 "data after the JSON value" : json_tokener_error_desc(jerr));
	return NULL;
}

/* Read a whole file ("-": stdin) into a NUL-terminated buffer, refusing
 * anything larger than one protocol message could carry. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0;
	char *buf = NULL, *nbuf;
	ssize_t n;

	*len = 0;
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	for (;;) {
		if (*len == cap) {
			if (cap >= RPC_MAX_MSG) {
				snprintf(err, errlen, "larger than %d bytes",
					 RPC_MAX_MSG);
				goto fail;
			}
			cap = cap ? cap * 2 : 65536;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nbuf;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto fail;
		}
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	if (fd > 0)
		close(fd);
	return buf;
fail:
	if (fd > 0)
		close(fd);
	free(buf);
	return NULL;
}

struct json_object *ctl_read_object(struct ctl *ctl, const char *path)
{
	struct json_object *o = NULL;
	char err[512];
	size_t len;
	char *text = read_file(path, &len, err, sizeof(err));

	if (text != NULL)
		o = parse_json(text, len, err, sizeof(err));
	free(text);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		snprintf(err, sizeof(err), "not a JSON object");
	}
	if (o == NULL)
		ctl_fail(ctl, EXIT_PROTOCOL, "InvalidArgument", "%s %s: %s",
			 ctl->cmd->name, path, err);
	return o;
}

char *ctl_read_text(struct ctl *ctl, const char *path)
{
	char err[512];
	size_t len;
	char *text = read_file(path, &len, err, sizeof(err));

	if (text == NULL)
		ctl_fail(ctl, EXIT_PROTOCOL, "InvalidArgument", "%s %s: %s",
			 ctl->cmd->name, path, err);
	return text;
}

static struct json_object *vm_args(const char *vm)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "vm", json_object_new_string(vm));
	return args;
}

/* With --json print the return value; otherwise the formatted line.  Frees
 * ret either way. */
int ctl_finish(struct ctl *ctl, struct json_object *ret, const char *fmt, ...)
{
	char line[4096];
	size_t n;
	va_list ap;

	if (ctl->json) {
		print_json(stdout, ret);
	} else {
		/* names echoed are made visible; the line's end is ours */
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		print_visible(stdout, line);
		if (n > 0)
			putchar('\n');
	}
	json_object_put(ret);
	return 0;
}

/* The shape of most commands: "CMD VM", no options, {vm} as arguments. */
static struct json_object *call_one_vm(struct ctl *ctl, int argc, char **argv,
				       const char **vm)
{
	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	*vm = argv[optind];
	return ctl_call(ctl, *vm, vm_args(*vm));
}

/* The VM's name from a reply, or what the user typed (maybe a uuid). */
static const char *name_of(struct json_object *ret, const char *vm)
{
	return jstr(ret, "name", vm);
}

int cmd_define(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object(), *ret;
	const char *file;

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	file = argv[optind];
	json_object_object_add(args, "config", ctl_read_object(ctl, file));
	ret = ctl_call(ctl, file, args);
	return ctl_finish(ctl, ret, "defined %s (%s)\n", jstr(ret, "name", "?"),
		      jstr(ret, "uuid", "?"));
}

int cmd_update(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args, *ret;
	const char *vm;

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 2, 2);
	vm = argv[optind];
	args = vm_args(vm);
	json_object_object_add(args, "config", ctl_read_object(ctl, argv[optind + 1]));
	ret = ctl_call(ctl, vm, args);
	return ctl_finish(ctl, ret, "updated %s (%s)\n", name_of(ret, vm),
		      jstr(ret, "uuid", "?"));
}

int cmd_undefine(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "purge", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args, *ret;
	const char *vm;
	int ch, purge = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1)
		if (ch == 'p')
			purge = 1;
	ctl_operands(ctl, argc, 1, 1);
	vm = argv[optind];
	args = vm_args(vm);
	/* only when asked: a vmd without log retention knows no purge */
	if (purge)
		json_object_object_add(args, "purge", json_object_new_boolean(1));
	ret = ctl_call(ctl, vm, args);
	return ctl_finish(ctl, ret, "undefined %s%s\n", vm,
		      purge ? ", console logs removed" : "");
}

struct json_object *ctl_call_bare(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret;

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 0, 0);
	ret = ctl_call(ctl, NULL, NULL);
	if (!ctl->json)
		return ret;
	ctl_finish(ctl, ret, "%s", "");
	return NULL;
}

int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv);
	struct table t;
	size_t n;

	if (!ret)
		return 0;
	table_init(&t, 7);
	table_row(&t, "NAME", "STATE", "PID", "CPUS", "MEMORY", "ACCEL",
		  "AUTOSTART");
	n = json_object_is_type(ret, json_type_array) ?
		json_object_array_length(ret) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(ret, i);
		char pid[32], cpus[32], mem[32];
		long long p = jint(vm, "pid", 0);

		snprintf(pid, sizeof(pid), p > 0 ? "%lld" : "-", p);
		snprintf(cpus, sizeof(cpus), "%lld", jint(vm, "cpus", 0));
		format_mib(mem, sizeof(mem), jint(vm, "memory_mib", 0));
		table_row(&t, jstr(vm, "name", "?"), jbool(vm, "template", 0) ?
			  "template" : jstr(vm, "state", "?"),
			  pid, cpus, mem, jstr(vm, "accel", "-"),
			  jbool(vm, "autostart", 0) ? "yes" : "no");
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

/* An array member of the config as "disks[0]: path=/x format=raw ...". */
static void show_array(struct table *t, const char *key, struct json_object *a)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *el = json_object_array_get_idx(a, i);
		char k[128], v[4096] = "";
		size_t used = 0;

		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		if (!json_object_is_type(el, json_type_object)) {
			kv_add(t, k, "%s", format_value(el));
			continue;
		}
		json_object_object_foreach(el, mk, mv) {
			int w = snprintf(v + used, sizeof(v) - used, "%s%s=%s",
					 used ? " " : "", mk, format_value(mv));

			if (w < 0 || (size_t)w >= sizeof(v) - used)
				break;
			used += (size_t)w;
		}
		kv_add(t, k, "%s", v);
	}
}

/* The configuration members not already shown, flattened to one key each. */
static void show_config(struct table *t, struct json_object *config)
{
	static const char *const shown[] = { "name", "uuid", "accel", "cpus",
					     "memory_mib", NULL };

	if (!json_object_is_type(config, json_type_object))
		return;
	json_object_object_foreach(config, key, val) {
		int skip = 0;

		for (int i = 0; shown[i]; i++)
			skip |= strcmp(key, shown[i]) == 0;
		if (skip)
			continue;
		if (json_object_is_type(val, json_type_array)) {
			show_array(t, key, val);
		} else if (json_object_is_type(val, json_type_object)) {
			json_object_object_foreach(val, sk, sv) {
				char k[256];

				snprintf(k, sizeof(k), "%s.%s", key, sk);
				kv_add(t, k, "%s", format_value(sv));
			}
		} else {
			kv_add(t, key, "%s", format_value(val));
		}
	}
}

int cmd_show(struct ctl *ctl, int argc, char **argv)
{
	const char *vm, *accel, *conf_accel;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);
	struct json_object *config;
	struct table t;
	char buf[64];

	if (ctl->json)
		return ctl_finish(ctl, ret, "%s", "");
	config = jget(ret, "config");
	accel = jstr(ret, "accel", "-");
	conf_accel = jstr(config, "accel", "auto");
	table_init(&t, 2);
	kv_add(&t, "name", "%s", name_of(ret, vm));
	kv_add(&t, "uuid", "%s", jstr(ret, "uuid", "-"));
	kv_add(&t, "state", "%s", jstr(ret, "state", "-"));
	if (jbool(ret, "template", 0))
		kv_add(&t, "template", "yes: it cannot start; vmctl clone makes "
		       "VMs of it");
	snprintf(buf, sizeof(buf), "%lld", jint(ret, "pid", 0));
	kv_add(&t, "pid", "%s", jint(ret, "pid", 0) > 0 ? buf : "-");
	if (strcmp(accel, conf_accel) != 0)
		kv_add(&t, "accel", "%s (configured %s)", accel, conf_accel);
	else
		kv_add(&t, "accel", "%s", accel);
	kv_add(&t, "cpus", "%lld", jint(config, "cpus", 1));
	format_mib(buf, sizeof(buf), jint(config, "memory_mib", 256));
	kv_add(&t, "memory", "%s", buf);
	show_config(&t, config);
	format_time(buf, sizeof(buf), jint(ret, "created", 0));
	kv_add(&t, "created", "%s", buf);
	format_time(buf, sizeof(buf), jint(ret, "updated", 0));
	kv_add(&t, "updated", "%s", buf);
	format_time(buf, sizeof(buf), jint(ret, "started_at", 0));
	kv_add(&t, "started", "%s", buf);
	kv_add(&t, "run_dir", "%s", jstr(ret, "run_dir", "-"));
	if (jget(ret, "ports"))
		show_array(&t, "ports", jget(ret, "ports"));
	struct json_object *taps = jget(ret, "nics");
	if (json_object_is_type(taps, json_type_array) &&
	    json_object_array_length(taps) > 0)
		show_array(&t, "taps", taps);
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

int cmd_start(struct ctl *ctl, int argc, char **argv)
{
	const char *vm;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);

	return ctl_finish(ctl, ret, "started %s (pid %lld, %s)\n", name_of(ret, vm),
		      jint(ret, "pid", 0), jstr(ret, "accel", "?"));
}

int cmd_stop(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args, *ret;
	const char *vm;
	long timeout = -1;
	int ch;

	while ((ch = ctl_getopt(ctl, argc, argv, "t:", no_options)) != -1)
		if (ch == 't')
			timeout = ctl_number(ctl, "timeout", optarg, 3600);
	ctl_operands(ctl, argc, 1, 1);
	vm = argv[optind];
	args = vm_args(vm);
	if (timeout >= 0)
		json_object_object_add(args, "timeout",
				       json_object_new_int((int)timeout));
	/* vmd answers only once QEMU has exited: wait past its own timeout. */
	if (!ctl->timeout_given) {
		long need = ((timeout >= 0 ? timeout : 30) + 60) * 1000;

		if (ctl->timeout_ms >= 0 && ctl->timeout_ms < need)
			ctl->timeout_ms = (int)need;
	}
	ret = ctl_call(ctl, vm, args);
	return ctl_finish(ctl, ret, "stopped %s%s\n", name_of(ret, vm),
		      jbool(ret, "forced", 0) ? " (forced)" : "");
}

int cmd_kill(struct ctl *ctl, int argc, char **argv)
{
	const char *vm;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);

	return ctl_finish(ctl, ret, "killed %s\n", name_of(ret, vm));
}

int cmd_reset(struct ctl *ctl, int argc, char **argv)
{
	const char *vm;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);

	return ctl_finish(ctl, ret, "reset %s\n", vm);
}

int cmd_pause(struct ctl *ctl, int argc, char **argv)
{
	const char *vm;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);

	return ctl_finish(ctl, ret, "paused %s\n", vm);
}

int cmd_resume(struct ctl *ctl, int argc, char **argv)
{
	const char *vm;
	struct json_object *ret = call_one_vm(ctl, argc, argv, &vm);

	return ctl_finish(ctl, ret, "resumed %s\n", vm);
}

int cmd_monitor(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args, *margs = NULL, *ret;
	const char *vm, *text;
	char err[256];

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 2, 3);
	vm = argv[optind];
	if (optind + 2 < argc) {
		text = argv[optind + 2];
		if ((margs = parse_json(text, strlen(text), err, sizeof(err))) == NULL)
			ctl_usage(ctl, "JSON-ARGS: %s", err);
		if (!json_object_is_type(margs, json_type_object)) {
			json_object_put(margs);
			ctl_usage(ctl, "JSON-ARGS must be a JSON object: %s", text);
		}
	}
	args = vm_args(vm);
	json_object_object_add(args, "command",
			       json_object_new_string(argv[optind + 1]));
	if (margs != NULL)
		json_object_object_add(args, "arguments", margs);
	ret = ctl_call(ctl, vm, args);
	print_json(stdout, ret);
	json_object_put(ret);
	return 0;
}

static void host_ms(struct table *t, const char *key, struct json_object *accel,
		    const char *member)
{
	double ms = jnum(accel, member, 0);

	if (ms > 0)
		kv_add(t, key, "%.0f ms", ms);
	else
		kv_add(t, key, "-");
}

/* One line per emulator: "emulator aarch64  PATH 7.2.22, tcg, N machines" */
static void host_emulators(struct table *t, struct json_object *list)
{
	size_t n = list ? json_object_array_length(list) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *m = jget(e, "machines");
		char key[64];

		snprintf(key, sizeof key, "emulator %s", jstr(e, "arch", "?"));
		kv_add(t, key, "%s %s, %s, %zu machines", jstr(e, "path", "-"),
		       jstr(e, "version", "-"), jstr(e, "accel", "-"),
		       m ? json_object_array_length(m) : 0);
	}
}

int cmd_host(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv), *qemu, *accel,
			   *vms;
	struct table t;

	if (!ret)
		return 0;
	qemu = jget(ret, "qemu");
	accel = jget(ret, "accel");
	vms = jget(ret, "vms");
	table_init(&t, 2);
	kv_add(&t, "vmd", "%s", jstr(ret, "version", "-"));
	kv_add(&t, "qemu", "%s", jstr(qemu, "binary", "-"));
	kv_add(&t, "qemu version", "%s", jstr(qemu, "version", "-"));
	kv_add(&t, "accel", "%s", jstr(accel, "verdict", "-"));
	kv_add(&t, "why", "%s", jstr(accel, "reason", "-"));
	kv_add(&t, "kvm usable", "%s", jbool(accel, "kvm_usable", 0) ? "yes" : "no");
	kv_add(&t, "/dev/kvm", "%s", jbool(accel, "dev_kvm", 0) ? "yes" : "no");
	kv_add(&t, "cpu virt flag", "%s",
	       jbool(accel, "cpu_virt_flag", 0) ? "yes" : "no");
	kv_add(&t, "kvm module", "%s", *jstr(accel, "kvm_module", "") ?
	       jstr(accel, "kvm_module", "") : "none");
	host_ms(&t, "kvm boot", accel, "kvm_boot_ms");
	host_ms(&t, "tcg boot", accel, "tcg_boot_ms");
	host_emulators(&t, jget(ret, "emulators"));
	kv_add(&t, "vms", "%lld defined, %lld running", jint(vms, "defined", 0),
	       jint(vms, "running", 0));
	kv_add(&t, "state dir", "%s", jstr(ret, "state_dir", "-"));
	kv_add(&t, "run dir", "%s", jstr(ret, "run_dir", "-"));
	kv_add(&t, "socket", "%s", jstr(ret, "socket", "-"));
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* events: no protocol call; a negotiated session receives every event. */
int cmd_events(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	long count = 0, seen = 0, timeout = 0;
	long long deadline = 0;
	int ch;

	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1) {
		if (ch == 'c')
			count = ctl_number(ctl, "count", optarg, 1000000000);
		else if (ch == 't')
			timeout = ctl_number(ctl, "timeout", optarg, 86400);
	}
	ctl_operands(ctl, argc, 0, 0);
	ctl_connect(ctl);
	if (timeout > 0)
		deadline = now_ms() + timeout * 1000;
	while (count == 0 || seen < count) {
		long long left = deadline ? deadline - now_ms() : -1;
		struct json_object *ev;

		if (deadline && left <= 0)
			break;
		ev = rpc_client_next_event(ctl->rpc, (int)left);
		if (ev == NULL) {
			if (deadline && now_ms() >= deadline)
				break;
			ctl_fail(ctl, EXIT_PROTOCOL, "GenericError",
				 "events: connection to vmd closed");
		}
		print_json_line(stdout, ev);
		ctl_flush(ctl);
		json_object_put(ev);
		seen++;
	}
	if (count > 0 && seen < count)
		ctl_fail(ctl, EXIT_PROTOCOL, "GenericError",
			 "events: timed out after %ld of %ld events", seen, count);
	return 0;
}
