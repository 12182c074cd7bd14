/* Unit tests for daemon/qimg.c: the progress qemu-img convert -p prints,
 * read in whatever pieces the pipe gives, and the sizes users type. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/qimg.h"

static double parse(const char *s, size_t *used)
{
	return qimg_parse_progress(s, strlen(s), used);
}

static void test_progress_last_wins(void **state)
{
	const char *out = "    (0.00/100%)\r    (1.01/100%)\r    (12.50/100%)\r";
	size_t used;

	(void)state;
	assert_true(parse(out, &used) == 12.5);
	assert_int_equal(used, strlen(out) - 1);  /* up to its ')' */
	assert_true(parse("    (100.00/100%)\r", &used) == 100.0);
}

static void test_progress_partial_tail_kept(void **state)
{
	const char *out = "    (3.00/100%)\r    (4.5";
	size_t used;

	(void)state;
	assert_true(parse(out, &used) == 3.0);
	assert_memory_equal(out + used, "\r    (4.5", strlen(out) - used);
	/* the tail alone is no progress yet */
	assert_true(parse(out + used, &used) < 0);
	assert_int_equal(used, 0);
}

static void test_progress_garbage(void **state)
{
	size_t used;

	(void)state;
	assert_true(parse("", &used) < 0);
	assert_true(parse("(abc/100%)", &used) < 0);
	assert_true(parse("(1.2.3/100%)", &used) < 0);
	assert_true(parse("(150.00/100%)", &used) < 0);
	assert_true(parse("(/100%)", &used) < 0);
	assert_true(parse("(5.00/10%)", &used) < 0);
	/* a good one after garbage is still found */
	assert_true(parse("((x(7.25/100%)", &used) == 7.25);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(qimg_parse_size("1048576"), 1048576);
	assert_int_equal(qimg_parse_size("1K"), 1024);
	assert_int_equal(qimg_parse_size("512M"), 512LL << 20);
	assert_int_equal(qimg_parse_size("10G"), 10LL << 30);
	assert_int_equal(qimg_parse_size("10GiB"), 10LL << 30);
	assert_int_equal(qimg_parse_size("2tB"), 2LL << 40);
	assert_int_equal(qimg_parse_size("2tb"), -1);  /* as the schema says */
	assert_int_equal(qimg_parse_size("0"), 0);
	assert_int_equal(qimg_parse_size(""), -1);
	assert_int_equal(qimg_parse_size("-1"), -1);
	assert_int_equal(qimg_parse_size("12Q"), -1);
	assert_int_equal(qimg_parse_size("1GX"), -1);
	assert_int_equal(qimg_parse_size(" 1G"), -1);
	assert_int_equal(qimg_parse_size("99999999999T"), -1);
	assert_int_equal(qimg_parse_size("4611686018427387905"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_last_wins),
		cmocka_unit_test(test_progress_partial_tail_kept),
		cmocka_unit_test(test_progress_garbage),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
