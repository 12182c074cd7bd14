/* Validation of JSON values against the JSON Schema subset schemas/ uses:
 * type (string or array of types), properties, required,
 * additionalProperties (false or a schema), items, enum, const, pattern
 * (POSIX ERE, anchored as written), minimum, maximum, minLength, maxLength,
 * minItems, maxItems, oneOf, anyOf, allOf, if/then/else, and "$ref":
 * "#/$defs/NAME" or a "vm-config.json#/$defs/NAME"-style ref resolved
 * through a lookup the caller gives.  Keywords outside the subset (description, title, examples, ...)
 * are ignored; an unsupported validation keyword is reported by
 * rpc_schema_check_supported() so the schema can never silently say more
 * than the code checks. */
#ifndef VMD_RPC_SCHEMA_H
#define VMD_RPC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Resolve a "$ref" string to a schema node (borrowed), or NULL. */
typedef struct json_object *(*rpc_schema_resolver)(void *ctx, const char *ref);

struct rpc_schema_ctx {
	struct json_object *root;      /* document the "#/..." refs point into */
	rpc_schema_resolver resolve;   /* for refs to other documents; may be NULL */
	void *resolve_ctx;
};

/* The node "$ref" ref points at: "#/..." into root, "doc.json#/..." into
 * the document ctx's resolver gives (ctx may be NULL).  *doc is the
 * document it was found in, where the refs inside it point.  NULL if none. */
struct json_object *rpc_schema_ref(const struct rpc_schema_ctx *ctx,
				   struct json_object *root, const char *ref,
				   struct json_object **doc);

/* Fill in, recursively, each member value lacks that its schema gives a
 * "default" (a deep copy, itself filled in), through properties, items,
 * "$ref"s, allOf, and the "then" or "else" of an "if" as the value (its own
 * members filled first) matches the "if"; alternatives (anyOf, oneOf) are
 * not entered.  Value must have
 * passed rpc_schema_validate.  0, or -1 when memory ran out (value then
 * holds what was filled so far). */
int rpc_schema_fill(const struct rpc_schema_ctx *ctx, struct json_object *schema,
		    struct json_object *value);

/* Members of a value that passed its schema and was filled: what a handler
 * reads, without a default of its own (those are in schemas/).  NULL, 0 or
 * false when o is NULL, the member is absent or of another type. */
const char *rpc_member_str(struct json_object *o, const char *key);
int64_t rpc_member_int(struct json_object *o, const char *key);
bool rpc_member_bool(struct json_object *o, const char *key);

/* 0 if value matches schema.  Otherwise -1 and msg receives the first
 * violation, naming the path, e.g. "'memory_mib': must be an integer >= 16"
 * or "'disks[0].path': missing required member". */
int rpc_schema_validate(const struct rpc_schema_ctx *ctx,
			struct json_object *schema, struct json_object *value,
			char *msg, size_t msglen);

/* 0 if every keyword in schema (recursively) is one the validator knows; -1
 * with msg naming the first unknown keyword. Used by a unit test and at
 * daemon start. */
int rpc_schema_check_supported(struct json_object *schema, char *msg, size_t msglen);

/* JSON allows "\u0000" inside strings, and C strings would silently cut
 * the text short ("web1\u0000x" must not mean web1), so requests with one
 * are refused at the edge.  True if any string in v holds a NUL; path
 * (empty on entry) then names the member, e.g. "config.disks[0].path",
 * clipped to cap at a character boundary. */
#include <stdbool.h>
bool rpc_json_find_nul(struct json_object *v, char *path, size_t cap);

#endif
