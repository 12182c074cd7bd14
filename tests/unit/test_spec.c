/* spec.c: a spec's whole-spec checks (each name once, volumes too, no
 * cycle of templates), its label, the diff that makes a plan idempotent,
 * a from_template entry over its base config, and a volume's action. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "daemon/spec.h"

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

/* Check vms with check; NULL when it passes, else the message. */
static const char *verdict(int (*check)(struct json_object *, struct rpc_fault *),
			   const char *vms)
{
	static struct rpc_fault f;
	struct json_object *o = parse(vms);
	int rc = check(o, &f);

	json_object_put(o);
	if (rc == 0)
		return NULL;
	assert_int_equal(f.cls, RPC_INVALID_ARGUMENT);
	return f.msg;
}

static void test_names_once(void **state)
{
	(void)state;
	assert_null(verdict(spec_check_names, "[{\"name\":\"a\"},{\"name\":\"b\"}]"));
	assert_null(verdict(spec_check_names, "[]"));
	assert_string_equal(verdict(spec_check_names, "[{\"name\":\"a\"},"
				    "{\"name\":\"b\"},{\"name\":\"a\"}]"),
			    "spec.vms[2].name: 'a' is also the name of spec.vms[0]");
	assert_non_null(strstr(verdict(spec_check_names,
		"[{\"name\":\"a\",\"uuid\":\"u\"},{\"name\":\"b\",\"uuid\":\"u\"}]"),
		"spec.vms[1].uuid"));
}

static void test_template_cycles(void **state)
{
	(void)state;
	/* chains that end, inside the spec or outside it */
	assert_null(verdict(spec_check_templates, "[{\"name\":\"base\"},"
		"{\"name\":\"a\",\"from_template\":\"base\"},"
		"{\"name\":\"b\",\"from_template\":\"a\"},"
		"{\"name\":\"c\",\"from_template\":\"elsewhere\"}]"));
	assert_string_equal(verdict(spec_check_templates,
		"[{\"name\":\"s\",\"from_template\":\"s\"}]"),
		"spec.vms[0].from_template: a cycle of templates: s -> s");
	assert_string_equal(verdict(spec_check_templates,
		"[{\"name\":\"x\"},{\"name\":\"a\",\"from_template\":\"b\"},"
		"{\"name\":\"b\",\"from_template\":\"a\"}]"),
		"spec.vms[1].from_template: a cycle of templates: a -> b -> a");
	/* a chain that runs into a cycle it is not on */
	assert_non_null(strstr(verdict(spec_check_templates,
		"[{\"name\":\"t\",\"from_template\":\"a\"},"
		"{\"name\":\"a\",\"from_template\":\"b\"},"
		"{\"name\":\"b\",\"from_template\":\"c\"},"
		"{\"name\":\"c\",\"from_template\":\"a\"}]"),
		"a -> b -> c -> a"));
}

/* A long cycle: a message cut short, never overrun. */
static void test_long_cycle(void **state)
{
	struct json_object *vms = json_object_new_array();
	struct rpc_fault f;
	char name[64], next[64];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		struct json_object *e = json_object_new_object();
		snprintf(name, sizeof name, "vm-with-a-long-name-%04d", i);
		snprintf(next, sizeof next, "vm-with-a-long-name-%04d", (i + 1) % 1000);
		json_object_object_add(e, "name", json_object_new_string(name));
		json_object_object_add(e, "from_template", json_object_new_string(next));
		json_object_array_add(vms, e);
	}
	assert_int_equal(spec_check_templates(vms, &f), -1);
	assert_non_null(strstr(f.msg, "spec.vms[0].from_template: a cycle"));
	json_object_put(vms);
}

static void test_label(void **state)
{
	struct spec_label l;
	struct rpc_fault f;
	struct json_object *c = parse("{\"name\":\"a\"}");

	(void)state;
	assert_int_equal(spec_label_parse("=x", &l), -1);
	assert_int_equal(spec_label_parse("novalue", &l), -1);
	assert_int_equal(spec_label_parse("apply=web", &l), 0);
	assert_string_equal(l.key, "apply");
	assert_string_equal(l.value, "web");
	assert_false(spec_label_on(c, &l));
	assert_int_equal(spec_label_add(c, &l, 0, &f), 0);
	assert_true(spec_label_on(c, &l));
	json_object_put(c);
	c = parse("{\"name\":\"a\",\"labels\":{\"apply\":\"db\",\"o\":\"x\"}}");
	assert_int_equal(spec_label_add(c, &l, 3, &f), -1);
	assert_string_equal(f.msg, "spec.vms[3].labels.apply: 'db', but the "
			    "spec's label says 'web'");
	json_object_put(c);
}

static const char *member(struct json_object *a, size_t i)
{
	struct json_object *ch, *m;

	json_object_object_get_ex(a, "changes", &ch);
	json_object_object_get_ex(json_object_array_get_idx(ch, i), "member", &m);
	return json_object_get_string(m);
}

static bool flag(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void test_diff(void **state)
{
	struct json_object *old = parse("{\"name\":\"a\",\"memory_mib\":256,"
		"\"labels\":{},\"disks\":[{\"path\":\"/x\"}]}");
	struct json_object *same = parse("{\"disks\":[{\"path\":\"/x\"}],"
		"\"labels\":{},\"memory_mib\":256,\"name\":\"a\"}");
	struct json_object *new = parse("{\"name\":\"a\",\"memory_mib\":512,"
		"\"labels\":{\"t\":\"w\"},\"machine\":\"q35\"}");
	struct json_object *a, *ch;

	(void)state;
	/* member order does not matter */
	a = spec_diff("a", "u", old, same, true);
	assert_string_equal(spec_action_verb(a), "unchanged");
	assert_false(flag(a, "restart"));
	json_object_put(a);
	/* changed, added, removed members, sorted, each with its restart */
	a = spec_diff("a", "u", old, new, true);
	assert_string_equal(spec_action_verb(a), "update");
	json_object_object_get_ex(a, "changes", &ch);
	assert_int_equal(json_object_array_length(ch), 4);
	assert_string_equal(member(a, 0), "disks");
	assert_string_equal(member(a, 1), "labels");
	assert_string_equal(member(a, 2), "machine");
	assert_string_equal(member(a, 3), "memory_mib");
	assert_true(flag(json_object_array_get_idx(ch, 0), "restart"));
	assert_false(flag(json_object_array_get_idx(ch, 1), "restart"));
	assert_true(flag(a, "restart"));
	json_object_put(a);
	/* a stopped VM needs no restart */
	a = spec_diff("a", "u", old, new, false);
	assert_false(flag(a, "restart"));
	json_object_put(a);
	/* only members that apply at once: no restart even when running */
	json_object_put(new);
	new = parse("{\"name\":\"a\",\"memory_mib\":256,\"labels\":{\"t\":\"w\"},"
		    "\"disks\":[{\"path\":\"/x\"}],\"autostart\":true}");
	a = spec_diff("a", "u", old, new, true);
	assert_string_equal(spec_action_verb(a), "update");
	assert_false(flag(a, "restart"));
	json_object_put(a);
	json_object_put(old);
	json_object_put(same);
	json_object_put(new);
}

static void test_volume_names_once(void **state)
{
	(void)state;
	assert_null(verdict(spec_check_volume_names,
			    "[{\"name\":\"a\"},{\"name\":\"b\"}]"));
	assert_string_equal(verdict(spec_check_volume_names, "[{\"name\":\"v\"},"
				    "{\"name\":\"v\"}]"), "spec.volumes[1].name: "
			    "'v' is also the name of spec.volumes[0]");
}

/* A VM from a template: the entry's members replace the template's (or
 * the VM's), the others stay, from_template is not copied. */
static void test_overlay(void **state)
{
	struct json_object *tpl = parse("{\"name\":\"c1\",\"memory_mib\":64,"
		"\"cpus\":2,\"disks\":[{\"volume\":\"c1-disk0\"}],"
		"\"cloud_init\":{\"hostname\":\"old\"}}");
	struct json_object *entry = parse("{\"name\":\"c1\",\"from_template\":"
		"\"t\",\"memory_mib\":128,\"cloud_init\":{\"hostname\":\"new\"}}");
	struct json_object *want = parse("{\"name\":\"c1\",\"memory_mib\":128,"
		"\"cpus\":2,\"disks\":[{\"volume\":\"c1-disk0\"}],"
		"\"cloud_init\":{\"hostname\":\"new\"}}");

	(void)state;
	spec_overlay(tpl, entry);
	assert_true(json_object_equal(tpl, want));
	/* the entry is a copy's source: changing the result leaves it */
	json_object_object_add(json_object_object_get(tpl, "cloud_init"),
			       "hostname", json_object_new_string("x"));
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_object_get(entry, "cloud_init"), "hostname")), "new");
	json_object_put(tpl);
	json_object_put(entry);
	json_object_put(want);
}

static const char *volume_verb(struct json_object *a, const char *changes)
{
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(
		a, "changes"), JSON_C_TO_STRING_PLAIN), changes);
	return json_object_get_string(json_object_object_get(a, "action"));
}

static void test_volume_action(void **state)
{
	struct json_object *e = parse("{\"name\":\"d\",\"size\":\"1M\","
				      "\"format\":\"qcow2\",\"pool\":\"default\"}");
	struct json_object *a;

	(void)state;
	a = spec_volume_action(e, 1 << 20, NULL, NULL, 0);
	assert_string_equal(volume_verb(a, "[]"), "create");
	json_object_put(a);
	a = spec_volume_action(e, 1 << 20, "default", "qcow2", 1 << 20);
	assert_string_equal(volume_verb(a, "[]"), "unchanged");
	json_object_put(a);
	a = spec_volume_action(e, 1 << 20, "default", "qcow2", 1 << 21);
	assert_string_equal(volume_verb(a, "[\"size\"]"), "differs");
	json_object_put(a);
	a = spec_volume_action(e, 1 << 20, "fast", "raw", 1 << 20);
	assert_string_equal(volume_verb(a, "[\"pool\",\"format\"]"), "differs");
	json_object_put(a);
	json_object_put(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_once),
		cmocka_unit_test(test_template_cycles),
		cmocka_unit_test(test_long_cycle),
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_volume_names_once),
		cmocka_unit_test(test_overlay),
		cmocka_unit_test(test_volume_action),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
