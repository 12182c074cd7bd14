/* Unit tests of rpc/stream.c: QMP framing is a stream of JSON values with
 * or without separators, split anywhere by the socket, capped in size,
 * resynchronising after garbage, strict about member names, keeping the
 * exact text of ids, and able to hand over the bytes that follow a
 * message when a connection turns into a raw console. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rpc/stream.h"

static void push_str(struct rpc_stream *s, const char *str)
{
	assert_int_equal(rpc_stream_push(s, str, strlen(str)), 0);
}

/* The next value, which must be there, as compact JSON text (malloc'd). */
static char *next_text(struct rpc_stream *s)
{
	struct json_object *v = NULL;
	char err[128];
	char *txt;

	assert_int_equal(rpc_stream_next(s, &v, err, sizeof(err)), RPC_STREAM_VALUE);
	txt = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	json_object_put(v);
	return txt;
}

static void want_value(struct rpc_stream *s, const char *want)
{
	char *got = next_text(s);

	assert_string_equal(got, want);
	free(got);
}

static void want_more(struct rpc_stream *s)
{
	struct json_object *v = (struct json_object *)s; /* must be reset */

	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_MORE);
	assert_null(v);
}

static void test_back_to_back(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, "{\"a\":1}{\"b\":\"}{\"}{\"c\":[1,{}]}");
	want_value(s, "{\"a\":1}");
	want_value(s, "{\"b\":\"}{\"}");
	want_value(s, "{\"c\":[1,{}]}");
	want_more(s);
	assert_int_equal(rpc_stream_pending(s), 0);
	rpc_stream_free(s);
}

static void test_whitespace_separated(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, " \n\t{ \"a\" : 1 }\n\n  \r\n{\"b\":2}\r\n   ");
	want_value(s, "{\"a\":1}");
	want_value(s, "{\"b\":2}");
	want_more(s);
	push_str(s, "\n\n");
	want_more(s);
	push_str(s, "{}\n");
	want_value(s, "{}");
	want_more(s);
	rpc_stream_free(s);
}

static void test_byte_by_byte(void **state)
{
	const char *in = "{\"execute\":\"vm-start\",\"arguments\":{\"vm\":\"w\\u00e9b\\n1\"},"
			 "\"id\":7}  {\"return\":{\"list\":[1,2.5,true,null,\"\\\"\"]}}\n"
			 "{\"event\":\"X\"}";
	const char *want[] = {
		"{\"execute\":\"vm-start\",\"arguments\":{\"vm\":\"w\xc3\xa9" "b\\n1\"},\"id\":7}",
		"{\"return\":{\"list\":[1,2.5,true,null,\"\\\"\"]}}",
		"{\"event\":\"X\"}",
	};
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	size_t got = 0;

	for (size_t i = 0; in[i]; i++) {
		struct json_object *v;
		enum rpc_stream_status st;

		assert_int_equal(rpc_stream_push(s, &in[i], 1), 0);
		while ((st = rpc_stream_next(s, &v, NULL, 0)) == RPC_STREAM_VALUE) {
			assert_true(got < 3);
			assert_string_equal(json_object_to_json_string_ext(v,
					    JSON_C_TO_STRING_PLAIN), want[got]);
			json_object_put(v);
			got++;
		}
		assert_int_equal(st, RPC_STREAM_MORE);
	}
	assert_int_equal(got, 3);
	rpc_stream_free(s);
}

static void test_partial_across_pushes(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, "{\"execute\": \"vm-st");
	want_more(s);
	push_str(s, "art\", \"arguments\": {\"vm\"");
	want_more(s);
	push_str(s, ": \"web1\"}}{\"x\"");
	want_value(s, "{\"execute\":\"vm-start\",\"arguments\":{\"vm\":\"web1\"}}");
	want_more(s);
	push_str(s, ":1");
	want_more(s);
	push_str(s, "}");
	want_value(s, "{\"x\":1}");
	want_more(s);
	rpc_stream_free(s);
}

/* Values of exactly the cap pass, one byte more does not, whatever follows. */
static void test_oversize_complete(void **state)
{
	struct rpc_stream *s = rpc_stream_new(16);
	struct json_object *v;
	char err[128];

	push_str(s, "{\"a\":\"123456789\"}\n");  /* 17 bytes */
	assert_int_equal(rpc_stream_next(s, &v, err, sizeof(err)), RPC_STREAM_TOO_BIG);
	assert_null(v);
	assert_non_null(strstr(err, "exceeds 16 bytes"));
	assert_int_equal(rpc_stream_pending(s), 0);

	push_str(s, "{\"a\":\"12345678\"}\n");   /* exactly 16 */
	want_value(s, "{\"a\":\"12345678\"}");
	push_str(s, "  {\"a\":\"12345678\"}{\"a\":\"12345678\"}");
	want_value(s, "{\"a\":\"12345678\"}");
	want_value(s, "{\"a\":\"12345678\"}");
	push_str(s, "{\"a\":\"123456789\"}");    /* 17, nothing after */
	assert_int_equal(rpc_stream_next(s, &v, err, sizeof(err)), RPC_STREAM_TOO_BIG);
	rpc_stream_free(s);
}

/* An endless value is refused once it passes the cap, before it ends, and
 * nothing of it stays buffered. */
static void test_oversize_incomplete(void **state)
{
	struct rpc_stream *s = rpc_stream_new(64);
	struct json_object *v;
	char chunk[10];
	int status = RPC_STREAM_MORE, pushes = 0;

	push_str(s, "{\"a\":\"");
	memset(chunk, 'x', sizeof(chunk));
	while (status == RPC_STREAM_MORE && pushes < 100) {
		assert_int_equal(rpc_stream_push(s, chunk, sizeof(chunk)), 0);
		pushes++;
		status = rpc_stream_next(s, &v, NULL, 0);
		assert_true(rpc_stream_pending(s) <= sizeof(chunk));
	}
	assert_int_equal(status, RPC_STREAM_TOO_BIG);
	/* 6 + 10 * 6 = 66 > 64: the seventh push at the latest */
	assert_true(pushes <= 6);
	assert_int_equal(rpc_stream_pending(s), 0);

	/* 64 bytes seen, still open: not yet over the cap */
	push_str(s, "{\"a\":\"");
	for (int i = 0; i < 5; i++)
		assert_int_equal(rpc_stream_push(s, chunk, sizeof(chunk)), 0);
	push_str(s, "xxxxxxxx");
	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_MORE);
	push_str(s, "\"");
	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_TOO_BIG);
	rpc_stream_free(s);
}

static void want_bad(struct rpc_stream *s, const char *in, const char *msg)
{
	struct json_object *v;
	char err[128] = "";

	push_str(s, in);
	assert_int_equal(rpc_stream_next(s, &v, err, sizeof(err)), RPC_STREAM_BAD_JSON);
	assert_null(v);
	assert_non_null(strstr(err, "JSON parse error at line "));
	if (msg != NULL)
		assert_non_null(strstr(err, msg));
	/* usable again: a line end always resynchronises */
	push_str(s, "\n{\"ok\":true}");
	want_value(s, "{\"ok\":true}");
	want_more(s);
}

static void test_bad_json_recovery(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	want_bad(s, "{\"a\" 1}", "line 1, column 6");
	want_bad(s, "}", "line 2, column 1");
	want_bad(s, "{\"a\":1,}", NULL);
	want_bad(s, "{\"a\":\"\xff\"}", NULL);          /* invalid UTF-8 */
	assert_int_equal(rpc_stream_push(s, "{\"a\":\"x\0y\"}", 11), 0);
	assert_int_equal(rpc_stream_next(s, &(struct json_object *){NULL}, NULL, 0),
			 RPC_STREAM_BAD_JSON);
	/* bad input after a good value: the good one still comes out */
	push_str(s, "{\"good\":1} nonsense");
	want_value(s, "{\"good\":1}");
	want_bad(s, "", NULL);
	rpc_stream_free(s);
}

/* UTF-8 is checked strictly and across reads: a character split between
 * two pushes is fine, overlong forms and surrogates are not, and valid
 * text right after a value belongs to what follows. */
static void want_member(struct rpc_stream *s, const char *key, const char *want)
{
	struct json_object *v = NULL, *m;

	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_VALUE);
	assert_true(json_object_object_get_ex(v, key, &m));
	assert_string_equal(json_object_get_string(m), want);
	json_object_put(v);
}

static void test_utf8(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	char rest[8];

	push_str(s, "{\"vm\":\"caf\xc3");
	assert_int_equal(rpc_stream_next(s, &(struct json_object *){NULL}, NULL, 0),
			 RPC_STREAM_MORE);
	push_str(s, "\xa9\"}");
	want_member(s, "vm", "caf\xc3\xa9");
	want_bad(s, "{\"a\":\"\xc0\x80\"}", "invalid UTF-8");   /* overlong NUL */
	want_bad(s, "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8"); /* surrogate */
	want_bad(s, "{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"); /* > U+10FFFF */
	push_str(s, "{\"a\":\"\xf0\x9f\x98\x80\"} \xc3\xa9");  /* emoji, then é */
	want_member(s, "a", "\xf0\x9f\x98\x80");
	assert_int_equal(rpc_stream_take_rest(s, rest, sizeof rest), 3);
	assert_memory_equal(rest, " \xc3\xa9", 3);
	rpc_stream_free(s);
}

static void test_too_deep(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	char deep[1001];

	memset(deep, '[', 1000);
	deep[1000] = '\0';
	want_bad(s, deep, NULL);
	rpc_stream_free(s);
}

static void test_take_rest(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	char buf[64];
	size_t n;

	/* the message's own "\n" is not console output, what follows is */
	push_str(s, "{\"return\":{}}\n\n  login: \r\n");
	want_value(s, "{\"return\":{}}");
	assert_int_equal(rpc_stream_pending(s), 12);
	n = rpc_stream_take_rest(s, buf, sizeof(buf));
	assert_int_equal(n, 12);
	assert_memory_equal(buf, "\n  login: \r\n", 12);
	assert_int_equal(rpc_stream_pending(s), 0);
	rpc_stream_free(s);

	/* QEMU-style "\r\n" line end; partial takes; raw bytes not JSON */
	s = rpc_stream_new(RPC_MAX_MSG);
	push_str(s, "{\"return\":{},\"id\":1}\r\n}{\x01raw");
	want_value(s, "{\"return\":{},\"id\":1}");
	n = rpc_stream_take_rest(s, buf, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "}{\x01", 3);
	push_str(s, "\nmore");
	n = rpc_stream_take_rest(s, buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "raw\nmore", 8);
	rpc_stream_free(s);

	/* no line end: the very next byte is the first raw one */
	s = rpc_stream_new(RPC_MAX_MSG);
	push_str(s, "{\"a\":1} x");
	want_value(s, "{\"a\":1}");
	n = rpc_stream_take_rest(s, buf, sizeof(buf));
	assert_int_equal(n, 2);
	assert_memory_equal(buf, " x", 2);
	rpc_stream_free(s);
}

/* Non-objects are returned (the message layer rejects them); a number is
 * only complete once a delimiter arrives. */
static void test_top_level_values(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, "\"str\" [1,2] 42");
	want_value(s, "\"str\"");
	want_value(s, "[1,2]");
	want_more(s);
	push_str(s, "\n");
	want_value(s, "42");
	push_str(s, "7{}");
	want_value(s, "7");
	want_value(s, "{}");
	rpc_stream_free(s);
}

/* What reading in pushed as two reads, split at k, gives up to the first
 * parse error (what follows it is test_resync's matter):
 * each value as compact JSON, "!" for the error, "+" for bytes still
 * waiting at the end. */
static void read_split(const char *in, size_t k, char *out, size_t cap)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	enum rpc_stream_status st = RPC_STREAM_MORE;
	size_t len = strlen(in);

	out[0] = '\0';
	for (int part = 0; part < 2 && st != RPC_STREAM_BAD_JSON; part++) {
		struct json_object *v;

		assert_int_equal(rpc_stream_push(s, part ? in + k : in,
						 part ? len - k : k), 0);
		while ((st = rpc_stream_next(s, &v, NULL, 0)) == RPC_STREAM_VALUE) {
			const char *t = json_object_to_json_string_ext(v,
						JSON_C_TO_STRING_PLAIN);

			assert_true(strlen(out) + strlen(t) + 2 < cap);
			strcat(strcat(out, t), " ");
			json_object_put(v);
		}
	}
	if (st == RPC_STREAM_BAD_JSON)
		strcat(out, "!");
	else if (rpc_stream_pending(s) > 0)
		strcat(out, "+");
	rpc_stream_free(s);
}

/* A number split between two reads: json-c would take a '-' that starts
 * the second read as part of the number ("2" then "-{...}" gave 2 and
 * then the object, {"a":1-2} was {"a":1}).  Wherever the split falls, the
 * result is what the bytes read at once give; holding a number back must
 * not hold back the byte that ends a literal before it. */
static void test_number_split(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "2-{\"execute\":\"vm-list\"}\n", "2 !" },
		{ "{\"a\":1-2}{\"b\":3}", "!" },
		{ "[-1.5e-3,-0,10E+2] -7 ", "[-1.5e-3,0,10E+2] -7 " },
		{ "-1-1 ", "-1 -1 " },
		{ "[1,2--3]", "!" },
		{ "{\"n\":12}[true,false,\"1e-5\"]{}",
		  "{\"n\":12} [true,false,\"1e-5\"] {} " },
		{ "42", "+" },
		/* a literal ends at the byte after it, here a digit */
		{ "true5", "true +" },
		{ "[null,-1,false]0 ", "[null,-1,false] 0 " },
		{ "{\"a\":[true,null]}-1", "{\"a\":[true,null]} +" },
	};
	char whole[256], split[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		read_split(cases[i].in, 0, whole, sizeof whole);
		assert_string_equal(whole, cases[i].want);
		for (size_t k = 1; k < strlen(cases[i].in); k++) {
			read_split(cases[i].in, k, split, sizeof split);
			assert_string_equal(split, whole);
		}
	}
}

static void test_large_value_within_cap(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	size_t big = RPC_MAX_MSG - 16;
	char *msg = malloc(big + 1);
	struct json_object *v;

	memcpy(msg, "{\"a\":\"", 6);
	memset(msg + 6, 'y', big - 8);
	memcpy(msg + big - 2, "\"}", 2);
	msg[big] = '\0';
	for (size_t off = 0; off < big; off += 4000) {
		size_t n = big - off < 4000 ? big - off : 4000;

		assert_int_equal(rpc_stream_push(s, msg + off, n), 0);
		if (off + n < big)
			assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_MORE);
	}
	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_VALUE);
	assert_int_equal(json_object_get_string_len(json_object_object_get(v, "a")),
			 big - 8);
	json_object_put(v);
	free(msg);
	rpc_stream_free(s);
}

/* Everything read from in, pushed in two parts split at k: each value as
 * compact JSON, "!" for a parse error, "R" for a refused value. */
static void read_all(const char *in, size_t k, char *out, size_t cap)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	size_t len = strlen(in);
	enum rpc_stream_status st;

	out[0] = '\0';
	for (int part = 0; part < 2; part++) {
		struct json_object *v;

		assert_int_equal(rpc_stream_push(s, part ? in + k : in,
						 part ? len - k : k), 0);
		while ((st = rpc_stream_next(s, &v, NULL, 0)) != RPC_STREAM_MORE) {
			const char *t = st == RPC_STREAM_VALUE ?
				json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) :
				st == RPC_STREAM_REFUSED ? "R" : "!";

			assert_true(st != RPC_STREAM_TOO_BIG);
			assert_true(strlen(out) + strlen(t) + 2 < cap);
			strcat(strcat(out, t), " ");
			json_object_put(v);
		}
	}
	rpc_stream_free(s);
}

/* After malformed input the stream answers one error and reads on: from
 * the next line, or the next '{' or '[' outside the broken value (brackets
 * counted outside strings), wherever the reads were split.  Before, every
 * byte buffered after the fault was dropped ("{"lost":1}" was lost). */
static void test_resync(void **state)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "{\"a\" 1}{\"lost\":1}", "! {\"lost\":1} " },
		{ "{\"execute\": \"vm-list\",, }\n{\"id\":1}", "! {\"id\":1} " },
		{ "{\"a\":, \"b\": {\"c\":1}}{\"d\":2}", "! {\"d\":2} " },
		{ "nonsense\n{\"e\":3}", "! {\"e\":3} " },
		{ "nonsense {\"e\":3}", "! {\"e\":3} " },
		{ "{\"s\":\"\\x\"} {\"f\":4}", "! {\"f\":4} " },
		{ "{\"s\":\"a{b[\"  x} {\"g\":5}", "! {\"g\":5} " },
		{ "}}]] {\"h\":6}", "! {\"h\":6} " },
		{ "{\"a\":[1,}\n[2]", "! [2] " },
		{ "{\"u\":\"\xff\"} {\"i\":7}", "! {\"i\":7} " },
		{ "{\"a\":1,\"a\":2}{\"j\":8}", "R {\"j\":8} " },
		{ "{\"c\":\"x\ty\"}{\"k\":9}", "! {\"k\":9} " },
	};
	char whole[256], split[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		read_all(cases[i].in, 0, whole, sizeof whole);
		assert_string_equal(whole, cases[i].want);
		for (size_t k = 1; k < strlen(cases[i].in); k++) {
			read_all(cases[i].in, k, split, sizeof split);
			assert_string_equal(split, whole);
		}
	}
}

static void want_status(struct rpc_stream *s, const char *in,
			enum rpc_stream_status want, const char *msg)
{
	struct json_object *v = NULL;
	char err[256] = "";

	push_str(s, in);
	assert_int_equal(rpc_stream_next(s, &v, err, sizeof(err)), want);
	assert_null(v);
	if (strstr(err, msg) == NULL)
		fail_msg("error '%s' does not say '%s'", err, msg);
}

/* Errors say where: line and column over the whole stream. */
static void test_error_position(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, "{\"a\":1}\n{\"b\":2}\n");
	want_value(s, "{\"a\":1}");
	want_value(s, "{\"b\":2}");
	want_status(s, "{\"c\":\n  ,}", RPC_STREAM_BAD_JSON, "line 4, column 3:");
	want_status(s, "\n\n   [1,2,,]", RPC_STREAM_BAD_JSON,
		    "line 6, column 9:");
	want_status(s, "\n{\"d\":\"\xc3\x28\"}", RPC_STREAM_BAD_JSON,
		    "line 7, column 8: invalid UTF-8");
	rpc_stream_free(s);
}

/* RFC 8259 8.1: a byte order mark may start the stream; it is skipped
 * (before, it was a parse error).  Anywhere else it is not JSON. */
static void test_bom(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	push_str(s, "\xEF\xBB\xBF{\"a\":1}");
	want_value(s, "{\"a\":1}");
	want_status(s, "\xEF\xBB\xBF{}", RPC_STREAM_BAD_JSON, "line 1, column 8:");
	rpc_stream_free(s);

	/* split anywhere */
	s = rpc_stream_new(RPC_MAX_MSG);
	push_str(s, "\xEF");
	want_more(s);
	push_str(s, "\xBB");
	want_more(s);
	push_str(s, "\xBF");
	want_more(s);
	push_str(s, " {\"b\":2}");
	want_value(s, "{\"b\":2}");
	rpc_stream_free(s);

	/* half a BOM is not one */
	s = rpc_stream_new(RPC_MAX_MSG);
	want_status(s, "\xEF\xBB{}", RPC_STREAM_BAD_JSON, "line 1, column 1:");
	rpc_stream_free(s);
}

/* json-c keeps the last of two members with one name; QEMU refuses them,
 * and so does the stream, at any depth and however the name is written. */
static void test_duplicate_members(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	want_status(s, "{\"a\":1,\"a\":2}", RPC_STREAM_REFUSED,
		    "line 1, column 8: duplicate member name 'a'");
	want_status(s, "{\"x\":{\"y\":[{\"k\":1,\"z\":0,\"k\":1}]}}",
		    RPC_STREAM_REFUSED, "duplicate member name 'k'");
	want_status(s, "{\"id\":1,\"\\u0069d\":2}", RPC_STREAM_REFUSED,
		    "duplicate member name 'id'");
	want_status(s, "[{},{\"execute\":\"a\",\"execute\":\"b\"}]",
		    RPC_STREAM_REFUSED, "'execute'");
	/* one name in different objects is fine */
	push_str(s, "{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
	want_value(s, "{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
	rpc_stream_free(s);

	/* many names, one object: found fast, and the last one counts */
	enum { N = 20000 };
	char *big = malloc(N * 16 + 16), *p = big;
	s = rpc_stream_new(RPC_MAX_MSG);
	*p++ = '{';
	for (int i = 0; i < N; i++)
		p += sprintf(p, "\"m%d\":%d,", i, i);
	p += sprintf(p, "\"m%d\":0}", N - 1);
	assert_int_equal(rpc_stream_push(s, big, (size_t)(p - big)), 0);
	want_status(s, "", RPC_STREAM_REFUSED, "duplicate member name 'm19999'");
	big[(p - big) - strlen("\"m19999\":0}") - 1] = '}';  /* drop it */
	assert_int_equal(rpc_stream_push(s, big, (size_t)(p - big) -
					 strlen("\"m19999\":0}")), 0);
	struct json_object *v;
	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_VALUE);
	assert_int_equal(json_object_object_length(v), N);
	json_object_put(v);
	free(big);
	rpc_stream_free(s);
}

/* json-c cuts a member name at \u0000: {"execute\u0000x": ...} read as
 * "execute".  Such names are refused; NUL in a string value is left to the
 * message layer, and an escaped backslash before "u0000" is no NUL. */
static void test_nul_in_names(void **state)
{
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);

	want_status(s, "{\"execute\\u0000x\":\"vm-list\"}", RPC_STREAM_REFUSED,
		    "line 1, column 2: a member name contains a NUL");
	want_status(s, "{\"arguments\":{\"vm\\u0000\":1}}", RPC_STREAM_REFUSED,
		    "NUL");
	push_str(s, "{\"a\":\"x\\u0000y\"}{\"a\\\\u0000\":1}");
	want_value(s, "{\"a\":\"x\\u0000y\"}");
	want_value(s, "{\"a\\\\u0000\":1}");
	rpc_stream_free(s);
}

static void want_id(struct rpc_stream *s, size_t elem, const char *want)
{
	size_t len = 0;
	const char *id = rpc_stream_raw_id(s, elem, &len);

	if (want == NULL) {
		assert_null(id);
		return;
	}
	assert_non_null(id);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(id, want, len);
}

/* The exact text of ids, to echo them unchanged (json-c turns 2**70 into
 * 18446744073709551615 and -0 into 0). */
static void test_raw_ids(void **state)
{
	static const struct { const char *in, *id; } cases[] = {
		{ "{\"id\":1180591620717411303424}", "1180591620717411303424" },
		{ "{\"id\" : 1.0 }", "1.0" },
		{ "{\"execute\":\"x\",\"id\":-0}", "-0" },
		{ "{\"id\":\"\\u00e9\"}", "\"\\u00e9\"" },
		{ "{\"id\":\"a b\\\" c\"}", "\"a b\\\" c\"" },
		{ "{\"id\":{\"a\": [1, 2e3],\n \"b\":\"x y\"}}", "{\"a\":[1,2e3],\"b\":\"x y\"}" },
		{ "{\"id\":null}", "null" },
		{ "{\"id\":true,\"a\":{\"id\":5}}", "true" },
		{ "{\"a\":{\"id\":5}}", NULL },
		{ "{\"\\u0069d\":7}", "7" },
	};
	struct rpc_stream *s = rpc_stream_new(RPC_MAX_MSG);
	struct json_object *v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		push_str(s, cases[i].in);
		assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_VALUE);
		want_id(s, RPC_STREAM_TOP, cases[i].id);
		want_id(s, 0, NULL);
		json_object_put(v);
	}
	/* a batch: the ids of its elements */
	push_str(s, "[{\"id\":1},2,{\"id\":\"b\"},{},{\"x\":{\"id\":3}}]");
	assert_int_equal(rpc_stream_next(s, &v, NULL, 0), RPC_STREAM_VALUE);
	want_id(s, 0, "1");
	want_id(s, 1, NULL);
	want_id(s, 2, "\"b\"");
	want_id(s, 3, NULL);
	want_id(s, 4, NULL);
	want_id(s, RPC_STREAM_TOP, NULL);
	json_object_put(v);
	/* forgotten with the next call */
	want_more(s);
	want_id(s, 0, NULL);
	rpc_stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_whitespace_separated),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_partial_across_pushes),
		cmocka_unit_test(test_oversize_complete),
		cmocka_unit_test(test_oversize_incomplete),
		cmocka_unit_test(test_bad_json_recovery),
		cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_take_rest),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_top_level_values),
		cmocka_unit_test(test_number_split),
		cmocka_unit_test(test_large_value_within_cap),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_error_position),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_duplicate_members),
		cmocka_unit_test(test_nul_in_names),
		cmocka_unit_test(test_raw_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
