/* vmctl's token commands: `vmctl token create|list|revoke`.  The secret
 * is printed once, by create; vmctl itself sends a token from $VMD_TOKEN
 * (connect.c). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/print.h"

/* "--vm VM=OP,OP": one entry of a VM-scoped token's scope. */
static struct json_object *vm_entry(struct ctl *ctl, char *spec)
{
	struct json_object *e = json_object_new_object(), *allow;
	char *eq = strchr(spec, '='), *op, *save = NULL;

	if (!eq || eq == spec || !eq[1])
		ctl_usage(ctl, "--vm %s: expected VM=OPS (OPS: show, "
			  "watch, console, power)", spec);
	*eq = '\0';
	allow = json_object_new_array();
	for (op = strtok_r(eq + 1, ",", &save); op; op = strtok_r(NULL, ",", &save))
		json_object_array_add(allow, json_object_new_string(op));
	json_object_object_add(e, "vm", json_object_new_string(spec));
	json_object_object_add(e, "allow", allow);
	return e;
}

/* The scope from --admin, --read or --vm (one kind, given once). */
static void set_scope(struct ctl *ctl, struct json_object *args,
		      struct json_object **vms, int ch)
{
	struct json_object *old = NULL;

	json_object_object_get_ex(args, "scope", &old);
	if (old && (ch != 'v' || !*vms))
		ctl_usage(ctl, "give one of --admin, --read or --vm (repeated)");
	if (ch == 'v') {
		if (!*vms) {
			*vms = json_object_new_array();
			json_object_object_add(args, "scope", *vms);
		}
		json_object_array_add(*vms, vm_entry(ctl, optarg));
		return;
	}
	json_object_object_add(args, "scope", json_object_new_string(
		ch == 'a' ? "admin" : "read"));
}

int cmd_token_create(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "admin", no_argument, NULL, 'a' },
		{ "read", no_argument, NULL, 'r' },
		{ "vm", required_argument, NULL, 'v' },
		{ "expires", required_argument, NULL, 'e' },
		{ "until", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args = json_object_new_object(), *vms = NULL, *ret;
	int ch;

	while ((ch = ctl_getopt(ctl, argc, argv, "", longopts)) != -1) {
		if (ch == 'e' || ch == 'E')
			json_object_object_add(args, ch == 'e' ? "expires_in" :
				"expires_at", json_object_new_int64(ctl_number(ctl,
				ch == 'e' ? "--expires" : "--until", optarg,
				ch == 'e' ? 315360000L : 253402300799L)));
		else
			set_scope(ctl, args, &vms, ch);
	}
	ctl_operands(ctl, argc, 1, 1);
	if (!json_object_object_get_ex(args, "scope", NULL))
		ctl_usage(ctl, "missing scope: --admin, --read or --vm VM=OPS");
	json_object_object_add(args, "label", json_object_new_string(argv[optind]));
	ret = ctl_call(ctl, argv[optind], args);
	return ctl_finish(ctl, ret, "token %s (%s) created; it is shown only "
			  "this once:\n%s\n", jstr(ret, "id", "?"),
			  jstr(ret, "label", "?"), jstr(ret, "token", "?"));
}

int cmd_token_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *ret = ctl_call_bare(ctl, argc, argv);
	struct table t;

	if (!ret)
		return 0;
	table_init(&t, 5);
	table_row(&t, "ID", "STATE", "EXPIRES", "LABEL", "SCOPE");
	for (size_t i = 0; json_object_is_type(ret, json_type_array) &&
			   i < json_object_array_length(ret); i++) {
		struct json_object *tk = json_object_array_get_idx(ret, i);
		char expires[64];

		if (jint(tk, "expires", 0))
			format_time(expires, sizeof expires, jint(tk, "expires", 0));
		else
			snprintf(expires, sizeof expires, "never");
		table_row(&t, jstr(tk, "id", "?"), jstr(tk, "state", "?"), expires,
			  jstr(tk, "label", "?"), json_object_to_json_string_ext(
				jget(tk, "scope"), JSON_C_TO_STRING_PLAIN));
	}
	table_print(&t, stdout);
	table_free(&t);
	json_object_put(ret);
	return 0;
}

int cmd_token_revoke(struct ctl *ctl, int argc, char **argv)
{
	static const struct option no_options[] = { { NULL, 0, NULL, 0 } };
	struct json_object *args = json_object_new_object();

	while (ctl_getopt(ctl, argc, argv, "", no_options) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	json_object_object_add(args, "id", json_object_new_string(argv[optind]));
	return ctl_finish(ctl, ctl_call(ctl, argv[optind], args),
			  "revoked %s\n", argv[optind]);
}
