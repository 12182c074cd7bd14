/* Talking to systemd as a Type=notify service (sd_notify(3)): READY=1 once
 * vmd listens, STATUS= with how many VMs are defined and running, WATCHDOG=1
 * keep-alives while WatchdogSec= is set, STOPPING=1 on exit.  Outside
 * systemd (no NOTIFY_SOCKET) every function is a no-op and no timer runs. */
#ifndef VMD_DAEMON_SDNOTIFY_H
#define VMD_DAEMON_SDNOTIFY_H

#include <stdbool.h>
#include <event2/event.h>

/* Read NOTIFY_SOCKET and WATCHDOG_USEC; arm the timer on base.  Call once,
 * before the event loop runs.  -1 if the timer cannot be made. */
int sdnotify_init(struct event_base *base);
/* Free-text STATUS= while starting ("probing the accelerator"). */
void sdnotify_status(const char *what);
/* READY=1; from now on STATUS= follows the VM counts. */
void sdnotify_ready(void);
/* STOPPING=1; the timer stops (the watchdog ends with the process). */
void sdnotify_stopping(void);
void sdnotify_free(void);

/* True when systemd is the init system (sd_booted(3)), the precondition
 * for placing guests in transient scopes. */
bool sdnotify_systemd_booted(void);

#endif
