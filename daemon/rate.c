/* Rating arithmetic (see rate.h). */
#include "config.h"
#include <stdio.h>
#include "daemon/rate.h"

typedef unsigned __int128 u128;

static int valid(const struct rate_line *l)
{
	return l->unit && l->month > 0 && l->seg >= 0 && l->seg <= l->month &&
	       l->price >= 0 && l->incl >= 0;
}

int rate_amount(const struct rate_line *l, int64_t *amount)
{
	u128 used, allow, den, num;

	if (!valid(l))
		return -1;
	/* everything times month, so the prorated allowance is whole */
	used = (u128)l->q * (u128)l->month;
	allow = (u128)l->incl * l->unit * (u128)l->seg;
	if (used <= allow) {
		*amount = 0;
		return 0;
	}
	den = (u128)l->unit * (u128)l->month;
	if ((used - allow) > ~(u128)0 / ((u128)l->price + 1) / 2)
		return -1;
	num = (used - allow) * (u128)l->price;
	num = (2 * num + den) / (2 * den);      /* half up */
	if (num > INT64_MAX)
		return -1;
	*amount = (int64_t)num;
	return 0;
}

void rate_decimal(u128 num, u128 den, char *buf, size_t cap)
{
	u128 micro = den ? (2 * num * 1000000 + den) / (2 * den) : 0;

	snprintf(buf, cap, "%llu.%06llu",
		 (unsigned long long)(micro / 1000000),
		 (unsigned long long)(micro % 1000000));
}

void rate_quantity(const struct rate_line *l, char *buf, size_t cap)
{
	rate_decimal(l->q, l->unit, buf, cap);
}

void rate_included(const struct rate_line *l, char *buf, size_t cap)
{
	rate_decimal((u128)l->incl * (u128)l->seg, (u128)l->month, buf, cap);
}
