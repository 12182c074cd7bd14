/* vmd's own schema documents, beyond JSON Schema: the layout of
 * schemas/protocol.json (its sections "commands", "events" and "errors",
 * the members of each entry, access levels, error classes) and refs from
 * it into vm-config.json.  rpc/schema.c validates; it knows no VM. */
#ifndef VMD_DAEMON_SCHEMA_DOC_H
#define VMD_DAEMON_SCHEMA_DOC_H

#include <stddef.h>
#include <json-c/json.h>
#include "rpc/schema.h"

/* Parse an embedded document (name for messages) and check it with
 * schema_doc_check().  NULL with err set otherwise. */
struct json_object *schema_doc_load(const char *text, const char *name,
				    char *err, size_t errlen);

/* 0 if doc's sections are well formed and every schema in it uses only
 * keywords the validator knows; -1 with msg naming the first fault, e.g.
 * "'commands.x': missing 'returns'". */
int schema_doc_check(struct json_object *doc, char *msg, size_t msglen);

/* An rpc_schema_resolver for refs into vm-config.json ("vm-config.json"
 * or "vm-config.json#/$defs/NAME"); ctx is that document. */
struct json_object *schema_doc_vm_config_ref(void *vm_config, const char *ref);

/* The validation context of root, whose refs may point into vm_config. */
struct rpc_schema_ctx schema_doc_ctx(struct json_object *root,
				     struct json_object *vm_config);

/* Fill in the defaults vm_config (vm-config.json) gives a VM config (one
 * stored or run by an older vmd lacks them).  0, or -1 when memory ran
 * out. */
int schema_doc_fill_config(struct json_object *vm_config,
			   struct json_object *config);

#endif
