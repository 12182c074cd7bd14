/* Monthly transfer quotas (a VM's transfer_quota, else its plan's): what
 * the VM's bridged NICs sent this month (UTC) against quota.bytes.  On
 * reaching it: a USAGE_QUOTA event "reached" and the action: "event"
 * only, "throttle" (what the guest sends shaped to rate_kbit: quota_tc.c)
 * or "pause".  Lifted (USAGE_QUOTA "lifted") when a check finds the VM
 * under its quota: a new month, a raised quota or none.  Checked after
 * every metering sample and every change of the VM's plan or config.
 * What vmd enforces (which VM, month, action, whether vmd paused it) is
 * kept in the store: a restarted vmd lifts it as if it had never stopped,
 * never resumes a guest someone else paused, and does not announce a
 * quota reached again. */
#ifndef VMD_DAEMON_QUOTA_H
#define VMD_DAEMON_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct store;

/* Reads what the store says vmd enforces: before the first check. */
int quota_init(void);
void quota_check(struct vm *vm);
/* vm.c: the VM is going away (its row goes with its definition). */
void quota_forget(struct vm *vm);

/* quota_store.c: the rows of quota_enforced (migration 0006). */
struct quota_row {
	char uuid[37];
	char action[12];
	int64_t month;            /* unix seconds of its start (UTC) */
	bool paused;              /* vmd paused the guest for it */
	int64_t since;            /* unix seconds: reached */
};
int quota_store_put(struct store *s, const struct quota_row *r);
int quota_store_delete(struct store *s, const char *uuid);
typedef void (*quota_row_cb)(void *ctx, const struct quota_row *r);
int quota_store_foreach(struct store *s, quota_row_cb cb, void *ctx);

/* quota_tc.c: shape what each bridged NIC of the VM sends (the tap's
 * ingress, redirected to an ifb device "vmq" + the tap's name's tail that
 * carries a tbf qdisc) to rate_kbit; or remove that.  0 or -1 (logged). */
int quota_tc_throttle(struct vm *vm, int64_t rate_kbit);
int quota_tc_lift(struct vm *vm);

#endif
