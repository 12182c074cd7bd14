/* Usage metering: per VM, sampled every --meter-interval seconds (aligned
 * to whole multiples of it in UTC) and at every state change.  Time-based
 * amounts come from vmd's own clock and the VM's state (running_s: seconds
 * running; vcpu_s and mib_s: cpus and memory_mib times the seconds a QEMU
 * held them, paused included); counters come from vmstats_read(): QEMU's
 * CPU time (cpu_us), per disk and per bridged NIC, per console port.  See
 * meter.c for how counters stay exact across restarts. */
#ifndef VMD_DAEMON_METER_H
#define VMD_DAEMON_METER_H

#include <stdint.h>
#include "daemon/vm.h"

#define METER_INTERVAL_DEFAULT 60
#define METER_RETENTION_DEFAULT 7   /* days of raw samples */

/* After vm_recover_all(): samples every VM with a QEMU, starts the tick. */
void meter_init(void);
void meter_shutdown(void);
/* vm.c: the VM's state changed from old (stored, not yet announced). */
void meter_transition(struct vm *vm, enum vm_state old);
/* vm_adopt.c: a QEMU that outlived the last vmd is the VM's again. */
void meter_adopted(struct vm *vm);
/* plan.c: a sample cut now (the VM's plan changes); now returned. */
int64_t meter_cut(struct vm *vm);
/* vm.c: the VM is going away. */
void meter_forget(struct vm *vm);

/* meter_clock.c: unix time in ms as metering sees it.  A test build
 * (tests/vmd-testclock) adds $VMD_TEST_CLOCK_OFFSET seconds. */
int64_t meter_now_ms(void);

#endif
