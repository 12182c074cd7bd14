/* vmctl's volume and job commands: `vmctl volume create|list|show|delete|
 * resize|import|clone` and `vmctl job list|cancel`.  Import and full
 * clone wait for their copy; on a terminal (and without --json) a
 * progress bar follows the VOLUME_PROGRESS events vmd sends every session
 * for the volume being made. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/client.h"

static const struct option no_options[] = { { NULL, 0, NULL, 0 } };

static struct json_object *named(const char *key, const char *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_new_string(value));
	return o;
}

/* A size operand: digits alone are bytes (a number), else vmd reads the
 * units ("10G"). */
static struct json_object *size_value(const char *s)
{
	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19)
		return json_object_new_int64(strtoll(s, NULL, 10));
	return json_object_new_string(s);
}

static void human_size(char *buf, size_t len, long long n)
{
	static const char units[] = "BKMGT";
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%c" : "%.0f%c", v, units[u]);
}

/* Options shared by create, import and clone: --format, --pool and one
 * more a command names (its flag value 'x').  Returns that flag's count. */
static int volume_opts(struct ctl *ctl, int argc, char **argv,
		       struct json_object *args, const struct option *extra,
		       const char *extra_key)
{
	struct option opts[4] = {
		{ "format", required_argument, NULL, 'f' },
		{ "pool", required_argument, NULL, 'p' },
	};
	int ch, n = 0;

	if (extra)
		opts[2] = *extra;
	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch == 'f')
			json_object_object_add(args, "format",
					       json_object_new_string(optarg));
		else if (ch == 'p')
			json_object_object_add(args, "pool",
					       json_object_new_string(optarg));
		else if (ch == 'x' && extra->has_arg)
			json_object_object_add(args, extra_key,
					       json_object_new_string(optarg));
		else if (ch == 'x')
			n++;
	}
	return n;
}

static int made(struct ctl *ctl, struct json_object *ret, const char *verb)
{
	char size[32];

	human_size(size, sizeof(size), jint(ret, "size", 0));
	return ctl_finish(ctl, ret, "%s %s (%s, %s, %s)\n", verb,
			  jstr(ret, "name", "?"), jstr(ret, "format", "?"), size,
			  jstr(ret, "path", "?"));
}

int cmd_volume_create(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object();

	volume_opts(ctl, argc, argv, args, NULL, NULL);
	ctl_operands(ctl, argc, 2, 2);
	json_object_object_add(args, "name",
			       json_object_new_string(argv[optind]));
	json_object_object_add(args, "size", size_value(argv[optind + 1]));
	return made(ctl, ctl_call(ctl, argv[optind], args), "created");
}

int cmd_volume_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv);
	struct table t;

	if (!ret)
		return 0;
	table_init(&t, 6);
	table_row(&t, "NAME", "FORMAT", "SIZE", "POOL", "BASE", "READONLY");
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *v = json_object_array_get_idx(ret, i);
		char size[32];

		human_size(size, sizeof(size), jint(v, "size", 0));
		table_row(&t, jstr(v, "name", "?"), jstr(v, "format", "?"), size,
			  jstr(v, "pool", "?"), jstr(v, "backing", "-"),
			  jbool(v, "readonly", 0) ? "yes" : "no");
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

const char *ctl_names(struct json_object *a, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "-");
	for (size_t i = 0; json_object_is_type(a, json_type_array) &&
			   i < json_object_array_length(a) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
			i ? ", " : "", json_object_get_string(
				json_object_array_get_idx(a, i)));
	return buf;
}

int cmd_volume_show(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret;
	struct table t;
	char size[32], alloc[32], created[64], list[1024];

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	ret = ctl_call(ctl, argv[optind], named("volume", argv[optind]));
	if (ctl->json)
		return ctl_finish(ctl, ret, "%s", "");
	human_size(size, sizeof(size), jint(ret, "size", 0));
	human_size(alloc, sizeof(alloc), jint(ret, "allocated", 0));
	format_time(created, sizeof(created), jint(ret, "created", 0));
	table_init(&t, 2);
	kv_add(&t, "name:", "%s", jstr(ret, "name", "?"));
	kv_add(&t, "format:", "%s", jstr(ret, "format", "?"));
	kv_add(&t, "size:", "%s (%lld bytes)", size, jint(ret, "size", 0));
	kv_add(&t, "allocated:", "%s", alloc);
	kv_add(&t, "pool:", "%s", jstr(ret, "pool", "?"));
	kv_add(&t, "path:", "%s", jstr(ret, "path", "-"));
	kv_add(&t, "base:", "%s", jstr(ret, "backing", "-"));
	kv_add(&t, "readonly:", "%s", jbool(ret, "readonly", 0) ? "yes" : "no");
	kv_add(&t, "created:", "%s", created);
	kv_add(&t, "used by:", "%s", ctl_names(jget(ret, "used_by"), list, sizeof list));
	kv_add(&t, "clones:", "%s", ctl_names(jget(ret, "clones"), list, sizeof list));
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

int cmd_volume_delete(struct ctl *ctl, int argc, char **argv)
{
	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	return ctl_finish(ctl, ctl_call(ctl, argv[optind],
					named("volume", argv[optind])),
			  "deleted %s\n", argv[optind]);
}

int cmd_volume_resize(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shrink", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args;
	int ch, shrink = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1)
		shrink |= ch == 'k';
	ctl_operands(ctl, argc, 2, 2);
	args = named("volume", argv[optind]);
	json_object_object_add(args, "size", size_value(argv[optind + 1]));
	if (shrink)
		json_object_object_add(args, "shrink", json_object_new_boolean(1));
	return made(ctl, ctl_call(ctl, argv[optind], args), "resized");
}

/* --- waiting for a copy, with a progress bar ----------------------------- */

static void draw_bar(const char *volume, long long done, long long total)
{
	char d[32], t[32];
	int width = 30, filled = total > 0 ? (int)(done * width / total) : 0;

	human_size(d, sizeof(d), done);
	human_size(t, sizeof(t), total);
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s/%s", volume, filled,
		"##############################", width - filled, "",
		total > 0 ? (int)(done * 100 / total) : 0, d, t);
	fflush(stderr);
}

/* The reply to request id, drawing VOLUME_PROGRESS of volume meanwhile. */
static struct json_object *wait_drawing(struct ctl *ctl, long long id,
					const char *volume)
{
	struct pollfd p = { rpc_client_fd(ctl->rpc), POLLIN, 0 };
	struct json_object *m, *d;

	for (;;) {
		while ((m = rpc_client_pop(ctl->rpc)) != NULL) {
			if (jget(m, "event") == NULL && jint(m, "id", -1) == id)
				return m;
			d = jget(m, "data");
			if (!strcmp(jstr(m, "event", ""), "VOLUME_PROGRESS") &&
			    !strcmp(jstr(d, "volume", ""), volume))
				draw_bar(volume, jint(d, "done", 0), jint(d, "total", 0));
			json_object_put(m);
		}
		if (rpc_client_flush(ctl->rpc) < 0 ||
		    (poll(&p, 1, ctl->timeout_ms) <= 0 && errno != EINTR) ||
		    rpc_client_read(ctl->rpc) < 0)
			return NULL;
	}
}

/* ctl_call for a copy: the same result, with the bar on a terminal. */
static struct json_object *call_copy(struct ctl *ctl, const char *volume,
				     struct json_object *args)
{
	struct json_object *m, *err;
	static long long id = 1000;

	if (!ctl->timeout_given)
		ctl->timeout_ms = -1;   /* a copy takes what it takes */
	if (ctl->json || !isatty(STDERR_FILENO))
		return ctl_call(ctl, volume, args);
	ctl_connect(ctl);
	if (rpc_client_send(ctl->rpc, ctl->cmd->protocol, args, ++id) < 0 ||
	    (m = wait_drawing(ctl, id, volume)) == NULL)
		ctl_fail(ctl, EXIT_PROTOCOL, "GenericError", "%s %s: lost vmd: %s",
			 ctl->cmd->name, volume, rpc_client_why(ctl->rpc));
	fputc('\n', stderr);
	err = jget(m, "error");
	struct json_object *ret = json_object_get(jget(m, "return"));
	rpc_err e = err ? rpc_err_from_name(jstr(err, "class", "")) : RPC_OK;
	char desc[2048];
	snprintf(desc, sizeof(desc), "%s", jstr(err, "desc", ""));
	json_object_put(m);
	return ctl_result(ctl, volume, e, ret, desc);
}

int cmd_volume_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option src = { "from", required_argument, NULL,
					   'x' };
	struct json_object *args = json_object_new_object();

	volume_opts(ctl, argc, argv, args, &src, "source_format");
	ctl_operands(ctl, argc, 2, 2);
	json_object_object_add(args, "name", json_object_new_string(argv[optind]));
	json_object_object_add(args, "file",
			       json_object_new_string(argv[optind + 1]));
	return made(ctl, call_copy(ctl, argv[optind], args), "imported");
}

int cmd_volume_clone(struct ctl *ctl, int argc, char **argv)
{
	static const struct option full = { "full", no_argument, NULL, 'x' };
	struct json_object *args = json_object_new_object();
	int is_full = volume_opts(ctl, argc, argv, args, &full, NULL);

	ctl_operands(ctl, argc, 2, 2);
	json_object_object_add(args, "source", json_object_new_string(argv[optind]));
	json_object_object_add(args, "name",
			       json_object_new_string(argv[optind + 1]));
	json_object_object_add(args, "mode", json_object_new_string(
				       is_full ? "full" : "linked"));
	return made(ctl, is_full ? call_copy(ctl, argv[optind + 1], args) :
		    ctl_call(ctl, argv[optind + 1], args), "cloned");
}

int cmd_job_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv);
	struct table t;

	if (!ret)
		return 0;
	table_init(&t, 5);
	table_row(&t, "ID", "KIND", "VOLUME", "DONE", "UID");
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *j = json_object_array_get_idx(ret, i);
		char id[32], done[32], uid[32];
		long long total = jint(j, "total", 0);

		snprintf(id, sizeof(id), "%lld", jint(j, "job", 0));
		snprintf(done, sizeof(done), total ? "%lld%%" : "-",
			 total ? jint(j, "done", 0) * 100 / total : 0);
		snprintf(uid, sizeof(uid), "%lld", jint(j, "uid", 0));
		table_row(&t, id, jstr(j, "kind", "?"), jstr(j, "volume", "?"),
			  done, uid);
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

int cmd_job_cancel(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object();

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	json_object_object_add(args, "job", json_object_new_int64(
		ctl_number(ctl, "job", argv[optind], 1L << 31)));
	return ctl_finish(ctl, ctl_call(ctl, argv[optind], args),
			  "cancelled job %s\n", argv[optind]);
}
