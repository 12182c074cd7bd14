/* systemd notifications (see sdnotify.h).
 *
 * One libevent timer does both jobs, once a second or at half of
 * WATCHDOG_USEC if that is shorter: it sends WATCHDOG=1, so a stuck event
 * loop (not merely a live process) gets vmd restarted, and it refreshes
 * STATUS= when the VM counts changed, which spares every place that changes
 * a VM from knowing about systemd.  Counting the VMs is a walk of a list,
 * microseconds even for thousands of VMs. */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include "daemon/log.h"
#include "daemon/sdnotify.h"
#include "daemon/vm.h"

#define STATUS_PERIOD_USEC 1000000ULL

static bool enabled;          /* NOTIFY_SOCKET is set */
static bool ready;
static bool send_failed;      /* warn once, not every tick */
static uint64_t watchdog_usec;
static struct event *tick;
static size_t shown_defined = SIZE_MAX, shown_running = SIZE_MAX;

static void notify(const char *msg)
{
	int r;

	if (!enabled)
		return;
	r = sd_notify(0, msg);
	if (r < 0 && !send_failed) {
		send_failed = true;
		log_warn("cannot notify systemd: %s", strerror(-r));
	} else if (r > 0) {
		send_failed = false;
	}
}

/* STATUS= for the VM counts, or "" when they did not change. */
static void vm_status(char *buf, size_t size)
{
	size_t running, defined = vm_count(&running);

	buf[0] = 0;
	if (defined == shown_defined && running == shown_running)
		return;
	shown_defined = defined;
	shown_running = running;
	snprintf(buf, size, "STATUS=%zu VM%s defined, %zu running", defined,
		 defined == 1 ? "" : "s", running);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	char status[128], msg[160];

	if (ready)
		vm_status(status, sizeof status);
	else
		status[0] = 0;
	snprintf(msg, sizeof msg, "%s%s%s", watchdog_usec ? "WATCHDOG=1" : "",
		 watchdog_usec && status[0] ? "\n" : "", status);
	if (msg[0])
		notify(msg);
}

int sdnotify_init(struct event_base *base)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	uint64_t period = STATUS_PERIOD_USEC;
	int r;

	enabled = ns && *ns;
	if (!enabled)
		return 0;
	/* Unset WATCHDOG_*: the guests we spawn must not think it is theirs.
	 * WATCHDOG_PID naming another process means the watchdog is not ours. */
	r = sd_watchdog_enabled(1, &watchdog_usec);
	if (r < 0)
		log_warn("ignoring the systemd watchdog: WATCHDOG_USEC: %s",
			 strerror(-r));
	if (r <= 0)
		watchdog_usec = 0;
	if (watchdog_usec && watchdog_usec / 2 < period)
		period = watchdog_usec / 2 ? watchdog_usec / 2 : 1;
	struct timeval tv = {.tv_sec = (time_t)(period / 1000000),
			     .tv_usec = (suseconds_t)(period % 1000000)};
	tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	if (!tick || event_add(tick, &tv) < 0) {
		log_err("cannot arm the systemd notification timer");
		return -1;
	}
	if (watchdog_usec)
		log_info("systemd watchdog: %llu ms, keep-alive every %llu ms",
			 (unsigned long long)(watchdog_usec / 1000),
			 (unsigned long long)(period / 1000));
	return 0;
}

void sdnotify_status(const char *what)
{
	char msg[256];

	if (!enabled)
		return;
	snprintf(msg, sizeof msg, "STATUS=%s", what);
	notify(msg);
}

void sdnotify_ready(void)
{
	char status[128], msg[160];

	if (!enabled)
		return;
	ready = true;
	vm_status(status, sizeof status);
	snprintf(msg, sizeof msg, "READY=1\n%s%s", status,
		 watchdog_usec ? "\nWATCHDOG=1" : "");
	notify(msg);
}

void sdnotify_stopping(void)
{
	if (!enabled)
		return;
	ready = false;
	if (tick)
		event_del(tick);
	notify("STOPPING=1\nSTATUS=stopping");
}

void sdnotify_free(void)
{
	if (tick)
		event_free(tick);
	tick = NULL;
}

bool sdnotify_systemd_booted(void)
{
	return sd_booted() > 0;
}
