/* Tests of rpc/schema.c and daemon/schema_doc.c against the schemas
 * compiled into vmd (schemas/protocol.json and vm-config.json): the
 * documents use only what the validator checks, every command is fully
 * described, good values pass and each rule refuses a bad one with a
 * message naming the member. */
#include "config.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "rpc/errors.h"
#include "daemon/schema_doc.h"
#include "rpc/schema.h"
#include "schemas/embedded.h"
#include "tests/unit/schema_docs.h"

static struct json_object *resolver(void *ctx, const char *ref)
{
	(void)ctx;
	if (strcmp(ref, "vm-config.json") == 0)
		return vmconf;
	if (strcmp(ref, "protocol.json") == 0)
		return protocol;
	return NULL;
}

/* A resolver that only answers whole refs, document and fragment. */
static struct json_object *whole_ref_resolver(void *ctx, const char *ref)
{
	struct json_object *defs = NULL, *node = NULL;

	(void)ctx;
	if (strcmp(ref, "vm-config.json#/$defs/Name") == 0 &&
	    json_object_object_get_ex(vmconf, "$defs", &defs))
		json_object_object_get_ex(defs, "Name", &node);
	return node;
}

static struct json_object *command(const char *name)
{
	return get(get(protocol, "commands"), name);
}

/* Validate JSON text against schema with root as the document for "#" refs;
 * returns rpc_schema_validate's result and leaves the message in msg. */
static int check_in(struct json_object *root, struct json_object *schema,
		    const char *text, char *msg, size_t msglen)
{
	struct rpc_schema_ctx ctx = { root, resolver, NULL };
	struct json_object *v = json_tokener_parse(text);
	int rc;

	if (!v && strcmp(text, "null") != 0)
		fail_msg("test JSON does not parse: %s", text);
	rc = rpc_schema_validate(&ctx, schema, v, msg, msglen);
	json_object_put(v);
	return rc;
}

static void config_ok(const char *text)
{
	char msg[512];

	if (check_in(vmconf, vmconf, text, msg, sizeof msg) != 0)
		fail_msg("refused %s: %s", text, msg);
}

/* The config is refused and the message contains want. */
static void config_bad(const char *text, const char *want)
{
	char msg[512];

	if (check_in(vmconf, vmconf, text, msg, sizeof msg) == 0)
		fail_msg("accepted %s", text);
	if (!strstr(msg, want))
		fail_msg("for %s: message \"%s\" lacks \"%s\"", text, msg, want);
}

static void args_ok(const char *cmd, const char *text)
{
	char msg[512];

	if (check_in(protocol, get(command(cmd), "arguments"), text, msg, sizeof msg) != 0)
		fail_msg("%s refused %s: %s", cmd, text, msg);
}

/* Command arguments are refused with exactly the message want. */
static void args_bad(const char *cmd, const char *text, const char *want)
{
	char msg[512];

	if (check_in(protocol, get(command(cmd), "arguments"), text, msg, sizeof msg) == 0)
		fail_msg("%s accepted %s", cmd, text);
	assert_string_equal(msg, want);
}

/* A small schema of the test's own, validated without a document. */
static int adhoc(const char *schema_text, const char *value_text, char *msg, size_t len)
{
	struct json_object *s = json_tokener_parse(schema_text);
	int rc;

	assert_non_null(s);
	rc = check_in(NULL, s, value_text, msg, len);
	json_object_put(s);
	return rc;
}

/* ---- the documents ---- */

static void test_documents_supported(void **state)
{
	char msg[256];

	(void)state;
	if (schema_doc_check(protocol, msg, sizeof msg) != 0)
		fail_msg("protocol.json: %s", msg);
	if (rpc_schema_check_supported(vmconf, msg, sizeof msg) != 0)
		fail_msg("vm-config.json: %s", msg);
}

static void unsupported(const char *text, const char *want)
{
	struct json_object *s = json_tokener_parse(text);
	char msg[256];

	assert_non_null(s);
	assert_int_equal(schema_doc_check(s, msg, sizeof msg), -1);
	if (!strstr(msg, want))
		fail_msg("for %s: message \"%s\" lacks \"%s\"", text, msg, want);
	json_object_put(s);
}

static void test_unsupported_keywords(void **state)
{
	(void)state;
	unsupported("{\"type\": \"string\", \"format\": \"uri\"}", "unsupported keyword 'format'");
	unsupported("{\"properties\": {\"a\": {\"dependentRequired\": {}}}}",
		    "'properties.a': unsupported keyword 'dependentRequired'");
	unsupported("{\"pattern\": \"([\"}", "'pattern': bad argument for pattern: \"([\"");
	unsupported("{\"type\": \"integr\"}", "'type': bad argument for type: \"integr\"");
	unsupported("{\"maxLength\": -1}", "'maxLength': bad argument for maxLength: -1");
	unsupported("{\"$defs\": {\"X\": {\"items\": {\"not\": {}}}}}",
		    "'$defs.X.items': unsupported keyword 'not'");
	unsupported("{\"anyOf\": []}", "'anyOf': expected a non-empty array");
	unsupported("{\"commands\": {\"x\": {\"arguments\": {}, \"errors\": []}}}",
		    "'commands.x': missing 'returns'");
	unsupported("{\"errors\": {\"E\": {\"code\": 1, \"description\": \"\"}},"
		    " \"commands\": {\"x\": {\"arguments\": {}, \"returns\": {}, \"errors\": [\"F\"], \"access\": \"read\"}}}",
		    "'commands.x.errors': unknown error class 'F'");
	unsupported("{\"commands\": {\"x\": {\"arguments\": {}, \"returns\": {}, \"errors\": [],"
		    " \"access\": \"any\", \"retruns\": {}}}}",
		    "'commands.x': unsupported member 'retruns'");
	unsupported("{\"commands\": {\"x\": {\"arguments\": {}, \"returns\": {}, \"errors\": []}}}",
		    "'commands.x': missing 'access'");
	unsupported("{\"commands\": {\"x\": {\"arguments\": {}, \"returns\": {}, \"errors\": [],"
		    " \"access\": \"root\"}}}", "'commands.x.access': expected one of");
	unsupported("{\"events\": {\"E\": {\"data\": {\"minimum\": \"1\"}}}}",
		    "'events.E.data.minimum': bad argument for minimum: \"1\"");
}

static const char *const spec_commands[] = {
	"qmp_capabilities", "query-host", "query-commands", "query-events",
	"query-schema", "vm-define", "vm-update", "vm-undefine", "vm-list",
	"vm-show", "vm-start", "vm-stop", "vm-kill", "vm-reset", "vm-pause",
	"vm-resume", "console-attach", "console-read", "vm-monitor", "spec-apply",
	"volume-create", "volume-list", "volume-show", "volume-delete",
	"volume-resize", "volume-import", "volume-clone", "job-list",
	"job-cancel", "vm-template", "vm-clone", "vm-import-libvirt",
	"vm-export-libvirt", "token-create", "token-list", "token-revoke",
	"usage-report",
	"query-metrics", "plan-define", "plan-list", "plan-delete", "invoice", NULL
};

static void test_command_list(void **state)
{
	struct json_object *cmds = get(protocol, "commands");
	size_t i = 0;

	(void)state;
	json_object_object_foreach(cmds, name, cmd) {
		(void)cmd;
		assert_non_null(spec_commands[i]);
		assert_string_equal(name, spec_commands[i]);
		i++;
	}
	assert_null(spec_commands[i]);
}

/* The arguments schema of a command, with a top-level $ref followed. */
static struct json_object *arguments_schema(struct json_object *cmd)
{
	struct json_object *a = get(cmd, "arguments"), *ref;

	if (json_object_object_get_ex(a, "$ref", &ref)) {
		const char *r = json_object_get_string(ref);
		assert_true(strncmp(r, "#/$defs/", 8) == 0);
		a = get(get(protocol, "$defs"), r + 8);
	}
	return a;
}

static void test_commands_complete(void **state)
{
	struct json_object *classes = get(protocol, "errors"), *unused;

	(void)state;
	json_object_object_foreach(get(protocol, "commands"), name, cmd) {
		struct json_object *errs = get(cmd, "errors"), *args, *pre;
		bool generic = false;
		size_t i;

		assert_true(json_object_is_type(get(cmd, "description"), json_type_string));
		assert_true(json_object_object_get_ex(cmd, "returns", &unused));
		args = arguments_schema(cmd);
		assert_string_equal(json_object_get_string(get(args, "type")), "object");
		if (json_object_get_boolean(get(args, "additionalProperties")) != 0)
			fail_msg("%s: arguments allow unknown members", name);
		for (i = 0; i < json_object_array_length(errs); i++) {
			const char *c = json_object_get_string(json_object_array_get_idx(errs, i));
			if (!json_object_object_get_ex(classes, c, &unused))
				fail_msg("%s: unknown error class %s", name, c);
			generic |= strcmp(c, "GenericError") == 0;
		}
		if (!generic)
			fail_msg("%s: errors lack GenericError", name);
		pre = NULL;
		json_object_object_get_ex(cmd, "preconnect", &pre);
		assert_int_equal(pre && json_object_get_boolean(pre),
				 strcmp(name, "qmp_capabilities") == 0);
	}
}

/* protocol.json's error classes are rpc/errors.c's, codes and all: the
 * schema is the list, the C table follows it. */
static void error_classes_differ(const char *change, const char *want)
{
	struct json_object *copy = NULL, *c;
	char msg[256];

	assert_int_equal(json_object_deep_copy(get(protocol, "errors"), &copy, NULL), 0);
	c = json_tokener_parse(change);
	json_object_object_foreach(c, name, spec) {
		if (json_object_is_type(spec, json_type_null))
			json_object_object_del(copy, name);
		else
			json_object_object_add(copy, name, json_object_get(spec));
	}
	assert_int_equal(rpc_err_check_classes(copy, msg, sizeof msg), -1);
	assert_string_equal(msg, want);
	json_object_put(c);
	json_object_put(copy);
}

static void test_error_codes(void **state)
{
	char msg[256];

	(void)state;
	if (rpc_err_check_classes(get(protocol, "errors"), msg, sizeof msg) != 0)
		fail_msg("%s", msg);
	error_classes_differ("{\"Busy\": {\"code\": -32099, \"description\": \"\"}}",
			     "error class Busy: code -32099 in the schema, -32005 in rpc/errors.c");
	error_classes_differ("{\"Tired\": {\"code\": -32098, \"description\": \"\"}}",
			     "error class Tired is not in rpc/errors.c");
	error_classes_differ("{\"Unsupported\": null}",
			     "error class Unsupported of rpc/errors.c is not in the schema");
}

/* The documentation's examples are real: they pass their own schemas. */
static void test_examples_validate(void **state)
{
	struct rpc_schema_ctx ctx = { NULL, resolver, NULL };
	char msg[512];

	(void)state;
	ctx.root = protocol;
	json_object_object_foreach(get(protocol, "commands"), name, cmd) {
		struct json_object *ex = get(cmd, "example");
		if (rpc_schema_validate(&ctx, get(cmd, "arguments"), get(ex, "arguments"),
					msg, sizeof msg) != 0)
			fail_msg("%s example arguments: %s", name, msg);
		if (rpc_schema_validate(&ctx, get(cmd, "returns"), get(ex, "return"),
					msg, sizeof msg) != 0)
			fail_msg("%s example return: %s", name, msg);
	}
	json_object_object_foreach(get(protocol, "events"), ev, e) {
		if (rpc_schema_validate(&ctx, get(e, "data"), get(e, "example"), msg, sizeof msg))
			fail_msg("%s example: %s", ev, msg);
	}
}

/* ---- VM configurations ---- */

static void test_config_good(void **state)
{
	char labels[2048];
	size_t i, n;

	(void)state;
	config_ok("{\"name\": \"a\"}");
	config_ok("{\"name\": \"web-1.example_2\", \"uuid\": \"0d6f3f7e-6a53-4c2f-9a0e-4b1d2c3e4f50\","
		  " \"arch\": \"aarch64\", \"accel\": \"tcg\", \"cpus\": 256, \"memory_mib\": 16,"
		  " \"machine\": \"pc-q35-7.2\", \"boot\": {\"order\": \"cdn\", \"kernel\": \"/boot/vmlinuz\","
		  " \"initrd\": \"/boot/initrd.img\", \"cmdline\": \"console=ttyS0\"},"
		  " \"disks\": [{\"path\": \"/img/a.qcow2\", \"format\": \"qcow2\", \"bus\": \"ide\","
		  " \"readonly\": true}, {\"path\": \"/dev/sdb\"}],"
		  " \"nics\": [{\"type\": \"user\", \"mac\": \"52:54:00:12:34:56\", \"model\": \"e1000\"}],"
		  " \"serial\": [{\"type\": \"console\"}, {\"type\": \"console\"}],"
		  " \"display\": \"vnc\", \"autostart\": true, \"labels\": {\"owner\": \"alice\", \"plan\": \"\"}}");
	config_ok("{\"name\": \"b\", \"memory_mib\": 1048576, \"cpus\": 1, \"disks\": [], \"serial\": []}");
	config_ok("{\"name\": \"b\", \"boot\": {\"kernel\": \"/k\"}}");
	/* maxLength counts characters: 256 two-byte characters fit. */
	n = (size_t)snprintf(labels, sizeof labels, "{\"name\": \"u\", \"labels\": {\"x\": \"");
	for (i = 0; i < 256; i++)
		n += (size_t)snprintf(labels + n, sizeof labels - n, "\xc3\xa9");
	snprintf(labels + n, sizeof labels - n, "\"}}");
	config_ok(labels);
}

static void test_config_required_and_extra(void **state)
{
	(void)state;
	config_bad("{}", "'name': missing required member");
	config_bad("{\"name\": \"a\", \"memroy_mib\": 512}", "unexpected member 'memroy_mib'");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"/a\"}, {\"format\": \"raw\"}]}",
		   "'disks[1].path': missing required member");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"/a\", \"fmt\": \"raw\"}]}",
		   "'disks[0]': unexpected member 'fmt'");
	config_bad("{\"name\": \"a\", \"boot\": {\"kernal\": \"/k\"}}",
		   "'boot': unexpected member 'kernal'");
	config_bad("{\"name\": \"a\", \"nics\": [{}]}", "'nics[0].type': missing required member");
	config_bad("{\"name\": \"a\", \"boot\": {\"initrd\": \"/i\"}}",
		   "'boot.kernel': missing required member");
}

static void test_config_types(void **state)
{
	(void)state;
	config_bad("[]", "expected object, got array");
	config_bad("{\"name\": 5}", "'name': expected string, got integer 5");
	config_bad("{\"name\": \"a\", \"cpus\": 2.0}", "'cpus': expected integer, got number");
	config_bad("{\"name\": \"a\", \"cpus\": \"2\"}", "'cpus': expected integer, got string \"2\"");
	config_bad("{\"name\": \"a\", \"autostart\": 1}", "'autostart': expected boolean, got integer 1");
	config_bad("{\"name\": \"a\", \"disks\": {}}", "'disks': expected array, got object");
	config_bad("{\"name\": \"a\", \"labels\": {\"owner\": 5}}",
		   "'labels.owner': expected string, got integer 5");
	config_bad("{\"name\": \"a\", \"boot\": null}", "'boot': expected object, got null");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"/a\", \"readonly\": \"yes\"}]}",
		   "'disks[0].readonly': expected boolean");
}

static void test_config_patterns(void **state)
{
	(void)state;
	config_bad("{\"name\": \"-web\"}",
		   "'name': does not match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$, got \"-web\"");
	config_bad("{\"name\": \"web 1\"}", "'name': does not match");
	config_bad("{\"name\": \"a234567890123456789012345678901234567890123456789012345678901234\"}",
		   "'name': does not match");
	config_bad("{\"name\": \"a\", \"uuid\": \"0D6F3F7E-6A53-4C2F-9A0E-4B1D2C3E4F50\"}",
		   "'uuid': does not match");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"img.raw\"}]}",
		   "'disks[0].path': does not match ^/");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"/a\\u0000b\"}]}",
		   "'disks[0].path': does not match ^/ (contains a NUL byte)");
	config_bad("{\"name\": \"a\", \"nics\": [{\"type\": \"user\", \"mac\": \"52:54:00:12:34\"}]}",
		   "'nics[0].mac': does not match");
	config_bad("{\"name\": \"a\", \"boot\": {\"order\": \"cx\"}}", "'boot.order': does not match");
	config_bad("{\"name\": \"a\", \"boot\": {\"kernel\": \"vmlinuz\"}}",
		   "'boot.kernel': does not match ^/");
	config_bad("{\"name\": \"a\", \"machine\": \"pc,accel=kvm\"}", "'machine': does not match");
}

static void test_config_enums(void **state)
{
	(void)state;
	config_bad("{\"name\": \"a\", \"arch\": \"arm\"}",
		   "'arch': expected one of \"x86_64\", \"i386\", \"aarch64\", \"riscv64\", \"s390x\", got \"arm\"");
	config_bad("{\"name\": \"a\", \"accel\": \"xen\"}", "'accel': expected one of");
	config_bad("{\"name\": \"a\", \"display\": \"sdl\"}", "'display': expected one of");
	config_bad("{\"name\": \"a\", \"nics\": [{\"type\": \"tap\"}]}",
		   "'nics[0].type': expected one of \"user\", \"bridge\", got \"tap\"");
	config_bad("{\"name\": \"a\", \"nics\": [{\"type\": \"user\", \"model\": \"ne2k\"}]}",
		   "'nics[0].model': expected one of");
	config_bad("{\"name\": \"a\", \"disks\": [{\"path\": \"/a\", \"format\": \"vmdk\"}]}",
		   "'disks[0].format': expected one of \"raw\", \"qcow2\", got \"vmdk\"");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"pty\"}]}",
		   "'serial[0].type': expected one of");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"host\", "
		   "\"path\": \"/dev/ttyS0\", \"baud\": 1234}]}",
		   "'serial[0].baud': expected one of");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"tcp\", \"port\": 0}]}",
		   "'serial[0].port'");
	config_bad("{\"name\": \"a\", \"parallel\": [{\"type\": \"host\"}]}",
		   "'parallel[0].path'");
	config_ok("{\"name\": \"a\", \"serial\": [{\"type\": \"console\", "
		  "\"scrollback_kib\": 4, \"log_kib\": 64, \"log_count\": 2}, "
		  "{\"type\": \"host\", \"path\": \"/dev/serial/by-id/x\", "
		  "\"baud\": 9600, \"parity\": \"even\", \"stop_bits\": 2, "
		  "\"data_bits\": 7, \"flow\": \"rtscts\"}, "
		  "{\"type\": \"tcp\", \"port\": 4555}], "
		  "\"parallel\": [{\"type\": \"host\", \"path\": \"/dev/parport0\"}]}");
}

static void test_config_ranges(void **state)
{
	char big[600];
	size_t n;

	(void)state;
	config_bad("{\"name\": \"a\", \"memory_mib\": 8}", "'memory_mib': expected integer >= 16, got 8");
	config_bad("{\"name\": \"a\", \"memory_mib\": 1048577}",
		   "'memory_mib': expected integer <= 1048576, got 1048577");
	config_bad("{\"name\": \"a\", \"cpus\": 0}", "'cpus': expected integer >= 1, got 0");
	config_bad("{\"name\": \"a\", \"cpus\": 289}", "'cpus': expected integer <= 288, got 289");
	config_bad("{\"name\": \"a\", \"cpus\": -9223372036854775808}", "'cpus': expected integer >= 1");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"console\"}, {\"type\": \"console\"},"
		   " {\"type\": \"console\"}, {\"type\": \"console\"}, {\"type\": \"console\"}]}",
		   "'serial': expected at most 4 items, got 5");
	n = (size_t)snprintf(big, sizeof big, "{\"name\": \"a\", \"labels\": {\"plan\": \"");
	memset(big + n, 'x', 257);
	snprintf(big + n + 257, sizeof big - n - 257, "\"}}");
	config_bad(big, "'labels.plan': expected at most 256 characters, got 257");
}

static void test_config_many_disks(void **state)
{
	char text[2048];
	size_t n, i;

	(void)state;
	n = (size_t)snprintf(text, sizeof text, "{\"name\": \"a\", \"disks\": [");
	for (i = 0; i < 17; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"path\": \"/d%zu\"}",
				      i ? ", " : "", i);
	snprintf(text + n, sizeof text - n, "]}");
	config_bad(text, "'disks': expected at most 16 items, got 17");
}

/* ---- command arguments (refs into vm-config.json) ---- */

static void test_args_good(void **state)
{
	(void)state;
	args_ok("qmp_capabilities", "{}");
	args_ok("vm-list", "{}");
	args_ok("vm-define", "{\"config\": {\"name\": \"web1\", \"disks\": [{\"path\": \"/a\"}]}}");
	args_ok("vm-update", "{\"vm\": \"web1\", \"config\": {\"name\": \"web2\"}}");
	args_ok("vm-start", "{\"vm\": \"0d6f3f7e-6a53-4c2f-9a0e-4b1d2c3e4f50\"}");
	args_ok("vm-stop", "{\"vm\": \"web1\", \"timeout\": 0}");
	args_ok("console-attach", "{\"vm\": \"web1\", \"mode\": \"ro\", \"port\": 3}");
	args_ok("vm-monitor", "{\"vm\": \"web1\", \"command\": \"query-status\", \"arguments\": {}}");
}

static void test_args_bad(void **state)
{
	(void)state;
	args_bad("vm-define", "{\"config\": {\"name\": \"a\", \"memory_mib\": 8}}",
		 "'config.memory_mib': expected integer >= 16, got 8");
	args_bad("vm-define", "{\"config\": {\"name\": \"a\", \"memroy_mib\": 512}}",
		 "'config': unexpected member 'memroy_mib'");
	args_bad("vm-define", "{\"config\": {\"name\": \"a\", \"disks\": [{\"path\": \"a\"}]}}",
		 "'config.disks[0].path': does not match ^/, got \"a\"");
	args_bad("vm-define", "{}", "'config': missing required member");
	args_bad("vm-define", "{\"config\": []}", "'config': expected object, got array");
	args_bad("vm-update", "{\"config\": {\"name\": \"a\"}}", "'vm': missing required member");
	args_bad("vm-start", "{\"vm\": \"web1\", \"force\": true}", "unexpected member 'force'");
	args_bad("vm-start", "{\"vm\": \"\"}", "'vm': expected at least 1 character, got 0");
	args_bad("vm-start", "{\"vm\": 7}", "'vm': expected string, got integer 7");
	args_bad("vm-stop", "{\"vm\": \"a\", \"timeout\": 3601}",
		 "'timeout': expected integer <= 3600, got 3601");
	args_bad("vm-stop", "{\"vm\": \"a\", \"timeout\": -1}", "'timeout': expected integer >= 0, got -1");
	args_bad("console-attach", "{\"vm\": \"a\", \"mode\": \"w\"}",
		 "'mode': expected one of \"rw\", \"ro\", got \"w\"");
	args_bad("console-attach", "{\"vm\": \"a\", \"port\": 4}", "'port': expected integer <= 3, got 4");
	args_bad("vm-monitor", "{\"vm\": \"a\", \"command\": \"x\", \"arguments\": []}",
		 "'arguments': expected object, got array");
	args_bad("query-host", "{\"verbose\": true}", "unexpected member 'verbose'");
	args_bad("qmp_capabilities", "{\"enable\": []}", "unexpected member 'enable'");
}

/* Replies are checked too, through refs like vm-config.json#/$defs/Uuid. */
static void test_returns(void **state)
{
	char msg[512];

	(void)state;
	assert_int_equal(check_in(protocol, get(command("vm-define"), "returns"),
				  "{\"name\": \"a\", \"uuid\": \"nope\"}", msg, sizeof msg), -1);
	assert_string_equal(msg, "'uuid': does not match ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
			    "[0-9a-f]{4}-[0-9a-f]{12}$, got \"nope\"");
	assert_int_equal(check_in(protocol, get(command("vm-list"), "returns"),
				  "[{\"name\": \"a\"}]", msg, sizeof msg), -1);
	assert_string_equal(msg, "'[0].uuid': missing required member");
	assert_int_equal(check_in(protocol, get(command("vm-pause"), "returns"),
				  "{\"state\": \"running\"}", msg, sizeof msg), -1);
	assert_string_equal(msg, "'state': expected \"paused\", got \"running\"");
	assert_int_equal(check_in(protocol, get(command("vm-monitor"), "returns"),
				  "[1, {\"a\": null}]", msg, sizeof msg), 0);
}

/* ---- the validator itself ---- */

static void test_refs(void **state)
{
	struct rpc_schema_ctx bare = { NULL, NULL, NULL };
	struct json_object *v = json_tokener_parse("{\"config\": {\"name\": \"a\"}}");
	char msg[256];

	(void)state;
	bare.root = protocol;
	assert_int_equal(rpc_schema_validate(&bare, get(command("vm-define"), "arguments"),
					     v, msg, sizeof msg), -1);
	assert_string_equal(msg, "schema error at 'config': cannot resolve $ref 'vm-config.json'");
	json_object_put(v);
	bare.resolve = whole_ref_resolver;
	v = json_tokener_parse("\"-x\"");
	assert_int_equal(rpc_schema_validate(&bare, get(get(protocol, "$defs"), "VmName"),
					     v, msg, sizeof msg), -1);
	assert_string_equal(msg, "does not match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$, got \"-x\"");
	json_object_put(v);
	assert_int_equal(adhoc("{\"$ref\": \"#/$defs/nope\"}", "1", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "cannot resolve $ref '#/$defs/nope'"));
	/* A ref loop ends with an error rather than a crash. */
	assert_int_equal(adhoc("{\"$defs\": {\"A\": {\"$ref\": \"#/$defs/A\"}}, \"$ref\": \"#/$defs/A\"}",
			       "1", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "nested too deeply"));
	assert_int_equal(adhoc("{\"$defs\": {\"a/b\": {\"type\": \"string\"}}, \"$ref\": \"#/$defs/a~1b\"}",
			       "1", msg, sizeof msg), -1);
	assert_string_equal(msg, "expected string, got integer 1");
}

static void test_combinators(void **state)
{
	const char *one = "{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 5}]}";
	char msg[256];

	(void)state;
	assert_int_equal(adhoc(one, "1", msg, sizeof msg), 0);
	assert_int_equal(adhoc(one, "7.5", msg, sizeof msg), 0);
	assert_int_equal(adhoc(one, "7", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "more than one"));
	assert_int_equal(adhoc(one, "2.5", msg, sizeof msg), -1);
	assert_string_equal(msg, "expected integer, got number 2.5");
	assert_int_equal(adhoc("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]}",
			       "null", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"type\": [\"string\", \"null\"]}", "3", msg, sizeof msg), -1);
	assert_string_equal(msg, "expected string or null, got integer 3");
	assert_int_equal(adhoc("{\"type\": \"number\"}", "3", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"enum\": [1, \"a\"]}", "1.0", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"const\": null}", "null", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"items\": false}", "[]", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"items\": false}", "[0]", msg, sizeof msg), -1);
	assert_string_equal(msg, "'[0]': not allowed");
	assert_int_equal(adhoc("{\"minItems\": 2}", "[0]", msg, sizeof msg), -1);
	assert_string_equal(msg, "expected at least 2 items, got 1");
	assert_int_equal(adhoc("{\"properties\": {\"a\": {\"type\": \"string\"}},"
			       " \"additionalProperties\": {\"type\": \"integer\"}}",
			       "{\"a\": \"x\", \"b\": 1, \"c\": \"y\"}", msg, sizeof msg), -1);
	assert_string_equal(msg, "'c': expected integer, got string \"y\"");
	/* Keywords for other types do not apply. */
	assert_int_equal(adhoc("{\"minimum\": 3, \"maxLength\": 1}", "\"abc\"", msg, sizeof msg), -1);
	assert_int_equal(adhoc("{\"minimum\": 3, \"maxLength\": 1}", "4", msg, sizeof msg), 0);
}

/* allOf: every branch; if/then/else: the branch the "if" picks, whose
 * complaint is the message ("if" itself says nothing). */
static void test_conditionals(void **state)
{
	const char *cond = "{\"if\": {\"properties\": {\"t\": {\"const\": \"a\"}}},"
		" \"then\": {\"required\": [\"p\"]},"
		" \"else\": {\"properties\": {\"p\": false}}}";
	char msg[256];

	(void)state;
	assert_int_equal(adhoc(cond, "{\"t\": \"a\", \"p\": 1}", msg, sizeof msg), 0);
	assert_int_equal(adhoc(cond, "{\"t\": \"a\"}", msg, sizeof msg), -1);
	assert_string_equal(msg, "'p': missing required member");
	assert_int_equal(adhoc(cond, "{\"t\": \"b\"}", msg, sizeof msg), 0);
	assert_int_equal(adhoc(cond, "{\"t\": \"b\", \"p\": 1}", msg, sizeof msg), -1);
	assert_string_equal(msg, "'p': not allowed");
	assert_int_equal(adhoc("{\"if\": {\"type\": \"string\"}}", "1", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"allOf\": [{\"minimum\": 1}, {\"maximum\": 3}]}",
			       "2", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"allOf\": [{\"minimum\": 1}, {\"maximum\": 3}]}",
			       "4", msg, sizeof msg), -1);
	assert_string_equal(msg, "expected number <= 3, got 4");
	unsupported("{\"then\": 5}", "'then': a schema must be an object or a boolean");
	unsupported("{\"allOf\": {}}", "'allOf': expected a non-empty array of schemas");
}

/* A serial port's per-type defaults change nothing it may hold: a console
 * port with line settings is valid, as it was before they moved. */
static void test_serial_members_any_type(void **state)
{
	(void)state;
	config_ok("{\"name\": \"a\", \"serial\": [{\"type\": \"console\", \"baud\": 9600,"
	     " \"auth\": \"none\"}, {\"type\": \"host\", \"path\": \"/dev/ttyS0\","
	     " \"scrollback_kib\": 4}]}");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"console\", \"baud\": 9601}]}",
	    "'serial[0].baud': expected one of");
	config_bad("{\"name\": \"a\", \"serial\": [{\"type\": \"host\", \"log_kib\": 1}]}",
	    "'serial[0].log_kib': expected integer >= 64, got 1");
}

static void test_nan_and_small_buffers(void **state)
{
	struct json_object *s = json_tokener_parse("{\"minimum\": 0, \"maximum\": 10}");
	struct json_object *nan = json_object_new_double(NAN);
	char tiny[8];

	(void)state;
	assert_int_equal(rpc_schema_validate(NULL, s, nan, tiny, sizeof tiny), -1);
	assert_true(strlen(tiny) < sizeof tiny);
	assert_int_equal(rpc_schema_validate(NULL, s, nan, NULL, 0), -1);
	json_object_put(nan);
	json_object_put(s);
}

/* A long member name is clipped without splitting a UTF-8 character. */
static void test_long_names_clipped(void **state)
{
	char text[1024], msg[128];
	size_t n, i;

	(void)state;
	n = (size_t)snprintf(text, sizeof text, "{\"name\": \"a\", \"");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "\xe2\x82\xac");
	snprintf(text + n, sizeof text - n, "\": 1}");
	assert_int_equal(check_in(vmconf, vmconf, text, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "unexpected member '\xe2\x82\xac"));
	assert_non_null(strstr(msg, "...'"));
	for (i = 0; msg[i]; i++)
		if ((unsigned char)msg[i] == 0xe2)
			assert_true(msg[i + 1] && msg[i + 2]);
}

/* The daemon's resolver: vm-config.json, its "#" and its $defs, nothing
 * else (not another document whose name is as long). */
static void test_vm_config_ref(void **state)
{
	struct json_object *defs = get(vmconf, "$defs");

	(void)state;
	assert_ptr_equal(schema_doc_vm_config_ref(vmconf, "vm-config.json"), vmconf);
	assert_ptr_equal(schema_doc_vm_config_ref(vmconf, "vm-config.json#"), vmconf);
	assert_ptr_equal(schema_doc_vm_config_ref(vmconf, "vm-config.json#/$defs/Disk"),
			 get(defs, "Disk"));
	assert_ptr_equal(schema_doc_vm_config_ref(vmconf, "vm-config.json#/$defs/Name"),
			 get(defs, "Name"));
	assert_null(schema_doc_vm_config_ref(vmconf, "vm-config.json#/$defs/Nope"));
	assert_null(schema_doc_vm_config_ref(vmconf, "vm-config.json#/properties"));
	assert_null(schema_doc_vm_config_ref(vmconf, "vm-config.jsonx"));
	assert_null(schema_doc_vm_config_ref(vmconf, "other-cfg.json#/$defs/Disk"));
	assert_null(schema_doc_vm_config_ref(vmconf, "other-cfg.json"));
}

/* schema_doc_load: the embedded documents load; text that does not parse
 * or uses an unsupported keyword is refused with the document's name. */
static void test_load(void **state)
{
	struct json_object *o;
	char err[256];

	(void)state;
	o = schema_doc_load(vmd_schema_protocol, "protocol.json", err, sizeof err);
	assert_non_null(o);
	json_object_put(o);
	o = schema_doc_load(vmd_schema_vm_config, "vm-config.json", err, sizeof err);
	assert_non_null(o);
	json_object_put(o);
	assert_null(schema_doc_load("{", "x.json", err, sizeof err));
	assert_string_equal(err, "embedded x.json does not parse");
	assert_null(schema_doc_load("{\"not\": true}", "y.json", err, sizeof err));
	assert_string_equal(err, "y.json: unsupported keyword 'not'");
}

/* A broken enum is a schema error, not a walk over a non-array. */
static void test_bad_enum_is_schema_error(void **state)
{
	char msg[256];

	(void)state;
	assert_int_equal(adhoc("{\"enum\": 5}", "5", msg, sizeof msg), -1);
	assert_string_equal(msg, "schema error: enum must be an array");
}

/* A message buffer shorter than the member's path: the message is cut to
 * the buffer and nothing is written past it. */
static void test_path_longer_than_buffer(void **state)
{
	char buf[64];

	(void)state;
	memset(buf, 'X', sizeof buf);
	assert_int_equal(check_in(vmconf, vmconf,
				  "{\"name\": \"a\", \"boot\": {\"kernel\": \"rel\"}}",
				  buf, 10), -1);
	assert_int_equal(strlen(buf), 9);
	for (size_t i = 10; i < sizeof buf; i++)
		assert_int_equal(buf[i], 'X');
}

/* "true" as a schema allows anything, wherever it stands. */
static void test_true_schema(void **state)
{
	char msg[256];

	(void)state;
	assert_int_equal(adhoc("true", "1", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"items\": true}", "[1, \"a\"]", msg, sizeof msg), 0);
	assert_int_equal(adhoc("{\"additionalProperties\": true}", "{\"a\": 1}",
			       msg, sizeof msg), 0);
}

/* Arrays of names hold strings only. */
static void test_name_lists_are_strings(void **state)
{
	(void)state;
	unsupported("{\"required\": [\"a\", 1]}", "'required': bad argument for required: [\"a\",1]");
	unsupported("{\"type\": [\"string\", 2]}", "'type': bad argument for type");
}

/* rpc_json_find_nul: the path of the first string with a NUL in it. */
static void test_find_nul_path(void **state)
{
	struct json_object *v = json_object_new_object(), *a = json_object_new_array();
	char path[128] = "";

	(void)state;
	json_object_object_add(v, "ok", json_object_new_string("fine"));
	json_object_array_add(a, json_object_new_int(1));
	json_object_array_add(a, json_object_new_string_len("x\0y", 3));
	json_object_object_add(v, "list", a);
	assert_true(rpc_json_find_nul(v, path, sizeof path));
	assert_string_equal(path, "list[1]");
	json_object_array_del_idx(a, 1, 1);
	path[0] = '\0';
	assert_false(rpc_json_find_nul(v, path, sizeof path));
	assert_string_equal(path, "");
	json_object_put(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documents_supported),
		cmocka_unit_test(test_unsupported_keywords),
		cmocka_unit_test(test_command_list),
		cmocka_unit_test(test_commands_complete),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_examples_validate),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_required_and_extra),
		cmocka_unit_test(test_config_types),
		cmocka_unit_test(test_config_patterns),
		cmocka_unit_test(test_config_enums),
		cmocka_unit_test(test_config_ranges),
		cmocka_unit_test(test_config_many_disks),
		cmocka_unit_test(test_args_good),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_returns),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_combinators),
		cmocka_unit_test(test_nan_and_small_buffers),
		cmocka_unit_test(test_long_names_clipped),
		cmocka_unit_test(test_vm_config_ref),
		cmocka_unit_test(test_conditionals),
		cmocka_unit_test(test_serial_members_any_type),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_bad_enum_is_schema_error),
		cmocka_unit_test(test_path_longer_than_buffer),
		cmocka_unit_test(test_true_schema),
		cmocka_unit_test(test_name_lists_are_strings),
		cmocka_unit_test(test_find_nul_path),
	};

	return cmocka_run_group_tests(tests, schema_docs_setup, schema_docs_teardown);
}
