/* vmctl's libvirt bridge: `vmctl import --libvirt URI DOMAIN | --file XML`
 * (vm-import-libvirt) and `vmctl export VM` (vm-export-libvirt).  What
 * vmd did not map is printed, element and reason, one a line. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/print.h"

static void set_str(struct json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, json_object_new_string(s));
}

static void print_listed(FILE *f, const char *what, struct json_object *list,
			 const char *key)
{
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		fprintf(f, "%s: %s: %s\n", what, jstr(e, key, "?"), jstr(e, "reason", "?"));
	}
}

/* XML or JSON as it is, newlines and all (both escape control bytes). */
static int print_text(struct ctl *ctl, struct json_object *ret, const char *text)
{
	fputs(text, stdout);
	if (*text && text[strlen(text) - 1] != '\n')
		putchar('\n');
	json_object_put(ret);
	ctl_flush(ctl);
	return 0;
}

int cmd_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "libvirt", required_argument, NULL, 'l' },
		{ "file", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 'S' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *args = json_object_new_object(), *ret;
	const char *uri = NULL, *file = NULL;
	int ch, dry = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "", opts)) != -1) {
		if (ch == 'l')
			uri = optarg;
		else if (ch == 'f')
			file = optarg;
		else if (ch == 'N')
			set_str(args, "name", optarg);
		else if (ch == 'S')
			json_object_object_add(args, "strict", json_object_new_boolean(1));
		dry |= ch == 'n';
	}
	json_object_object_add(args, "define", json_object_new_boolean(!dry));
	if (!uri == !file)
		ctl_usage(ctl, "give --libvirt URI DOMAIN or --file XML");
	ctl_operands(ctl, argc, uri ? 1 : 0, uri ? 1 : 0);
	if (uri) {
		set_str(args, "uri", uri);
		set_str(args, "domain", argv[optind]);
	} else {
		char *xml = ctl_read_text(ctl, file);
		set_str(args, "xml", xml);
		free(xml);
	}
	ret = ctl_call(ctl, uri ? argv[optind] : file, args);
	if (!ctl->json) {
		print_listed(stderr, "unmapped", jget(ret, "unmapped"), "element");
		print_listed(stderr, "ignored", jget(ret, "ignored"), "element");
	}
	if (dry && !ctl->json)
		return print_text(ctl, ret, json_object_to_json_string_ext(
			jget(ret, "config"), JSON_C_TO_STRING_PRETTY));
	struct json_object *cfg = jget(ret, "config");
	return ctl_finish(ctl, ret, "imported %s (uuid %s)\n", jstr(cfg, "name", "?"),
			  jstr(cfg, "uuid", "?"));
}

int cmd_export(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *args = json_object_new_object(), *ret;

	while (ctl_getopt(ctl, argc, argv, "", (const struct option[]){ { NULL, 0, NULL, 0 } }) != -1)
		;
	ctl_operands(ctl, argc, 1, 1);
	set_str(args, "vm", argv[optind]);
	ret = ctl_call(ctl, argv[optind], args);
	if (!ctl->json)
		print_listed(stderr, "lost", jget(ret, "lost"), "member");
	return ctl->json ? ctl_finish(ctl, ret, "%s", "") :
	       print_text(ctl, ret, jstr(ret, "xml", ""));
}
