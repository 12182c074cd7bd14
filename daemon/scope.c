/* Guest cgroup placement (see scope.h).
 *
 * With each QEMU in its own transient scope, `systemctl status` and
 * `systemd-cgls` show every guest apart from vmd and from the others, with
 * its own CPU, memory and task accounting.  systemd moves the process when
 * asked with StartTransientUnit and PIDs=; machined's machine-NAME.scope
 * naming in machine.slice puts the guests where other VM managers' go.
 *
 * The request is asynchronous: the bus connection is one more descriptor
 * (and timer) in the libevent loop, and a guest gets "cont" without waiting
 * for systemd's answer, which may take long on a busy host.  A failure is
 * logged and costs nothing else: the guest runs on in vmd's own cgroup.
 * Re-adopted guests (vm_adopt.c) already sit in their scopes. */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include "daemon/log.h"
#include "daemon/scope.h"
#include "daemon/sdnotify.h"
#include "daemon/vm.h"

/* systemd's UNIT_NAME_MAX: a unit name is shorter than this. */
#define UNIT_NAME_MAX 256
/* sd-bus answers a call itself with an error after this long. */
#define CALL_TIMEOUT_USEC (25 * 1000000ULL)

static bool enabled;
static struct event_base *loop;
static sd_bus *bus;
static struct event *bus_io, *bus_timer;

/* What the answer to one request needs to be logged: a copy, since the VM
 * may be undefined before systemd answers. */
struct placement {
	char *name;
	char uuid[37];
	pid_t pid;
	pid_t keeper_pid;             /* its console keeper goes along, or 0 */
	char unit[UNIT_NAME_MAX];
};

int scope_mode_from_name(const char *name)
{
	static const char *const names[] = {
		[SCOPES_AUTO] = "auto", [SCOPES_ON] = "on", [SCOPES_OFF] = "off",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

/* systemd keeps ASCII letters, digits, ':', '_' and '.' (not in front);
 * the rest becomes \xNN.  Of that, VM names can hold only '-' (and no '/',
 * which systemd would turn into '-'). */
static bool unit_char_plain(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == ':' || c == '_' ||
	       (c == '.' && !first);
}

int scope_unit_name(const char *vm_name, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "machine-");

	for (const char *p = vm_name; *p && n < size; p++) {
		unsigned char c = (unsigned char)*p;
		n += (size_t)snprintf(buf + n, size - n,
				      unit_char_plain(c, p == vm_name) ? "%c" : "\\x%02x", c);
	}
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, ".scope");
	return n < size && n < UNIT_NAME_MAX ? 0 : -1;
}

static void bus_drop(void)
{
	if (bus_io)
		event_free(bus_io);
	if (bus_timer)
		event_free(bus_timer);
	bus_io = bus_timer = NULL;
	/* flushing a bus still authenticating could wait for its timeout */
	if (bus && sd_bus_is_ready(bus) > 0)
		sd_bus_flush(bus);
	/* frees the pending calls' slots, and with them their placements */
	bus = sd_bus_close_unref(bus);
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void on_bus(evutil_socket_t fd, short what, void *arg);

/* Watch what sd-bus waits for now: readable, writable, a deadline. */
static void bus_arm(void)
{
	int fd = sd_bus_get_fd(bus), want = sd_bus_get_events(bus);
	short what = want < 0 ? 0 : (short)((want & POLLIN ? EV_READ : 0) |
					    (want & POLLOUT ? EV_WRITE : 0));
	uint64_t until;

	event_del(bus_io);
	if (fd >= 0 && what) {
		event_assign(bus_io, loop, fd, what, on_bus, NULL);
		event_add(bus_io, NULL);
	}
	evtimer_del(bus_timer);
	if (sd_bus_get_timeout(bus, &until) > 0 && until != UINT64_MAX) {
		uint64_t now = monotonic_usec(), d = until > now ? until - now : 0;
		struct timeval tv = {.tv_sec = (time_t)(d / 1000000),
				     .tv_usec = (suseconds_t)(d % 1000000)};
		evtimer_add(bus_timer, &tv);
	}
}

/* A lost connection (the bus restarted) is made again at the next start;
 * sd-bus has already answered the pending calls with errors by then. */
static void on_bus(evutil_socket_t fd, short what, void *arg)
{
	int r;

	while ((r = sd_bus_process(bus, NULL)) > 0)
		;
	if (r < 0 || !sd_bus_is_open(bus)) {
		log_warn("system bus: connection closed: %s",
			 strerror(r < 0 ? -r : ECONNRESET));
		bus_drop();
		return;
	}
	bus_arm();
}

/* Connecting does not block: authentication and Hello go on in the loop. */
static int bus_open(void)
{
	int r = sd_bus_open_system(&bus);

	if (r < 0) {
		bus = NULL;
		return r;
	}
	bus_io = event_new(loop, -1, 0, on_bus, NULL);
	bus_timer = evtimer_new(loop, on_bus, NULL);
	if (!bus_io || !bus_timer) {
		bus_drop();
		return -ENOMEM;
	}
	bus_arm();
	return 0;
}

void scope_init(struct event_base *base, enum scope_mode mode)
{
	int r;

	loop = base;
	if (mode == SCOPES_OFF) {
		log_info("--scopes off: guests are not placed in scopes");
		return;
	}
	if (mode == SCOPES_AUTO && !sdnotify_systemd_booted()) {
		log_info("systemd is not PID 1: guests are not placed in scopes");
		return;
	}
	/* systemd lets only root start system units (polkit's default) */
	if (mode == SCOPES_AUTO && geteuid() != 0) {
		log_info("not root: guests are not placed in scopes "
			 "(--scopes on asks systemd anyway)");
		return;
	}
	enabled = true;
	log_info("guests are placed in machine-NAME.scope (%s)",
		 mode == SCOPES_ON ? "--scopes on" : "systemd is PID 1");
	if ((r = bus_open()) < 0)
		log_warn("cannot connect to the system bus: %s; tried again at "
			 "each guest start", strerror(-r));
}

static void placement_free(void *userdata)
{
	struct placement *p = userdata;

	free(p->name);
	free(p);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct placement *p = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (e)
		log_vm(LOG_WARNING, p->name, p->uuid, "QEMU pid %d not placed in "
		       "%s: %s: %s; it stays in vmd's cgroup", (int)p->pid,
		       p->unit, e->name, e->message ? e->message : "no message");
	else
		log_vm(LOG_INFO, p->name, p->uuid, "QEMU pid %d placed in %s",
		       (int)p->pid, p->unit);
	return 0;
}

/* StartTransientUnit(name, mode, properties, aux).  "fail": a scope of that
 * name that still exists is an error, not something to replace. */
static int build_request(sd_bus_message **m, const struct placement *p)
{
	char desc[128];
	int r;

	snprintf(desc, sizeof desc, "vmd guest %s", p->name);
	r = sd_bus_message_new_method_call(bus, m, "org.freedesktop.systemd1",
					   "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager",
					   "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(*m, "ss", p->unit, "fail");
	/* CollectMode: a scope whose QEMU failed goes away too, so that the
	 * name is free for the VM's next start. */
	/* the keeper, which reads the guest's consoles, lives and dies with
	 * QEMU, so it belongs in the same scope */
	if (r >= 0)
		r = sd_bus_message_append(*m, "a(sv)", 4,
					  "Description", "s", desc,
					  "Slice", "s", "machine.slice",
					  "CollectMode", "s", "inactive-or-failed",
					  "PIDs", "au", p->keeper_pid > 0 ? 2 : 1,
					  (uint32_t)p->pid, (uint32_t)p->keeper_pid);
	if (r >= 0)
		r = sd_bus_message_append(*m, "a(sa(sv))", 0);
	return r;
}

/* The slot (and the placement with it) lives until the answer has been
 * handled or the bus is closed. */
static int send_request(struct placement *p)
{
	sd_bus_message *m = NULL;
	sd_bus_slot *slot = NULL;
	int r = build_request(&m, p);

	if (r >= 0)
		r = sd_bus_call_async(bus, &slot, m, on_reply, p, CALL_TIMEOUT_USEC);
	sd_bus_message_unref(m);
	if (r < 0)
		return r;
	sd_bus_slot_set_destroy_callback(slot, placement_free);
	sd_bus_slot_set_floating(slot, 1);
	sd_bus_slot_unref(slot);
	return 0;
}

static struct placement *placement_new(const struct vm *vm)
{
	struct placement *p = calloc(1, sizeof *p);

	if (!p || !(p->name = strdup(vm->name))) {
		free(p);
		log_vm(LOG_WARNING, vm->name, vm->uuid, "not placed in a scope: "
		       "out of memory");
		return NULL;
	}
	snprintf(p->uuid, sizeof p->uuid, "%s", vm->uuid);
	p->pid = vm->pid;
	p->keeper_pid = vm->keeper_pid;
	if (scope_unit_name(vm->name, p->unit, sizeof p->unit) < 0) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "not placed in a scope: "
		       "the escaped unit name would be longer than systemd's "
		       "limit of %d characters", UNIT_NAME_MAX - 1);
		placement_free(p);
		return NULL;
	}
	return p;
}

void scope_place(const struct vm *vm)
{
	struct placement *p;
	int r;

	if (!enabled || !(p = placement_new(vm)))
		return;
	if (!bus && (r = bus_open()) < 0) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "QEMU pid %d not placed in "
		       "%s: cannot connect to the system bus: %s", (int)p->pid,
		       p->unit, strerror(-r));
		placement_free(p);
		return;
	}
	if ((r = send_request(p)) < 0) {
		log_vm(LOG_WARNING, vm->name, vm->uuid, "QEMU pid %d not placed in "
		       "%s: cannot ask systemd: %s", (int)p->pid, p->unit,
		       strerror(-r));
		placement_free(p);
	}
	bus_arm();
}

void scope_free(void)
{
	bus_drop();
	enabled = false;
}
