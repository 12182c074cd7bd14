#define _GNU_SOURCE
/* peer_lookup: the uid and address of a loopback TCP client, for an IPv4
 * client, an IPv6 one (IPv4-mapped, found in /proc/net/tcp6), and, as root,
 * a client owned by another uid; nothing for a socket that is not TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "console/peer.h"

static int listener(unsigned *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static int client(int family, unsigned port)
{
	int fd = socket(family, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	} else {
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
					  .sin6_port = htons((uint16_t)port)};
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &sa.sin6_addr);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	}
	return fd;
}

static void check(int family)
{
	unsigned port, cport;
	int l = listener(&port), c = client(family, port), a = accept(l, NULL, NULL);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct peer p;
	char want[64];

	assert_true(a >= 0);
	getsockname(c, (struct sockaddr *)&ss, &len);
	cport = ntohs(((struct sockaddr_in *)&ss)->sin_port);  /* same offset in 6 */
	peer_lookup(a, &p);
	snprintf(want, sizeof want, "127.0.0.1:%u", cport);
	assert_string_equal(p.addr, want);
	assert_int_equal(p.uid, (long)getuid());
	close(a);
	close(c);
	close(l);
}

static void test_ipv4(void **state)
{
	(void)state;
	check(AF_INET);
}

static void test_ipv6_mapped(void **state)
{
	(void)state;
	check(AF_INET6);
}

/* As root: a client whose socket belongs to uid 65534. */
static void test_other_uid(void **state)
{
	unsigned port;
	int l, up[2], down[2], st;
	struct peer p;
	pid_t pid;
	char b;

	(void)state;
	if (getuid() != 0)
		skip();
	l = listener(&port);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	if ((pid = fork()) == 0) {
		close(down[1]);
		if (setresuid(65534, 65534, 65534) < 0)
			_exit(1);
		int c = client(AF_INET, port);
		/* connected; stay until the parent has looked */
		if (write(up[1], "x", 1) != 1 || read(down[0], &b, 1) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	int a = accept(l, NULL, NULL);
	assert_int_equal(read(up[0], &b, 1), 1);
	peer_lookup(a, &p);
	close(down[1]);  /* the child may go */
	waitpid(pid, &st, 0);
	assert_int_equal(p.uid, 65534);
	close(a);
	close(l);
	close(up[0]);
}

static void test_not_tcp(void **state)
{
	int sv[2];
	struct peer p;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer_lookup(sv[0], &p);
	assert_string_equal(p.addr, "?");
	assert_int_equal(p.uid, -1);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6_mapped),
		cmocka_unit_test(test_other_uid),
		cmocka_unit_test(test_not_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
