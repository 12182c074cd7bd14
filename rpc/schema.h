/* Validation of JSON values against the JSON Schema subset schemas/ uses:
 * type (string or array of types), properties, required,
 * additionalProperties (false or a schema), items, enum, const, pattern
 * (POSIX ERE, anchored as written), minimum, maximum, minLength, maxLength,
 * minItems, maxItems, oneOf, anyOf, and "$ref": "#/$defs/NAME" or a
 * "vm-config.json#/$defs/NAME"-style ref resolved through a lookup the caller
 * gives.  Keywords outside the subset (description, title, examples, ...)
 * are ignored; an unsupported validation keyword is reported by
 * rpc_schema_check_supported() so the schema can never silently say more
 * than the code checks. */
#ifndef VMD_RPC_SCHEMA_H
#define VMD_RPC_SCHEMA_H

#include <stddef.h>
#include <json-c/json.h>

/* Resolve a "$ref" string to a schema node (borrowed), or NULL. */
typedef struct json_object *(*rpc_schema_resolver)(void *ctx, const char *ref);

struct rpc_schema_ctx {
	struct json_object *root;      /* document the "#/..." refs point into */
	rpc_schema_resolver resolve;   /* for refs to other documents; may be NULL */
	void *resolve_ctx;
};

/* Parse a schema document (name for messages) and check that the
 * validator knows every keyword in it.  NULL with err set otherwise. */
struct json_object *rpc_schema_load(const char *text, const char *name,
				    char *err, size_t errlen);

/* A resolver for refs into vm-config.json ("vm-config.json" or
 * "vm-config.json#/$defs/NAME"); ctx is that document. */
struct json_object *rpc_schema_vm_config_ref(void *vm_config, const char *ref);

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
