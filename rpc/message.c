/* Protocol messages: turn a parsed JSON object into a request (QMP or
 * JSON-RPC 2.0), and build replies, errors, events and the greeting in the
 * shapes QEMU's QMP and the JSON-RPC 2.0 specification define, so clients
 * of either work unchanged.
 *
 * "id" may be any JSON value and is echoed as is.  json-c represents a JSON
 * null as a NULL pointer, which cannot tell {"id": null} from no id at all;
 * QMP echoes the first and omits the second, and JSON-RPC treats the second
 * as a notification.  So an explicit null id is replaced in the request by
 * a placeholder object that prints as null: req->id is NULL exactly when
 * the request had no "id", and the reply builders turn the placeholder back
 * into a real JSON null.
 *
 * The daemon goes further (rpc_id_keep_raw): it replaces the id by its
 * text exactly as the client sent it, so 2**70, 1.0, -0 and "\u00e9" come
 * back unchanged rather than as json-c would print them. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/printbuf.h>

#include "rpc/message.h"

/* ---- the null-id placeholder ---- */

static int null_id_to_json(struct json_object *jso, struct printbuf *pb,
			   int level, int flags)
{
	return printbuf_strappend(pb, "null");
}

/* No userdata, so json_object_deep_copy() can copy the placeholder. */
static struct json_object *null_id_new(void)
{
	struct json_object *o = json_object_new_boolean(0);

	if (o != NULL)
		json_object_set_serializer(o, null_id_to_json, NULL, NULL);
	return o;
}

/* A boolean that prints as null can only be the placeholder (or a copy). */
static int is_null_id(struct json_object *id)
{
	return json_object_is_type(id, json_type_boolean) &&
	       strcmp(json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN),
		      "null") == 0;
}

/* The value to put under "id" in a reply (new reference, NULL = null). */
static struct json_object *id_for_reply(struct json_object *id)
{
	if (id == NULL || is_null_id(id))
		return NULL;
	return json_object_get(id);
}

/* ---- request parsing ---- */

/* Length of the longest prefix of s (of length n) that does not end inside
 * a UTF-8 sequence, so that clipped text stays valid UTF-8 on the wire. */
size_t rpc_utf8_cut(const char *s, size_t n)
{
	size_t i = n, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return n;
	lead = (unsigned char)s[i - 1];
	if (lead < 0xC0)
		return n;       /* ASCII (or stray continuation bytes): keep */
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	return n - (i - 1) >= need ? n : i - 1;
}

/* Copy s into out, clipped to max bytes with "..." when longer. */
static rpc_err fail(char *desc, size_t desclen, rpc_err cls, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static rpc_err fail(char *desc, size_t desclen, rpc_err cls, const char *fmt, ...)
{
	va_list ap;

	if (desc != NULL && desclen > 0) {
		va_start(ap, fmt);
		vsnprintf(desc, desclen, fmt, ap);
		va_end(ap);
		desc[rpc_utf8_cut(desc, strlen(desc))] = '\0';
	}
	return cls;
}

/* Read "id" before anything can fail, so every error can be answered. */
static void read_id(struct rpc_request *req)
{
	struct json_object *id;

	if (!json_object_object_get_ex(req->obj, "id", &id))
		return;
	if (id == NULL) {
		id = null_id_new();
		if (id == NULL)
			return;
		json_object_object_add(req->obj, "id", id);
	}
	req->id = id;
}

/* An absent arguments/params member means "no arguments": give handlers an
 * empty object, owned by the request like everything else. */
static rpc_err default_args(struct rpc_request *req, const char *member,
			    char *desc, size_t desclen)
{
	struct json_object *args;

	if (req->args != NULL)
		return RPC_OK;
	args = json_object_new_object();
	if (args == NULL || json_object_object_add(req->obj, member, args) != 0) {
		json_object_put(args);
		return fail(desc, desclen, RPC_GENERIC_ERROR, "out of memory");
	}
	req->args = args;
	return RPC_OK;
}

/* A command name with a NUL inside ("vm-list\u0000x") is not vm-list:
 * json-c's C string would stop at the NUL, so compare lengths. */
static int has_nul(struct json_object *str)
{
	const char *s = json_object_get_string(str);

	return strlen(s) != (size_t)json_object_get_string_len(str);
}

/* "token": a non-empty string without NUL; 0, or -1 with desc set. */
static int read_token(struct rpc_request *req, struct json_object *val,
		      char *desc, size_t desclen)
{
	if (!json_object_is_type(val, json_type_string) ||
	    json_object_get_string_len(val) == 0 || has_nul(val)) {
		fail(desc, desclen, RPC_INVALID_REQUEST,
		     "member 'token' must be a non-empty string");
		return -1;
	}
	req->token = json_object_get_string(val);
	return 0;
}

/* QMP, checked member by member in order, with QEMU's own wording. */
static rpc_err parse_qmp(struct rpc_request *req, char *desc, size_t desclen)
{
	json_object_object_foreach(req->obj, key, val) {
		if (strcmp(key, "execute") == 0) {
			if (!json_object_is_type(val, json_type_string))
				return fail(desc, desclen, RPC_INVALID_REQUEST,
					    "QMP input member 'execute' must be a string");
			if (has_nul(val))
				return fail(desc, desclen, RPC_INVALID_REQUEST,
					    "QMP input member 'execute' contains "
					    "a NUL character (\\u0000)");
			req->command = json_object_get_string(val);
		} else if (strcmp(key, "arguments") == 0) {
			if (!json_object_is_type(val, json_type_object))
				return fail(desc, desclen, RPC_INVALID_ARGUMENT,
					    "QMP input member 'arguments' must be an object");
			req->args = val;
		} else if (strcmp(key, "token") == 0) {
			if (read_token(req, val, desc, desclen) < 0)
				return RPC_INVALID_REQUEST;
		} else if (strcmp(key, "id") != 0) {
			return fail(desc, desclen, RPC_INVALID_REQUEST,
				    "QMP input member '%s' is unexpected", key);
		}
	}
	if (req->command == NULL)
		return fail(desc, desclen, RPC_INVALID_REQUEST,
			    "Expected 'execute' in QMP input");
	return default_args(req, "arguments", desc, desclen);
}

static int is_jsonrpc_version(struct json_object *v)
{
	return json_object_is_type(v, json_type_string) &&
	       json_object_get_string_len(v) == 3 &&
	       strcmp(json_object_get_string(v), "2.0") == 0;
}

/* params must be by name: vmd's arguments are objects.  A positional array
 * is a well-formed request with the wrong params (-32602); anything else
 * is not a valid request at all (-32600). */
static rpc_err check_params(struct rpc_request *req, struct json_object *val,
			    char *desc, size_t desclen)
{
	if (json_object_is_type(val, json_type_object)) {
		req->args = val;
		return RPC_OK;
	}
	return fail(desc, desclen,
		    json_object_is_type(val, json_type_array) ?
		    RPC_INVALID_ARGUMENT : RPC_INVALID_REQUEST,
		    "params must be an object");
}

static rpc_err parse_jsonrpc(struct rpc_request *req, char *desc, size_t desclen)
{
	struct json_object *ver = NULL;
	rpc_err e;

	json_object_object_get_ex(req->obj, "jsonrpc", &ver);
	if (!is_jsonrpc_version(ver))
		return fail(desc, desclen, RPC_INVALID_REQUEST,
			    "JSON-RPC member 'jsonrpc' must be \"2.0\"");
	json_object_object_foreach(req->obj, key, val) {
		if (strcmp(key, "method") == 0) {
			if (!json_object_is_type(val, json_type_string))
				return fail(desc, desclen, RPC_INVALID_REQUEST,
					    "JSON-RPC member 'method' must be a string");
			if (has_nul(val))
				return fail(desc, desclen, RPC_INVALID_REQUEST,
					    "JSON-RPC member 'method' contains "
					    "a NUL character (\\u0000)");
			req->command = json_object_get_string(val);
		} else if (strcmp(key, "params") == 0) {
			e = check_params(req, val, desc, desclen);
			if (e != RPC_OK)
				return e;
		} else if (strcmp(key, "token") == 0) {
			if (read_token(req, val, desc, desclen) < 0)
				return RPC_INVALID_REQUEST;
		} else if (strcmp(key, "jsonrpc") != 0 && strcmp(key, "id") != 0) {
			return fail(desc, desclen, RPC_INVALID_REQUEST,
				    "JSON-RPC request member '%s' is unexpected", key);
		}
	}
	if (req->command == NULL)
		return fail(desc, desclen, RPC_INVALID_REQUEST,
			    "Expected 'method' in JSON-RPC request");
	return default_args(req, "params", desc, desclen);
}

/* "jsonrpc" marks JSON-RPC; so does "method" without "execute", so that a
 * JSON-RPC client that forgot the version is answered in its own dialect. */
static enum rpc_dialect detect_dialect(struct json_object *obj)
{
	if (json_object_object_get_ex(obj, "jsonrpc", NULL))
		return RPC_JSONRPC;
	if (json_object_object_get_ex(obj, "method", NULL) &&
	    !json_object_object_get_ex(obj, "execute", NULL))
		return RPC_JSONRPC;
	return RPC_QMP;
}

/* A JSON-RPC request without "id" is a notification: it is parsed and run
 * like any other; whether its reply is sent or dropped is the caller's
 * choice (req->dialect == RPC_JSONRPC && req->id == NULL). */
rpc_err rpc_request_parse(struct json_object *obj, struct rpc_request *req,
			  char *desc, size_t desclen)
{
	memset(req, 0, sizeof(*req));
	req->obj = obj;
	if (desc != NULL && desclen > 0)
		desc[0] = '\0';
	if (!json_object_is_type(obj, json_type_object))
		return fail(desc, desclen, RPC_INVALID_REQUEST,
			    "Expected a JSON object");
	read_id(req);
	req->dialect = detect_dialect(obj);
	if (req->dialect == RPC_JSONRPC)
		return parse_jsonrpc(req, desc, desclen);
	return parse_qmp(req, desc, desclen);
}

int rpc_id_keep_raw(struct json_object *obj, const char *text, size_t len)
{
	struct json_object *raw;
	char *copy;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "id", NULL))
		return 0;
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	raw = rpc_raw_new(copy);
	if (raw == NULL || json_object_object_add(obj, "id", raw) != 0) {
		json_object_put(raw);
		return -1;
	}
	return 0;
}

rpc_err rpc_batch_element(struct rpc_request *req, rpc_err e, char *desc,
			  size_t desclen)
{
	if (req->dialect != RPC_JSONRPC) {
		req->dialect = RPC_JSONRPC;
		snprintf(desc, desclen, "a batch element must be a JSON-RPC 2.0 "
			 "request object");
		return RPC_INVALID_REQUEST;
	}
	if (e == RPC_OK && strcmp(req->command, "console-attach") == 0) {
		snprintf(desc, desclen, "console-attach cannot be part of a batch");
		return RPC_INVALID_REQUEST;
	}
	return e;
}

void rpc_request_clear(struct rpc_request *req)
{
	json_object_put(req->obj);
	memset(req, 0, sizeof(*req));
}

/* ---- replies, events, greeting ---- */

static struct json_object *jsonrpc_base(void)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	return r;
}

struct json_object *rpc_reply_return(enum rpc_dialect d, struct json_object *id,
				     struct json_object *ret)
{
	struct json_object *r;

	if (ret == NULL)
		ret = json_object_new_object();
	if (d == RPC_JSONRPC) {
		r = jsonrpc_base();
		json_object_object_add(r, "result", ret);
		json_object_object_add(r, "id", id_for_reply(id));
		return r;
	}
	r = json_object_new_object();
	json_object_object_add(r, "return", ret);
	if (id != NULL)
		json_object_object_add(r, "id", id_for_reply(id));
	return r;
}

static struct json_object *jsonrpc_error(rpc_err cls, const char *desc)
{
	struct json_object *err = json_object_new_object();
	struct json_object *data = json_object_new_object();

	json_object_object_add(err, "code",
			       json_object_new_int(rpc_err_jsonrpc_code(cls)));
	json_object_object_add(err, "message", json_object_new_string(desc));
	json_object_object_add(data, "class",
			       json_object_new_string(rpc_err_name(cls)));
	json_object_object_add(err, "data", data);
	return err;
}

struct json_object *rpc_reply_error(enum rpc_dialect d, struct json_object *id,
				    rpc_err cls, const char *desc)
{
	struct json_object *r, *err;

	if (desc == NULL)
		desc = "";
	if (d == RPC_JSONRPC) {
		r = jsonrpc_base();
		json_object_object_add(r, "error", jsonrpc_error(cls, desc));
		json_object_object_add(r, "id", id_for_reply(id));
		return r;
	}
	err = json_object_new_object();
	json_object_object_add(err, "class", json_object_new_string(rpc_err_name(cls)));
	json_object_object_add(err, "desc", json_object_new_string(desc));
	r = json_object_new_object();
	json_object_object_add(r, "error", err);
	if (id != NULL)
		json_object_object_add(r, "id", id_for_reply(id));
	return r;
}

struct json_object *rpc_event_new(const char *name, struct json_object *data)
{
	struct json_object *ev = json_object_new_object();
	struct json_object *ts = json_object_new_object();
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_object_add(ts, "seconds", json_object_new_int64(now.tv_sec));
	json_object_object_add(ts, "microseconds",
			       json_object_new_int64(now.tv_nsec / 1000));
	json_object_object_add(ev, "event", json_object_new_string(name ? name : ""));
	if (data != NULL)
		json_object_object_add(ev, "data", data);
	json_object_object_add(ev, "timestamp", ts);
	return ev;
}

struct json_object *rpc_event_notification(struct json_object *event)
{
	struct json_object *r = jsonrpc_base(), *params = json_object_new_object();
	struct json_object *name = NULL, *v;

	json_object_object_get_ex(event, "event", &name);
	json_object_object_add(r, "method", json_object_get(name));
	if (json_object_object_get_ex(event, "data", &v))
		json_object_object_add(params, "data", json_object_get(v));
	if (json_object_object_get_ex(event, "timestamp", &v))
		json_object_object_add(params, "timestamp", json_object_get(v));
	json_object_object_add(r, "params", params);
	return r;
}

struct json_object *rpc_greeting_new(int major, int minor, int micro,
				     const char *package)
{
	struct json_object *qemu = json_object_new_object();
	struct json_object *version = json_object_new_object();
	struct json_object *qmp = json_object_new_object();
	struct json_object *g = json_object_new_object();

	json_object_object_add(qemu, "major", json_object_new_int(major));
	json_object_object_add(qemu, "minor", json_object_new_int(minor));
	json_object_object_add(qemu, "micro", json_object_new_int(micro));
	json_object_object_add(version, "qemu", qemu);
	json_object_object_add(version, "package",
			       json_object_new_string(package ? package : ""));
	json_object_object_add(qmp, "version", version);
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(g, "QMP", qmp);
	return g;
}

/* Compact JSON escapes every control character inside strings, so the one
 * "\n" added here is the only newline: one message, one line. */
char *rpc_emit(struct json_object *msg, size_t *len)
{
	size_t n = 0;
	const char *s;
	char *out;

	s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL)
		return NULL;
	out = malloc(n + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return out;
}

static int raw_serialize(struct json_object *jso, struct printbuf *pb,
			 int level, int flags)
{
	const char *text = json_object_get_userdata(jso);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, text, (int)strlen(text));
}

static void raw_free(struct json_object *jso, void *userdata)
{
	(void)jso;
	free(userdata);
}

struct json_object *rpc_raw_new(char *text)
{
	struct json_object *v = json_object_new_object();

	if (!v) {
		free(text);
		return NULL;
	}
	json_object_set_serializer(v, raw_serialize, text, raw_free);
	return v;
}
