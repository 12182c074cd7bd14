/* The restart policy: what happens after QEMU ended unasked. */
#ifndef VMD_DAEMON_RESTART_H
#define VMD_DAEMON_RESTART_H

struct vm;

/* QEMU of vm just ended and its state is recorded; reason is the VM_STATE
 * reason ("crash", "guest-shutdown", "stop", ...).  Schedules a restart
 * when the VM's policy says so. */
void restart_consider(struct vm *vm, const char *reason);
/* Forget a scheduled restart (the VM was started, stopped or killed by
 * hand); true if one was pending. */
#include <stdbool.h>
bool restart_cancel(struct vm *vm);

#endif
