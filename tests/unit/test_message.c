/* Unit tests of rpc/message.c and rpc/errors.c: the exact wire shapes of
 * QMP and JSON-RPC 2.0 requests, replies, errors, events and the greeting,
 * checked as emitted bytes where the shape matters. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rpc/errors.h"
#include "rpc/message.h"

static struct json_object *parse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_true(o != NULL || strcmp(text, "null") == 0);
	return o;
}

/* Emit msg (consuming it) and compare with the expected line. */
static void expect_emit(struct json_object *msg, const char *want)
{
	size_t len = 0;
	char *out = rpc_emit(msg, &len);

	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, want);
	free(out);
	json_object_put(msg);
}

static rpc_err parse_req(const char *text, struct rpc_request *req, char *desc)
{
	return rpc_request_parse(parse(text), req, desc, 256);
}

/* A request that must fail with class cls and this exact description. */
static void expect_fail(const char *text, rpc_err cls, const char *want)
{
	struct rpc_request req;
	char desc[256];

	assert_int_equal(parse_req(text, &req, desc), cls);
	assert_string_equal(desc, want);
	rpc_request_clear(&req);
}

static void test_qmp_request(void **state)
{
	struct rpc_request req;
	char desc[256];

	assert_int_equal(parse_req("{\"execute\":\"vm-start\",\"arguments\":{\"vm\":\"web1\"},"
				   "\"id\":7}", &req, desc), RPC_OK);
	assert_int_equal(req.dialect, RPC_QMP);
	assert_string_equal(req.command, "vm-start");
	assert_string_equal(json_object_get_string(json_object_object_get(req.args, "vm")),
			    "web1");
	assert_int_equal(json_object_get_int(req.id), 7);
	rpc_request_clear(&req);
	assert_null(req.obj);

	/* no arguments, no id */
	assert_int_equal(parse_req("{\"execute\":\"vm-list\"}", &req, desc), RPC_OK);
	assert_true(json_object_is_type(req.args, json_type_object));
	assert_int_equal(json_object_object_length(req.args), 0);
	assert_null(req.id);
	rpc_request_clear(&req);
}

static void test_qmp_request_errors(void **state)
{
	struct rpc_request req;
	char desc[256];

	expect_fail("[1]", RPC_INVALID_REQUEST, "Expected a JSON object");
	expect_fail("\"execute\"", RPC_INVALID_REQUEST, "Expected a JSON object");
	expect_fail("null", RPC_INVALID_REQUEST, "Expected a JSON object");
	expect_fail("{}", RPC_INVALID_REQUEST, "Expected 'execute' in QMP input");
	expect_fail("{\"arguments\":{}}", RPC_INVALID_REQUEST,
		    "Expected 'execute' in QMP input");
	expect_fail("{\"execute\":1}", RPC_INVALID_REQUEST,
		    "QMP input member 'execute' must be a string");
	expect_fail("{\"execute\":\"x\",\"arguments\":[]}", RPC_INVALID_ARGUMENT,
		    "QMP input member 'arguments' must be an object");
	expect_fail("{\"execute\":\"x\",\"arguments\":null}", RPC_INVALID_ARGUMENT,
		    "QMP input member 'arguments' must be an object");
	expect_fail("{\"execute\":\"x\",\"argument\":{}}", RPC_INVALID_REQUEST,
		    "QMP input member 'argument' is unexpected");

	/* the id is known even when the request is bad, to answer it */
	assert_int_equal(parse_req("{\"id\":\"abc\",\"bogus\":1}", &req, desc),
			 RPC_INVALID_REQUEST);
	assert_int_equal(req.dialect, RPC_QMP);
	assert_string_equal(json_object_get_string(req.id), "abc");
	expect_emit(rpc_reply_error(req.dialect, req.id, RPC_INVALID_REQUEST, desc),
		    "{\"error\":{\"class\":\"GenericError\",\"desc\":"
		    "\"QMP input member 'bogus' is unexpected\"},\"id\":\"abc\"}\n");
	rpc_request_clear(&req);
}

/* Reply to a QMP request with this id text (NULL: no id member). */
static void expect_qmp_echo(const char *id, const char *want)
{
	struct rpc_request req;
	char text[256], desc[256];

	if (id != NULL)
		snprintf(text, sizeof(text), "{\"execute\":\"x\",\"id\":%s}", id);
	else
		snprintf(text, sizeof(text), "{\"execute\":\"x\"}");
	assert_int_equal(parse_req(text, &req, desc), RPC_OK);
	expect_emit(rpc_reply_return(req.dialect, req.id, NULL), want);
	rpc_request_clear(&req);
}

static void test_qmp_id_echo(void **state)
{
	expect_qmp_echo("7", "{\"return\":{},\"id\":7}\n");
	expect_qmp_echo("-3000000000", "{\"return\":{},\"id\":-3000000000}\n");
	expect_qmp_echo("\"a/b\"", "{\"return\":{},\"id\":\"a/b\"}\n");
	expect_qmp_echo("{\"k\":[1,\"x\"]}", "{\"return\":{},\"id\":{\"k\":[1,\"x\"]}}\n");
	expect_qmp_echo("null", "{\"return\":{},\"id\":null}\n");
	expect_qmp_echo("1.5", "{\"return\":{},\"id\":1.5}\n");
	expect_qmp_echo(NULL, "{\"return\":{}}\n");
}

/* The reply keeps the id alive after the request is gone (deferred replies). */
static void test_id_outlives_request(void **state)
{
	struct rpc_request req;
	struct json_object *id, *ret, *v;
	char desc[256];

	assert_int_equal(parse_req("{\"execute\":\"vm-stop\",\"id\":{\"n\":1}}", &req, desc),
			 RPC_OK);
	id = json_object_get(req.id);
	rpc_request_clear(&req);
	ret = json_object_new_object();
	json_object_object_add(ret, "forced", json_object_new_boolean(1));
	expect_emit(rpc_reply_return(RPC_QMP, id, ret),
		    "{\"return\":{\"forced\":true},\"id\":{\"n\":1}}\n");
	json_object_put(id);

	assert_int_equal(parse_req("{\"execute\":\"vm-stop\",\"id\":null}", &req, desc),
			 RPC_OK);
	assert_non_null(req.id);
	id = NULL;
	assert_int_equal(json_object_deep_copy(req.id, &id, NULL), 0);
	rpc_request_clear(&req);
	/* the reply holds a real JSON null, not the placeholder */
	ret = rpc_reply_return(RPC_QMP, id, NULL);
	assert_true(json_object_object_get_ex(ret, "id", &v));
	assert_null(v);
	json_object_put(ret);
	ret = rpc_reply_error(RPC_JSONRPC, id, RPC_BUSY, "busy");
	assert_true(json_object_object_get_ex(ret, "id", &v));
	assert_null(v);
	json_object_put(ret);
	expect_emit(rpc_reply_error(RPC_QMP, id, RPC_BUSY, "busy"),
		    "{\"error\":{\"class\":\"Busy\",\"desc\":\"busy\"},\"id\":null}\n");
	json_object_put(id);
}

static void test_jsonrpc_request(void **state)
{
	struct rpc_request req;
	char desc[256];

	assert_int_equal(parse_req("{\"jsonrpc\":\"2.0\",\"method\":\"vm-show\","
				   "\"params\":{\"vm\":\"a\"},\"id\":\"q1\"}", &req, desc),
			 RPC_OK);
	assert_int_equal(req.dialect, RPC_JSONRPC);
	assert_string_equal(req.command, "vm-show");
	assert_string_equal(json_object_get_string(json_object_object_get(req.args, "vm")),
			    "a");
	expect_emit(rpc_reply_return(req.dialect, req.id, json_object_new_int(5)),
		    "{\"jsonrpc\":\"2.0\",\"result\":5,\"id\":\"q1\"}\n");
	rpc_request_clear(&req);

	/* notification: processed, no id; the caller decides to drop the reply */
	assert_int_equal(parse_req("{\"jsonrpc\":\"2.0\",\"method\":\"vm-list\"}", &req, desc),
			 RPC_OK);
	assert_null(req.id);
	assert_int_equal(json_object_object_length(req.args), 0);
	expect_emit(rpc_reply_return(req.dialect, req.id, NULL),
		    "{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":null}\n");
	rpc_request_clear(&req);

	/* explicit null id: a request, not a notification */
	assert_int_equal(parse_req("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":null}",
				   &req, desc), RPC_OK);
	assert_non_null(req.id);
	expect_emit(rpc_reply_return(req.dialect, req.id, NULL),
		    "{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":null}\n");
	rpc_request_clear(&req);
}

static void test_jsonrpc_request_errors(void **state)
{
	struct rpc_request req;
	char desc[256];

	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[1]}",
		    RPC_INVALID_ARGUMENT, "params must be an object");
	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"x\"}",
		    RPC_INVALID_REQUEST, "params must be an object");
	expect_fail("{\"jsonrpc\":\"1.0\",\"method\":\"m\"}", RPC_INVALID_REQUEST,
		    "JSON-RPC member 'jsonrpc' must be \"2.0\"");
	expect_fail("{\"jsonrpc\":2.0,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		    "JSON-RPC member 'jsonrpc' must be \"2.0\"");
	expect_fail("{\"jsonrpc\":\"2.0\"}", RPC_INVALID_REQUEST,
		    "Expected 'method' in JSON-RPC request");
	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":[]}", RPC_INVALID_REQUEST,
		    "JSON-RPC member 'method' must be a string");
	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"extra\":1}", RPC_INVALID_REQUEST,
		    "JSON-RPC request member 'extra' is unexpected");

	/* "method" without version: answered as JSON-RPC, with its id */
	assert_int_equal(parse_req("{\"method\":\"m\",\"id\":4}", &req, desc),
			 RPC_INVALID_REQUEST);
	assert_int_equal(req.dialect, RPC_JSONRPC);
	expect_emit(rpc_reply_error(req.dialect, req.id, RPC_INVALID_REQUEST, desc),
		    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
		    "\"JSON-RPC member 'jsonrpc' must be \\\"2.0\\\"\",\"data\":"
		    "{\"class\":\"GenericError\"}},\"id\":4}\n");
	rpc_request_clear(&req);
}

struct class_case {
	rpc_err e;
	const char *name;
	int code;
};

static const struct class_case classes[] = {
	{ RPC_GENERIC_ERROR, "GenericError", -32000 },
	{ RPC_COMMAND_NOT_FOUND, "CommandNotFound", -32601 },
	{ RPC_INVALID_ARGUMENT, "InvalidArgument", -32602 },
	{ RPC_VM_NOT_FOUND, "VmNotFound", -32001 },
	{ RPC_VM_EXISTS, "VmExists", -32002 },
	{ RPC_INVALID_STATE, "InvalidState", -32003 },
	{ RPC_PERMISSION_DENIED, "PermissionDenied", -32004 },
	{ RPC_BUSY, "Busy", -32005 },
	{ RPC_EMULATOR_FAILED, "EmulatorFailed", -32006 },
	{ RPC_UNSUPPORTED, "Unsupported", -32007 },
	{ RPC_VOLUME_NOT_FOUND, "VolumeNotFound", -32008 },
	{ RPC_VOLUME_EXISTS, "VolumeExists", -32009 },
	{ RPC_PARSE_ERROR, "GenericError", -32700 },
	{ RPC_INVALID_REQUEST, "GenericError", -32600 },
};

static void test_error_table(void **state)
{
	size_t n = sizeof(classes) / sizeof(classes[0]);

	assert_int_equal(n, RPC_ERR__COUNT - 1);
	for (size_t i = 0; i < n; i++) {
		const struct class_case *c = &classes[i];

		assert_string_equal(rpc_err_name(c->e), c->name);
		assert_int_equal(rpc_err_jsonrpc_code(c->e), c->code);
		if (c->e < RPC_PARSE_ERROR)
			assert_int_equal(rpc_err_from_name(c->name), c->e);
	}
	assert_int_equal(rpc_err_from_name("DeviceNotFound"), RPC_GENERIC_ERROR);
	assert_int_equal(rpc_err_from_name("OK"), RPC_GENERIC_ERROR);
	assert_int_equal(rpc_err_from_name(NULL), RPC_GENERIC_ERROR);
	assert_string_equal(rpc_err_name((rpc_err)999), "GenericError");
}

/* Every class, both dialects: JSON-RPC code and data.class, QMP class. */
static void test_jsonrpc_error_mapping(void **state)
{
	struct json_object *id = json_object_new_int(3);
	char want[512];

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		const struct class_case *c = &classes[i];

		snprintf(want, sizeof(want),
			 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":"
			 "\"no VM named 'web1'\",\"data\":{\"class\":\"%s\"}},\"id\":3}\n",
			 c->code, c->name);
		expect_emit(rpc_reply_error(RPC_JSONRPC, id, c->e, "no VM named 'web1'"),
			    want);
		snprintf(want, sizeof(want),
			 "{\"error\":{\"class\":\"%s\",\"desc\":\"d\"},\"id\":3}\n", c->name);
		expect_emit(rpc_reply_error(RPC_QMP, id, c->e, "d"), want);
	}
	/* the caller's reference is untouched by building replies */
	assert_int_equal(json_object_get_int(id), 3);
	json_object_put(id);
	expect_emit(rpc_reply_error(RPC_QMP, NULL, RPC_PARSE_ERROR, "bad"),
		    "{\"error\":{\"class\":\"GenericError\",\"desc\":\"bad\"}}\n");
	expect_emit(rpc_reply_error(RPC_JSONRPC, NULL, RPC_PARSE_ERROR, "bad"),
		    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"bad\","
		    "\"data\":{\"class\":\"GenericError\"}},\"id\":null}\n");
}

static void test_event_shape(void **state)
{
	struct json_object *data = json_object_new_object();
	struct json_object *ev, *ts, *v;
	long long before = (long long)time(NULL);

	json_object_object_add(data, "vm", json_object_new_string("web1"));
	ev = rpc_event_new("VM_STATE", data);
	assert_int_equal(json_object_object_length(ev), 3);
	assert_string_equal(json_object_get_string(json_object_object_get(ev, "event")),
			    "VM_STATE");
	assert_ptr_equal(json_object_object_get(ev, "data"), data);
	assert_true(json_object_object_get_ex(ev, "timestamp", &ts));
	assert_int_equal(json_object_object_length(ts), 2);
	assert_true(json_object_object_get_ex(ts, "seconds", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_int64(v) >= before);
	assert_true(json_object_get_int64(v) <= (long long)time(NULL));
	assert_true(json_object_object_get_ex(ts, "microseconds", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_in_range(json_object_get_int64(v), 0, 999999);
	json_object_put(ev);

	ev = rpc_event_new("SHUTDOWN", NULL);
	assert_false(json_object_object_get_ex(ev, "data", NULL));
	assert_int_equal(json_object_object_length(ev), 2);
	json_object_put(ev);
}

static void test_greeting_shape(void **state)
{
	expect_emit(rpc_greeting_new(0, 1, 0, "vmd 0.1.0"),
		    "{\"QMP\":{\"version\":{\"qemu\":{\"major\":0,\"minor\":1,\"micro\":0},"
		    "\"package\":\"vmd 0.1.0\"},\"capabilities\":[]}}\n");
}

static void test_emit_one_line(void **state)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *back;
	size_t len = 0;
	char *out;

	json_object_object_add(msg, "text", json_object_new_string("a\nb\r\n/c\x01\"\\"));
	json_object_object_add(msg, "key\nwith_newline", json_object_new_int(1));
	json_object_object_add(msg, "list", json_object_new_array());
	out = rpc_emit(msg, &len);
	assert_non_null(out);
	assert_int_equal(len, strlen(out));
	assert_true(len > 1);
	assert_int_equal(out[len - 1], '\n');
	assert_null(memchr(out, '\n', len - 1));
	assert_null(memchr(out, '\r', len));
	assert_null(strchr(out, ' '));
	assert_non_null(strstr(out, "/c"));          /* no slash escaping */
	assert_null(strstr(out, "\\/"));
	back = json_tokener_parse(out);
	assert_true(json_object_equal(back, msg));
	json_object_put(back);
	json_object_put(msg);
	free(out);
}

/* A raw value is copied into the reply text exactly as made. */
static void test_raw_value(void **state)
{
	struct json_object *id = json_object_new_int(9);
	char *text = strdup("[{\"name\":\"a,b\"},{\"x\":[1,2]}]");
	struct json_object *r = rpc_reply_return(RPC_QMP, id, rpc_raw_new(text));
	size_t len;
	char *out = rpc_emit(r, &len);

	(void)state;
	assert_string_equal(out, "{\"return\":[{\"name\":\"a,b\"},{\"x\":[1,2]}],"
			    "\"id\":9}\n");
	assert_int_equal(len, strlen(out));
	free(out);
	json_object_put(r);
	json_object_put(id);
}

/* "vm-list\u0000x" is not vm-list: json-c's C string stops at the NUL, so
 * the command ran as vm-list.  Refused as an invalid request now. */
static void test_nul_in_command(void **state)
{
	expect_fail("{\"execute\":\"vm-list\\u0000x\",\"id\":1}", RPC_INVALID_REQUEST,
		    "QMP input member 'execute' contains a NUL character (\\u0000)");
	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":\"vm-list\\u0000\",\"id\":1}",
		    RPC_INVALID_REQUEST,
		    "JSON-RPC member 'method' contains a NUL character (\\u0000)");
	expect_fail("{\"jsonrpc\":\"2.0\\u0000x\",\"method\":\"vm-list\",\"id\":1}",
		    RPC_INVALID_REQUEST, "JSON-RPC member 'jsonrpc' must be \"2.0\"");
}

/* An id kept as its raw text is echoed byte for byte, in both dialects and
 * in errors; json-c alone would print 2**70 as 18446744073709551615. */
static void expect_raw_echo(const char *req_text, const char *raw,
			    const char *want_ok, const char *want_err)
{
	struct json_object *obj = parse(req_text);
	struct rpc_request req;
	char desc[256];

	assert_int_equal(rpc_id_keep_raw(obj, raw, strlen(raw)), 0);
	assert_int_equal(rpc_request_parse(obj, &req, desc, sizeof desc), RPC_OK);
	assert_non_null(req.id);
	expect_emit(rpc_reply_return(req.dialect, req.id, NULL), want_ok);
	expect_emit(rpc_reply_error(req.dialect, req.id, RPC_BUSY, "b"), want_err);
	rpc_request_clear(&req);
}

static void test_raw_id(void **state)
{
	expect_raw_echo("{\"execute\":\"x\",\"id\":1180591620717411303424}",
			"1180591620717411303424",
			"{\"return\":{},\"id\":1180591620717411303424}\n",
			"{\"error\":{\"class\":\"Busy\",\"desc\":\"b\"},"
			"\"id\":1180591620717411303424}\n");
	expect_raw_echo("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":-0}", "-0",
			"{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":-0}\n",
			"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,\"message\":"
			"\"b\",\"data\":{\"class\":\"Busy\"}},\"id\":-0}\n");
	expect_raw_echo("{\"execute\":\"x\",\"id\":\"\\u00e9\"}", "\"\\u00e9\"",
			"{\"return\":{},\"id\":\"\\u00e9\"}\n",
			"{\"error\":{\"class\":\"Busy\",\"desc\":\"b\"},"
			"\"id\":\"\\u00e9\"}\n");
	/* a JSON-RPC id null stays a request, not a notification */
	expect_raw_echo("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":null}", "null",
			"{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":null}\n",
			"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,\"message\":"
			"\"b\",\"data\":{\"class\":\"Busy\"}},\"id\":null}\n");

	/* no id: nothing to keep, still no id in the reply */
	struct json_object *obj = parse("{\"execute\":\"x\"}");
	struct rpc_request req;
	char desc[256];

	assert_int_equal(rpc_id_keep_raw(obj, "5", 1), 0);
	assert_int_equal(rpc_request_parse(obj, &req, desc, sizeof desc), RPC_OK);
	assert_null(req.id);
	expect_emit(rpc_reply_return(req.dialect, req.id, NULL), "{\"return\":{}}\n");
	rpc_request_clear(&req);
}

/* Events for JSON-RPC listeners: a notification, the event's name as the
 * method, its data and timestamp as params. */
/* "token" beside execute or method (vmd's extension, daemon/auth.h). */
static void test_token_member(void **state)
{
	struct rpc_request req;
	char desc[256];

	(void)state;
	assert_int_equal(parse_req("{\"execute\":\"x\",\"token\":\"t1\"}",
				   &req, desc), RPC_OK);
	assert_string_equal(req.token, "t1");
	rpc_request_clear(&req);
	assert_int_equal(parse_req("{\"jsonrpc\":\"2.0\",\"method\":\"m\","
				   "\"token\":\"t2\",\"id\":1}", &req, desc), RPC_OK);
	assert_string_equal(req.token, "t2");
	rpc_request_clear(&req);
	assert_int_equal(parse_req("{\"execute\":\"x\"}", &req, desc), RPC_OK);
	assert_null(req.token);
	rpc_request_clear(&req);
	expect_fail("{\"execute\":\"x\",\"token\":1}", RPC_INVALID_REQUEST,
		    "member 'token' must be a non-empty string");
	expect_fail("{\"execute\":\"x\",\"token\":\"\"}", RPC_INVALID_REQUEST,
		    "member 'token' must be a non-empty string");
	expect_fail("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"token\":\"a\\u0000b\"}",
		    RPC_INVALID_REQUEST, "member 'token' must be a non-empty string");
}

static void test_event_notification(void **state)
{
	struct json_object *ev = parse("{\"event\":\"VM_STATE\",\"data\":{\"vm\":\"a\"},"
				       "\"timestamp\":{\"seconds\":1,\"microseconds\":2}}");

	expect_emit(rpc_event_notification(ev),
		    "{\"jsonrpc\":\"2.0\",\"method\":\"VM_STATE\",\"params\":{\"data\":"
		    "{\"vm\":\"a\"},\"timestamp\":{\"seconds\":1,\"microseconds\":2}}}\n");
	json_object_put(ev);
	ev = parse("{\"event\":\"X\",\"timestamp\":{\"seconds\":1,\"microseconds\":2}}");
	expect_emit(rpc_event_notification(ev),
		    "{\"jsonrpc\":\"2.0\",\"method\":\"X\",\"params\":{\"timestamp\":"
		    "{\"seconds\":1,\"microseconds\":2}}}\n");
	json_object_put(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qmp_request),
		cmocka_unit_test(test_qmp_request_errors),
		cmocka_unit_test(test_qmp_id_echo),
		cmocka_unit_test(test_id_outlives_request),
		cmocka_unit_test(test_jsonrpc_request),
		cmocka_unit_test(test_jsonrpc_request_errors),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_jsonrpc_error_mapping),
		cmocka_unit_test(test_event_shape),
		cmocka_unit_test(test_greeting_shape),
		cmocka_unit_test(test_emit_one_line),
		cmocka_unit_test(test_raw_value),
		cmocka_unit_test(test_nul_in_command),
		cmocka_unit_test(test_raw_id),
		cmocka_unit_test(test_event_notification),
		cmocka_unit_test(test_token_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
