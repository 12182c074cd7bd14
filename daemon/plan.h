/* Plans: prices, allowances and a transfer quota, kept in the store
 * (plan_store.c) and in memory.  A VM's plan is its config's "plan", else
 * the one plan whose "labels" it carries (plans' label sets may not
 * overlap: no two can select one VM).  Each change of a VM's plan, of
 * its label "customer" or of its plan's definition is recorded to the
 * second (plan_history), after a metering sample cut at that second, so
 * usage splits exactly between the plans (usage_plan). */
#ifndef VMD_DAEMON_PLAN_H
#define VMD_DAEMON_PLAN_H

#include <stdint.h>
#include <json-c/json.h>
#include "rpc/errors.h"
#include "schemas/limits.h"

struct vm;

/* After vm_recover_all(): loads the plans and notes every VM's plan. */
void plan_init(void);
void plan_shutdown(void);
/* The plans, {name: definition}, owned here. */
struct json_object *plan_all(void);
/* Defines (or redefines) a plan: -1 with f when its labels overlap
 * another plan's or the store fails. */
int plan_define(const char *name, struct json_object *def, struct rpc_fault *f);
/* Deletes a plan: -1 with f naming the VMs when some use it. */
int plan_delete(const char *name, struct rpc_fault *f);
/* The plan config would give a VM: its name (NULL for none). */
const char *plan_for(struct json_object *config);
/* vm-define, vm-update: config's plan must exist (-1 with f). */
int plan_check_config(struct json_object *config, struct rpc_fault *f);
/* The VM's plan or customer may have changed: record it to the second. */
void plan_note(struct vm *vm);
/* The quota that applies to config: its own transfer_quota, else its
 * plan's; NULL for none (borrowed). */
struct json_object *plan_quota(struct json_object *config);
/* MiB (rounded up) of the volume each disk of the VM's QEMU names; 0 for
 * a disk that is no volume. */
void plan_disk_mib(struct vm *vm, uint64_t mib[VMD_DISK_MAX]);

#endif
