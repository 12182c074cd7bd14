/* Tests of rpc/schema_fill.c: the defaults a value gets are the schema's
 * (change one in a copy of vm-config.json and the filled value follows),
 * every default of the documents is filled and is itself valid, given
 * members are never overwritten, and the typed getters take no default. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "rpc/schema.h"
#include "schemas/embedded.h"
#include "tests/unit/schema_docs.h"

static struct json_object *resolver(void *ctx, const char *ref)
{
	return strcmp(ref, "vm-config.json") == 0 ? ctx : NULL;
}

/* text filled against schema (a vm-config.json, its own root). */
static struct json_object *filled(struct json_object *schema, const char *text)
{
	struct rpc_schema_ctx ctx = { schema, resolver, schema };
	struct json_object *v = json_tokener_parse(text);
	char msg[256];

	assert_non_null(v);
	if (rpc_schema_validate(&ctx, schema, v, msg, sizeof msg) != 0)
		fail_msg("%s: %s", text, msg);
	assert_int_equal(rpc_schema_fill(&ctx, schema, v), 0);
	if (rpc_schema_validate(&ctx, schema, v, msg, sizeof msg) != 0)
		fail_msg("%s filled: %s", text, msg);
	return v;
}

static void set_default(struct json_object *prop, struct json_object *v)
{
	json_object_object_add(prop, "default", v);
}

/* The defaults are the schema's: a copy with two changed gives the
 * changed values, the document itself the documented ones. */
static void test_defaults_come_from_schema(void **state)
{
	const char *text = "{\"name\": \"x\", \"disks\": [{\"path\": \"/a\"}]}";
	struct json_object *copy = NULL, *v;

	(void)state;
	assert_int_equal(json_object_deep_copy(vmconf, &copy, NULL), 0);
	set_default(get(get(copy, "properties"), "memory_mib"), json_object_new_int(512));
	set_default(get(get(get(get(copy, "$defs"), "Disk"), "properties"), "bus"),
		    json_object_new_string("ide"));
	v = filled(copy, text);
	assert_int_equal(json_object_get_int(get(v, "memory_mib")), 512);
	assert_string_equal(json_object_get_string(
		get(json_object_array_get_idx(get(v, "disks"), 0), "bus")), "ide");
	json_object_put(v);
	json_object_put(copy);
	v = filled(vmconf, text);
	assert_int_equal(json_object_get_int(get(v, "memory_mib")), 256);
	assert_string_equal(json_object_get_string(
		get(json_object_array_get_idx(get(v, "disks"), 0), "bus")), "virtio");
	json_object_put(v);
}

/* The default of a Serial member: declared in one type's branch. */
static struct json_object *serial_default(struct json_object *schema, const char *key)
{
	struct json_object *branches = get(get(get(schema, "$defs"), "Serial"), "allOf");
	struct json_object *prop;

	for (size_t i = 0; i < json_object_array_length(branches); i++)
		if (json_object_object_get_ex(get(get(json_object_array_get_idx(
				branches, i), "then"), "properties"), key, &prop))
			return get(prop, "default");
	fail_msg("Serial: no default for %s", key);
	return NULL;
}

/* Port has exactly the members named in want (space-separated), and those
 * it was not given hold the schema's defaults. */
static void check_port(struct json_object *schema, struct json_object *port,
		       const char *want)
{
	char names[256], *save = NULL;
	size_t n = 0;

	snprintf(names, sizeof names, "%s", want);
	for (char *k = strtok_r(names, " ", &save); k; k = strtok_r(NULL, " ", &save)) {
		struct json_object *v = get(port, k);
		n++;
		if (strcmp(k, "type") && strcmp(k, "path") && strcmp(k, "port") &&
		    !json_object_equal(v, serial_default(schema, k)))
			fail_msg("%s: not the schema's default", k);
	}
	if ((size_t)json_object_object_length(port) != n)
		fail_msg("port %s has more than %s", json_object_to_json_string(port), want);
}

/* A minimal config gets every top-level default, equal to the schema's;
 * the default serial port gets the console defaults in turn. */
static void test_every_default_filled(void **state)
{
	struct json_object *v = filled(vmconf, "{\"name\": \"x\"}"), *d, *port;
	size_t n = 0;

	(void)state;
	json_object_object_foreach(get(vmconf, "properties"), key, prop) {
		if (!json_object_object_get_ex(prop, "default", &d))
			continue;
		n++;
		if (!json_object_equal(get(v, key), d) && strcmp(key, "serial"))
			fail_msg("%s: not the schema's default", key);
	}
	assert_int_equal(json_object_object_length(v), n + 1);  /* + name */
	port = json_object_array_get_idx(get(v, "serial"), 0);
	assert_string_equal(json_object_get_string(get(port, "type")), "console");
	check_port(vmconf, port, "type scrollback_kib log_kib log_count");
	json_object_put(v);
}

/* Each serial port gets its own type's defaults and no other type's; a
 * default changed in a copy of the schema is the one filled. */
static void test_serial_defaults_per_type(void **state)
{
	const char *text = "{\"name\": \"x\", \"serial\": [{\"type\": \"console\"},"
		" {\"type\": \"tcp\"}, {\"type\": \"host\", \"path\": \"/dev/ttyS0\"}]}";
	struct json_object *v = filled(vmconf, text), *ports, *copy;

	(void)state;
	ports = get(v, "serial");
	check_port(vmconf, json_object_array_get_idx(ports, 0),
		   "type scrollback_kib log_kib log_count");
	check_port(vmconf, json_object_array_get_idx(ports, 1),
		   "type auth scrollback_kib log_kib log_count");
	check_port(vmconf, json_object_array_get_idx(ports, 2),
		   "type path baud data_bits parity stop_bits flow");
	json_object_put(v);
	/* not a deep copy: vmconf's patterns now hold compiled regexes */
	assert_non_null(copy = json_tokener_parse(vmd_schema_vm_config));
	set_default(get(get(get(json_object_array_get_idx(get(get(get(copy, "$defs"),
		"Serial"), "allOf"), 2), "then"), "properties"), "baud"),
		json_object_new_int(9600));
	v = filled(copy, text);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(
		get(v, "serial"), 2), "baud")), 9600);
	json_object_put(v);
	json_object_put(copy);
}

/* if/then/else, generic: the branch the value matches once its own
 * members are filled; allOf: every branch. */
static void test_conditional_defaults(void **state)
{
	struct json_object *s = json_tokener_parse(
		"{\"properties\": {\"t\": {\"default\": \"a\"}},"
		" \"allOf\": [{\"properties\": {\"z\": {\"default\": 0}}}],"
		" \"if\": {\"properties\": {\"t\": {\"const\": \"a\"}}},"
		" \"then\": {\"properties\": {\"x\": {\"default\": 1}}},"
		" \"else\": {\"properties\": {\"y\": {\"default\": 2}}}}");
	struct json_object *v = json_tokener_parse("{}");

	(void)state;
	assert_int_equal(rpc_schema_fill(NULL, s, v), 0);
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
			    "{\"t\":\"a\",\"z\":0,\"x\":1}");
	json_object_put(v);
	v = json_tokener_parse("{\"t\": \"b\"}");
	assert_int_equal(rpc_schema_fill(NULL, s, v), 0);
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
			    "{\"t\":\"b\",\"z\":0,\"y\":2}");
	json_object_put(v);
	json_object_put(s);
}

/* What is given stays as given, at every level. */
static void test_given_members_kept(void **state)
{
	struct json_object *v = filled(vmconf, "{\"name\": \"x\", \"cpus\": 3, "
				       "\"serial\": []}");

	(void)state;
	assert_int_equal(json_object_get_int(get(v, "cpus")), 3);
	assert_int_equal(json_object_array_length(get(v, "serial")), 0);
	json_object_put(v);
	v = filled(vmconf, "{\"name\": \"x\", \"serial\": [{\"type\": \"tcp\", "
		   "\"auth\": \"none\"}]}");
	struct json_object *port = json_object_array_get_idx(get(v, "serial"), 0);
	assert_string_equal(json_object_get_string(get(port, "auth")), "none");
	assert_int_equal(json_object_get_int(get(port, "log_count")), 4);
	json_object_put(v);
}

/* Each "default" in the documents is valid against the schema it stands
 * in (a default the validator would refuse could never be given). */
static void check_defaults(struct json_object *root, struct json_object *s,
			   const char *where)
{
	struct rpc_schema_ctx ctx = { root, resolver, vmconf };
	struct json_object *d;
	char msg[256];

	if (!json_object_is_type(s, json_type_object) &&
	    !json_object_is_type(s, json_type_array))
		return;
	if (json_object_is_type(s, json_type_object) &&
	    json_object_object_get_ex(s, "default", &d) &&
	    rpc_schema_validate(&ctx, s, d, msg, sizeof msg) != 0)
		fail_msg("%s: default is invalid: %s", where, msg);
	if (json_object_is_type(s, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(s); i++)
			check_defaults(root, json_object_array_get_idx(s, i), where);
		return;
	}
	json_object_object_foreach(s, key, sub) {
		if (strcmp(key, "default") && strcmp(key, "example") &&
		    strcmp(key, "examples"))
			check_defaults(root, sub, key);
	}
}

static void test_defaults_valid(void **state)
{
	(void)state;
	check_defaults(vmconf, vmconf, "vm-config.json");
	check_defaults(protocol, protocol, "protocol.json");
}

/* Arguments: through the command's schema and its "$ref" into
 * vm-config.json, as dispatch fills them. */
static void test_arguments(void **state)
{
	struct rpc_schema_ctx ctx = { protocol, resolver, vmconf };
	struct json_object *cmds = get(protocol, "commands");
	struct json_object *args = json_tokener_parse("{\"vm\": \"a\"}");

	(void)state;
	assert_int_equal(rpc_schema_fill(&ctx, get(get(cmds, "console-read"), "arguments"),
					 args), 0);
	assert_int_equal(rpc_member_int(args, "port"), 0);
	assert_int_equal(rpc_member_int(args, "max_bytes"), 65536);
	assert_false(json_object_object_get_ex(args, "offset", NULL));
	json_object_put(args);
	args = json_tokener_parse("{\"config\": {\"name\": \"a\"}}");
	assert_int_equal(rpc_schema_fill(&ctx, get(get(cmds, "vm-define"), "arguments"),
					 args), 0);
	assert_string_equal(rpc_member_str(get(args, "config"), "accel"), "auto");
	json_object_put(args);
}

/* The getters: no default of their own; absent or of another type is
 * NULL, 0 or false. */
static void test_getters(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"s\": \"x\", \"i\": 7, \"b\": true, \"n\": null}");

	(void)state;
	assert_string_equal(rpc_member_str(o, "s"), "x");
	assert_int_equal(rpc_member_int(o, "i"), 7);
	assert_true(rpc_member_bool(o, "b"));
	assert_null(rpc_member_str(o, "i"));
	assert_null(rpc_member_str(o, "absent"));
	assert_int_equal(rpc_member_int(o, "s"), 0);
	assert_false(rpc_member_bool(o, "n"));
	assert_null(rpc_member_str(NULL, "s"));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_come_from_schema),
		cmocka_unit_test(test_every_default_filled),
		cmocka_unit_test(test_serial_defaults_per_type),
		cmocka_unit_test(test_conditional_defaults),
		cmocka_unit_test(test_given_members_kept),
		cmocka_unit_test(test_defaults_valid),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_getters),
	};

	return cmocka_run_group_tests(tests, schema_docs_setup, schema_docs_teardown);
}
