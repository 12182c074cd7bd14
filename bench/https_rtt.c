/* https_rtt: round trips of one keep-alive HTTPS GET, for bench/gateway.py.
 *
 * The REST side's counterpart of bench/rtt (one unix-socket connection):
 * both clients are C with one request in flight, so neither side's figure
 * is the cost of a Python client.  TLS by OpenSSL, the certificate not
 * checked (the bench's own, on 127.0.0.1).  Each reply is read by its
 * Content-Length; anything but 200 ends the run.  Prints one JSON line:
 *   {"calls": N, "seconds": S, "rate": R, "p50_ms": A, "p99_ms": B}
 *
 * usage: https_rtt PORT SECONDS PATH TOKEN */
#define _GNU_SOURCE   /* memmem, strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define BUF_MAX (1 << 20)

static char buf[BUF_MAX];
static size_t len;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "https_rtt: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

static SSL *connect_tls(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
		die("TLS handshake");
	return ssl;
}

static void fill(SSL *ssl)
{
	int r = len < BUF_MAX ? SSL_read(ssl, buf + len, (int)(BUF_MAX - len)) : 0;

	if (r <= 0)
		die("read: connection closed or reply too large");
	len += (size_t)r;
}

/* One reply: its head, then Content-Length bytes of body. */
static void read_reply(SSL *ssl)
{
	char *end, *cl;

	while (!(end = memmem(buf, len, "\r\n\r\n", 4)))
		fill(ssl);
	*end = '\0';
	if (strncmp(buf, "HTTP/1.1 200", 12))
		die(buf);
	if (!(cl = strcasestr(buf, "\r\ncontent-length:")))
		die("no Content-Length");
	size_t want = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
	while (len < want)
		fill(ssl);
	memmove(buf, buf + want, len - want);
	len -= want;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: https_rtt PORT SECONDS PATH TOKEN\n");
		return 2;
	}
	double seconds = atof(argv[2]);
	char req[1024];
	int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: "
			      "localhost\r\nAuthorization: Bearer %s\r\n\r\n",
			      argv[3], argv[4]);
	size_t cap = 1 << 20, calls = 0;
	double *lat = malloc(cap * sizeof *lat);
	SSL *ssl = connect_tls(atoi(argv[1]));

	if (seconds <= 0 || reqlen >= (int)sizeof req || !lat)
		die("bad arguments");
	double t0 = now(), end = t0 + seconds, t = t0;
	while (t < end) {
		double sent = t;
		if (SSL_write(ssl, req, reqlen) != reqlen)
			die("write");
		read_reply(ssl);
		t = now();
		if (calls == cap && !(lat = realloc(lat, (cap *= 2) * sizeof *lat)))
			die("out of memory");
		lat[calls++] = t - sent;
	}
	double elapsed = now() - t0;
	qsort(lat, calls, sizeof *lat, cmp_double);
	printf("{\"calls\": %zu, \"seconds\": %.6f, \"rate\": %.1f, "
	       "\"p50_ms\": %.4f, \"p99_ms\": %.4f}\n", calls, elapsed,
	       calls / elapsed, 1000 * lat[(size_t)(0.5 * (calls - 1))],
	       1000 * lat[(size_t)(0.99 * (calls - 1) + 0.5)]);
	return 0;
}
