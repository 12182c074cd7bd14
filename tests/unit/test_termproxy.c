/* The gateway's termproxy parser (byte by byte and whole, the ticket
 * line, bad numbers) and the websocket accept key (RFC 6455's example). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "gateway/termproxy.h"
#include "gateway/ws.h"

struct seen {
	char data[256];
	size_t n;
	char resizes[64];
};

static void on_data(void *arg, const uint8_t *p, size_t n)
{
	struct seen *s = arg;

	assert_true(s->n + n <= sizeof s->data);
	memcpy(s->data + s->n, p, n);
	s->n += n;
}

static void on_resize(void *arg, unsigned long cols, unsigned long rows)
{
	struct seen *s = arg;
	size_t l = strlen(s->resizes);

	snprintf(s->resizes + l, sizeof s->resizes - l, "%lux%lu;", cols, rows);
}

static const struct tp_cbs cbs = {on_data, on_resize};

/* A parser past the ticket line "user:ticket\n". */
static void ticketed(struct tp *tp)
{
	const char *ticket;
	size_t used;

	tp_init(tp);
	assert_int_equal(tp_ticket(tp, (const uint8_t *)"u:t\n", 4, &used,
				   &ticket), 1);
	assert_string_equal(ticket, "t");
}

static const char STREAM[] = "0:5:ab\ncd1:80:24:22220:0:0:3:x:y1:132:43:";

/* The same stream split at every length gives the same result. */
static void test_stream_any_split(void **state)
{
	(void)state;
	for (size_t step = 1; step <= sizeof STREAM - 1; step++) {
		struct tp tp;
		struct seen s = {0};
		const char *ticket;
		size_t used;

		tp_init(&tp);
		assert_int_equal(tp_ticket(&tp, (const uint8_t *)"root@pam:", 9,
					   &used, &ticket), 0);
		assert_int_equal(tp_ticket(&tp, (const uint8_t *)"vmd_x\n0", 7,
					   &used, &ticket), 1);
		assert_int_equal(used, 6);
		assert_string_equal(ticket, "vmd_x");
		for (size_t i = 0; i < sizeof STREAM - 1; i += step) {
			size_t n = sizeof STREAM - 1 - i < step ?
				   sizeof STREAM - 1 - i : step;
			assert_int_equal(tp_feed(&tp, (const uint8_t *)STREAM + i,
						 n, &cbs, &s), 0);
		}
		assert_int_equal(s.n, 8);
		assert_memory_equal(s.data, "ab\ncdx:y", 8);
		assert_string_equal(s.resizes, "80x24;132x43;");
	}
}

static void test_bad_numbers(void **state)
{
	static const char *const bad[] = {"0:x:", "0::", "1:80:-1:",
					  "0:1234567890:"};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct tp tp;
		struct seen s = {0};

		ticketed(&tp);
		assert_int_equal(tp_feed(&tp, (const uint8_t *)bad[i],
					 strlen(bad[i]), &cbs, &s), -1);
	}
}

static void test_bad_ticket(void **state)
{
	char big[TP_LINE_MAX + 1];
	struct tp tp;
	const char *ticket;
	size_t used;

	(void)state;
	tp_init(&tp);
	assert_int_equal(tp_ticket(&tp, (const uint8_t *)"nocolon\n", 8,
				   &used, &ticket), -1);
	tp_init(&tp);
	assert_int_equal(tp_ticket(&tp, (const uint8_t *)"a\0:b\n", 5,
				   &used, &ticket), -1);
	memset(big, 'a', sizeof big);
	tp_init(&tp);
	assert_int_equal(tp_ticket(&tp, (const uint8_t *)big, sizeof big,
				   &used, &ticket), -1);
}

static void test_accept_key(void **state)
{
	char out[29];

	(void)state;
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_any_split),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_bad_ticket),
		cmocka_unit_test(test_accept_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
