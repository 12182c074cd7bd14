/* Exact metering arithmetic (see meter_calc.h). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "daemon/meter_calc.h"

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t meter_period_start(int64_t t, enum meter_gran g)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (g == METER_HOUR)
		return floor_div(t, 3600) * 3600;
	if (g == METER_DAY)
		return floor_div(t, 86400) * 86400;
	gmtime_r(&tt, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm);
}

int64_t meter_period_next(int64_t start, enum meter_gran g)
{
	struct tm tm;
	time_t tt = (time_t)start;

	if (g == METER_HOUR)
		return start + 3600;
	if (g == METER_DAY)
		return start + 86400;
	gmtime_r(&tt, &tm);
	tm.tm_mon++;              /* timegm carries December into January */
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	return (int64_t)timegm(&tm);
}

uint64_t meter_delta(uint64_t prev, uint64_t now)
{
	return now >= prev ? now - prev : 0;
}

/* floor(amount * num / den) without overflow: 64 x 64 bits fit in 128. */
static uint64_t share(uint64_t amount, int64_t num, int64_t den)
{
	return (uint64_t)((unsigned __int128)amount * (uint64_t)num /
			  (uint64_t)den);
}

void meter_split(int64_t t0, int64_t t1, uint64_t amount, meter_part_cb cb,
		 void *ctx)
{
	uint64_t done = 0;

	if (t1 <= t0) {
		if (amount)
			cb(ctx, meter_period_start(t1, METER_HOUR), amount);
		return;
	}
	for (int64_t a = t0; a < t1;) {
		int64_t hour = meter_period_start(a, METER_HOUR);
		int64_t b = hour + 3600 < t1 ? hour + 3600 : t1;
		uint64_t upto = share(amount, b - t0, t1 - t0);
		if (upto > done)
			cb(ctx, hour, upto - done);
		done = upto;
		a = b;
	}
}

int meter_parse_time(const char *s, int64_t *t)
{
	struct tm back;
	int y, mo, d = 1, h = 0, mi = 0, sec = 0, n = -1;
	time_t tt;

	if (!(sscanf(s, "%4d-%2d%n", &y, &mo, &n) == 2 && n == 7 && !s[n]) &&
	    !(sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10 && !s[n]) &&
	    !(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
		     &n) == 6 && n == 20 && !s[n]))
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    sec > 59 || h < 0 || mi < 0 || sec < 0)
		return -1;
	tt = timegm(&(struct tm){ .tm_year = y - 1900, .tm_mon = mo - 1,
		.tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec });
	gmtime_r(&tt, &back);
	if (back.tm_mday != d || back.tm_mon != mo - 1)  /* 2026-02-30 */
		return -1;
	*t = (int64_t)tt;
	return 0;
}

void meter_format_time(int64_t t, char *buf, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *const gran_names[] = { "hour", "day", "month" };

int meter_gran_from_name(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, gran_names[i]))
			return i;
	return -1;
}

int meter_period_check(int64_t from, int64_t to, enum meter_gran g,
		       char *why, size_t cap)
{
	char a[32], b[32];

	meter_format_time(from, a, sizeof a);
	meter_format_time(to, b, sizeof b);
	if (to <= from) {
		snprintf(why, cap, "'to' (%s) must come after 'from' (%s)", b, a);
		return -1;
	}
	if (meter_period_start(from, g) != from || meter_period_start(to, g) != to) {
		snprintf(why, cap, "'from' (%s) and 'to' (%s) must each start "
			 "a%s %s", a, b, g == METER_HOUR ? "n" : "", gran_names[g]);
		return -1;
	}
	if (to - from > METER_MAX_SECONDS) {
		snprintf(why, cap, "the period %s to %s is longer than %d years; "
			 "ask for it in parts", a, b, METER_MAX_YEARS);
		return -1;
	}
	return 0;
}
