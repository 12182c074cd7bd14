/* What a VM leaves on disk: stale sockets of its run directory, the run
 * directory itself, and the console logs of undefined VMs, kept for
 * --log-retention days. */
#ifndef VMD_DAEMON_LEFTOVERS_H
#define VMD_DAEMON_LEFTOVERS_H

#include <stdbool.h>

struct vm;

/* Its QEMU has ended: remove the sockets left in its run directory. */
void leftovers_stopped(const struct vm *vm);
/* The VM is undefined: remove its run directory; remove its console logs
 * too when purge, else note the moment their retention starts. */
void leftovers_undefined(const char *uuid, const char *name, bool purge);
/* Remove expired logs of undefined VMs now; how many VMs' logs went. */
int leftovers_sweep(void);
/* Sweep now and daily (nothing when the retention is 0: keep forever). */
void leftovers_start(void);
void leftovers_stop(void);

#endif
