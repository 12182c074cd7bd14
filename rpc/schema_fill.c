/* Defaults, declared once: a schema's "default" members are filled into a
 * value that passed the schema, so that handlers read every member with a
 * typed getter (rpc_member_*) that takes no default of its own.  What a
 * client leaves out and what it gives as the default then mean the same
 * thing everywhere: in replies, in the store, and in comparisons. */
#include "config.h"
#include <string.h>
#include "rpc/schema.h"

/* Deeper than any real schema nests; stops a "$ref" that points at itself. */
#define MAX_DEPTH 200

static int fill(const struct rpc_schema_ctx *ctx, struct json_object *root,
		struct json_object *schema, struct json_object *v, int depth);

/* Each member of object v that the schema names: filled when absent and
 * given a default, and entered either way. */
static int fill_members(const struct rpc_schema_ctx *ctx, struct json_object *root,
			struct json_object *props, struct json_object *v, int depth)
{
	struct json_object *member, *dflt;

	json_object_object_foreach(props, key, sub) {
		if (!json_object_object_get_ex(v, key, &member)) {
			if (!json_object_object_get_ex(sub, "default", &dflt))
				continue;
			member = NULL;
			if (json_object_deep_copy(dflt, &member, NULL) < 0 ||
			    json_object_object_add(v, key, member) < 0) {
				json_object_put(member);
				return -1;
			}
		}
		if (fill(ctx, root, sub, member, depth + 1) < 0)
			return -1;
	}
	return 0;
}

/* allOf's branches, and the "then" or "else" of an "if": defaults that
 * depend on another member (a serial port's on its type). */
static int fill_branches(const struct rpc_schema_ctx *ctx, struct json_object *root,
			 struct json_object *schema, struct json_object *v, int depth)
{
	struct rpc_schema_ctx here = { .root = root };
	struct json_object *k, *branch;
	bool matched;

	if (json_object_object_get_ex(schema, "allOf", &k) &&
	    json_object_is_type(k, json_type_array))
		for (size_t i = 0; i < json_object_array_length(k); i++)
			if (fill(ctx, root, json_object_array_get_idx(k, i), v,
				 depth + 1) < 0)
				return -1;
	if (!json_object_object_get_ex(schema, "if", &k))
		return 0;
	if (ctx) {
		here.resolve = ctx->resolve;
		here.resolve_ctx = ctx->resolve_ctx;
	}
	matched = rpc_schema_validate(&here, k, v, NULL, 0) == 0;
	if (!json_object_object_get_ex(schema, matched ? "then" : "else", &branch))
		return 0;
	return fill(ctx, root, branch, v, depth + 1);
}

static int fill(const struct rpc_schema_ctx *ctx, struct json_object *root,
		struct json_object *schema, struct json_object *v, int depth)
{
	struct json_object *k, *target, *doc;

	if (!json_object_is_type(schema, json_type_object) || depth > MAX_DEPTH)
		return 0;
	if (json_object_object_get_ex(schema, "$ref", &k) &&
	    (target = rpc_schema_ref(ctx, root, json_object_get_string(k), &doc)) &&
	    fill(ctx, doc, target, v, depth + 1) < 0)
		return -1;
	if (json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(schema, "properties", &k) &&
	    json_object_is_type(k, json_type_object) &&
	    fill_members(ctx, root, k, v, depth) < 0)
		return -1;
	if (json_object_is_type(v, json_type_array) &&
	    json_object_object_get_ex(schema, "items", &k))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (fill(ctx, root, k, json_object_array_get_idx(v, i),
				 depth + 1) < 0)
				return -1;
	return fill_branches(ctx, root, schema, v, depth);
}

int rpc_schema_fill(const struct rpc_schema_ctx *ctx, struct json_object *schema,
		    struct json_object *value)
{
	struct json_object *root = ctx && ctx->root ? ctx->root : schema;

	return fill(ctx, root, schema, value, 0);
}

static struct json_object *member(struct json_object *o, const char *key,
				  json_type type)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, type) ? v : NULL;
}

const char *rpc_member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

int64_t rpc_member_int(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key, json_type_int);

	return v ? json_object_get_int64(v) : 0;
}

bool rpc_member_bool(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key, json_type_boolean);

	return v && json_object_get_boolean(v);
}
