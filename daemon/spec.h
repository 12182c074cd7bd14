/* spec-apply's planning, apart from the registry and the store (which
 * cmd_spec.c holds): the checks a spec must pass as a whole (each name
 * once, no cycle of templates), its label, and what differs between a VM's
 * definition and the spec's entry for it.  Messages name the entry as
 * "spec.vms[I]", as the schema's own do. */
#ifndef VMD_DAEMON_SPEC_H
#define VMD_DAEMON_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "rpc/errors.h"

/* The spec's "label", KEY=VALUE (its schema bounds both). */
struct spec_label {
	char key[64];
	char value[129];
};

/* Split text; -1 when it is not KEY=VALUE within the bounds. */
int spec_label_parse(const char *text, struct spec_label *l);
/* Does config's labels hold KEY with VALUE? */
bool spec_label_on(struct json_object *config, const struct spec_label *l);
/* Put the label into config (entry i of the spec); -1 with f set when the
 * entry gives KEY another value. */
int spec_label_add(struct json_object *config, const struct spec_label *l,
		   size_t i, struct rpc_fault *f);

/* Each name (and each uuid given) once in vms; else -1 with f set
 * (InvalidArgument) naming both entries. */
int spec_check_names(struct json_object *vms, struct rpc_fault *f);
/* Each volume's name once in volumes; else -1 with f (InvalidArgument). */
int spec_check_volume_names(struct json_object *volumes, struct rpc_fault *f);
/* No entry is its own template through the spec's other entries (a -> b
 * -> a, or a -> a); else -1 with f naming the cycle.  Templates outside
 * the spec end a chain.  Runs after spec_check_names. */
int spec_check_templates(struct json_object *vms, struct rpc_fault *f);

/* An action of the plan: {vm, action, restart: false, changes: []}, with
 * uuid unless it is NULL. */
struct json_object *spec_action(const char *name, const char *uuid,
				const char *action);
/* The action that makes definition old into new (both filled in): update,
 * listing the top-level members that differ, or unchanged.  running: the
 * VM's QEMU exists, so a change that applies only at a start asks for a
 * restart. */
struct json_object *spec_diff(const char *name, const char *uuid,
			      struct json_object *old, struct json_object *new,
			      bool running);
/* A VM from a template: entry's members (all but from_template) copied
 * over config, the template's config or the VM's own. */
void spec_overlay(struct json_object *config, struct json_object *entry);
/* The action of a volume entry (filled in) whose size is size bytes:
 * {volume, action, changes}.  pool NULL: no such volume, "create";
 * else the existing volume's pool, format and size (old_size), and
 * "unchanged", or "differs" listing the members that differ: an apply
 * never changes an existing volume (volume-resize grows one). */
struct json_object *spec_volume_action(struct json_object *entry,
				       int64_t size, const char *pool,
				       const char *format, int64_t old_size);
/* The action's verb: create, update, unchanged or delete. */
const char *spec_action_verb(struct json_object *action);

#endif
