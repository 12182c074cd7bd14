/* rtt: round trips over a QMP-shaped unix socket, for bench/bench.py.
 *
 * Opens N connections to SOCKET, reads each greeting, negotiates, then keeps
 * exactly one REQUEST outstanding per connection for SECONDS, all from one
 * poll loop, so the client costs one CPU at most and never becomes the
 * bottleneck the Python client was.  A reply is one line; event lines
 * (starting with {"event") are skipped.  Prints one JSON line:
 *   {"calls": N, "seconds": S, "rate": R, "p50_ms": A, "p99_ms": B}
 *
 * usage: rtt SOCKET SECONDS NCONN REQUEST */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 1000
#define LINE_MAX_BYTES (1 << 20)

struct peer {
	int fd;
	char *buf;
	size_t len;
	double sent;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "rtt: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
		die("socket");
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die(path);
	/* a peer that never answers fails the run instead of hanging it */
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		s += w;
		n -= (size_t)w;
	}
}

/* Take one complete non-event line from p's buffer: 1 if there was one. */
static int take_line(struct peer *p)
{
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (!nl)
			return 0;
		size_t n = (size_t)(nl - p->buf) + 1;
		int event = !strncmp(p->buf, "{\"event\"", 8);
		memmove(p->buf, p->buf + n, p->len - n);
		p->len -= n;
		if (!event)
			return 1;
	}
}

/* Read what is there; 1 when a reply line is complete. */
static int read_some(struct peer *p)
{
	ssize_t r = read(p->fd, p->buf + p->len, LINE_MAX_BYTES - p->len);

	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0) {
		errno = r ? errno : ECONNRESET;
		die("read");
	}
	p->len += (size_t)r;
	if (p->len == LINE_MAX_BYTES) {
		errno = EMSGSIZE;
		die("reply line");
	}
	return take_line(p);
}

/* Blocking: wait for one reply line on p. */
static void wait_line(struct peer *p)
{
	if (take_line(p))
		return;
	while (!read_some(p))
		;
}

static void handshake(struct peer *p)
{
	static const char caps[] = "{\"execute\": \"qmp_capabilities\"}\n";

	wait_line(p);  /* the greeting */
	send_all(p->fd, caps, sizeof caps - 1);
	wait_line(p);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q)
{
	return n ? v[(size_t)(q / 100.0 * (double)(n - 1) + 0.5)] : 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: rtt SOCKET SECONDS NCONN REQUEST\n");
		return 2;
	}
	double seconds = atof(argv[2]);
	int n = atoi(argv[3]);
	size_t reqlen = strlen(argv[4]);
	char *req = malloc(reqlen + 2);
	size_t cap = 1 << 20, calls = 0;
	double *lat = malloc(cap * sizeof *lat);
	struct peer *peers = calloc((size_t)(n > 0 ? n : 1), sizeof *peers);
	struct pollfd *pfd = calloc((size_t)(n > 0 ? n : 1), sizeof *pfd);

	if (n < 1 || n > MAX_CONN || seconds <= 0 || !req || !lat || !peers || !pfd) {
		fprintf(stderr, "rtt: bad arguments\n");
		return 2;
	}
	memcpy(req, argv[4], reqlen);
	req[reqlen++] = '\n';
	for (int i = 0; i < n; i++) {
		peers[i].fd = connect_to(argv[1]);
		if (!(peers[i].buf = malloc(LINE_MAX_BYTES)))
			die("malloc");
		handshake(&peers[i]);
		pfd[i] = (struct pollfd){.fd = peers[i].fd, .events = POLLIN};
	}
	double t0 = now(), end = t0 + seconds;
	for (int i = 0; i < n; i++) {
		peers[i].sent = now();
		send_all(peers[i].fd, req, reqlen);
	}
	int open_calls = n;
	while (open_calls > 0) {
		if (poll(pfd, (nfds_t)n, 10000) <= 0)
			die("poll (no reply within 10 s)");
		for (int i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
			    !read_some(&peers[i]))
				continue;
			double t = now();
			if (calls == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat)))
				die("realloc");
			lat[calls++] = t - peers[i].sent;
			if (t >= end) {
				pfd[i].fd = -1;  /* this connection is done */
				open_calls--;
				continue;
			}
			peers[i].sent = t;
			send_all(peers[i].fd, req, reqlen);
		}
	}
	double elapsed = now() - t0;
	qsort(lat, calls, sizeof *lat, cmp_double);
	printf("{\"calls\": %zu, \"seconds\": %.6f, \"rate\": %.1f, "
	       "\"p50_ms\": %.4f, \"p99_ms\": %.4f}\n", calls, elapsed,
	       (double)calls / elapsed, 1000 * pct(lat, calls, 50),
	       1000 * pct(lat, calls, 99));
	return 0;
}
