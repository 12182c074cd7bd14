/* MAC addresses: parsing and formatting, which addresses a NIC cannot
 * have, the address vmd derives for a NIC (stable, locally administered
 * unicast in 52:54:00, different per VM and per NIC), and the index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "daemon/mac.h"

static void test_parse_format(void **state)
{
	uint64_t m;
	char text[MAC_TEXT];

	(void)state;
	assert_int_equal(mac_parse("52:54:00:ab:CD:0f", &m), 0);
	assert_true(m == 0x525400abcd0fULL);
	mac_format(m, text);
	assert_string_equal(text, "52:54:00:ab:cd:0f");
	static const char *const bad[] = {
		"", "52:54:00:ab:cd", "52:54:00:ab:cd:0f:", "52-54-00-ab-cd-0f",
		"52:54:00:ab:cd:0g", "5:54:00:ab:cd:0f1", "52:54:00:ab:cd:0f0",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(mac_parse(bad[i], &m), -1);
}

static void test_problems(void **state)
{
	uint64_t m;

	(void)state;
	assert_null(mac_problem(0x525400123456ULL));
	assert_null(mac_problem(0x020000000001ULL));
	assert_non_null(mac_problem(0));
	assert_non_null(mac_problem(0xffffffffffffULL));
	mac_parse("01:00:5e:00:00:01", &m);  /* IPv4 multicast */
	assert_non_null(mac_problem(m));
	mac_parse("33:33:00:00:00:01", &m);  /* IPv6 multicast */
	assert_non_null(mac_problem(m));
}

#define VMS 2000
#define NICS 8

static void test_derive(void **state)
{
	static uint64_t seen[VMS * NICS];
	char uuid[37], text[MAC_TEXT];
	size_t n = 0, clashes = 0;

	(void)state;
	/* the same inputs give the same address: what the tests and users
	 * see today is what they see after any restart or upgrade */
	assert_true(mac_derive("0f8fad5b-d9cb-469f-a165-70867728950e", 0, 0) ==
		    mac_derive("0f8fad5b-d9cb-469f-a165-70867728950e", 0, 0));
	mac_format(mac_derive("0f8fad5b-d9cb-469f-a165-70867728950e", 0, 0), text);
	assert_string_equal(text, "52:54:00:3d:a5:b5"); /* by hand too */
	for (int v = 0; v < VMS; v++) {
		snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", v);
		for (unsigned i = 0; i < NICS; i++) {
			uint64_t m = mac_derive(uuid, i, 0);
			assert_true((m >> 24) == 0x525400);
			assert_null(mac_problem(m));
			assert_true(m != mac_derive(uuid, i, 1)); /* retries move */
			seen[n++] = m;
		}
	}
	/* different VMs and NICs spread over the 24 bits: with 16,000
	 * addresses in 2^24, about 8 pairs clash by chance; many more would
	 * mean the hash ignores part of its input */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			clashes += seen[i] == seen[j];
	assert_true(clashes < 40);
}

static void test_index(void **state)
{
	int a, b;

	(void)state;
	for (uint64_t m = 0; m < 5000; m++)
		assert_int_equal(mac_index_add(0x525400000000ULL + m, m % 2 ? &a : &b), 0);
	for (uint64_t m = 0; m < 5000; m++)
		assert_ptr_equal(mac_index_find(0x525400000000ULL + m), m % 2 ? &a : &b);
	assert_null(mac_index_find(0x525400100000ULL));
	mac_index_del(0x525400000001ULL, &b);   /* not b's: stays */
	assert_ptr_equal(mac_index_find(0x525400000001ULL), &a);
	mac_index_del(0x525400000001ULL, &a);
	assert_null(mac_index_find(0x525400000001ULL));
	mac_index_clear();
	assert_null(mac_index_find(0x525400000002ULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
