/* vmctl console: attach to a VM's serial console.  After console-attach has
 * answered, the connection carries raw bytes.  Relay them between the
 * terminal and the socket with one poll() loop.  The terminal goes raw only
 * when stdin is a tty, and is restored on every way out (normal return,
 * exit(), TERM/INT/HUP).  When stdin ends the relay keeps printing what the
 * guest says until the socket closes, so a script can pipe a command in and
 * read the answer.
 *
 * vmctl also keeps a second, ordinary connection to vmd, only for two
 * events about itself: CONSOLE_WRITER (someone took the keyboard with
 * --force; vmd keeps us attached read-only, and this is how we learn it and
 * tell the user) and CONSOLE_DETACH (why vmd closed our console: too-slow
 * means output was lost, which must not look like success).  Nothing but
 * guest bytes is ever written to stdout. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/client.h"

static struct termios saved_tty;
static volatile sig_atomic_t tty_raw;
static volatile sig_atomic_t got_signal;

/* One attached session. */
struct session {
	struct rpc_client *rpc;     /* the attach connection: raw bytes */
	struct rpc_client *events;  /* NULL when it could not be opened */
	const char *vm;             /* as typed: name or uuid */
	const char *name;           /* the VM's name, from the reply */
	int port;
	int escape;                 /* -1: none */
	int readonly;               /* --ro, or since someone took over */
	int detached;               /* vmd announced our CONSOLE_DETACH */
	char reason[32];            /* ... with this reason */
	int events_lost;            /* the events connection ended */
};

/* Escape character from "^]", "^A", "~" or "none" (-1); -2 when the string
 * is none of those. */
static int parse_escape(const char *s)
{
	if (strcmp(s, "none") == 0)
		return -1;
	if (s[0] == '^' && s[1] == '?' && s[2] == '\0')
		return 0x7f;
	if (s[0] == '^' && s[1] >= '@' && s[1] <= '~' && s[2] == '\0')
		return s[1] & 0x1f;
	if (s[0] != '\0' && s[1] == '\0')
		return (unsigned char)s[0];
	return -2;
}

/* Async-signal-safe: tcsetattr is, and it is all this does. */
static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
		tty_raw = 0;
	}
}

static void on_signal(int sig)
{
	tty_restore();
	got_signal = sig;
}

static void catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() and write() must return so the loop ends. */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static int tty_make_raw(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return -1;
	atexit(tty_restore);
	raw = saved_tty;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -1;
	tty_raw = 1;
	return 0;
}

/* Write everything, waiting when the descriptor is non-blocking and full.
 * -1 on error or when a signal asks us to stop. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n;

		/* A signal may cut a write short without EINTR: check it
		 * before blocking again on a reader that does not read. */
		if (got_signal) {
			errno = EINTR;
			return -1;
		}
		n = write(fd, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Escape character name as the banner shows it: "^]". */
static void escape_name(char *buf, size_t len, int escape)
{
	if (escape < 0)
		snprintf(buf, len, "none");
	else if (escape < 0x20)
		snprintf(buf, len, "^%c", escape | 0x40);
	else if (escape == 0x7f)
		snprintf(buf, len, "^?");
	else
		snprintf(buf, len, "%c", escape);
}

/* The events connection: an ordinary negotiated session, which receives
 * every event.  Opened before the attach so no takeover can slip between.
 * Without it the console still works; the user is only not told. */
static struct rpc_client *events_open(struct ctl *ctl, const char *vm)
{
	struct rpc_client *c;
	char err[512];

	c = rpc_client_connect(ctl->socket, err, sizeof(err));
	if (c != NULL &&
	    rpc_client_negotiate(c, ctl->timeout_ms, err, sizeof(err)) < 0) {
		rpc_client_close(c);
		c = NULL;
	}
	if (c == NULL)
		ctl_warn("console %s: no event connection (%s): a takeover of "
			 "the keyboard will not be announced", vm, err);
	return c;
}

static int same_vm(const struct session *s, struct json_object *data)
{
	const char *name = jstr(data, "vm", ""), *uuid = jstr(data, "uuid", "");

	return strcmp(name, s->name) == 0 || strcmp(uuid, s->vm) == 0 ||
	       strcmp(name, s->vm) == 0;
}

/* An event about this console (VM and port) and this process, as the
 * viewer or, with member "previous", as the writer before. */
static int about_us(const struct session *s, struct json_object *data,
		    const char *member)
{
	struct json_object *who = member ? jget(data, member) : data;

	return same_vm(s, data) && jint(data, "port", -1) == s->port &&
	       jint(who, "pid", -1) == (long long)getpid();
}

/* CONSOLE_WRITER naming us as the previous writer: read-only from now on.
 * CONSOLE_DETACH naming us: remember why vmd closed the console. */
static void on_event(struct session *s, struct json_object *ev)
{
	const char *name = jstr(ev, "event", "");
	struct json_object *data = jget(ev, "data");

	if (strcmp(name, "CONSOLE_DETACH") == 0 && about_us(s, data, NULL) &&
	    strcmp(jstr(data, "via", "socket"), "socket") == 0) {
		s->detached = 1;
		snprintf(s->reason, sizeof(s->reason), "%s",
			 jstr(data, "reason", "?"));
	}
	if (s->readonly || strcmp(name, "CONSOLE_WRITER") != 0 ||
	    !about_us(s, data, "previous"))
		return;
	s->readonly = 1;
	fprintf(stderr, "%s[vmctl: uid %lld (pid %lld) took the keyboard; "
		"this console is read-only now]%s", tty_raw ? "\r\n" : "",
		jint(data, "uid", 0), jint(data, "pid", 0),
		tty_raw ? "\r\n" : "\n");
}

/* Handle every event read so far; on EOF or error stop listening (the
 * console itself goes on). */
static void from_events(struct session *s, int readable)
{
	struct json_object *msg;
	int r = readable ? rpc_client_read(s->events) : 0;

	while ((msg = rpc_client_pop(s->events)) != NULL) {
		on_event(s, msg);
		json_object_put(msg);
	}
	if (r < 0) {
		rpc_client_close(s->events);
		s->events = NULL;
		s->events_lost = 1;
	}
}

enum relay { RELAY_GO, RELAY_DONE, RELAY_EOF, RELAY_FAIL };

/* Guest -> stdout. Socket EOF or reset: vmd closed the console. */
static enum relay from_socket(int sock)
{
	char buf[65536];
	ssize_t n = read(sock, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return RELAY_GO;
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return RELAY_EOF;
	if (n < 0)
		return RELAY_FAIL;
	return write_all(STDOUT_FILENO, buf, (size_t)n) < 0 ? RELAY_FAIL : RELAY_GO;
}

/* stdin -> guest, stopping at the escape character. *open drops to 0 at
 * EOF; read-only viewers send nothing but still leave on the escape. */
static enum relay from_stdin(const struct session *s, int *open)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t len;
	char *esc;

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return RELAY_GO;
	if (n <= 0) {
		*open = 0;
		return RELAY_GO;
	}
	len = (size_t)n;
	esc = s->escape >= 0 ? memchr(buf, s->escape, len) : NULL;
	if (esc != NULL)
		len = (size_t)(esc - buf);
	if (!s->readonly && len > 0 &&
	    write_all(rpc_client_fd(s->rpc), buf, len) < 0)
		return errno == EPIPE || errno == ECONNRESET ? RELAY_EOF : RELAY_FAIL;
	return esc != NULL ? RELAY_DONE : RELAY_GO;
}

static enum relay relay_loop(struct session *s)
{
	struct pollfd p[3];
	int in_open = 1;
	enum relay r = RELAY_GO;

	/* Events that came with the negotiation are already buffered. */
	if (s->events != NULL)
		from_events(s, 0);
	while (r == RELAY_GO && !got_signal) {
		p[0] = (struct pollfd){ .fd = rpc_client_fd(s->rpc), .events = POLLIN };
		p[1] = (struct pollfd){ .fd = in_open ? STDIN_FILENO : -1,
					.events = POLLIN };
		p[2] = (struct pollfd){ .fd = s->events ? rpc_client_fd(s->events) : -1,
					.events = POLLIN };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return RELAY_FAIL;
		}
		/* Events before input, so typing that races a takeover is
		 * dropped rather than sent. */
		if (s->events != NULL && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
			from_events(s, 1);
		/* Output first, so what the guest said is shown before we
		 * notice the end of our input. */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			r = from_socket(rpc_client_fd(s->rpc));
		if (r == RELAY_GO && (p[1].revents & POLLNVAL))
			in_open = 0;
		else if (r == RELAY_GO && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			r = from_stdin(s, &in_open);
	}
	return r;
}

/* vmd closed the console: its CONSOLE_DETACH, sent on the other
 * connection, may still be on its way.  Wait for it a little. */
static void await_detach(struct session *s)
{
	int waited = 0;

	while (s->events != NULL && !s->detached && waited < 1000 &&
	       !got_signal) {
		struct pollfd p = { .fd = rpc_client_fd(s->events), .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			from_events(s, 1);
		waited += 50;
	}
}

/* vmd closed the console: say why, and fail.  Only the escape character
 * ends a session as the user wanted it. */
static int closed_why(const struct session *s)
{
	if (strcmp(s->reason, "too-slow") == 0)
		ctl_warn("console %s: vmd dropped this viewer: it fell 4 MiB "
			 "behind the guest, output was lost", s->vm);
	else if (strcmp(s->reason, "vm-stopped") == 0)
		ctl_warn("console %s: the VM stopped", s->vm);
	else if (s->detached)
		ctl_warn("console %s: vmd closed the console (%s)", s->vm,
			 s->reason);
	else if (s->events_lost)
		ctl_warn("console %s: lost the connection to vmd (it stopped or "
			 "was killed)", s->vm);
	else
		ctl_warn("console %s: vmd closed the console", s->vm);
	return EXIT_PROTOCOL;
}

static int console_relay(struct session *s)
{
	char rest[65536], name[8];
	int tty = isatty(STDIN_FILENO);
	enum relay r;
	size_t n;
	int saved;

	catch_signals();
	/* Raw before the scrollback, so the guest's output is not cooked. */
	if (tty) {
		if (tty_make_raw() < 0)
			ctl_warn("console %s: cannot make the terminal raw: %s",
				 s->vm, strerror(errno));
		escape_name(name, sizeof(name), s->escape);
		fputs("Connected to ", stderr);
		print_visible(stderr, s->vm);
		fprintf(stderr, " (escape character is %s)\r\n", name);
	}
	/* The start of the scrollback may already sit in the client's
	 * buffer, read along with the reply. */
	while ((n = rpc_client_take_rest(s->rpc, rest, sizeof(rest))) > 0)
		if (write_all(STDOUT_FILENO, rest, n) < 0)
			return EXIT_PROTOCOL;
	r = relay_loop(s);
	saved = errno;
	if (r == RELAY_EOF)
		await_detach(s);
	tty_restore();
	if (got_signal) {
		/* Die of the signal, as the caller expects. */
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	if (tty)
		fprintf(stderr, "\n");
	if (r == RELAY_FAIL) {
		ctl_warn("console %s: %s", s->vm, strerror(saved));
		return EXIT_PROTOCOL;
	}
	return r == RELAY_EOF ? closed_why(s) : 0;
}

int cmd_console(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ro", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct session s = { .escape = 0x1d };
	struct json_object *args, *ret;
	int ch, force = 0, status;
	long port = -1;

	while ((ch = ctl_getopt(ctl, argc, argv, "e:", longopts)) != -1) {
		if (ch == 'r')
			s.readonly = 1;
		else if (ch == 'f')
			force = 1;
		else if (ch == 'p')
			port = ctl_number(ctl, "port", optarg, 3);
		else if (ch == 'e' && (s.escape = parse_escape(optarg)) == -2)
			ctl_usage(ctl, "invalid escape character: %s", optarg);
	}
	ctl_operands(ctl, argc, 1, 1);
	if (force && s.readonly)
		ctl_usage(ctl, "--force takes the keyboard; it cannot go with --ro");
	s.vm = argv[optind];
	args = json_object_new_object();
	json_object_object_add(args, "vm", json_object_new_string(s.vm));
	json_object_object_add(args, "mode",
			       json_object_new_string(s.readonly ? "ro" : "rw"));
	if (port >= 0)
		json_object_object_add(args, "port", json_object_new_int((int)port));
	if (force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	ctl_connect(ctl);
	s.events = events_open(ctl, s.vm);
	/* The reply is not printed, even with --json: stdout carries the
	 * console from here on. */
	ret = ctl_call(ctl, s.vm, args);
	s.rpc = ctl->rpc;
	s.name = jstr(ret, "vm", s.vm);
	s.port = (int)jint(ret, "port", port >= 0 ? port : 0);
	status = console_relay(&s);
	json_object_put(ret);
	if (s.events != NULL)
		rpc_client_close(s.events);
	return status;
}
