/* vmctl console: after console-attach has answered, the connection carries
 * raw bytes.  Relay them between the terminal and the socket with one poll()
 * loop.  The terminal goes raw only when stdin is a tty, and is restored on
 * every way out (normal return, exit(), TERM/INT/HUP).  When stdin ends the
 * relay keeps printing what the guest says until the socket closes, so a
 * script can pipe a command in and read the answer. */
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
#include "rpc/client.h"

static struct termios saved_tty;
static volatile sig_atomic_t tty_raw;
static volatile sig_atomic_t got_signal;

int console_parse_escape(const char *s)
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
		ssize_t n = write(fd, buf, len);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, -1);
			continue;
		}
		if (n < 0 && errno == EINTR && !got_signal)
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

enum relay { RELAY_GO, RELAY_DONE, RELAY_FAIL };

/* Guest -> stdout. Socket EOF or reset ends the session normally. */
static enum relay from_socket(int sock)
{
	char buf[65536];
	ssize_t n = read(sock, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return RELAY_GO;
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return RELAY_DONE;
	if (n < 0)
		return RELAY_FAIL;
	return write_all(STDOUT_FILENO, buf, (size_t)n) < 0 ? RELAY_FAIL : RELAY_GO;
}

/* stdin -> guest, stopping at the escape character. *open drops to 0 at
 * EOF; read-only viewers send nothing. */
static enum relay from_stdin(int sock, int escape, int readonly, int *open)
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
	esc = escape >= 0 ? memchr(buf, escape, len) : NULL;
	if (esc != NULL)
		len = (size_t)(esc - buf);
	if (!readonly && len > 0 && write_all(sock, buf, len) < 0)
		return errno == EPIPE || errno == ECONNRESET ? RELAY_DONE : RELAY_FAIL;
	return esc != NULL ? RELAY_DONE : RELAY_GO;
}

static enum relay relay_loop(int sock, int escape, int readonly)
{
	struct pollfd p[2];
	int in_open = 1;
	enum relay r = RELAY_GO;

	while (r == RELAY_GO && !got_signal) {
		p[0] = (struct pollfd){ .fd = sock, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = in_open ? STDIN_FILENO : -1,
					.events = POLLIN };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return RELAY_FAIL;
		}
		/* Output first, so what the guest said is shown before we
		 * notice the end of our input. */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			r = from_socket(sock);
		if (r == RELAY_GO && (p[1].revents & POLLNVAL))
			in_open = 0;
		else if (r == RELAY_GO && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			r = from_stdin(sock, escape, readonly, &in_open);
	}
	return r;
}

int console_relay(struct rpc_client *rpc, const char *vm, int escape,
		  int readonly)
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
			fprintf(stderr, "vmctl: console %s: cannot make the "
				"terminal raw: %s\n", vm, strerror(errno));
		escape_name(name, sizeof(name), escape);
		fprintf(stderr, "Connected to %s (escape character is %s)\r\n",
			vm, name);
	}
	/* The start of the scrollback may already sit in the client's
	 * buffer, read along with the reply. */
	while ((n = rpc_client_take_rest(rpc, rest, sizeof(rest))) > 0)
		if (write_all(STDOUT_FILENO, rest, n) < 0)
			return EXIT_PROTOCOL;
	r = relay_loop(rpc_client_fd(rpc), escape, readonly);
	saved = errno;
	tty_restore();
	if (got_signal) {
		/* Die of the signal, as the caller expects. */
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	if (tty)
		fprintf(stderr, "\n");
	if (r == RELAY_FAIL) {
		fprintf(stderr, "vmctl: console %s: %s\n", vm, strerror(saved));
		return EXIT_PROTOCOL;
	}
	return 0;
}
