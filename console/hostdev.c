/* Host serial devices passed into a guest.
 *
 * Design: QEMU never opens the host tty.  Its side of the port is a socket
 * chardev like every other serial port (emu/argv.c); vmd opens the tty,
 * sets the line (raw, baud, data bits, parity, stop bits, flow control from
 * the port's config) and relays bytes both ways between the tty and QEMU's
 * socket.  Holding the tty in vmd is what lets a USB-serial adapter that is
 * unplugged and plugged back in (same /dev/serial/by-id link, maybe another
 * /dev/ttyUSBn) come back without restarting the guest: when QEMU holds a
 * "serial" chardev on a device that vanished, the chardev is dead until the
 * guest is restarted or a monitor command swaps it.
 *
 * Device gone: a read or write on the tty fails (EIO, ENXIO, ENODEV) or
 * reads end of file (a hung-up tty: the USB device went away, or the master
 * side of a pty closed).  vmd closes it, sends SERIAL_DEVICE "disconnected"
 * and tries to open the configured path again every HOSTDEV_RETRY_MS,
 * resolving it anew each time (a by-id link may point elsewhere now).  Once
 * it opens and is a tty, the line settings are applied again and
 * SERIAL_DEVICE "connected" names the device it resolved to.
 *
 * What the guest sends while the device is gone is dropped: a device that
 * is not there cannot receive, and as on a real UART with nothing plugged
 * in, the bytes leave the guest and are lost.  vmd keeps reading QEMU's
 * socket all that time so the guest never stalls on that port.  While the
 * device is there and slower than the guest (9600 baud, or a peer holding
 * CTS low), vmd queues up to HOSTDEV_QUEUE bytes for it and then stops
 * reading QEMU's socket until half of that is sent: the guest's UART then
 * waits, as it would on a real line.  The same holds the other way round.
 *
 * A tty is opened with O_NOCTTY (never vmd's controlling terminal) and
 * O_NONBLOCK, and locked with flock(LOCK_EX), so a second VM (or any tool
 * that honours flock, like picocom) configured with the same device gets a
 * clear "in use" error instead of sharing the line.  Input parity errors
 * are not checked (INPCK off): bytes pass through as received. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "console/hostdev.h"
#include "daemon/log.h"
#include "daemon/conn.h"
#include "daemon/vmd.h"
#include "emu/hostfile.h"
#include "rpc/message.h"
#include "rpc/schema.h"

#define HOSTDEV_RETRY_MS 250
#define HOSTDEV_QUEUE (64 * 1024)

struct line {
	speed_t speed;
	tcflag_t csize;
	bool parenb, parodd, cstopb, rtscts, xonxoff;
};

struct hostdev {
	char *vm, *uuid, *path;     /* path as configured */
	char *runas;                /* opens the tty as this user (NULL: vmd's) */
	int port;
	struct line line;
	struct bufferevent *qemu;   /* QEMU's chardev socket */
	struct bufferevent *tty;    /* NULL while the device is gone */
	char resolved[PATH_MAX];    /* what path resolved to when opened */
	struct event *retry;        /* the reopen timer, pending while gone */
	bool qemu_gone;             /* QEMU closed its socket (exiting) */
	char *last_err;             /* last reopen failure, logged once */
	unsigned long long dropped; /* guest bytes dropped while gone */
};

/* --- the port's configuration -------------------------------------------- */

static const struct {
	long long baud;
	speed_t speed;
} speeds[] = {
	{ 1200, B1200 }, { 2400, B2400 }, { 4800, B4800 }, { 9600, B9600 },
	{ 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 },
	{ 115200, B115200 }, { 230400, B230400 }, { 460800, B460800 },
	{ 921600, B921600 },
};

static bool member(struct json_object *cfg, const char *key, json_type type,
		   struct json_object **v)
{
	return json_object_object_get_ex(cfg, key, v) && *v &&
	       json_object_is_type(*v, type);
}

static const char *cfg_path(struct json_object *cfg)
{
	struct json_object *v;

	if (!cfg || !member(cfg, "path", json_type_string, &v))
		return NULL;
	return json_object_get_string(v);
}

/* Line settings from the port's config (its defaults filled in: 115200
 * 8N1, no flow control).  The schema already limits them; this says which
 * is wrong. */
static int parse_line(struct json_object *cfg, struct line *ln, char *err,
		      size_t errlen)
{
	long long baud = rpc_member_int(cfg, "baud");
	long long bits = rpc_member_int(cfg, "data_bits");
	long long stop = rpc_member_int(cfg, "stop_bits");
	const char *parity = rpc_member_str(cfg, "parity");
	const char *flow = rpc_member_str(cfg, "flow");
	static const tcflag_t sizes[] = { CS5, CS6, CS7, CS8 };
	size_t i;

	memset(ln, 0, sizeof(*ln));
	for (i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
		if (speeds[i].baud == baud)
			break;
	if (i == sizeof(speeds) / sizeof(speeds[0])) {
		snprintf(err, errlen, "baud %lld is not a supported speed", baud);
		return -1;
	}
	ln->speed = speeds[i].speed;
	if (bits < 5 || bits > 8) {
		snprintf(err, errlen, "data_bits must be 5..8");
		return -1;
	}
	ln->csize = sizes[bits - 5];
	if (stop != 1 && stop != 2) {
		snprintf(err, errlen, "stop_bits must be 1 or 2");
		return -1;
	}
	ln->cstopb = stop == 2;
	if (!parity || !flow) {
		snprintf(err, errlen, "parity and flow must be given");
		return -1;
	}
	if (strcmp(parity, "even") == 0) {
		ln->parenb = true;
	} else if (strcmp(parity, "odd") == 0) {
		ln->parenb = ln->parodd = true;
	} else if (strcmp(parity, "none") != 0) {
		snprintf(err, errlen, "parity '%s' is not none, even or odd",
			 parity);
		return -1;
	}
	if (strcmp(flow, "rtscts") == 0) {
		ln->rtscts = true;
	} else if (strcmp(flow, "xonxoff") == 0) {
		ln->xonxoff = true;
	} else if (strcmp(flow, "none") != 0) {
		snprintf(err, errlen, "flow '%s' is not none, rtscts or xonxoff",
			 flow);
		return -1;
	}
	return 0;
}

/* Raw mode (no echo, no line editing, no signals, no CR/LF mapping: the
 * guest's bytes go out as they are) plus the configured line. */
static int set_line(int fd, const struct line *ln)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return -1;
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
	t.c_cflag |= ln->csize | CREAD | CLOCAL;
	if (ln->parenb)
		t.c_cflag |= PARENB;
	if (ln->parodd)
		t.c_cflag |= PARODD;
	if (ln->cstopb)
		t.c_cflag |= CSTOPB;
	if (ln->rtscts)
		t.c_cflag |= CRTSCTS;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | INPCK);
	if (ln->xonxoff)
		t.c_iflag |= IXON | IXOFF;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, ln->speed) < 0 || cfsetospeed(&t, ln->speed) < 0)
		return -1;
	return tcsetattr(fd, TCSANOW, &t);
}

/* --- opening the device --------------------------------------------------- */

/* "PATH" or "PATH (-> RESOLVED)" for messages. */
static void name_of(const char *path, const char *resolved, char *out,
		    size_t outlen)
{
	if (resolved && *resolved && strcmp(path, resolved) != 0)
		snprintf(out, outlen, "%s (-> %s)", path, resolved);
	else
		snprintf(out, outlen, "%s", path);
}

static const char *kind_of(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a character device";
}

/* How long opening a device as the QEMU user may take. */
#define OPEN_TIMEOUT_MS 2000

/* Resolves path into resolved (PATH_MAX), opens it and checks it is a tty
 * nobody else has locked.  The fd, or -1 with err naming the path. */
static int open_tty(const char *path, const char *runas, char *resolved,
		    char *err, size_t errlen)
{
	char name[PATH_MAX * 2 + 8];
	struct stat st;
	int fd, e;

	resolved[0] = '\0';
	if (!realpath(path, resolved)) {
		e = errno;
		resolved[0] = '\0';
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	name_of(path, resolved, name, sizeof(name));
	if (stat(resolved, &st) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a tty (it is %s)", name,
			 kind_of(st.st_mode));
		return -1;
	}
	/* as the QEMU user, like every host file a config names: a vmd-admin
	 * must not reach, say, another user's terminal through vmd's root */
	struct emu_file_req req = {.what = "host port", .path = resolved,
				   .kind = EMU_FILE_CHARDEV, .write = true,
				   .fd = -1};
	if (emu_open_files(runas, &req, 1, OPEN_TIMEOUT_MS, err,
			   errlen) < 0)
		return -1;
	fd = req.fd;
	if (!isatty(fd)) {
		snprintf(err, errlen, "%s is not a tty (a character device, "
			 "but not a terminal)", name);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", name, e == EWOULDBLOCK ?
			 "in use (locked by another program or VM)" :
			 strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

int hostdev_check(struct json_object *port_cfg, const char *runas, char *err,
		  size_t errlen)
{
	const char *path = cfg_path(port_cfg);
	char resolved[PATH_MAX], line_err[128], name[PATH_MAX * 2 + 8];
	struct line ln;
	int fd;

	if (!path || path[0] != '/') {
		snprintf(err, errlen, "a host serial port needs an absolute "
			 "path to a tty");
		return -1;
	}
	if (parse_line(port_cfg, &ln, line_err, sizeof(line_err)) < 0) {
		snprintf(err, errlen, "%s: %s", path, line_err);
		return -1;
	}
	fd = open_tty(path, runas, resolved, err, errlen);
	if (fd < 0)
		return -1;
	/* The driver may refuse a speed or a flag: say so now, not later. */
	if (set_line(fd, &ln) < 0) {
		name_of(path, resolved, name, sizeof(name));
		snprintf(err, errlen, "%s: cannot set the line settings: %s",
			 name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void hostdev_describe(const struct hostdev *h, struct json_object *o)
{
	json_object_object_add(o, "path", json_object_new_string(h->path));
	json_object_object_add(o, "resolved",
			       json_object_new_string(h->tty ? h->resolved : ""));
	json_object_object_add(o, "connected", json_object_new_boolean(h->tty != NULL));
}

/* --- events ---------------------------------------------------------------- */

static void announce(struct hostdev *h, const char *state)
{
	struct json_object *d = json_object_new_object();

	if (!d)
		return;
	json_object_object_add(d, "vm", json_object_new_string(h->vm));
	json_object_object_add(d, "uuid", json_object_new_string(h->uuid));
	json_object_object_add(d, "port", json_object_new_int(h->port));
	json_object_object_add(d, "path", json_object_new_string(h->path));
	json_object_object_add(d, "resolved",
			       json_object_new_string(h->tty ? h->resolved : ""));
	json_object_object_add(d, "state", json_object_new_string(state));
	server_broadcast(rpc_event_new("SERIAL_DEVICE", d));
}

/* --- the relay ------------------------------------------------------------- */

static void retry_later(struct hostdev *h)
{
	struct timeval tv = { 0, HOSTDEV_RETRY_MS * 1000 };

	if (!event_pending(h->retry, EV_TIMEOUT, NULL))
		event_add(h->retry, &tv);
}

static void set_last_err(struct hostdev *h, const char *err)
{
	free(h->last_err);
	h->last_err = err ? strdup(err) : NULL;
}

static void drop_guest_output(struct hostdev *h)
{
	struct evbuffer *in = bufferevent_get_input(h->qemu);
	size_t n = evbuffer_get_length(in);

	h->dropped += n;
	evbuffer_drain(in, n);
}

static void device_gone(struct hostdev *h, const char *why)
{
	char name[PATH_MAX * 2 + 8];

	name_of(h->path, h->resolved, name, sizeof(name));
	log_vm(LOG_WARNING, h->vm, h->uuid, "serial port %d: host device %s "
	       "gone (%s); reopening it every %d ms, guest output to it is "
	       "dropped meanwhile", h->port, name, why, HOSTDEV_RETRY_MS);
	/* What was queued for the device is lost with it.  Freeing a
	 * bufferevent from its own callback is allowed. */
	h->dropped = evbuffer_get_length(bufferevent_get_output(h->tty));
	bufferevent_free(h->tty);
	h->tty = NULL;
	h->resolved[0] = '\0';
	set_last_err(h, NULL);
	announce(h, "disconnected");
	if (!h->qemu_gone) {
		drop_guest_output(h);
		bufferevent_enable(h->qemu, EV_READ);
	}
	retry_later(h);
}

/* Guest -> device. */
static void on_qemu_read(struct bufferevent *bev, void *arg)
{
	struct hostdev *h = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!h->tty) {
		drop_guest_output(h);
		return;
	}
	bufferevent_write_buffer(h->tty, in);
	if (evbuffer_get_length(bufferevent_get_output(h->tty)) >= HOSTDEV_QUEUE)
		bufferevent_disable(bev, EV_READ);
}

/* The device took enough of the guest's output: read the guest again. */
static void on_tty_drained(struct bufferevent *bev, void *arg)
{
	struct hostdev *h = arg;

	if (!h->qemu_gone)
		bufferevent_enable(h->qemu, EV_READ);
}

/* Device -> guest. */
static void on_tty_read(struct bufferevent *bev, void *arg)
{
	struct hostdev *h = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (h->qemu_gone) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	bufferevent_write_buffer(h->qemu, in);
	if (evbuffer_get_length(bufferevent_get_output(h->qemu)) >= HOSTDEV_QUEUE)
		bufferevent_disable(bev, EV_READ);
}

/* QEMU took enough of the device's input: read the device again. */
static void on_qemu_drained(struct bufferevent *bev, void *arg)
{
	struct hostdev *h = arg;

	if (h->tty)
		bufferevent_enable(h->tty, EV_READ);
}

static void on_tty_event(struct bufferevent *bev, short what, void *arg)
{
	struct hostdev *h = arg;
	int e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_ERROR)
		device_gone(h, strerror(e));
	else if (what & BEV_EVENT_EOF)
		device_gone(h, "hung up");
}

static void on_qemu_event(struct bufferevent *bev, short what, void *arg)
{
	struct hostdev *h = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	log_vm(LOG_DEBUG, h->vm, h->uuid, "serial port %d: closed by QEMU",
	       h->port);
	h->qemu_gone = true;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (h->tty)
		evbuffer_drain(bufferevent_get_input(h->tty),
			       evbuffer_get_length(bufferevent_get_input(h->tty)));
}

/* Open and set up the device; 0, or -1 with err set (device still gone). */
static int connect_tty(struct hostdev *h, char *err, size_t errlen)
{
	char resolved[PATH_MAX], name[PATH_MAX * 2 + 8];
	int fd = open_tty(h->path, h->runas, resolved, err, errlen);

	if (fd < 0)
		return -1;
	if (set_line(fd, &h->line) < 0) {
		name_of(h->path, resolved, name, sizeof(name));
		snprintf(err, errlen, "%s: cannot set the line settings: %s",
			 name, strerror(errno));
		close(fd);
		return -1;
	}
	h->tty = bufferevent_socket_new(vmd.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!h->tty) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	memcpy(h->resolved, resolved, sizeof(resolved));
	bufferevent_setcb(h->tty, on_tty_read, on_tty_drained, on_tty_event, h);
	bufferevent_setwatermark(h->tty, EV_WRITE, HOSTDEV_QUEUE / 2, 0);
	bufferevent_enable(h->tty, EV_READ | EV_WRITE);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct hostdev *h = arg;
	char err[PATH_MAX * 2 + 128];

	if (h->tty)
		return;
	if (connect_tty(h, err, sizeof(err)) < 0) {
		/* Log each new reason once, not four times a second. */
		if (!h->last_err || strcmp(err, h->last_err) != 0) {
			log_vm(LOG_INFO, h->vm, h->uuid, "serial port %d: not "
			       "back yet: %s", h->port, err);
			set_last_err(h, err);
		}
		retry_later(h);
		return;
	}
	log_vm(LOG_NOTICE, h->vm, h->uuid, "serial port %d: host device %s "
	       "back as %s (%llu bytes of guest output dropped while it was "
	       "gone)", h->port, h->path, h->resolved, h->dropped);
	announce(h, "connected");
}

struct hostdev *hostdev_open(int qemu_fd, const char *vm, const char *uuid,
			     int port, struct json_object *port_cfg,
			     const char *runas)
{
	struct hostdev *h = calloc(1, sizeof(*h));
	const char *path = cfg_path(port_cfg);
	char err[PATH_MAX * 2 + 128];

	if (!h) {
		close(qemu_fd);
		return NULL;
	}
	h->port = port;
	h->vm = strdup(vm ? vm : "");
	h->uuid = strdup(uuid ? uuid : "");
	h->path = strdup(path ? path : "");
	h->runas = runas ? strdup(runas) : NULL;
	evutil_make_socket_nonblocking(qemu_fd);
	h->qemu = bufferevent_socket_new(vmd.base, qemu_fd, BEV_OPT_CLOSE_ON_FREE);
	if (!h->qemu)
		close(qemu_fd);
	h->retry = evtimer_new(vmd.base, on_retry, h);
	if (!h->vm || !h->uuid || !h->path || (runas && !h->runas) || !h->qemu ||
	    !h->retry) {
		hostdev_close(h);
		return NULL;
	}
	if (parse_line(port_cfg, &h->line, err, sizeof(err)) < 0) {
		/* hostdev_check refused such a config at start; a QEMU vmd
		 * re-adopts runs with what it was started with, which was
		 * checked then, so only a damaged run config gets here: a safe
		 * line rather than none */
		log_vm(LOG_ERR, h->vm, h->uuid, "serial port %d: %s; using "
		       "115200 8N1", port, err);
		h->line = (struct line){.speed = B115200, .csize = CS8};
	}
	bufferevent_setcb(h->qemu, on_qemu_read, on_qemu_drained, on_qemu_event, h);
	bufferevent_setwatermark(h->qemu, EV_WRITE, HOSTDEV_QUEUE / 2, 0);
	bufferevent_enable(h->qemu, EV_READ | EV_WRITE);
	if (connect_tty(h, err, sizeof(err)) < 0) {
		/* Raced away since hostdev_check: wait for it like for an
		 * unplugged one. */
		log_vm(LOG_WARNING, h->vm, h->uuid, "serial port %d: %s; "
		       "reopening it every %d ms", port, err, HOSTDEV_RETRY_MS);
		set_last_err(h, err);
		announce(h, "disconnected");
		retry_later(h);
		return h;
	}
	log_vm(LOG_INFO, h->vm, h->uuid, "serial port %d: host device %s "
	       "(%s) connected", port, h->path, h->resolved);
	announce(h, "connected");
	return h;
}

/* Best effort, never blocking: what QEMU wrote last still goes out to the
 * device if it takes it right now. */
static void flush_last(struct hostdev *h)
{
	struct evbuffer *in = bufferevent_get_input(h->qemu);
	struct evbuffer *out = bufferevent_get_output(h->tty);
	evutil_socket_t qfd = bufferevent_getfd(h->qemu);
	evutil_socket_t tfd = bufferevent_getfd(h->tty);

	for (int i = 0; i < 16 && evbuffer_read(in, qfd, 65536) > 0; i++)
		;
	evbuffer_add_buffer(out, in);
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, tfd) > 0)
		;
}

void hostdev_close(struct hostdev *h)
{
	if (!h)
		return;
	if (h->qemu && h->tty)
		flush_last(h);
	if (h->retry)
		event_free(h->retry);
	if (h->tty)
		bufferevent_free(h->tty);
	if (h->qemu)
		bufferevent_free(h->qemu);
	free(h->vm);
	free(h->uuid);
	free(h->path);
	free(h->runas);
	free(h->last_err);
	free(h);
}
