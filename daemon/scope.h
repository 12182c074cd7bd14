/* Guest cgroup placement: each QEMU in its own transient systemd scope,
 * machine-NAME.scope in machine.slice, asked for over D-Bus without ever
 * making a start wait or fail (see scope.c). */
#ifndef VMD_DAEMON_SCOPE_H
#define VMD_DAEMON_SCOPE_H

#include <stddef.h>
#include <event2/event.h>

struct vm;

enum scope_mode {
	SCOPES_AUTO,   /* only when systemd is PID 1 and vmd runs as root */
	SCOPES_ON,     /* always ask the system bus (tests use a private one) */
	SCOPES_OFF,
};

/* "auto", "on" or "off"; -1 for anything else. */
int scope_mode_from_name(const char *name);
/* Decide from mode, log one line saying what was decided and, when
 * enabled, connect to the system bus (DBUS_SYSTEM_BUS_ADDRESS if set). */
void scope_init(struct event_base *base, enum scope_mode mode);
/* Ask systemd to move vm->pid into the VM's scope; returns at once.  The
 * answer, or why nothing was asked, is logged under the VM's name. */
void scope_place(const struct vm *vm);
/* systemd's unit name for a VM: "machine-" NAME ".scope" with NAME escaped
 * as systemd-escape(1) does.  -1 if it does not fit in size or is longer
 * than systemd accepts. */
int scope_unit_name(const char *vm_name, char *buf, size_t size);
/* Send what is queued and close the bus; pending answers are not waited
 * for (systemd acts on a request it received either way). */
void scope_free(void);

#endif
