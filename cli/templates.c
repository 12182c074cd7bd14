/* vmctl's template commands: `vmctl template VM` (vm-template) and
 * `vmctl clone TEMPLATE NEW [--full]` (vm-clone).  A full clone copies
 * every disk, which takes what it takes: vmctl then waits as for a volume
 * import (progress.c), with a bar per disk on a terminal. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/print.h"

static void set_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

int cmd_template(struct ctl *ctl, int argc, char **argv)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };
	struct json_object *args = json_object_new_object(), *ret;
	char bases[1024];

	while (ctl_getopt(ctl, argc, argv, "", none) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	set_str(args, "vm", argv[optind]);
	ret = ctl_call(ctl, argv[optind], args);
	return ctl_finish(ctl, ret, "%s is a template; read-only bases: %s\n",
			  jstr(ret, "name", argv[optind]),
			  ctl_names(jget(ret, "bases"), bases, sizeof(bases)));
}

/* A disk of the clone named what: vm-clone makes volumes WHAT-diskN, names
 * no other volume may have meanwhile (vmd refuses them while it clones). */
static bool clone_disk(const char *what, struct json_object *event)
{
	const char *v = jstr(event, "volume", "");
	size_t n = strlen(what);

	return !strcmp(jstr(event, "kind", ""), "clone") &&
	       !strncmp(v, what, n) && !strncmp(v + n, "-disk", 5) &&
	       v[n + 5] && strspn(v + n + 5, "0123456789") == strlen(v + n + 5);
}

int cmd_clone(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args = json_object_new_object(), *ret;
	char vols[1024];
	int ch, full = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1)
		full |= ch == 'f';
	ctl_operands(ctl, argc, 2, 2);
	set_str(args, "vm", argv[optind]);
	set_str(args, "name", argv[optind + 1]);
	set_str(args, "mode", full ? "full" : "linked");
	ret = full ? ctl_call_copy(ctl, argv[optind + 1], args, clone_disk) :
	      ctl_call(ctl, argv[optind + 1], args);
	return ctl_finish(ctl, ret, "cloned %s as %s (%s, uuid %s); volumes: %s\n",
			  argv[optind], jstr(ret, "name", argv[optind + 1]),
			  full ? "full copies" : "linked", jstr(ret, "uuid", "?"),
			  ctl_names(jget(ret, "volumes"), vols, sizeof(vols)));
}
