/* The failed-authentication limiter (see authlimit.h). */
#include "config.h"
#include <stdbool.h>
#include <string.h>
#include "daemon/authlimit.h"

struct peer {
	uid_t uid;
	bool used;
	double level;   /* failures it may still make, at time `at` */
	double at;
};

static struct peer peers[AUTHLIMIT_PEERS];

static double level_now(const struct peer *p, double now)
{
	double l = p->level + (now - p->at) / AUTHLIMIT_REFILL;

	return l > AUTHLIMIT_BURST ? AUTHLIMIT_BURST : l;
}

static struct peer *find(uid_t uid)
{
	for (int i = 0; i < AUTHLIMIT_PEERS; i++)
		if (peers[i].used && peers[i].uid == uid)
			return &peers[i];
	return NULL;
}

/* A free slot, or the one with the fullest bucket. */
static struct peer *slot(double now)
{
	struct peer *best = &peers[0];

	for (int i = 0; i < AUTHLIMIT_PEERS; i++) {
		if (!peers[i].used)
			return &peers[i];
		if (level_now(&peers[i], now) > level_now(best, now))
			best = &peers[i];
	}
	return best;
}

int authlimit_wait(uid_t uid, double now)
{
	struct peer *p = find(uid);
	double l = p ? level_now(p, now) : AUTHLIMIT_BURST;

	double secs = (1.0 - l) * AUTHLIMIT_REFILL;
	int w = (int)secs;

	if (l >= 1.0)
		return 0;
	return w < secs || w < 1 ? w + 1 : w;
}

void authlimit_fail(uid_t uid, double now)
{
	struct peer *p = find(uid);

	if (!p) {
		p = slot(now);
		*p = (struct peer){uid, true, AUTHLIMIT_BURST, now};
	}
	p->level = level_now(p, now) - 1.0;
	if (p->level < 0)
		p->level = 0;
	p->at = now;
}

void authlimit_reset(void)
{
	memset(peers, 0, sizeof peers);
}
