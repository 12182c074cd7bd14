/* libFuzzer harness for what a client's bytes go through in vmd before any
 * handler runs: the stream framing (rpc/stream.c), request parsing
 * (rpc/message.c), argument validation against schemas/protocol.json
 * (rpc/schema.c) and the replies vmd builds and emits.
 *
 * The input is the byte stream a client sends.  It is read twice: once
 * pushed whole, once in chunks whose sizes come from a hash of the input
 * (one byte at a time, small, or large slices), as TCP may deliver it.
 * Framing must not depend on how bytes arrive, so both readings must give
 * the same values and the same first framing error; after a parse error
 * the stream resynchronises from the byte where json-c stopped, which may
 * differ with chunking (see compare()), so the comparison stops there,
 * while reading and serving go on.  Every value then takes the daemon's path (daemon/server.c
 * conn_handle, daemon/dispatch.c dispatch_call, with their buffer sizes),
 * and every reply is emitted and must read back, through a strict UTF-8
 * validating stream as vmctl reads it, as exactly one value carrying the
 * request's id, byte for byte as the client wrote it (the daemon keeps the
 * id's raw text).  An array is served as the daemon serves a JSON-RPC
 * batch (daemon/batch.c): its replies must read back as one array of as
 * many replies.  A value the stream refuses whole (a member name twice, a
 * NUL in a name) is answered and reading goes on; both readings must
 * refuse it alike.  A valid console-attach switches the connection to raw
 * bytes, as the daemon does: the bytes after it must come out unchanged.
 *
 * A check that fails calls abort(), which libFuzzer reports as a crash.
 *
 * UTF-8: rpc/stream.c promises that text is valid UTF-8 before it reaches
 * anyone, so every string of every value it hands out must be strictly
 * valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), and when the whole input is, every reply must be too.
 *
 * Each bug this harness found has an input in crashes/protocol/ that
 * run.sh replays before fuzzing (see README.md). */
#include "config.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "daemon/batch.h"
#include "rpc/message.h"
#include "daemon/schema_doc.h"
#include "rpc/schema.h"
#include "rpc/stream.h"
#include "schemas/embedded.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct json_object *protocol, *vm_schema, *commands;
/* Reads each emitted reply back; left empty after each, so reused. */
static struct rpc_stream *back;

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_protocol: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

/* Strictly valid UTF-8 (RFC 3629) of n bytes. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], k, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i <= k)
			return false;
		for (unsigned j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

/* Whether the input being run is valid UTF-8 as a whole. */
static bool input_utf8;

/* ---- schemas, loaded as daemon/dispatch.c loads them ---- */

static struct json_object *load(const char *text, const char *name)
{
	char err[512];
	struct json_object *o = schema_doc_load(text, name, err, sizeof err);

	if (!o)
		FAIL("%s", err);
	return o;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	protocol = load(vmd_schema_protocol, "protocol.json");
	vm_schema = load(vmd_schema_vm_config, "vm-config.json");
	if (!json_object_object_get_ex(protocol, "commands", &commands))
		FAIL("protocol.json has no commands");
	back = rpc_stream_new(RPC_MAX_MSG);
	if (!back)
		FAIL("out of memory");
	return 0;
}

/* ---- what one reading of the input produced ---- */

struct record {
	char **ev;        /* "V<value>", "B<parse error>", "T<size error>",
	                     "R<raw rest>" */
	size_t *evlen;
	unsigned char *info; /* of a V: 1 = went raw, 2 = JSON-RPC */
	size_t n, cap;
	bool closed;      /* a framing error was recorded: stop comparing */
};

static void record_add(struct record *r, char tag, const char *text, size_t len)
{
	char *e;

	if (r->closed)
		return;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
		r->evlen = realloc(r->evlen, r->cap * sizeof *r->evlen);
		r->info = realloc(r->info, r->cap * sizeof *r->info);
		if (!r->ev || !r->evlen || !r->info)
			FAIL("out of memory");
	}
	e = malloc(len + 2);
	if (!e)
		FAIL("out of memory");
	e[0] = tag;
	memcpy(e + 1, text, len);
	e[len + 1] = '\0';
	r->ev[r->n] = e;
	r->info[r->n] = 0;
	r->evlen[r->n++] = len + 1;
}

static void record_free(struct record *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i]);
	free(r->ev);
	free(r->evlen);
	free(r->info);
}

/* ---- replies: emitted, then read back as a client would ---- */

/* The batch being served (daemon/server.c conn->batch) and how many
 * replies it gathered. */
static struct batch *cur_batch;
static size_t batch_replies;

static bool is_jsonrpc_reply(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "jsonrpc", &v) &&
	       !strcmp(json_object_get_string(v), "2.0");
}

/* The reply's shape: QMP {"return"} or {"error": {class, desc}}; JSON-RPC
 * {"jsonrpc", "result" | "error": {code, message, data}, "id"}. */
static void check_shape(struct json_object *o, enum rpc_dialect d,
			const char *text)
{
	struct json_object *err, *v;

	if (d == RPC_JSONRPC) {
		if (!is_jsonrpc_reply(o) || !json_object_object_get_ex(o, "id", NULL))
			FAIL("JSON-RPC reply without jsonrpc/id: %s", text);
		if (json_object_object_get_ex(o, "result", NULL))
			return;
		if (!json_object_object_get_ex(o, "error", &err) ||
		    !json_object_object_get_ex(err, "code", &v) ||
		    !json_object_is_type(v, json_type_int) ||
		    !json_object_object_get_ex(err, "message", &v) ||
		    !json_object_is_type(v, json_type_string))
			FAIL("bad JSON-RPC reply: %s", text);
		return;
	}
	if (json_object_object_get_ex(o, "return", NULL))
		return;
	if (!json_object_object_get_ex(o, "error", &err) ||
	    !json_object_object_get_ex(err, "class", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !json_object_object_get_ex(err, "desc", &v) ||
	    !json_object_is_type(v, json_type_string))
		FAIL("bad QMP reply: %s", text);
}

/* The reply echoes the request's id exactly as the client wrote it (the
 * raw text rpc_id_keep_raw put in the request): QMP omits it when the
 * request had none, JSON-RPC says null.  Every reply builder puts "id"
 * last, so the emitted line ends with ,"id":TEXT}. */
static void check_id(struct json_object *o, enum rpc_dialect d,
		     struct json_object *id, const char *text, size_t len)
{
	struct json_object *got;
	bool has = json_object_object_get_ex(o, "id", &got);
	const char *want;
	size_t wlen;

	if (!id) {
		if (d == RPC_QMP ? has : (!has || got != NULL))
			FAIL("reply id should be %s: %s",
			     d == RPC_QMP ? "absent" : "null", text);
		return;
	}
	if (!has)
		FAIL("reply lost the request's id: %s", text);
	want = json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN);
	wlen = strlen(want);
	if (len < wlen + 8 || memcmp(text + len - wlen - 2, want, wlen) ||
	    memcmp(text + len - wlen - 8, ",\"id\":", 6) ||
	    memcmp(text + len - 2, "}\n", 2))
		FAIL("reply %s does not carry the request's id %s", text, want);
}

/* conn_send(): rpc_emit, then what the client sees must be one line and
 * one strict, valid UTF-8 value. */
static void send_reply(struct json_object *reply, enum rpc_dialect d,
		       struct json_object *id)
{
	struct json_object *o = NULL, *extra = NULL;
	char err[256];
	size_t len = 0;
	char *s;

	if (!reply)
		FAIL("reply builder returned NULL");
	s = rpc_emit(reply, &len);
	if (!s)
		FAIL("rpc_emit returned NULL");
	if (len == 0 || s[len - 1] != '\n' || memchr(s, '\n', len - 1) ||
	    strlen(s) != len)
		FAIL("emitted reply is not one line: %s", s);
	if (rpc_stream_push(back, s, len) < 0)
		FAIL("out of memory");
	if (rpc_stream_next(back, &o, err, sizeof err) != RPC_STREAM_VALUE ||
	    (input_utf8 && !valid_utf8((unsigned char *)s, len))) {
		FAIL("emitted reply is not valid UTF-8 or does not read back "
		     "(%s): %s", err, s);
	}
	if (rpc_stream_next(back, &extra, err, sizeof err) != RPC_STREAM_MORE ||
	    rpc_stream_pending(back) != 0)
		FAIL("emitted reply reads back as more than one value: %s", s);
	check_shape(o, d, s);
	check_id(o, d, id, s, len);
	json_object_put(o);
	free(s);
	if (cur_batch) {  /* daemon/server.c conn_answer() */
		batch_add(cur_batch, reply);
		batch_replies++;
		return;
	}
	json_object_put(reply);
}

/* ---- the daemon's handling of one value ---- */

/* daemon/server.c call_finish(): a JSON-RPC notification gets no reply. */
static void finish(struct rpc_request *req, struct json_object *reply)
{
	if (req->dialect == RPC_JSONRPC && !req->id)
		json_object_put(reply);
	else
		send_reply(reply, req->dialect, req->id);
}

/* daemon/server.c call_error(): desc[1024]. */
__attribute__((format(printf, 3, 4)))
static void call_error(struct rpc_request *req, rpc_err cls, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof desc, fmt, ap);
	va_end(ap);
	desc[rpc_utf8_cut(desc, strlen(desc))] = '\0';  /* as server.c does */
	finish(req, rpc_reply_error(req->dialect, req->id, cls, desc));
}

/* daemon/dispatch.c dispatch_call() up to the handler, on a negotiated
 * connection.  Returns true for a valid console-attach: the connection
 * leaves JSON. */
static bool dispatch(struct rpc_request *req)
{
	struct json_object *spec, *args_schema;
	struct rpc_schema_ctx ctx = {
		.root = protocol, .resolve = schema_doc_vm_config_ref, .resolve_ctx = vm_schema,
	};
	char msg[512], path[512] = "";
	bool nul, bad = false;

	if (!json_object_object_get_ex(commands, req->command, &spec)) {
		call_error(req, RPC_COMMAND_NOT_FOUND,
			   "The command %s has not been found", req->command);
		return false;
	}
	nul = rpc_json_find_nul(req->args, path, sizeof path);
	/* Validated even when a NUL would stop the daemon first: the validator
	 * must cope with such strings too. */
	msg[0] = 0;
	if (json_object_object_get_ex(spec, "arguments", &args_schema))
		bad = rpc_schema_validate(&ctx, args_schema, req->args, msg,
					  sizeof msg) < 0;
	if (bad && !msg[0])
		FAIL("validation failed without a message (%s)", req->command);
	if (!bad && msg[0])
		FAIL("validation passed with a message: %s", msg);
	if (nul) {
		call_error(req, RPC_INVALID_ARGUMENT, "%s: '%s': contains a NUL "
			   "character (\\u0000)", req->command, path);
		return false;
	}
	if (bad) {
		call_error(req, RPC_INVALID_ARGUMENT, "%s: %s", req->command, msg);
		return false;
	}
	/* A handler's return value stands in as the echoed arguments. */
	finish(req, rpc_reply_return(req->dialect, req->id,
				     json_object_get(req->args)));
	return !strcmp(req->command, "console-attach");
}

/* daemon/server.c conn_keep_id(): echo the id as it was written. */
static void keep_id(struct rpc_stream *st, struct json_object *obj, size_t elem)
{
	size_t len;
	const char *text = rpc_stream_raw_id(st, elem, &len);

	if (text && rpc_id_keep_raw(obj, text, len) < 0)
		FAIL("out of memory");
}

/* daemon/server.c conn_handle_one(): desc[512]. */
static bool handle(struct json_object *obj, enum rpc_dialect *last)
{
	struct rpc_request req;
	char desc[512];
	rpc_err e = rpc_request_parse(obj, &req, desc, sizeof desc);
	bool raw = false;

	if (cur_batch)
		e = rpc_batch_element(&req, e, desc, sizeof desc);
	*last = req.dialect;
	if (req.obj != obj)
		FAIL("rpc_request_parse did not take the value");
	if (e != RPC_OK) {
		if (!desc[0])
			FAIL("request refused without a description");
		send_reply(rpc_reply_error(req.dialect, req.id, e, desc),
			   req.dialect, req.id);
	} else {
		if (!req.command || !json_object_is_type(req.args, json_type_object))
			FAIL("parsed request without command or args object");
		raw = dispatch(&req);
	}
	rpc_request_clear(&req);
	return raw;
}

/* The replies of a batch: one line, one array, one element per reply. */
static void check_batch_reply(struct batch *b)
{
	struct json_object *o = NULL;
	char err[256];
	size_t len = 0;
	char *s = batch_reply(b, &len);

	if (!s) {
		if (batch_replies)
			FAIL("a batch with %zu replies sent nothing", batch_replies);
		return;
	}
	if (len == 0 || s[len - 1] != '\n' || memchr(s, '\n', len - 1) ||
	    rpc_stream_push(back, s, len) < 0 ||
	    rpc_stream_next(back, &o, err, sizeof err) != RPC_STREAM_VALUE ||
	    !json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) != batch_replies)
		FAIL("batch reply is not one array of %zu replies (%s): %s",
		     batch_replies, err, s);
	json_object_put(o);
	if (rpc_stream_next(back, &o, err, sizeof err) != RPC_STREAM_MORE ||
	    rpc_stream_pending(back) != 0)
		FAIL("batch reply reads back as more than one value: %s", s);
	free(s);
}

/* daemon/server.c conn_batch() and conn_batch_run(), on the QMP socket. */
static void handle_batch(struct rpc_stream *st, struct json_object *arr,
			 enum rpc_dialect *last)
{
	struct json_object *first = json_object_array_get_idx(arr, 0), *el;
	enum rpc_dialect ignored;
	char desc[160];

	if (!json_object_object_get_ex(first, "jsonrpc", NULL)) {
		*last = RPC_QMP;
		send_reply(rpc_reply_error(RPC_QMP, NULL, RPC_INVALID_REQUEST,
					   "QMP input must be a JSON object"),
			   RPC_QMP, NULL);
		json_object_put(arr);
		return;
	}
	*last = RPC_JSONRPC;
	if (batch_check(arr, desc, sizeof desc) != RPC_OK) {
		send_reply(rpc_reply_error(RPC_JSONRPC, NULL, RPC_INVALID_REQUEST,
					   desc), RPC_JSONRPC, NULL);
		json_object_put(arr);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		keep_id(st, json_object_array_get_idx(arr, i), i);
	cur_batch = batch_new(arr);
	if (!cur_batch)
		FAIL("out of memory");
	batch_replies = 0;
	while ((el = batch_next(cur_batch)))
		if (handle(el, &ignored))
			FAIL("a batch call went raw");
	check_batch_reply(cur_batch);
	batch_free(cur_batch);
	cur_batch = NULL;
}

/* daemon/server.c conn_handle(): a batch, or one request. */
static bool handle_value(struct rpc_stream *st, struct json_object *obj,
			 enum rpc_dialect *last)
{
	if (json_object_is_type(obj, json_type_array)) {
		handle_batch(st, obj, last);
		return false;
	}
	keep_id(st, obj, RPC_STREAM_TOP);
	return handle(obj, last);
}

/* ---- reading the input ---- */

struct plan {
	uint64_t state;   /* xorshift64 */
	int mode;         /* 0: whole, 1: single bytes, 2: 1..16, 3: 1..size */
	size_t max_msg;
	size_t take_cap;  /* buffer size for rpc_stream_take_rest */
};

static uint64_t next_rand(struct plan *p)
{
	p->state ^= p->state << 13;
	p->state ^= p->state >> 7;
	p->state ^= p->state << 17;
	return p->state;
}

/* Size of the next chunk of the left bytes. */
static size_t chunk(struct plan *p, size_t left)
{
	size_t n = left;

	if (p->mode == 1)
		n = 1;
	else if (p->mode == 2)
		n = 1 + next_rand(p) % 16;
	else if (p->mode == 3)
		n = 1 + next_rand(p) % left;
	return n < left ? n : left;
}

/* Leaving JSON: the raw bytes are what the stream still holds plus what
 * has not arrived yet. */
static void take_raw(struct rpc_stream *s, struct plan *p, struct record *r,
		     const uint8_t *rest, size_t restlen)
{
	size_t pending = rpc_stream_pending(s), len = 0, n;
	char *buf = malloc(pending + restlen + 1);

	if (!buf)
		FAIL("out of memory");
	while ((n = rpc_stream_take_rest(s, buf + len, p->take_cap)) > 0) {
		len += n;
		if (len > pending)
			FAIL("take_rest gave more than pending said");
	}
	if (len != pending)
		FAIL("take_rest gave %zu bytes, pending said %zu", len, pending);
	if (rpc_stream_pending(s) != 0)
		FAIL("bytes left after take_rest");
	memcpy(buf + len, rest, restlen);
	record_add(r, 'R', buf, len + restlen);
	free(buf);
}

/* A value the stream handed out (as compact JSON, where strings appear as
 * they are, only control characters escaped). */
static void check_text(const char *t)
{
	if (valid_utf8((const unsigned char *)t, strlen(t)))
		return;
	FAIL("the stream handed out text that is not UTF-8: %s", t);
}

/* daemon/server.c conn_stream_error(): err[256] from conn_process. */
static void stream_error(enum rpc_stream_status st, const char *err,
			 enum rpc_dialect last)
{
	rpc_err cls = st == RPC_STREAM_TOO_BIG ? RPC_GENERIC_ERROR :
		      st == RPC_STREAM_REFUSED ? RPC_INVALID_REQUEST :
		      RPC_PARSE_ERROR;

	if (!err[0])
		FAIL("stream error %d without a message", (int)st);
	send_reply(rpc_reply_error(last, NULL, cls, err), last, NULL);
}

/* The daemon's handling of a value the stream gave (true: went raw).  The
 * chunked reading skips what the whole reading did with the same value at
 * the same place (ref), for speed: it cannot differ. */
static bool serve(struct rpc_stream *st, struct json_object *obj,
		  struct record *r, const struct record *ref,
		  enum rpc_dialect *last)
{
	size_t i = r->n - 1;
	bool raw;

	if (!r->closed && ref && i < ref->n && ref->evlen[i] == r->evlen[i] &&
	    !memcmp(ref->ev[i], r->ev[i], r->evlen[i])) {
		*last = ref->info[i] & 2 ? RPC_JSONRPC : RPC_QMP;
		json_object_put(obj);
		return ref->info[i] & 1;
	}
	raw = handle_value(st, obj, last);
	if (!r->closed)
		r->info[i] = (raw ? 1 : 0) | (*last == RPC_JSONRPC ? 2 : 0);
	return raw;
}

/* A parse error without its byte offset, which may differ with chunking
 * (json-c stops at a different byte): "JSON parse error at byte 12: x". */
static const char *error_kind(const char *err)
{
	const char *c = strstr(err, ": ");

	return c ? c + 2 : err;
}

static void read_input(const uint8_t *data, size_t size, struct plan *p,
		       struct record *r, const struct record *ref)
{
	struct rpc_stream *s = rpc_stream_new(p->max_msg);
	enum rpc_dialect last = RPC_QMP;
	size_t pos = 0;
	bool open = true;

	if (!s)
		FAIL("out of memory");
	while (open && pos < size) {
		size_t n = p->mode ? chunk(p, size - pos) : size - pos;

		if (rpc_stream_push(s, data + pos, n) < 0)
			FAIL("push failed");
		pos += n;
		for (;;) {
			struct json_object *obj = NULL;
			char err[256];
			enum rpc_stream_status st = rpc_stream_next(s, &obj, err, sizeof err);

			if (st == RPC_STREAM_MORE) {
				if (obj)
					FAIL("MORE with a value");
				break;
			}
			if (st == RPC_STREAM_VALUE) {
				/* obj is NULL for a JSON null */
				const char *t = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
				check_text(t);
				record_add(r, 'V', t, strlen(t));
				if (serve(s, obj, r, ref, &last)) {
					take_raw(s, p, r, data + pos, size - pos);
					open = false;
					break;
				}
				continue;
			}
			if (st == RPC_STREAM_REFUSED) {
				/* a whole value, refused the same way however it
				 * arrived: the readings stay comparable */
				if (obj)
					FAIL("REFUSED with a value");
				record_add(r, 'F', err, strlen(err));
				stream_error(st, err, last);
				continue;
			}
			if (st != RPC_STREAM_BAD_JSON && st != RPC_STREAM_TOO_BIG)
				FAIL("unknown stream status %d", (int)st);
			if (st == RPC_STREAM_BAD_JSON)
				record_add(r, 'B', error_kind(err), strlen(error_kind(err)));
			else
				record_add(r, 'T', err, strlen(err));
			r->closed = true;
			stream_error(st, err, last);
			if (st == RPC_STREAM_TOO_BIG) {  /* the daemon closes */
				open = false;
				break;
			}
		}
	}
	rpc_stream_free(s);
}

/* Raw bytes after console-attach ("R" + bytes).  When the value's line end
 * had not arrived yet, the chunked reading cannot strip it, so a leading
 * "\n" or "\r\n" more than the whole reading is allowed there (the daemon
 * would pass that line end to the console: see README.md). */
static bool same_raw(const char *whole, size_t wlen, const char *chunked, size_t clen)
{
	static const char *const ends[] = { "", "\n", "\r\n" };

	for (size_t i = 0; i < 3; i++) {
		size_t e = strlen(ends[i]);

		if (clen == wlen + e && !memcmp(chunked + 1, ends[i], e) &&
		    !memcmp(whole + 1, chunked + 1 + e, wlen - 1))
			return true;
	}
	return false;
}

static void compare(const struct record *a, const struct record *b)
{
	size_t i;

	for (i = 0; i < a->n && i < b->n; i++) {
		if (a->ev[i][0] == 'R' && b->ev[i][0] == 'R' &&
		    same_raw(a->ev[i], a->evlen[i], b->ev[i], b->evlen[i]))
			continue;
		if (a->evlen[i] == b->evlen[i] &&
		    !memcmp(a->ev[i], b->ev[i], a->evlen[i]))
			continue;
		/* Both refused: json-c may name the fault differently when it
		 * meets it in another call ("unexpected character" or "object
		 * value separator ',' expected"); that it is refused is what
		 * counts. */
		if (a->ev[i][0] == 'B' && b->ev[i][0] == 'B')
			continue;
		FAIL("chunking changed event %zu: whole '%s' vs chunked '%s'",
			     i, a->ev[i], b->ev[i]);
	}
	/* At the end of the input, json-c may see a fault in one call that it
	 * only meets later in another ("--" pushed whole, or "-" then "-"):
	 * a last refusal that the other reading has not reached yet. */
	if (a->n == b->n + 1 && a->ev[a->n - 1][0] == 'B')
		return;
	if (b->n == a->n + 1 && b->ev[b->n - 1][0] == 'B')
		return;
	if (a->n != b->n)
		FAIL("chunking changed the number of events: %zu whole, %zu chunked",
		     a->n, b->n);
}

static uint64_t fnv1a(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fnv1a(data, size);

	input_utf8 = valid_utf8(data, size);
	struct plan whole = { .mode = 0 }, chunked;
	struct record a = { 0 }, b = { 0 };

	/* One input in four gets a small size cap, so that the cap's edges
	 * (a value of exactly max_msg bytes, one more) are reached. */
	whole.max_msg = (h & 3) == 0 ? 1 + (h >> 2) % 300 : RPC_MAX_MSG;
	whole.take_cap = 1 + (h >> 12) % 64;
	chunked = whole;
	chunked.state = h | 1;
	chunked.mode = 1 + (int)((h >> 20) % 3);
	read_input(data, size, &whole, &a, NULL);
	read_input(data, size, &chunked, &b, &a);
	compare(&a, &b);
	record_free(&a);
	record_free(&b);
	return 0;
}
