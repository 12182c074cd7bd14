/* Rating arithmetic (daemon/rate.c): amounts checked against sums done
 * by hand, the allowance prorated to the second, rounding half up once,
 * and what does not fit refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/rate.h"

#define DEC (31 * 86400LL)     /* seconds of December */
#define GIB (1024ULL * 1024 * 1024)

static int64_t amount(struct rate_line l)
{
	int64_t a = -7;

	assert_int_equal(rate_amount(&l, &a), 0);
	return a;
}

static void vcpu_hours(void **state)
{
	(void)state;
	/* 2 vCPUs all of December: 1488 vCPU-hours at 3 cents = 4464 */
	assert_int_equal(amount((struct rate_line){ 2 * DEC, 3600, 3, 0, DEC, DEC }),
			 4464);
	/* 100 hours included: 1388 h * 3 = 4164 */
	assert_int_equal(amount((struct rate_line){ 2 * DEC, 3600, 3, 100, DEC, DEC }),
			 4164);
	/* allowance larger than use: nothing, never negative */
	assert_int_equal(amount((struct rate_line){ 3600, 3600, 3, 2, DEC, DEC }), 0);
}

static void rounding_half_up_once(void **state)
{
	(void)state;
	/* 1800 vCPU-seconds = 0.5 h at 1 cent: 0.5 rounds up to 1 */
	assert_int_equal(amount((struct rate_line){ 1800, 3600, 1, 0, DEC, DEC }), 1);
	/* 1799 s: 0.4997... rounds down */
	assert_int_equal(amount((struct rate_line){ 1799, 3600, 1, 0, DEC, DEC }), 0);
	/* 5400 s at 1 cent = 1.5 -> 2; at 3 cents = 4.5 -> 5 (not 2 * 3) */
	assert_int_equal(amount((struct rate_line){ 5400, 3600, 1, 0, DEC, DEC }), 2);
	assert_int_equal(amount((struct rate_line){ 5400, 3600, 3, 0, DEC, DEC }), 5);
}

static void allowance_prorated_to_the_second(void **state)
{
	char buf[40];
	/* 100 GiB included a month, a segment of 10 days 12:00:00 of 31 days:
	 * 100 * 907200 / 2678400 = 33.870967... GiB included; 50 GiB sent:
	 * 16.129032... GiB at 7 cents = 112.903... -> 113 */
	struct rate_line l = { 50 * GIB, GIB, 7, 100, 907200, DEC };

	assert_int_equal(amount(l), 113);
	rate_included(&l, buf, sizeof buf);
	assert_string_equal(buf, "33.870968");
	rate_quantity(&l, buf, sizeof buf);
	assert_string_equal(buf, "50.000000");
	/* one second more of segment: a little more included */
	l.seg++;
	assert_int_equal(amount(l), 113);
	l.incl = 148;   /* 148 * 907201 / 2678400 = 50.1288.. >= 50: nothing */
	assert_int_equal(amount(l), 0);
}

static void volume_gib_months(void **state)
{
	(void)state;
	/* a 20 GiB volume (20480 MiB) for 15 days of a 30-day month at 40
	 * cents a GiB-month: 20 * 0.5 * 40 = 400 */
	int64_t nov = 30 * 86400LL;
	assert_int_equal(amount((struct rate_line){ 20480ULL * 15 * 86400,
		1024ULL * nov, 40, 0, nov, nov }), 400);
}

static void refused(void **state)
{
	int64_t a;
	struct rate_line l = { UINT64_MAX, 1, 1000000000, 0, DEC, DEC };

	(void)state;
	assert_int_equal(rate_amount(&l, &a), -1);          /* too large */
	l = (struct rate_line){ 1, 0, 1, 0, DEC, DEC };
	assert_int_equal(rate_amount(&l, &a), -1);          /* no unit */
	l = (struct rate_line){ 1, 1, -1, 0, DEC, DEC };
	assert_int_equal(rate_amount(&l, &a), -1);          /* negative price */
	l = (struct rate_line){ 1, 1, 1, 0, DEC + 1, DEC };
	assert_int_equal(rate_amount(&l, &a), -1);          /* longer than month */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vcpu_hours),
		cmocka_unit_test(rounding_half_up_once),
		cmocka_unit_test(allowance_prorated_to_the_second),
		cmocka_unit_test(volume_gib_months),
		cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
