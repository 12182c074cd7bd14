/* spec-apply's planning (see spec.h).  Nothing here looks at the
 * registry, the store or a running QEMU: cmd_spec.c hands in what they
 * say, so the rules can be tested alone (tests/unit/test_spec.c). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "daemon/spec.h"
#include "daemon/vm_config.h"
#include "rpc/schema.h"

int spec_label_parse(const char *text, struct spec_label *l)
{
	const char *eq = strchr(text, '=');

	if (!eq || eq == text || (size_t)(eq - text) >= sizeof l->key ||
	    strlen(eq + 1) >= sizeof l->value)
		return -1;
	snprintf(l->key, sizeof l->key, "%.*s", (int)(eq - text), text);
	snprintf(l->value, sizeof l->value, "%s", eq + 1);
	return 0;
}

static struct json_object *labels_of(struct json_object *config)
{
	struct json_object *labels = NULL;

	json_object_object_get_ex(config, "labels", &labels);
	return json_object_is_type(labels, json_type_object) ? labels : NULL;
}

bool spec_label_on(struct json_object *config, const struct spec_label *l)
{
	const char *v = rpc_member_str(labels_of(config), l->key);

	return v && !strcmp(v, l->value);
}

int spec_label_add(struct json_object *config, const struct spec_label *l,
		   size_t i, struct rpc_fault *f)
{
	struct json_object *labels = labels_of(config);
	const char *v = rpc_member_str(labels, l->key);

	if (v && strcmp(v, l->value)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.vms[%zu].labels.%s: "
			      "'%s', but the spec's label says '%s'", i, l->key,
			      v, l->value);
		return -1;
	}
	if (!labels) {
		labels = json_object_new_object();
		json_object_object_add(config, "labels", labels);
	}
	json_object_object_add(labels, l->key, json_object_new_string(l->value));
	return 0;
}

/* Entry i of spec.LIST's member key, remembered in seen (key's value ->
 * index): -1 with f set when an earlier entry has the same. */
static int once(struct json_object *seen, const char *list,
		struct json_object *arr, size_t i, const char *key,
		struct rpc_fault *f)
{
	const char *v = rpc_member_str(json_object_array_get_idx(arr, i), key);
	struct json_object *at;

	if (!v)
		return 0;
	if (json_object_object_get_ex(seen, v, &at)) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.%s[%zu].%s: '%s' is "
			      "also the %s of spec.%s[%d]", list, i, key, v, key,
			      list, json_object_get_int(at));
		return -1;
	}
	json_object_object_add(seen, v, json_object_new_int((int)i));
	return 0;
}

/* json-c's objects are hash tables: a spec of 1000 VMs costs no n². */
int spec_check_names(struct json_object *vms, struct rpc_fault *f)
{
	struct json_object *names = json_object_new_object();
	struct json_object *uuids = json_object_new_object();
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < json_object_array_length(vms); i++)
		if (once(names, "vms", vms, i, "name", f) < 0 ||
		    once(uuids, "vms", vms, i, "uuid", f) < 0)
			rc = -1;
	json_object_put(names);
	json_object_put(uuids);
	return rc;
}

int spec_check_volume_names(struct json_object *volumes, struct rpc_fault *f)
{
	struct json_object *names = json_object_new_object();
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < json_object_array_length(volumes); i++)
		rc = once(names, "volumes", volumes, i, "name", f);
	json_object_put(names);
	return rc;
}

/* The index of the entry named name, -1 if none. */
static long entry_named(struct json_object *index, const char *name)
{
	struct json_object *at;

	return name && json_object_object_get_ex(index, name, &at) ?
	       json_object_get_int(at) : -1;
}

static const char *template_of(struct json_object *vms, long i)
{
	return rpc_member_str(json_object_array_get_idx(vms, (size_t)i),
			      "from_template");
}

/* "a -> b -> a" into f: the chain from entry start back to it. */
static void say_cycle(struct json_object *vms, struct json_object *index,
		      long start, struct rpc_fault *f)
{
	char chain[768];
	size_t used = 0;
	long cur = start;

	chain[0] = 0;
	do {
		const char *n = rpc_member_str(json_object_array_get_idx(
						       vms, (size_t)cur), "name");
		used += (size_t)snprintf(chain + used, sizeof chain - used,
					 "%s -> ", n);
		cur = entry_named(index, template_of(vms, cur));
	} while (cur != start && used < sizeof chain);
	if (used < sizeof chain)
		snprintf(chain + used, sizeof chain - used, "%s", rpc_member_str(
				 json_object_array_get_idx(vms, (size_t)start),
				 "name"));
	rpc_fault_set(f, RPC_INVALID_ARGUMENT, "spec.vms[%ld].from_template: "
		      "a cycle of templates: %s", start, chain);
}

int spec_check_templates(struct json_object *vms, struct rpc_fault *f)
{
	size_t n = json_object_array_length(vms);
	struct json_object *index = json_object_new_object();
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		json_object_object_add(index, rpc_member_str(
			json_object_array_get_idx(vms, i), "name"),
			json_object_new_int((int)i));
	/* a chain longer than n entries has met a cycle; one that does not
	 * come back to i is reported from an entry on it */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		long cur = (long)i;
		for (size_t steps = 0; steps <= n; steps++) {
			cur = entry_named(index, template_of(vms, cur));
			if (cur < 0)
				break;
			if (cur == (long)i) {
				say_cycle(vms, index, cur, f);
				rc = -1;
				break;
			}
		}
	}
	json_object_put(index);
	return rc;
}

struct json_object *spec_action(const char *name, const char *uuid,
				const char *action)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "vm", json_object_new_string(name));
	if (uuid)
		json_object_object_add(a, "uuid", json_object_new_string(uuid));
	json_object_object_add(a, "action", json_object_new_string(action));
	json_object_object_add(a, "restart", json_object_new_boolean(0));
	json_object_object_add(a, "changes", json_object_new_array());
	return a;
}

static int by_member(const void *a, const void *b)
{
	return strcmp(rpc_member_str(*(struct json_object *const *)a, "member"),
		      rpc_member_str(*(struct json_object *const *)b, "member"));
}

/* Add key to changes unless listed already or equal in old and new. */
static void add_change(struct json_object *changes, const char *key,
		       struct json_object *old, struct json_object *new)
{
	struct json_object *a = NULL, *b = NULL, *c;

	json_object_object_get_ex(old, key, &a);
	json_object_object_get_ex(new, key, &b);
	if (json_object_equal(a, b))
		return;
	for (size_t i = 0; i < json_object_array_length(changes); i++)
		if (!strcmp(rpc_member_str(json_object_array_get_idx(changes, i),
					   "member"), key))
			return;
	c = json_object_new_object();
	json_object_object_add(c, "member", json_object_new_string(key));
	json_object_object_add(c, "restart", json_object_new_boolean(
				       !vm_config_applies_at_once(key)));
	json_object_array_add(changes, c);
}

struct json_object *spec_diff(const char *name, const char *uuid,
			      struct json_object *old, struct json_object *new,
			      bool running)
{
	struct json_object *changes = json_object_new_array(), *a;
	bool restart = false;

	json_object_object_foreach(old, k1, v1) {
		(void)v1;
		add_change(changes, k1, old, new);
	}
	json_object_object_foreach(new, k2, v2) {
		(void)v2;
		add_change(changes, k2, old, new);
	}
	json_object_array_sort(changes, by_member);
	for (size_t i = 0; i < json_object_array_length(changes); i++)
		restart |= rpc_member_bool(json_object_array_get_idx(changes, i),
					   "restart");
	a = spec_action(name, uuid, json_object_array_length(changes) ?
			"update" : "unchanged");
	json_object_object_add(a, "restart", json_object_new_boolean(
				       running && restart));
	json_object_object_add(a, "changes", changes);
	return a;
}

const char *spec_action_verb(struct json_object *action)
{
	return rpc_member_str(action, "action");
}

void spec_overlay(struct json_object *config, struct json_object *entry)
{
	json_object_object_foreach(entry, key, value) {
		struct json_object *copy = NULL;
		if (!strcmp(key, "from_template") ||
		    json_object_deep_copy(value, &copy, NULL) < 0)
			continue;
		json_object_object_add(config, key, copy);
	}
}

struct json_object *spec_volume_action(struct json_object *entry,
				       int64_t size, const char *pool,
				       const char *format, int64_t old_size)
{
	struct json_object *a = json_object_new_object();
	struct json_object *diff = json_object_new_array();

	json_object_object_add(a, "volume", json_object_new_string(
				       rpc_member_str(entry, "name")));
	if (pool && strcmp(pool, rpc_member_str(entry, "pool")))
		json_object_array_add(diff, json_object_new_string("pool"));
	if (format && strcmp(format, rpc_member_str(entry, "format")))
		json_object_array_add(diff, json_object_new_string("format"));
	if (pool && size != old_size)
		json_object_array_add(diff, json_object_new_string("size"));
	json_object_object_add(a, "action", json_object_new_string(
				       !pool ? "create" : json_object_array_length(
					       diff) ? "differs" : "unchanged"));
	json_object_object_add(a, "changes", diff);
	return a;
}
