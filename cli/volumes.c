/* vmctl's volume and job commands: `vmctl volume create|list|show|delete|
 * resize|import|clone` and `vmctl job list|cancel`.  Import and full
 * clone wait for their copy, with a progress bar on a terminal
 * (progress.c). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/print.h"

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

	ctl_size(size, sizeof(size), jint(ret, "size", 0));
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

		ctl_size(size, sizeof(size), jint(v, "size", 0));
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
	ctl_size(size, sizeof(size), jint(ret, "size", 0));
	ctl_size(alloc, sizeof(alloc), jint(ret, "allocated", 0));
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
	return made(ctl, ctl_call_copy(ctl, argv[optind], args, ctl_job_is),
		    "imported");
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
	return made(ctl, is_full ? ctl_call_copy(ctl, argv[optind + 1], args,
				      ctl_job_is) :
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
