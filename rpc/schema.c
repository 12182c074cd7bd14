/* Validation of JSON values against the JSON Schema subset that schemas/
 * uses (rpc/schema.h lists it).  Arguments reach the daemon from any client,
 * so the first violation is reported in words a person can act on: the
 * path of the member at fault ("config.disks[0].path") and what was
 * expected ("expected integer >= 16, got 8").
 *
 * Numbers follow json-c's types: a json_type_int is an integer (and a
 * number); a double is a number only, even when its value is integral, so
 * "cpus": 2.0 is refused where an integer is wanted.
 *
 * Generic: what vmd's own documents hold beyond JSON Schema (protocol.json's
 * sections, refs into vm-config.json) is daemon/schema_doc.c's.  A pattern
 * is compiled once and kept on the schema's string (json-c userdata, which
 * json_object_deep_copy refuses: copy a schema before using it).  Neither
 * that nor json-c's cached serializations are for several threads at once. */
#include "config.h"
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json_pointer.h>
#include "rpc/schema.h"
#include "rpc/message.h"

/* Deeper than any real schema nests; stops a "$ref" that points at itself. */
#define MAX_DEPTH 200
/* How much of a value or member name a message quotes. */
#define SHOW_MAX 48

struct walk {
	const struct rpc_schema_ctx *ctx;
	struct json_object *root;  /* document "#..." refs point into now */
	char path[256];            /* 'config.disks[0].path' */
	size_t plen;
	char *msg;
	size_t msglen;
	int depth;
};

/* ---- messages ---- */

static void clip(const char *s, size_t max, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n > max)
		n = rpc_utf8_cut(s, max);
	snprintf(out, outlen, "%.*s%s", (int)n, s, n < strlen(s) ? "..." : "");
}

static const char *type_of(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_int: return "integer";
	case json_type_double: return "number";
	case json_type_string: return "string";
	case json_type_object: return "object";
	case json_type_array: return "array";
	}
	return "unknown";
}

/* The value as compact JSON, clipped: for "got ..." in messages. */
static void show(struct json_object *v, char *out, size_t outlen)
{
	if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
		snprintf(out, outlen, "an %s", type_of(v));
	else
		clip(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE),
		     SHOW_MAX, out, outlen);
}

/* "'path': " (or "schema error at 'path': ") and the formatted text. */
static void vfail(struct walk *w, bool schema_error, const char *fmt, va_list ap)
{
	int n;

	if (!w->msg || w->msglen == 0)
		return;
	n = snprintf(w->msg, w->msglen, "%s%s%s%s",
		     schema_error ? (w->plen ? "schema error at " : "schema error: ") : "",
		     w->plen ? "'" : "", w->path, w->plen ? "': " : "");
	if (n >= 0 && (size_t)n < w->msglen)
		vsnprintf(w->msg + n, w->msglen - n, fmt, ap);
	w->msg[rpc_utf8_cut(w->msg, strlen(w->msg))] = '\0';
}

/* The value does not match: message names the path.  Always -1. */
__attribute__((format(printf, 2, 3)))
static int fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(w, false, fmt, ap);
	va_end(ap);
	return -1;
}

/* The schema itself is broken; rpc_schema_check_supported() exists so that
 * a test finds this rather than a client.  Always -1. */
__attribute__((format(printf, 2, 3)))
static int schema_fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(w, true, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- paths ---- */

/* Append ".key" or "[i]" (text) to the path; returns the mark for pop(). */
static size_t push(struct walk *w, const char *sep, const char *text)
{
	size_t mark = w->plen;

	snprintf(w->path + mark, sizeof w->path - mark, "%s%s", mark ? sep : "", text);
	w->plen = rpc_utf8_cut(w->path, strlen(w->path));
	w->path[w->plen] = '\0';
	return mark;
}

static size_t push_key(struct walk *w, const char *key)
{
	char k[SHOW_MAX + 4];

	clip(key, SHOW_MAX, k, sizeof k);
	return push(w, ".", k);
}

static size_t push_index(struct walk *w, size_t i)
{
	char k[32];

	snprintf(k, sizeof k, "[%zu]", i);
	return push(w, "", k);
}

static void pop(struct walk *w, size_t mark)
{
	w->plen = mark;
	w->path[mark] = '\0';
}

/* ---- values ---- */

static bool kw(struct json_object *schema, const char *name, struct json_object **out)
{
	return json_object_object_get_ex(schema, name, out);
}

static bool is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	       json_object_is_type(v, json_type_double);
}

/* JSON equality, except that 1 and 1.0 are equal as JSON Schema says. */
static bool same(struct json_object *a, struct json_object *b)
{
	if (is_number(a) && is_number(b) &&
	    json_object_get_type(a) != json_object_get_type(b))
		return json_object_get_double(a) == json_object_get_double(b);
	return json_object_equal(a, b) != 0;
}

/* v beyond bound on side (-1: below a minimum, 1: above a maximum); NaN,
 * which json-c's lenient parser lets through, is beyond every bound. */
static bool beyond(struct json_object *v, struct json_object *bound, int side)
{
	double a = json_object_get_double(v), b = json_object_get_double(bound);

	if (json_object_is_type(v, json_type_int) &&
	    json_object_is_type(bound, json_type_int)) {
		int64_t x = json_object_get_int64(v), y = json_object_get_int64(bound);
		return side < 0 ? x < y : x > y;
	}
	return side < 0 ? !(a >= b) : !(a <= b);
}

/* ---- keywords ---- */

static int validate(struct walk *w, struct json_object *schema, struct json_object *v);

/* Validate v, found at member key (or item i when key is NULL). */
static int validate_at(struct walk *w, const char *key, size_t i,
		       struct json_object *s, struct json_object *v)
{
	size_t mark = key ? push_key(w, key) : push_index(w, i);
	int rc = validate(w, s, v);

	pop(w, mark);
	return rc;
}

struct json_object *rpc_schema_ref(const struct rpc_schema_ctx *c,
				   struct json_object *root, const char *ref,
				   struct json_object **doc)
{
	const char *hash = strchr(ref, '#');
	struct json_object *node = NULL;
	char name[256];
	size_t n;

	*doc = root;
	if (hash != ref) {
		n = hash ? (size_t)(hash - ref) : strlen(ref);
		if (!c || !c->resolve || n >= sizeof name)
			return NULL;
		memcpy(name, ref, n);
		name[n] = '\0';
		*doc = c->resolve(c->resolve_ctx, name);
		if (!*doc) {
			/* A resolver that only answers whole refs. */
			*doc = root;
			return hash ? c->resolve(c->resolve_ctx, ref) : NULL;
		}
	}
	if (json_pointer_get(*doc, hash ? hash + 1 : "", &node) != 0)
		return NULL;
	return node;
}

static int check_ref(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *ref, *target, *doc, *saved = w->root;
	int rc;

	if (!kw(s, "$ref", &ref))
		return 0;
	if (!json_object_is_type(ref, json_type_string))
		return schema_fail(w, "$ref must be a string");
	target = rpc_schema_ref(w->ctx, w->root, json_object_get_string(ref), &doc);
	if (!target)
		return schema_fail(w, "cannot resolve $ref '%s'",
				   json_object_get_string(ref));
	w->root = doc;
	rc = validate(w, target, v);
	w->root = saved;
	return rc;
}

static int check_type(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *t, *one;
	char want[128] = "", got[SHOW_MAX + 8];
	const char *name;
	size_t i, n = 1;

	if (!kw(s, "type", &t))
		return 0;
	if (json_object_is_type(t, json_type_array))
		n = json_object_array_length(t);
	for (i = 0; i < n; i++) {
		one = json_object_is_type(t, json_type_array) ? json_object_array_get_idx(t, i) : t;
		if (!json_object_is_type(one, json_type_string))
			return schema_fail(w, "type must name JSON types");
		name = json_object_get_string(one);
		if (strcmp(name, type_of(v)) == 0 || (strcmp(name, "number") == 0 && is_number(v)))
			return 0;
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
			 i ? " or " : "", name);
	}
	if (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_array) || v == NULL)
		return fail(w, "expected %s, got %s", want, type_of(v));
	show(v, got, sizeof got);
	return fail(w, "expected %s, got %s %s", want, type_of(v), got);
}

/* enum and const (an enum of one). */
static int check_enum(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *e;
	char list[160] = "", one[SHOW_MAX + 8], got[SHOW_MAX + 8];
	size_t i, n;

	show(v, got, sizeof got);
	if (kw(s, "const", &e) && !same(v, e)) {
		show(e, one, sizeof one);
		return fail(w, "expected %s, got %s", one, got);
	}
	if (!kw(s, "enum", &e))
		return 0;
	if (!json_object_is_type(e, json_type_array))
		return schema_fail(w, "enum must be an array");
	n = json_object_array_length(e);
	for (i = 0; i < n; i++)
		if (same(v, json_object_array_get_idx(e, i)))
			return 0;
	for (i = 0; i < n && strlen(list) < sizeof list - 8; i++) {
		show(json_object_array_get_idx(e, i), one, sizeof one);
		snprintf(list + strlen(list), sizeof list - strlen(list),
			 "%s%s", i ? ", " : "", one);
	}
	if (i < n)
		snprintf(list + strlen(list), sizeof list - strlen(list), ", ...");
	return fail(w, "expected one of %s, got %s", list, got);
}

static void free_regex(struct json_object *o, void *re)
{
	(void)o;
	regfree(re);
	free(re);
}

/* The pattern compiled once and kept on the schema's own string: compiling
 * per check cost ~80 us for the VM-name pattern, most of a vm-define. */
static regex_t *pattern_regex(struct json_object *p)
{
	regex_t *re = json_object_get_userdata(p);

	if (re)
		return re;
	if (!(re = malloc(sizeof *re)))
		return NULL;
	if (regcomp(re, json_object_get_string(p), REG_EXTENDED | REG_NOSUB) != 0) {
		free(re);
		return NULL;
	}
	json_object_set_userdata(p, re, free_regex);
	return re;
}

static int check_pattern(struct walk *w, struct json_object *p, struct json_object *v)
{
	const char *pat = json_object_get_string(p);
	const char *str = json_object_get_string(v);
	char got[SHOW_MAX + 8];
	regex_t *re;
	int rc;

	if (!json_object_is_type(p, json_type_string))
		return schema_fail(w, "pattern must be a string");
	/* POSIX regexec stops at a NUL byte, so it cannot vouch for the rest. */
	if (strlen(str) != (size_t)json_object_get_string_len(v))
		return fail(w, "does not match %s (contains a NUL byte)", pat);
	if (!(re = pattern_regex(p)))
		return schema_fail(w, "bad pattern %s", pat);
	rc = regexec(re, str, 0, NULL, 0);
	if (rc == 0)
		return 0;
	show(v, got, sizeof got);
	return fail(w, "does not match %s, got %s", pat, got);
}

/* "expected at most 16 items, got 17" */
static int count_fail(struct walk *w, const char *bound, struct json_object *limit,
		      const char *unit, size_t got)
{
	int64_t l = json_object_get_int64(limit);

	return fail(w, "expected at %s %" PRId64 " %s%s, got %zu", bound, l, unit,
		    l == 1 ? "" : "s", got);
}

static int check_string(struct walk *w, struct json_object *s, struct json_object *v)
{
	const char *str = json_object_get_string(v);
	struct json_object *k;
	size_t i, len = 0;

	if (!json_object_is_type(v, json_type_string))
		return 0;
	/* Characters, not bytes, as JSON Schema counts them. */
	for (i = 0; i < (size_t)json_object_get_string_len(v); i++)
		len += ((unsigned char)str[i] & 0xC0) != 0x80;
	if (kw(s, "minLength", &k) && (int64_t)len < json_object_get_int64(k))
		return count_fail(w, "least", k, "character", len);
	if (kw(s, "maxLength", &k) && (int64_t)len > json_object_get_int64(k))
		return count_fail(w, "most", k, "character", len);
	if (kw(s, "pattern", &k))
		return check_pattern(w, k, v);
	return 0;
}

static int check_number(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *k, *t;
	const char *what = "number";
	char got[SHOW_MAX + 8];

	if (!is_number(v))
		return 0;
	if (kw(s, "type", &t) && json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), "integer") == 0)
		what = "integer";
	show(v, got, sizeof got);
	if (kw(s, "minimum", &k) && beyond(v, k, -1))
		return fail(w, "expected %s >= %s, got %s", what,
			    json_object_to_json_string(k), got);
	if (kw(s, "maximum", &k) && beyond(v, k, 1))
		return fail(w, "expected %s <= %s, got %s", what,
			    json_object_to_json_string(k), got);
	return 0;
}

/* Members the schema does not name: refused (additionalProperties false) or
 * checked against the additionalProperties schema. */
static int check_extra(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *ap, *props = NULL, *unused;
	char name[SHOW_MAX + 8];

	if (!kw(s, "additionalProperties", &ap))
		return 0;
	kw(s, "properties", &props);
	json_object_object_foreach(v, key, val) {
		if (props && json_object_object_get_ex(props, key, &unused))
			continue;
		if (json_object_is_type(ap, json_type_boolean) &&
		    !json_object_get_boolean(ap)) {
			clip(key, SHOW_MAX, name, sizeof name);
			return fail(w, "unexpected member '%s'", name);
		}
		if (validate_at(w, key, 0, ap, val))
			return -1;
	}
	return 0;
}

static int check_object(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *req, *props, *member;
	size_t i, n, mark;

	if (!json_object_is_type(v, json_type_object))
		return 0;
	/* Unknown members first: "memroy_mib" says more than a missing one. */
	if (check_extra(w, s, v))
		return -1;
	if (kw(s, "required", &req) && json_object_is_type(req, json_type_array)) {
		n = json_object_array_length(req);
		for (i = 0; i < n; i++) {
			const char *name = json_object_get_string(json_object_array_get_idx(req, i));
			if (!name || json_object_object_get_ex(v, name, &member))
				continue;
			mark = push_key(w, name);
			fail(w, "missing required member");
			pop(w, mark);
			return -1;
		}
	}
	if (!kw(s, "properties", &props))
		return 0;
	if (!json_object_is_type(props, json_type_object))
		return schema_fail(w, "properties must be an object");
	json_object_object_foreach(props, key, sub) {
		if (json_object_object_get_ex(v, key, &member) &&
		    validate_at(w, key, 0, sub, member))
			return -1;
	}
	return 0;
}

static int check_array(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *k;
	size_t i, n;

	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	if (kw(s, "minItems", &k) && (int64_t)n < json_object_get_int64(k))
		return count_fail(w, "least", k, "item", n);
	if (kw(s, "maxItems", &k) && (int64_t)n > json_object_get_int64(k))
		return count_fail(w, "most", k, "item", n);
	if (!kw(s, "items", &k))
		return 0;
	for (i = 0; i < n; i++)
		if (validate_at(w, NULL, i, k, json_object_array_get_idx(v, i)))
			return -1;
	return 0;
}

/* anyOf and oneOf.  When no branch matches, the message is the first
 * branch's complaint: schemas list the most telling branch first (for
 * vm-config's boot that is "'boot.kernel': missing required member"). */
static int check_alternatives(struct walk *w, struct json_object *s, struct json_object *v)
{
	static const char *const names[] = { "anyOf", "oneOf" };
	char first[512], other[512];
	char *msg = w->msg;
	size_t msglen = w->msglen, i, j, n;
	struct json_object *k;
	int matches;

	for (j = 0; j < 2; j++) {
		if (!kw(s, names[j], &k))
			continue;
		if (!json_object_is_type(k, json_type_array))
			return schema_fail(w, "%s must be an array", names[j]);
		n = json_object_array_length(k);
		snprintf(first, sizeof first, "matches none of the alternatives");
		for (i = 0, matches = 0; i < n; i++) {
			w->msg = i ? other : first;
			w->msglen = sizeof first;
			matches += validate(w, json_object_array_get_idx(k, i), v) == 0;
		}
		w->msg = msg;
		w->msglen = msglen;
		if (matches == 0 && msg && msglen)
			snprintf(msg, msglen, "%s", first);
		if (matches == 0)
			return -1;
		if (j == 1 && matches > 1)
			return fail(w, "matches more than one alternative (oneOf)");
	}
	return 0;
}

/* allOf: every branch.  if/then/else: "then" when the value matches "if"
 * (tried without a message), "else" when it does not; a failing branch
 * gives its own message, e.g. "'serial[0].path': missing required member". */
static int check_conditions(struct walk *w, struct json_object *s, struct json_object *v)
{
	struct json_object *k, *branch;
	char *msg = w->msg;
	size_t msglen = w->msglen, i, n;
	bool matched;

	if (kw(s, "allOf", &k)) {
		if (!json_object_is_type(k, json_type_array))
			return schema_fail(w, "allOf must be an array");
		n = json_object_array_length(k);
		for (i = 0; i < n; i++)
			if (validate(w, json_object_array_get_idx(k, i), v))
				return -1;
	}
	if (!kw(s, "if", &k))
		return 0;
	w->msg = NULL;
	w->msglen = 0;
	matched = validate(w, k, v) == 0;
	w->msg = msg;
	w->msglen = msglen;
	return kw(s, matched ? "then" : "else", &branch) ? validate(w, branch, v) : 0;
}

typedef int (*keyword_check)(struct walk *, struct json_object *, struct json_object *);

/* In this order, so that the first message is the most useful one. */
static const keyword_check checks[] = {
	check_ref, check_type, check_enum, check_string,
	check_number, check_object, check_array, check_alternatives,
	check_conditions,
};

static int validate(struct walk *w, struct json_object *schema, struct json_object *v)
{
	size_t i;
	int rc = 0;

	if (json_object_is_type(schema, json_type_boolean))
		return json_object_get_boolean(schema) ? 0 : fail(w, "not allowed");
	if (!json_object_is_type(schema, json_type_object))
		return schema_fail(w, "a schema must be an object or a boolean");
	if (w->depth >= MAX_DEPTH)
		return schema_fail(w, "nested too deeply (a $ref loop?)");
	w->depth++;
	for (i = 0; i < sizeof checks / sizeof checks[0] && rc == 0; i++)
		rc = checks[i](w, schema, v);
	w->depth--;
	return rc;
}

int rpc_schema_validate(const struct rpc_schema_ctx *ctx,
			struct json_object *schema, struct json_object *value,
			char *msg, size_t msglen)
{
	static const struct rpc_schema_ctx none;
	struct walk w = { .ctx = ctx ? ctx : &none, .msg = msg, .msglen = msglen };

	w.root = w.ctx->root ? w.ctx->root : schema;
	if (msg && msglen)
		msg[0] = '\0';
	return validate(&w, schema, value) == 0 ? 0 : -1;
}

/* ---- rpc_schema_check_supported ---- */

static int check_schema(struct walk *w, struct json_object *s);

static bool in_list(const char *word, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(word, *list) == 0)
			return true;
	return false;
}

/* Keywords that only document; they never change what validates. */
static const char *const annotations[] = {
	"title", "description", "default", "examples", "$comment", "$schema",
	"$id", "deprecated", "readOnly", "writeOnly", NULL
};

static const char *const type_names[] = {
	"null", "boolean", "integer", "number", "string", "object", "array", NULL
};

/* An array of strings, each in allowed (when given). */
static bool all_strings(struct json_object *a, const char *const *allowed)
{
	size_t i, n;

	if (!json_object_is_type(a, json_type_array))
		return false;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		if (!json_object_is_type(e, json_type_string) ||
		    (allowed && !in_list(json_object_get_string(e), allowed)))
			return false;
	}
	return true;
}

static bool compiles(struct json_object *p)
{
	regex_t re;

	if (!json_object_is_type(p, json_type_string) ||
	    regcomp(&re, json_object_get_string(p), REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	regfree(&re);
	return true;
}

/* Each member of a {name: schema} object, or each item of [schema, ...]. */
static int check_schemas(struct walk *w, struct json_object *c)
{
	size_t i, n, mark;
	int rc = 0;

	if (json_object_is_type(c, json_type_object)) {
		json_object_object_foreach(c, key, sub) {
			mark = push_key(w, key);
			rc = check_schema(w, sub);
			pop(w, mark);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (!json_object_is_type(c, json_type_array) || json_object_array_length(c) == 0)
		return fail(w, "expected a non-empty array of schemas");
	n = json_object_array_length(c);
	for (i = 0; i < n && rc == 0; i++) {
		mark = push_index(w, i);
		rc = check_schema(w, json_object_array_get_idx(c, i));
		pop(w, mark);
	}
	return rc;
}

static bool is_kw(const char *k, const char *a, const char *b)
{
	return strcmp(k, a) == 0 || (b && strcmp(k, b) == 0);
}

/* The argument of one validation keyword is well-formed.  1: not one. */
static int check_keyword(struct walk *w, const char *k, struct json_object *a)
{
	bool ok;

	if (is_kw(k, "properties", "$defs"))
		return json_object_is_type(a, json_type_object) ?
			check_schemas(w, a) : fail(w, "expected an object of schemas");
	if (is_kw(k, "anyOf", "oneOf") || is_kw(k, "allOf", NULL))
		return json_object_is_type(a, json_type_array) ?
			check_schemas(w, a) : fail(w, "expected a non-empty array of schemas");
	if (is_kw(k, "additionalProperties", "items") || is_kw(k, "if", "then") ||
	    is_kw(k, "else", NULL))
		return check_schema(w, a);
	if (is_kw(k, "type", NULL))
		ok = json_object_is_type(a, json_type_string) ?
			in_list(json_object_get_string(a), type_names) :
			all_strings(a, type_names) && json_object_array_length(a) > 0;
	else if (is_kw(k, "required", NULL))
		ok = all_strings(a, NULL);
	else if (is_kw(k, "enum", NULL))
		ok = json_object_is_type(a, json_type_array);
	else if (is_kw(k, "const", NULL))
		ok = true;
	else if (is_kw(k, "pattern", NULL))
		ok = compiles(a);
	else if (is_kw(k, "minimum", "maximum"))
		ok = is_number(a);
	else if (is_kw(k, "minLength", "maxLength") || is_kw(k, "minItems", "maxItems"))
		ok = json_object_is_type(a, json_type_int) && json_object_get_int64(a) >= 0;
	else if (is_kw(k, "$ref", NULL))
		ok = json_object_is_type(a, json_type_string);
	else
		return 1;
	return ok ? 0 : fail(w, "bad argument for %s: %s", k,
			     json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
}

static int check_schema(struct walk *w, struct json_object *s)
{
	size_t mark;
	int rc;

	if (json_object_is_type(s, json_type_boolean))
		return 0;
	if (!json_object_is_type(s, json_type_object))
		return fail(w, "a schema must be an object or a boolean");
	if (w->depth >= MAX_DEPTH)
		return fail(w, "nested too deeply");
	json_object_object_foreach(s, key, arg) {
		if (in_list(key, annotations))
			continue;
		mark = push_key(w, key);
		w->depth++;
		rc = check_keyword(w, key, arg);
		w->depth--;
		pop(w, mark);
		if (rc > 0)
			return fail(w, "unsupported keyword '%s'", key);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int rpc_schema_check_supported(struct json_object *schema, char *msg, size_t msglen)
{
	struct walk w = { .msg = msg, .msglen = msglen };

	if (msg && msglen)
		msg[0] = '\0';
	return check_schema(&w, schema) ? -1 : 0;
}

static bool find_nul(struct json_object *v, char *path, size_t cap)
{
	size_t len = strlen(path);

	switch (json_object_get_type(v)) {
	case json_type_string:
		return strlen(json_object_get_string(v)) !=
		       (size_t)json_object_get_string_len(v);
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			snprintf(path + len, cap - len, "[%zu]", i);
			if (find_nul(json_object_array_get_idx(v, i), path, cap))
				return true;
		}
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, member) {
			snprintf(path + len, cap - len, "%s%s", len ? "." : "", key);
			if (find_nul(member, path, cap))
				return true;
		}
		break;
	}
	default:
		break;
	}
	path[len] = 0;
	return false;
}

bool rpc_json_find_nul(struct json_object *v, char *path, size_t cap)
{
	if (!find_nul(v, path, cap))
		return false;
	path[rpc_utf8_cut(path, strlen(path))] = '\0';
	return true;
}
