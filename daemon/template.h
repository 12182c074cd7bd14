/* Templates: stopped VMs whose disks (volumes) became read-only bases
 * (file mode 0444) that linked clones stand on (vm-clone, cmd_template.c).
 * The flag is the column vms.template (migration 0002) and vm->is_template;
 * a template cannot be started, nor updated in its disks, nor undefined
 * while VMs run on overlays of its bases. */
#ifndef VMD_DAEMON_TEMPLATE_H
#define VMD_DAEMON_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

struct vm;

/* After vm_load_all: marks the VMs the store says are templates. */
int template_load_all(void);
/* Turns the stopped vm into a template: its volumes become read-only
 * bases, their files 0444, the flag set, all in one transaction.  The
 * names of its bases go into the array bases.  0, or -1 with f (autostart
 * set, a disk that is no volume, a volume another VM uses, a job on it). */
int template_make(struct vm *vm, const char *who, struct json_object *bases,
		  struct rpc_fault *f);
/* The VMs whose disks are overlays on one of template's bases, appended
 * to names once each; the count. */
size_t template_clone_users(const struct vm *template,
			    struct json_object *names);
/* vm-update's check: a template's disks cannot change and it cannot be
 * set to autostart.  0, or -1 with f. */
int template_check_update(const struct vm *vm, struct json_object *config,
			  struct rpc_fault *f);
/* The template's config for a clone named name: no uuid, no MACs (new
 * ones come from the new uuid); the disks still name the bases.  NULL
 * when out of memory. */
struct json_object *template_clone_config(const struct vm *tpl,
					  const char *name);
/* Disk i of clone's template has volume base: its row into b, the new
 * volume (CLONE-diskI: a qcow2 overlay on base, or with full a copy of
 * it) into v and its file's path into path.  -1 with f when the base or
 * its file is gone (VolumeNotFound) or the new name is taken or too long
 * (VolumeExists, InvalidArgument). */
struct volume;
int template_plan_disk(const char *clone, size_t i, const char *base,
		       bool full, struct volume *b, struct volume *v,
		       char *path, size_t len, struct rpc_fault *f);
/* One transaction of the store around what vm-template and vm-clone
 * change together: "BEGIN IMMEDIATE", "COMMIT" or "ROLLBACK".  STORE_OK
 * or STORE_ERR (store_errmsg). */
int template_tx(const char *sql);

#endif
