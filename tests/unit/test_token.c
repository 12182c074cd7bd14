/* daemon/token.c and daemon/authlimit.c: a token's text, its hash, the
 * secret checked with CRYPTO_memcmp (wrapped here, so a plain memcmp would
 * show), what each kind of scope allows, and the failed-attempt limiter
 * driven with a clock of the test's own. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/access.h"
#include "daemon/authlimit.h"
#include "daemon/token.h"

static int memcmp_calls;

int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
	memcmp_calls++;
	return __real_CRYPTO_memcmp(a, b, len);
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_hash_is_sha256(void **state)
{
	unsigned char secret[TOKEN_SECRET_BYTES], h[TOKEN_HASH_BYTES];
	char text[2 * TOKEN_HASH_BYTES + 1];

	(void)state;
	for (int i = 0; i < TOKEN_SECRET_BYTES; i++)
		secret[i] = (unsigned char)i;
	token_hash(secret, h);
	hex(h, sizeof h, text);
	/* python3: hashlib.sha256(bytes(range(32))).hexdigest() */
	assert_string_equal(text, "630dcd2966c4336691125448bbb25b4ff412a49c"
			    "732db2c8abc1b8581bd710dd");
}

static void test_text_round_trip(void **state)
{
	unsigned char secret[TOKEN_SECRET_BYTES], back[TOKEN_SECRET_BYTES];
	unsigned char other[TOKEN_SECRET_BYTES];
	char id[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];
	char text[TOKEN_TEXT_LEN + 1];

	(void)state;
	assert_int_equal(token_generate(id, secret), 0);
	assert_int_equal(token_generate(id2, other), 0);
	assert_string_not_equal(id, id2);
	assert_memory_not_equal(secret, other, sizeof secret);
	token_format(id, secret, text);
	assert_int_equal(strlen(text), TOKEN_TEXT_LEN);
	assert_int_equal(token_parse(text, id2, back), 0);
	assert_string_equal(id, id2);
	assert_memory_equal(secret, back, sizeof secret);
}

static void test_malformed_texts(void **state)
{
	unsigned char secret[TOKEN_SECRET_BYTES];
	char id[TOKEN_ID_LEN + 1], good[TOKEN_TEXT_LEN + 1], bad[TOKEN_TEXT_LEN + 2];

	(void)state;
	memset(secret, 0xab, sizeof secret);
	token_format("0123456789abcdef", secret, good);
	const struct { size_t at; char c; } edits[] = {
		{0, 'V'}, {3, '-'}, {4, 'g'}, {19, 'A'}, {20, '-'}, {21, 'z'},
		{TOKEN_TEXT_LEN - 1, 'G'},
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		strcpy(bad, good);
		bad[edits[i].at] = edits[i].c;
		assert_int_equal(token_parse(bad, id, secret), -1);
	}
	strcpy(bad, good);
	bad[TOKEN_TEXT_LEN - 1] = '\0';            /* one short */
	assert_int_equal(token_parse(bad, id, secret), -1);
	snprintf(bad, sizeof bad, "%sa", good);    /* one long */
	assert_int_equal(token_parse(bad, id, secret), -1);
	assert_int_equal(token_parse("", id, secret), -1);
}

static void test_secret_checked_in_constant_time(void **state)
{
	unsigned char secret[TOKEN_SECRET_BYTES];
	struct token t = {.kind = TOKEN_READ};

	(void)state;
	assert_int_equal(token_generate(t.id, secret), 0);
	token_hash(secret, t.hash);
	memcmp_calls = 0;
	assert_true(token_secret_ok(&t, secret));
	secret[31] ^= 1;
	assert_false(token_secret_ok(&t, secret));
	assert_int_equal(memcmp_calls, 2);
}

static struct token scoped(const char *json)
{
	struct token t = {.id = "00000000000000aa"};
	struct json_object *s = json_tokener_parse(json);
	char why[128];

	assert_non_null(s);
	assert_int_equal(token_set_scope(&t, s, why, sizeof why), 0);
	json_object_put(s);
	return t;
}

static bool permits(struct token *t, const char *cmd, int need,
		    const char *op, const char *vm)
{
	char why[256] = "";
	bool ok = token_permits(t, cmd, need, op, vm, why, sizeof why);

	assert_true(ok || why[0]);  /* a refusal always says why */
	return ok;
}

static void test_scopes(void **state)
{
	struct token admin = scoped("\"admin\""), read = scoped("\"read\"");
	struct token vms = scoped("[{\"vm\": \"web1\", \"allow\": [\"console\"]},"
				  " {\"vm\": \"web2\", \"allow\": [\"show\", "
				  "\"power\"]}]");

	(void)state;
	assert_true(permits(&admin, "vm-define", ROLE_ADMIN, NULL, NULL));
	assert_true(permits(&read, "vm-show", ROLE_READ, "show", "web9"));
	assert_false(permits(&read, "vm-stop", ROLE_ADMIN, "power", "web1"));
	assert_false(permits(&read, "token-create", ROLE_ADMIN, NULL, NULL));
	/* VM-scoped: its VMs, its operations, "console" includes "watch" */
	assert_true(permits(&vms, "console-attach", ROLE_READ, "watch", "web1"));
	assert_true(permits(&vms, "console-read", ROLE_READ, "watch", "web1"));
	assert_false(permits(&vms, "console-attach", ROLE_READ, "watch", "web2"));
	assert_false(permits(&vms, "vm-stop", ROLE_ADMIN, "power", "web1"));
	assert_true(permits(&vms, "vm-stop", ROLE_ADMIN, "power", "web2"));
	assert_false(permits(&vms, "vm-show", ROLE_READ, "show", "web3"));
	assert_true(permits(&vms, "vm-list", ROLE_READ, "list", NULL));
	assert_true(permits(&vms, "query-schema", ROLE_READ, "any", NULL));
	assert_false(permits(&vms, "query-host", ROLE_READ, NULL, NULL));
	assert_false(permits(&vms, "volume-delete", ROLE_ADMIN, NULL, NULL));
	assert_false(permits(&vms, "vm-show", ROLE_READ, "show", NULL));
	/* typing: "console" only, never read */
	assert_true(token_allows(&vms, "web1", "console"));
	assert_false(token_allows(&vms, "web2", "console"));
	assert_false(token_allows(&read, "web1", "console"));
	assert_true(token_sees_vm(&vms, "web2"));
	assert_false(token_sees_vm(&vms, "web3"));
	assert_true(token_sees_vm(&read, "web3"));
	token_clear(&admin);
	token_clear(&read);
	token_clear(&vms);
}

static void test_scope_refusals(void **state)
{
	struct token t = {.id = "00000000000000aa"};
	struct json_object *s = json_tokener_parse(
		"[{\"vm\": \"a\", \"allow\": [\"show\"]}, "
		"{\"vm\": \"a\", \"allow\": [\"power\"]}]");
	char why[128];

	(void)state;
	assert_int_equal(token_set_scope(&t, s, why, sizeof why), -1);
	assert_non_null(strstr(why, "scope[1].vm"));
	json_object_put(s);
	s = json_object_new_array();
	assert_int_equal(token_set_scope(&t, s, why, sizeof why), -1);
	json_object_put(s);
	assert_null(t.scope);
}

static void test_state(void **state)
{
	struct token t = {.expires = 100};

	(void)state;
	assert_string_equal(token_state(&t, 99), "active");
	assert_string_equal(token_state(&t, 100), "expired");
	t.revoked = 50;
	assert_string_equal(token_state(&t, 10), "revoked");
	t = (struct token){0};
	assert_string_equal(token_state(&t, 1 << 30), "active");
}

static void test_limiter(void **state)
{
	double now = 1000.0;

	(void)state;
	authlimit_reset();
	for (int i = 0; i < AUTHLIMIT_BURST; i++) {
		assert_int_equal(authlimit_wait(7, now), 0);
		authlimit_fail(7, now);
	}
	assert_true(authlimit_wait(7, now) >= 1);
	assert_int_equal(authlimit_wait(8, now), 0);      /* others are not */
	/* one failure back per AUTHLIMIT_REFILL seconds */
	assert_true(authlimit_wait(7, now + AUTHLIMIT_REFILL / 2) >= 1);
	assert_int_equal(authlimit_wait(7, now + AUTHLIMIT_REFILL), 0);
	authlimit_fail(7, now + AUTHLIMIT_REFILL);
	assert_true(authlimit_wait(7, now + AUTHLIMIT_REFILL) >= 1);
	/* the wait it announces is enough */
	int w = authlimit_wait(7, now + AUTHLIMIT_REFILL);
	assert_int_equal(authlimit_wait(7, now + AUTHLIMIT_REFILL + w), 0);
	/* full after BURST * REFILL seconds */
	now += 2 * AUTHLIMIT_REFILL + AUTHLIMIT_BURST * AUTHLIMIT_REFILL;
	for (int i = 0; i < AUTHLIMIT_BURST; i++)
		authlimit_fail(7, now);
	assert_true(authlimit_wait(7, now) >= 1);
}

static void test_limiter_table_is_bounded(void **state)
{
	(void)state;
	authlimit_reset();
	for (int i = 0; i < AUTHLIMIT_BURST; i++)
		authlimit_fail(1, 0.0);
	/* many peers failing once each: the locked-out one is kept */
	for (uid_t u = 100; u < 100 + 4 * AUTHLIMIT_PEERS; u++)
		authlimit_fail(u, 0.0);
	assert_true(authlimit_wait(1, 0.0) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_sha256),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_malformed_texts),
		cmocka_unit_test(test_secret_checked_in_constant_time),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_scope_refusals),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_limiter),
		cmocka_unit_test(test_limiter_table_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
