/* Monthly transfer quotas (a VM's transfer_quota, else its plan's): what
 * the VM's bridged NICs sent this month (UTC) against quota.bytes.  On
 * reaching it: a USAGE_QUOTA event "reached" and the action: "event"
 * only, "throttle" (what the guest sends shaped to rate_kbit: quota_tc.c)
 * or "pause".  Lifted (USAGE_QUOTA "lifted") when a check finds the VM
 * under its quota: a new month, a raised quota or none.  Checked after
 * every metering sample and every change of the VM's plan or config.
 * The state is vmd's memory: a restarted vmd checks again at the next
 * sample and announces again what it finds. */
#ifndef VMD_DAEMON_QUOTA_H
#define VMD_DAEMON_QUOTA_H

#include <stdint.h>

struct vm;

void quota_check(struct vm *vm);
/* vm.c: the VM is going away. */
void quota_forget(struct vm *vm);

/* quota_tc.c: shape what each bridged NIC of the VM sends (the tap's
 * ingress, redirected to an ifb device "vmq" + the tap's name's tail that
 * carries a tbf qdisc) to rate_kbit; or remove that.  0 or -1 (logged). */
int quota_tc_throttle(struct vm *vm, int64_t rate_kbit);
int quota_tc_lift(struct vm *vm);

#endif
