/* Failed tokens per client address (gateway.h).  vmd limits failures per
 * peer uid, and all the gateway's callers are one uid to vmd: without
 * this, one client guessing tokens would spend vmd's allowance for every
 * caller.  Each address may fail GUARD_BURST times, regaining one every
 * GUARD_REFILL seconds (vmd allows more, so one address alone never
 * empties vmd's); after that the gateway answers its token calls itself,
 * without asking vmd. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "gateway/gateway.h"

#define GUARD_BURST 5
#define GUARD_REFILL 10.0
#define GUARD_SLOTS 1024

struct guard_slot {
	unsigned char addr[16];   /* IPv6, or IPv4 mapped into it */
	bool used;
	double debt;              /* failures not yet forgiven, at `at` */
	double at;
};

static struct guard_slot slots[GUARD_SLOTS];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool parse(const char *text, unsigned char out[16])
{
	struct in_addr v4;

	if (inet_pton(AF_INET6, text, out) == 1)
		return true;
	if (inet_pton(AF_INET, text, &v4) != 1)
		return false;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &v4, 4);
	return true;
}

static double debt_now(const struct guard_slot *s, double now)
{
	double d = s->debt - (now - s->at) / GUARD_REFILL;

	return d > 0 ? d : 0;
}

/* The slot of addr; with make, a new one (in place of the most forgiven
 * one when all are used). */
static struct guard_slot *lookup(const char *text, bool make, double now)
{
	unsigned char a[16];
	struct guard_slot *spare = NULL;

	if (!parse(text, a))
		return NULL;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		struct guard_slot *s = &slots[i];
		if (s->used && !memcmp(s->addr, a, 16))
			return s;
		if (!spare || !s->used ||
		    (spare->used && debt_now(s, now) < debt_now(spare, now)))
			spare = s;
	}
	if (!make)
		return NULL;
	memset(spare, 0, sizeof *spare);
	memcpy(spare->addr, a, 16);
	spare->used = true;
	spare->at = now;
	return spare;
}

int authguard_wait(const char *addr)
{
	double now = now_s();
	struct guard_slot *s = lookup(addr, false, now);
	double over = s ? debt_now(s, now) - (GUARD_BURST - 1) : 0;

	return over > 0 ? (int)ceil(over * GUARD_REFILL) : 0;
}

bool authguard_refuse(struct gw_req *r)
{
	int wait = authguard_wait(r->peer);
	char after[16];

	if (!wait)
		return false;
	snprintf(after, sizeof after, "%d", wait);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
			  "Retry-After", after);
	gw_reply_error(r, 403, "PermissionDenied", "too many failed tokens "
		       "from %s; try again in %d s", r->peer, wait);
	return true;
}

void authguard_fail(const char *addr)
{
	double now = now_s();
	struct guard_slot *s = lookup(addr, true, now);

	if (!s)
		return;
	s->debt = debt_now(s, now) + 1.0;
	s->at = now;
}

bool authguard_token_refused(const char *cls, const char *desc)
{
	if (!cls || strcmp(cls, "PermissionDenied") || !desc)
		return false;
	/* vmd's words for a token that is not good (daemon/auth.c), as
	 * against a good token without the right */
	return !strncmp(desc, "invalid token", 13) ||
	       !strncmp(desc, "too many failed tokens", 22) ||
	       (!strncmp(desc, "token ", 6) &&
		(strstr(desc, " has been revoked") || strstr(desc, " has expired")));
}
