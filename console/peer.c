/* The owner of a loopback TCP client.  /proc/net/tcp (and tcp6, for
 * AF_INET6 sockets, IPv4 ones mapped) lists the sockets of this network
 * namespace with the uid that owns each: the client's socket is the one
 * whose local address is our peer's and whose remote address is ours.
 * Addresses there are the raw 32-bit words in host order, ports plain. */
#include "config.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "console/peer.h"

#define TCP_STATE_TIME_WAIT 6

struct endpoint {
	uint32_t a[4];   /* as struct in6_addr's words; IPv4 mapped */
	unsigned port;
};

static bool endpoint_of(const struct sockaddr_storage *ss, struct endpoint *e)
{
	memset(e, 0, sizeof *e);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		e->a[2] = htonl(0xffff);
		e->a[3] = s->sin_addr.s_addr;
		e->port = ntohs(s->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		memcpy(e->a, &s->sin6_addr, sizeof e->a);
		e->port = ntohs(s->sin6_port);
		return true;
	}
	return false;
}

/* "0100007F:D431" (tcp) or 32 hex digits and a port (tcp6). */
static bool parse_endpoint(const char *s, struct endpoint *e)
{
	char word[9] = "";
	size_t n = strcspn(s, ":");
	char *end;

	memset(e, 0, sizeof *e);
	if (n != 8 && n != 32)
		return false;
	for (size_t i = 0; i < n / 8; i++) {
		memcpy(word, s + 8 * i, 8);
		e->a[n == 8 ? 3 : i] = (uint32_t)strtoul(word, &end, 16);
		if (*end)
			return false;
	}
	if (n == 8)
		e->a[2] = htonl(0xffff);
	e->port = (unsigned)strtoul(s + n + 1, &end, 16);
	return *end == '\0';
}

static bool same(const struct endpoint *x, const struct endpoint *y)
{
	return x->port == y->port && !memcmp(x->a, y->a, sizeof x->a);
}

/* The uid of the socket local -> remote in one /proc/net file, or -1. */
static long find_uid(const char *file, const struct endpoint *local,
		     const struct endpoint *remote)
{
	char line[512], l[64], r[64];
	long uid = -1, u;
	unsigned st;
	FILE *f = fopen(file, "re");
	struct endpoint le, re;

	if (!f)
		return -1;
	/* TIME_WAIT entries (state 6) have no owner: they show uid 0 */
	while (uid < 0 && fgets(line, sizeof line, f))
		if (sscanf(line, " %*d: %63s %63s %x %*x:%*x %*x:%*x %*x %ld",
			   l, r, &st, &u) == 4 && st != TCP_STATE_TIME_WAIT &&
		    parse_endpoint(l, &le) && parse_endpoint(r, &re) &&
		    same(&le, local) && same(&re, remote))
			uid = u;
	fclose(f);
	return uid;
}

void peer_lookup(int fd, struct peer *p)
{
	struct sockaddr_storage mine, theirs;
	socklen_t ml = sizeof mine, tl = sizeof theirs;
	struct endpoint me, them;
	char host[INET6_ADDRSTRLEN];

	snprintf(p->addr, sizeof p->addr, "?");
	p->uid = -1;
	if (getsockname(fd, (struct sockaddr *)&mine, &ml) < 0 ||
	    getpeername(fd, (struct sockaddr *)&theirs, &tl) < 0 ||
	    !endpoint_of(&mine, &me) || !endpoint_of(&theirs, &them))
		return;
	if (theirs.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&theirs)->sin_addr,
			  host, sizeof host);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&theirs)->sin6_addr,
			  host, sizeof host);
	snprintf(p->addr, sizeof p->addr, theirs.ss_family == AF_INET6 ?
		 "[%s]:%u" : "%s:%u", host, them.port);
	/* the client's socket: local is them, remote is us */
	p->uid = find_uid("/proc/net/tcp", &them, &me);
	if (p->uid < 0)
		p->uid = find_uid("/proc/net/tcp6", &them, &me);
}
