/* Base64: RFC 4648 test vectors, every byte value, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "rpc/base64.h"

static void test_vectors(void **state)
{
	static const char *const v[][2] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *e = base64_encode(v[i][0], strlen(v[i][0]));
		size_t n;
		char *d = base64_decode(v[i][1], &n);
		assert_string_equal(e, v[i][1]);
		assert_non_null(d);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(d, v[i][0], n);
		free(e);
		free(d);
	}
}

static void test_all_bytes(void **state)
{
	unsigned char in[256 * 3 + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 7);
	for (size_t len = 0; len <= sizeof in; len += 97) {
		char *e = base64_encode(in, len);
		unsigned char *d = base64_decode(e, &n);
		assert_non_null(d);
		assert_int_equal(n, len);
		assert_memory_equal(d, in, len);
		free(e);
		free(d);
	}
}

static void test_bad_input(void **state)
{
	static const char *const bad[] = {"Zg=", "Z===", "Zg==Zg==", "Zm9v\n",
					  "Zm*v", "=Zm9"};
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_null(base64_decode(bad[i], &n));
}

/* An output too big for memory is NULL (ENOMEM), not a write through
 * NULL.  The input is never read: the size alone cannot be allocated. */
static void test_encode_enomem(void **state)
{
	char one = 'x';

	(void)state;
#ifdef __SANITIZE_ADDRESS__
	skip();  /* ASan aborts on an impossible size instead of NULL */
#endif
	assert_null(base64_encode(&one, SIZE_MAX / 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_all_bytes),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_encode_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
