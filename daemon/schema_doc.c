/* vmd's schema documents as vmd reads them (see schema_doc.h): protocol.json
 * is JSON Schema plus three sections of vmd's, checked here at start, so a
 * command can never be declared with a member the daemon does not read. */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "daemon/schema_doc.h"
#include "rpc/schema.h"

/* Who may run a command: see daemon/access.c. */
static const char *const access_levels[] = { "any", "read", "admin", NULL };
/* Which group of a VM-scoped token's operations a command is in (auth.h):
 * $defs/TokenOperation's, plus "any" and "list" that every token has. */
static const char *const operations[] = { "any", "list", "show", "watch",
					  "console", "power", NULL };

/* What an entry of each section holds: needed members, then optional. */
static const struct section {
	const char *name;
	const char *needed[4];
	const char *optional[5];
} sections[] = {
	{ "commands", { "arguments", "returns", "errors", "access" },
	  { "description", "preconnect", "example", "operation" } },
	{ "events", { "data" }, { "description", "example" } },
	{ "errors", { "code", "description" }, { NULL } },
};

static const struct section *section_of(const char *key)
{
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
		if (strcmp(key, sections[i].name) == 0)
			return &sections[i];
	return NULL;
}

static bool one_of(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strcmp(word, list[i]) == 0)
			return true;
	return false;
}

/* "'path': text".  Always -1. */
__attribute__((format(printf, 4, 5)))
static int bad(char *msg, size_t len, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(msg, len, "'%s': ", path);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(msg + n, len - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A schema inside an entry: the validator's message, put under path. */
static int schema_at(const char *path, struct json_object *schema,
		     char *msg, size_t len)
{
	char inner[256];

	if (rpc_schema_check_supported(schema, inner, sizeof inner) == 0)
		return 0;
	if (inner[0] == '\'')
		snprintf(msg, len, "'%s.%s", path, inner + 1);
	else
		bad(msg, len, path, "%s", inner);
	return -1;
}

/* Each class an entry's "errors" names is one of the document's. */
static int check_classes(struct json_object *doc, const char *path,
			 struct json_object *list, char *msg, size_t len)
{
	struct json_object *classes = NULL;

	json_object_object_get_ex(doc, "errors", &classes);
	if (!json_object_is_type(list, json_type_array))
		return bad(msg, len, path, "expected an array of error classes");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		if (!json_object_is_type(c, json_type_string))
			return bad(msg, len, path, "expected an array of error classes");
		if (classes && !json_object_object_get_ex(classes,
							  json_object_get_string(c), NULL))
			return bad(msg, len, path, "unknown error class '%s'",
				   json_object_get_string(c));
	}
	return 0;
}

/* One member of an entry, at path. */
static int check_member(struct json_object *doc, const char *path, const char *key,
			struct json_object *val, char *msg, size_t len)
{
	static const char *const schemas[] = { "arguments", "returns", "data" };

	if (one_of(key, schemas, 3))
		return schema_at(path, val, msg, len);
	if (!strcmp(key, "code") && !json_object_is_type(val, json_type_int))
		return bad(msg, len, path, "expected an integer");
	if (!strcmp(key, "preconnect") && !json_object_is_type(val, json_type_boolean))
		return bad(msg, len, path, "expected a boolean");
	if (!strcmp(key, "description") && !json_object_is_type(val, json_type_string))
		return bad(msg, len, path, "expected a string");
	if (!strcmp(key, "access") && (!json_object_is_type(val, json_type_string) ||
	    !one_of(json_object_get_string(val), access_levels, 3)))
		return bad(msg, len, path, "expected one of \"any\", \"read\", \"admin\"");
	if (!strcmp(key, "operation") && (!json_object_is_type(val, json_type_string) ||
	    !one_of(json_object_get_string(val), operations, 6)))
		return bad(msg, len, path, "expected one of \"any\", \"list\", "
			   "\"show\", \"watch\", \"console\", \"power\"");
	if (!strcmp(key, "errors"))
		return check_classes(doc, path, val, msg, len);
	return 0;
}

static int check_entry(struct json_object *doc, const struct section *sec,
		       const char *name, struct json_object *e, char *msg, size_t len)
{
	char path[256], sub[512];

	snprintf(path, sizeof path, "%s.%s", sec->name, name);
	if (!json_object_is_type(e, json_type_object))
		return bad(msg, len, path, "expected an object");
	for (size_t i = 0; i < 4 && sec->needed[i]; i++)
		if (!json_object_object_get_ex(e, sec->needed[i], NULL))
			return bad(msg, len, path, "missing '%s'", sec->needed[i]);
	json_object_object_foreach(e, key, val) {
		if (!one_of(key, sec->needed, 4) && !one_of(key, sec->optional, 5))
			return bad(msg, len, path, "unsupported member '%s'", key);
		snprintf(sub, sizeof sub, "%s.%s", path, key);
		if (check_member(doc, sub, key, val, msg, len))
			return -1;
	}
	return 0;
}

int schema_doc_check(struct json_object *doc, char *msg, size_t msglen)
{
	struct json_object *rest;
	const struct section *sec;
	int rc;

	if (msg && msglen)
		msg[0] = '\0';
	if (!json_object_is_type(doc, json_type_object))
		return rpc_schema_check_supported(doc, msg, msglen);
	if (!(rest = json_object_new_object()))
		return bad(msg, msglen, "", "out of memory");
	json_object_object_foreach(doc, key, val) {
		if (!(sec = section_of(key))) {
			json_object_object_add(rest, key, json_object_get(val));
			continue;
		}
		if (!json_object_is_type(val, json_type_object)) {
			json_object_put(rest);
			return bad(msg, msglen, key, "expected an object");
		}
		json_object_object_foreach(val, name, entry) {
			if (check_entry(doc, sec, name, entry, msg, msglen)) {
				json_object_put(rest);
				return -1;
			}
		}
	}
	/* the rest ($defs, title, ...) is JSON Schema */
	rc = rpc_schema_check_supported(rest, msg, msglen);
	json_object_put(rest);
	return rc;
}

struct json_object *schema_doc_vm_config_ref(void *vm_config, const char *ref)
{
	const char *doc = "vm-config.json";
	size_t n = strlen(doc);
	struct json_object *defs, *node;

	if (strncmp(ref, doc, n) || (ref[n] && ref[n] != '#'))
		return NULL;
	if (!ref[n] || !strcmp(ref + n, "#"))
		return vm_config;
	if (strncmp(ref + n, "#/$defs/", 8))
		return NULL;
	if (!json_object_object_get_ex(vm_config, "$defs", &defs) ||
	    !json_object_object_get_ex(defs, ref + n + 8, &node))
		return NULL;
	return node;
}

struct rpc_schema_ctx schema_doc_ctx(struct json_object *root,
				     struct json_object *vm_config)
{
	return (struct rpc_schema_ctx){
		.root = root, .resolve = schema_doc_vm_config_ref,
		.resolve_ctx = vm_config,
	};
}

int schema_doc_fill_config(struct json_object *vm_config,
			   struct json_object *config)
{
	struct rpc_schema_ctx ctx = schema_doc_ctx(vm_config, vm_config);

	return rpc_schema_fill(&ctx, vm_config, config);
}

struct json_object *schema_doc_load(const char *text, const char *name,
				    char *err, size_t errlen)
{
	struct json_object *o = json_tokener_parse(text);
	char msg[256];

	if (!o) {
		snprintf(err, errlen, "embedded %s does not parse", name);
		return NULL;
	}
	if (schema_doc_check(o, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "%s: %s", name, msg);
		json_object_put(o);
		return NULL;
	}
	return o;
}
