/* vmctl console-log: print a serial port's persistent log, which vmd keeps
 * across restarts of the VM and of vmd itself.  Each request is one
 * console-read call; the bytes come base64-encoded and go to stdout exactly
 * as the guest wrote them.  Offsets count every byte the port ever logged,
 * so reading on from a reply's "next" never repeats or skips a byte, and
 * --follow is only that, every 200 ms, like tail -f. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/base64.h"

/* Per call: base64 makes 4 of every 3 bytes and a reply must fit in one
 * protocol message (RPC_MAX_MSG, 1 MiB), so ask for at most 512 KiB. */
#define CHUNK (512 * 1024)
#define DEFAULT_BYTES (64 * 1024)
#define FOLLOW_MS 200

struct logread {
	struct ctl *ctl;
	const char *vm;
	long port;            /* -1: vmd's default */
	long long next;       /* the next offset to ask for */
	int following;        /* --follow has caught up once */
};

/* --follow ends on SIGINT/SIGTERM with status 0, at once: the client
 * retries interrupted waits inside a call, and a write to a stdout nobody
 * reads may block for ever.  Every piece is flushed as soon as it is
 * written, so nothing printed is left behind in a buffer; there is no
 * terminal state to restore. */
static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* "-30s", "-10m", "-2h", "-1d" before now; 1 if s has that shape. */
static int parse_relative(const char *s, long long *t)
{
	char *end;
	long long n, unit;

	if (s[0] != '-' || !isdigit((unsigned char)s[1]))
		return 0;
	errno = 0;
	n = strtoll(s + 1, &end, 10);
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return 0;
	}
	if (end[1] != '\0' || errno != 0 || n > 100LL * 365 * 86400)
		return 0;
	*t = (long long)time(NULL) - n * unit;
	if (*t < 0)
		*t = 0;
	return 1;
}

/* "YYYY-MM-DD[ HH:MM[:SS]]" (or a T between) in local time. */
static int parse_date(const char *s, long long *t)
{
	struct tm tm = { .tm_isdst = -1 }, want;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	time_t tt;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return 0;
	s += n;
	if ((*s == ' ' || *s == 'T') && s[1] != '\0') {
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
			return 0;
		s += 1 + n;
		if (*s == ':' && sscanf(s + 1, "%2d%n", &sec, &n) == 1)
			s += 1 + n;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	want = tm;
	if ((tt = mktime(&tm)) == (time_t)-1 || tm.tm_mday != want.tm_mday)
		return 0;  /* 2025-02-31 would be March 3rd otherwise */
	*t = tt < 0 ? 0 : (long long)tt;
	return 1;
}

/* TIME: unix seconds, a local date and time, or relative to now. */
static long long parse_since(struct ctl *ctl, const char *s)
{
	long long t;
	char *end;

	if (isdigit((unsigned char)s[0]) && strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		t = strtoll(s, &end, 10);
		if (errno == 0)
			return t;
	}
	if (parse_relative(s, &t) || parse_date(s, &t))
		return t;
	ctl_usage(ctl, "invalid time: %s (unix seconds, \"YYYY-MM-DD HH:MM[:SS]\""
		  " or -30s, -10m, -2h, -1d)", s);
}

/* N bytes, or with a K or M suffix (KiB, MiB); at most 1 TiB. */
static long long parse_bytes(struct ctl *ctl, const char *s)
{
	long long n, unit = 1;
	char *end;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end != s && *end != '\0' && end[1] == '\0' &&
	    strchr("kKmM", *end) != NULL) {
		unit = tolower((unsigned char)*end) == 'k' ? 1024 : 1024 * 1024;
		end++;
	}
	if (!isdigit((unsigned char)*s) || *end != '\0' || errno != 0 ||
	    n < 1 || n > (1LL << 40) / unit)
		ctl_usage(ctl, "invalid byte count: %s (1 or more, K or M suffix "
			  "allowed)", s);
	return n * unit;
}

/* One console-read; key ("offset", "since" or NULL for the last bytes)
 * with its value.  The reply, owned by the caller. */
static struct json_object *read_once(struct logread *lr, const char *key,
				     long long value, long long max)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "vm", json_object_new_string(lr->vm));
	if (lr->port >= 0)
		json_object_object_add(args, "port",
				       json_object_new_int((int)lr->port));
	if (key != NULL)
		json_object_object_add(args, key, json_object_new_int64(value));
	json_object_object_add(args, "max_bytes",
			       json_object_new_int64(max < CHUNK ? max : CHUNK));
	return ctl_call(lr->ctl, lr->vm, args);
}

/* Print a reply (its bytes, or itself with --json) and move lr->next on.
 * Returns how many bytes it held. */
static long long emit(struct logread *lr, struct json_object *ret,
		      long long asked)
{
	long long off = jint(ret, "offset", 0);
	size_t len = 0;
	void *data = base64_decode(jstr(ret, "data", ""), &len);

	if (data == NULL)
		ctl_fail(lr->ctl, EXIT_PROTOCOL, "GenericError", "console-log %s: "
			 "vmd sent data that is not base64", lr->vm);
	/* The log is rotated by size: what we wanted may be gone. */
	if (asked >= 0 && off > asked)
		ctl_warn("console-log %s: %lld bytes were rotated out of the "
			 "log before they were read", lr->vm, off - asked);
	/* An empty poll of --follow is not worth a JSON line. */
	if (lr->ctl->json && (len > 0 || !lr->following))
		print_json_line(stdout, ret);
	else if (len > 0)
		fwrite(data, 1, len, stdout);
	ctl_flush(lr->ctl);
	free(data);
	lr->next = jint(ret, "next", off + (long long)len);
	return (long long)len;
}

/* Read on from lr->next until the log's end or `left` bytes (-1: no cap).
 * With since >= 0 the first call asks for that time instead. */
static void read_forward(struct logread *lr, long long since, long long left)
{
	/* Where the first call starts is the reply's "offset"; only a gap
	 * while reading on means bytes were lost to us. */
	for (int first = 1;; first = 0) {
		long long want = left < 0 ? CHUNK : left;
		struct json_object *ret = since >= 0 ?
			read_once(lr, "since", since, want) :
			read_once(lr, "offset", lr->next, want);
		long long n = emit(lr, ret, first ? -1 : lr->next);
		int done = lr->next >= jint(ret, "end", 0) || n == 0;

		json_object_put(ret);
		if (left >= 0 && (left -= n) <= 0)
			return;
		if (done)
			return;
		since = -1;
	}
}

/* The last `bytes` of the log: one call when it fits, else find the end
 * first (that reply is not printed) and read on from end - bytes. */
static void read_tail(struct logread *lr, long long bytes)
{
	struct json_object *ret;
	long long end, start;

	if (bytes <= CHUNK) {
		ret = read_once(lr, NULL, 0, bytes);
		emit(lr, ret, -1);
		json_object_put(ret);
		return;
	}
	ret = read_once(lr, NULL, 0, 1);
	end = jint(ret, "end", 0);
	start = jint(ret, "start", 0);
	json_object_put(ret);
	lr->next = end - bytes > start ? end - bytes : start;
	if (lr->next < end)
		read_forward(lr, -1, end - lr->next);
}

/* --follow: ask again from "next" every 200 ms; at once while behind.
 * Only a signal ends it. */
static void follow(struct logread *lr)
{
	lr->following = 1;
	for (;;) {
		struct json_object *ret;
		int caught_up;

		ret = read_once(lr, "offset", lr->next, CHUNK);
		emit(lr, ret, lr->next);
		caught_up = lr->next >= jint(ret, "end", 0);
		json_object_put(ret);
		if (caught_up)
			poll(NULL, 0, FOLLOW_MS);
	}
}

int cmd_console_log(struct ctl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "follow", no_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },
		{ "offset", required_argument, NULL, 'o' },
		{ "bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	struct logread lr = { .ctl = ctl, .port = -1 };
	long long since = -1, offset = -1, bytes = -1;
	int ch, do_follow = 0;

	while ((ch = ctl_getopt(ctl, argc, argv, "f", longopts)) != -1) {
		if (ch == 'p')
			lr.port = ctl_number(ctl, "port", optarg, 3);
		else if (ch == 'f')
			do_follow = 1;
		else if (ch == 's')
			since = parse_since(ctl, optarg);
		else if (ch == 'o')
			offset = ctl_number(ctl, "offset", optarg, LONG_MAX);
		else if (ch == 'b')
			bytes = parse_bytes(ctl, optarg);
	}
	ctl_operands(ctl, argc, 1, 1);
	if (since >= 0 && offset >= 0)
		ctl_usage(ctl, "--since and --offset cannot go together");
	if (do_follow && bytes >= 0 && (since >= 0 || offset >= 0))
		ctl_usage(ctl, "--bytes with --since or --offset cannot go "
			  "with --follow, which prints all from there on");
	lr.vm = argv[optind];
	if (do_follow)
		catch_stop();
	ctl_connect(ctl);
	lr.next = offset;
	if (since >= 0 || offset >= 0)
		read_forward(&lr, since, bytes);
	else
		read_tail(&lr, bytes >= 0 ? bytes : DEFAULT_BYTES);
	if (do_follow)
		follow(&lr);
	return 0;
}
