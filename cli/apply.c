/* vmctl apply: send a spec to spec-apply and print its plan, with the exit
 * status of `terraform plan -detailed-exitcode`: 0 nothing to do, 2
 * changes made or planned, 1 any error (a usage error and an unreachable
 * vmd too, so that 2 can only mean changes). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/print.h"

#define EXIT_CHANGES 2

/* "labels, memory_mib (restart)" from an action's changes. */
static void changes_text(struct json_object *changes, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(changes) && used < len; i++) {
		struct json_object *c = json_object_array_get_idx(changes, i);

		used += (size_t)snprintf(buf + used, len - used, "%s%s%s",
					 i ? ", " : "", jstr(c, "member", "?"),
					 jbool(c, "restart", 0) ? " (restart)" : "");
	}
}

/* The spec's volumes: their rows, then what was made and what differs
 * (an apply never changes an existing volume). */
static void print_volumes(struct json_object *vols, int dry)
{
	size_t n = json_object_is_type(vols, json_type_array) ?
		json_object_array_length(vols) : 0, made = 0, differ = 0;
	struct table t;
	char buf[256];

	if (n == 0)
		return;
	table_init(&t, 3);
	table_row(&t, "ACTION", "VOLUME", "DIFFERS");
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		struct json_object *d = jget(v, "changes");
		const char *verb = jstr(v, "action", "?");
		size_t used = 0;

		buf[0] = '\0';
		for (size_t k = 0; k < json_object_array_length(d) &&
		     used < sizeof buf; k++)
			used += (size_t)snprintf(buf + used, sizeof buf - used,
				"%s%s", k ? ", " : "", json_object_get_string(
					json_object_array_get_idx(d, k)));
		made += strcmp(verb, "create") == 0;
		differ += strcmp(verb, "differs") == 0;
		table_row(&t, verb, jstr(v, "volume", "?"), *buf ? buf : "-");
	}
	table_print(&t, stdout);
	table_free(&t);
	printf("volumes: %zu %s, %zu differ%s (left as they are)\n", made,
	       dry ? "to create" : "created", differ, differ == 1 ? "s" : "");
}

static const char *const verbs[] = { "create", "update", "unchanged", "delete" };
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void print_plan(struct json_object *ret)
{
	struct json_object *actions = jget(ret, "actions");
	size_t n = json_object_is_type(actions, json_type_array) ?
		json_object_array_length(actions) : 0, count[NVERBS] = { 0 };
	int dry = jbool(ret, "dry_run", 0);
	struct table t;
	char buf[2048];

	table_init(&t, 4);
	table_row(&t, "ACTION", "VM", "RESTART", "CHANGES");
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(actions, i);
		const char *verb = jstr(a, "action", "?");

		for (size_t v = 0; v < NVERBS; v++)
			count[v] += strcmp(verb, verbs[v]) == 0;
		changes_text(jget(a, "changes"), buf, sizeof(buf));
		table_row(&t, verb, jstr(a, "vm", "?"),
			  jbool(a, "restart", 0) ? "yes" : "-", *buf ? buf : "-");
	}
	table_print(&t, stdout);
	table_free(&t);
	printf(dry ? "plan: %zu to create, %zu to update, %zu to delete, %zu "
	       "unchanged (dry run: nothing changed)\n" : "applied: %zu created, "
	       "%zu updated, %zu deleted, %zu unchanged\n", count[0], count[1],
	       count[3], count[2]);
	print_volumes(jget(ret, "volumes"), dry);
}

int cmd_apply(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args = json_object_new_object(), *ret;
	const char *file = NULL;
	int ch, dry = 0, prune = 0;

	ctl->fail_status = EXIT_PROTOCOL;
	while ((ch = ctl_getopt(ctl, argc, argv, "f:", longopts)) != -1) {
		if (ch == 'f')
			file = optarg;
		else if (ch == 'n')
			dry = 1;
		else if (ch == 'p')
			prune = 1;
	}
	ctl_operands(ctl, argc, 0, 0);
	if (file == NULL)
		ctl_usage(ctl, "missing -f FILE.json");
	json_object_object_add(args, "spec", ctl_read_object(ctl, file));
	if (dry)
		json_object_object_add(args, "dry_run", json_object_new_boolean(1));
	if (prune)
		json_object_object_add(args, "prune", json_object_new_boolean(1));
	ret = ctl_call(ctl, file, args);
	if (ctl->json)
		print_json(stdout, ret);
	else
		print_plan(ret);
	ch = jbool(ret, "changed", 0) ? EXIT_CHANGES : 0;
	json_object_put(ret);
	return ch;
}
