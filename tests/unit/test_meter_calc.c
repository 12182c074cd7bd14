/* Metering's arithmetic (daemon/meter_calc.c): UTC periods, counter
 * continuity, the exact split of a sample over the hours it spans, the
 * parsing of report periods and their bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/meter_calc.h"

#define H 3600
#define DEC2026 1796083200LL   /* 2026-12-01T00:00:00Z */
#define JAN2027 1798761600LL   /* 2027-01-01T00:00:00Z */

struct parts {
	int n;
	int64_t hour[64];
	uint64_t part[64];
};

static void collect(void *ctx, int64_t hour, uint64_t part)
{
	struct parts *p = ctx;

	assert_true(p->n < 64);
	p->hour[p->n] = hour;
	p->part[p->n++] = part;
}

static uint64_t sum(const struct parts *p)
{
	uint64_t s = 0;

	for (int i = 0; i < p->n; i++)
		s += p->part[i];
	return s;
}

static void test_periods(void **state)
{
	(void)state;
	assert_true(meter_period_start(DEC2026 + 5 * H + 17, METER_HOUR) ==
		    DEC2026 + 5 * H);
	assert_true(meter_period_start(DEC2026 + 30 * H, METER_DAY) ==
		    DEC2026 + 24 * H);
	assert_true(meter_period_start(JAN2027 - 1, METER_MONTH) == DEC2026);
	assert_true(meter_period_next(DEC2026, METER_MONTH) == JAN2027);
	/* February of a leap year, then of a common one */
	int64_t feb2028, mar2028, feb2027;
	assert_int_equal(meter_parse_time("2028-02", &feb2028), 0);
	assert_int_equal(meter_parse_time("2028-03-01T00:00:00Z", &mar2028), 0);
	assert_true(meter_period_next(feb2028, METER_MONTH) == mar2028);
	assert_true(mar2028 - feb2028 == 29 * 86400);
	assert_int_equal(meter_parse_time("2027-02", &feb2027), 0);
	assert_true(meter_period_next(feb2027, METER_MONTH) - feb2027 == 28 * 86400);
}

static void test_delta(void **state)
{
	(void)state;
	assert_true(meter_delta(100, 250) == 150);
	assert_true(meter_delta(0, 7) == 7);
	assert_true(meter_delta(250, 100) == 0);      /* stale or reset */
	assert_true(meter_delta(UINT64_MAX - 1, UINT64_MAX) == 1);
}

/* 60 s across an hour boundary, 30 s each side, odd amount: the
 * remainder goes to the later hour and the sum is exact. */
static void test_split_boundary(void **state)
{
	struct parts p = {0};

	(void)state;
	meter_split(JAN2027 - 30, JAN2027 + 30, 1001, collect, &p);
	assert_int_equal(p.n, 2);
	assert_true(p.hour[0] == JAN2027 - H && p.part[0] == 500);
	assert_true(p.hour[1] == JAN2027 && p.part[1] == 501);
	assert_true(sum(&p) == 1001);
}

/* Seconds are split exactly: an amount of k per second gives each hour
 * k times its seconds. */
static void test_split_seconds(void **state)
{
	struct parts p = {0};
	int64_t t0 = DEC2026 + 3000, t1 = DEC2026 + 3 * H + 100;

	(void)state;
	meter_split(t0, t1, (uint64_t)(t1 - t0) * 2048, collect, &p);
	assert_int_equal(p.n, 4);
	assert_true(p.part[0] == 600 * 2048);
	assert_true(p.part[1] == H * 2048 && p.part[2] == H * 2048);
	assert_true(p.part[3] == 100 * 2048);
}

/* Many spans, many amounts, huge ones too: the parts always sum to the
 * amount, none is empty, hours ascend (an hour whose share rounds to 0 has none). */
static void test_split_sums(void **state)
{
	static const uint64_t amounts[] = { 0, 1, 2, 3599, 3600, 3601, 999983,
		1ULL << 40, UINT64_MAX / 3, UINT64_MAX };
	(void)state;
	for (size_t a = 0; a < sizeof amounts / sizeof amounts[0]; a++)
		for (int64_t len = 1; len < 20 * H; len += 1187) {
			struct parts p = {0};
			meter_split(DEC2026 - 777, DEC2026 - 777 + len, amounts[a],
				    collect, &p);
			assert_true(sum(&p) == amounts[a]);
			for (int i = 0; i < p.n; i++) {
				assert_true(p.part[i] > 0);
				assert_true(i == 0 || p.hour[i] > p.hour[i - 1]);
				assert_true(p.hour[i] % H == 0);
			}
		}
}

/* Within one hour, or at an instant: one part, the whole amount. */
static void test_split_one_hour(void **state)
{
	struct parts p = {0};

	(void)state;
	meter_split(DEC2026 + 60, DEC2026 + 120, 12345, collect, &p);
	assert_true(p.n == 1 && p.hour[0] == DEC2026 && p.part[0] == 12345);
	p.n = 0;
	meter_split(DEC2026 + 10, DEC2026 + 10, 5, collect, &p);
	assert_int_equal(p.n, 1);
	assert_true(p.hour[0] == DEC2026 && p.part[0] == 5);
	p.n = 0;
	meter_split(DEC2026 + 10, DEC2026 + 5, 0, collect, &p);  /* clock stepped back */
	assert_int_equal(p.n, 0);
}

static void test_parse_time(void **state)
{
	int64_t t;
	char buf[32];

	(void)state;
	assert_int_equal(meter_parse_time("2026-12", &t), 0);
	assert_true(t == DEC2026);
	assert_int_equal(meter_parse_time("2026-12-31T23:59:59Z", &t), 0);
	assert_true(t == JAN2027 - 1);
	meter_format_time(t, buf, sizeof buf);
	assert_string_equal(buf, "2026-12-31T23:59:59Z");
	static const char *const bad[] = { "", "2026", "2026-13", "2026-00",
		"2026-02-30", "2026-12-01T24:00:00Z", "2026-12-01T00:00:00",
		"2026-12-01 00:00:00Z", "1969-12", "2026-1", "2026-12-01T00:00:00Zx",
		"-2026-12", "2026-12-1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(meter_parse_time(bad[i], &t), -1);
}

static void test_period_check(void **state)
{
	char why[256];
	int64_t from, to;

	(void)state;
	assert_int_equal(meter_period_check(DEC2026, JAN2027, METER_MONTH, why,
					    sizeof why), 0);
	assert_int_equal(meter_period_check(JAN2027, DEC2026, METER_MONTH, why,
					    sizeof why), -1);
	assert_non_null(strstr(why, "must come after"));
	assert_int_equal(meter_period_check(DEC2026, DEC2026, METER_DAY, why,
					    sizeof why), -1);
	assert_int_equal(meter_period_check(DEC2026 + H, JAN2027, METER_MONTH,
					    why, sizeof why), -1);
	assert_non_null(strstr(why, "must each start a month"));
	assert_int_equal(meter_period_check(DEC2026 + 60, JAN2027, METER_HOUR,
					    why, sizeof why), -1);
	assert_non_null(strstr(why, "an hour"));
	/* ten years exactly, then a month more */
	assert_int_equal(meter_parse_time("2016-12", &from), 0);
	assert_int_equal(meter_period_check(from, DEC2026, METER_MONTH, why,
					    sizeof why), 0);
	assert_int_equal(meter_parse_time("2016-11", &to), 0);
	assert_int_equal(meter_period_check(to, DEC2026, METER_MONTH, why,
					    sizeof why), -1);
	assert_non_null(strstr(why, "longer than 10 years"));
	assert_int_equal(meter_gran_from_name("day"), METER_DAY);
	assert_int_equal(meter_gran_from_name("week"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periods), cmocka_unit_test(test_delta),
		cmocka_unit_test(test_split_one_hour),
		cmocka_unit_test(test_split_boundary),
		cmocka_unit_test(test_split_seconds), cmocka_unit_test(test_split_sums),
		cmocka_unit_test(test_parse_time), cmocka_unit_test(test_period_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
