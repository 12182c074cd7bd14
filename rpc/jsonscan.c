/* Checks on the raw text of a JSON value json-c has parsed (see the header).
 *
 * One pass over the text counts member names, finds raw control characters
 * in strings, \u0000 in member names, and the extent of "id" members.  A
 * duplicate name is found by comparing that count with the members json-c
 * kept (it keeps one per name): only when they differ does a second, slower
 * pass sort each object's names to say which name it was.  So the common
 * case allocates nothing but the id list. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/jsonscan.h"
#include "rpc/message.h"

struct frame {
	bool obj;
	bool want_name;      /* an object, before a member's name */
	size_t kstart;       /* its first name in names[] (second pass) */
};

struct name {
	const char *s;
	size_t len, off;
	char *owned;         /* decoded copy when the text has escapes */
};

struct scanner {
	const char *p;
	size_t n;
	struct frame *f;
	size_t depth, fcap;
	size_t members;
	bool collect;        /* second pass: keep names, find the duplicate */
	struct name *names;
	size_t nnames, ncap;
	bool id_next, capturing;
	size_t cap_depth, cap_start, cap_elem, elem;
	struct json_scan *out;
};

static int fault(struct scanner *sc, enum json_scan_fault f, size_t at)
{
	sc->out->fault = f;
	sc->out->fault_at = at;
	return 1;
}

/* The string starting at p[i] == '"': *end is its closing quote. */
static int string_end(struct scanner *sc, size_t i, size_t *end, bool *nul)
{
	const char *p = sc->p;
	size_t j = i + 1;

	*nul = false;
	while (j < sc->n && p[j] != '"') {
		if (p[j] == '\\') {
			if (j + 5 < sc->n && p[j + 1] == 'u' &&
			    memcmp(p + j + 2, "0000", 4) == 0)
				*nul = true;
			j += p[j + 1] == 'u' ? 6 : 2;
			continue;
		}
		if ((unsigned char)p[j] < 0x20)
			return fault(sc, JSON_SCAN_CTRL, j);
		j++;
	}
	*end = j;
	return 0;
}

/* The name in p[i..end] (quotes included), decoded if it has escapes. */
static int name_text(struct scanner *sc, size_t i, size_t end, struct name *nm)
{
	struct json_tokener *tok;
	struct json_object *o;

	nm->off = i;
	nm->owned = NULL;
	nm->s = sc->p + i + 1;
	nm->len = end - i - 1;
	if (memchr(nm->s, '\\', nm->len) == NULL)
		return 0;
	tok = json_tokener_new();
	if (tok == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, sc->p + i, (int)(end + 1 - i));
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_string)) {
		json_object_put(o);
		return -1;
	}
	nm->len = (size_t)json_object_get_string_len(o);
	nm->owned = malloc(nm->len + 1);
	if (nm->owned != NULL)
		memcpy(nm->owned, json_object_get_string(o), nm->len);
	json_object_put(o);
	nm->s = nm->owned;
	return nm->owned ? 0 : -1;
}

static void value_start(struct scanner *sc, size_t i)
{
	if (!sc->id_next)
		return;
	sc->id_next = false;
	sc->capturing = true;
	sc->cap_start = i;
	sc->cap_depth = sc->depth;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A ',' or '}' at depth: the id being captured there ends before it. */
static int member_end(struct scanner *sc, size_t i)
{
	struct json_scan *o = sc->out;
	size_t end = i;

	if (!sc->capturing || sc->depth != sc->cap_depth)
		return 0;
	sc->capturing = false;
	while (end > sc->cap_start && is_ws(sc->p[end - 1]))
		end--;
	if (o->nids == o->idcap) {
		size_t ncap = o->idcap ? 2 * o->idcap : 4;
		struct json_scan_id *ids = realloc(o->ids, ncap * sizeof *ids);

		if (ids == NULL)
			return -1;
		o->ids = ids;
		o->idcap = ncap;
	}
	o->ids[o->nids++] = (struct json_scan_id){ sc->cap_elem, sc->cap_start,
						   end - sc->cap_start };
	return 0;
}

static int push(struct scanner *sc, bool obj)
{
	if (sc->depth == sc->fcap) {
		size_t ncap = sc->fcap ? 2 * sc->fcap : 16;
		struct frame *f = realloc(sc->f, ncap * sizeof *f);

		if (f == NULL)
			return -1;
		sc->f = f;
		sc->fcap = ncap;
	}
	sc->f[sc->depth++] = (struct frame){ obj, obj, sc->nnames };
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	const struct name *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void drop_names(struct scanner *sc, size_t from)
{
	while (sc->nnames > from)
		free(sc->names[--sc->nnames].owned);
}

/* Second pass, at an object's end: two equal names among its own? */
static int check_dups(struct scanner *sc, struct frame *fr)
{
	struct name *nm = sc->names + fr->kstart;
	size_t k = sc->nnames - fr->kstart;

	if (k < 2) {  /* and names may still be NULL: qsort wants an array */
		drop_names(sc, fr->kstart);
		return 0;
	}
	qsort(nm, k, sizeof *nm, cmp_names);
	for (size_t i = 1; i < k; i++) {
		if (cmp_names(&nm[i - 1], &nm[i]) != 0)
			continue;
		size_t len = nm[i].len < sizeof sc->out->dup - 1 ?
			     nm[i].len : sizeof sc->out->dup - 1;
		memcpy(sc->out->dup, nm[i].s, len);
		sc->out->dup[rpc_utf8_cut(nm[i].s, len)] = '\0';
		return fault(sc, JSON_SCAN_DUP_NAME, nm[i].off > nm[i - 1].off ?
			     nm[i].off : nm[i - 1].off);
	}
	drop_names(sc, fr->kstart);
	return 0;
}

static int is_id_member(struct scanner *sc, const struct name *nm)
{
	bool top = sc->depth == 1 || (sc->depth == 2 && !sc->f[0].obj);

	return !sc->collect && top && nm->len == 2 && memcmp(nm->s, "id", 2) == 0;
}

static int got_name(struct scanner *sc, size_t i, size_t end, bool nul)
{
	struct name nm;

	if (nul)
		return fault(sc, JSON_SCAN_NUL_NAME, i);
	sc->members++;
	if (name_text(sc, i, end, &nm) < 0)
		return -1;
	if (is_id_member(sc, &nm)) {
		sc->id_next = true;
		sc->cap_elem = sc->depth == 1 ? JSON_SCAN_TOP : sc->elem;
	}
	if (!sc->collect) {
		free(nm.owned);
		return 0;
	}
	if (sc->nnames == sc->ncap) {
		size_t ncap = sc->ncap ? 2 * sc->ncap : 16;
		struct name *v = realloc(sc->names, ncap * sizeof *v);

		if (v == NULL) {
			free(nm.owned);
			return -1;
		}
		sc->names = v;
		sc->ncap = ncap;
	}
	sc->names[sc->nnames++] = nm;
	return 0;
}

static int on_string(struct scanner *sc, size_t *i)
{
	struct frame *top = sc->depth ? &sc->f[sc->depth - 1] : NULL;
	size_t end;
	bool nul;
	int r = string_end(sc, *i, &end, &nul);

	if (r != 0)
		return r;
	if (top && top->want_name) {
		top->want_name = false;
		r = got_name(sc, *i, end, nul);
	} else {
		value_start(sc, *i);
	}
	*i = end;
	return r;
}

static int on_close(struct scanner *sc, size_t i)
{
	struct frame *top = &sc->f[sc->depth - 1];
	int r = member_end(sc, i);

	if (r == 0 && sc->collect && top->obj)
		r = check_dups(sc, top);
	sc->depth--;
	return r;
}

static int on_comma(struct scanner *sc, size_t i)
{
	struct frame *top = &sc->f[sc->depth - 1];

	if (top->obj)
		top->want_name = true;
	else if (sc->depth == 1)
		sc->elem++;
	return member_end(sc, i);
}

static int delim(char c)
{
	return is_ws(c) || c == ',' || c == '}' || c == ']' || c == ':';
}

/* 0: scanned (see out->fault), -1: ENOMEM. */
static int scan(struct scanner *sc)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < sc->n; i++) {
		char c = sc->p[i];

		if (is_ws(c) || c == ':')
			continue;
		if (c == '"') {
			r = on_string(sc, &i);
		} else if (c == '{' || c == '[') {
			value_start(sc, i);
			r = push(sc, c == '{');
		} else if (c == '}' || c == ']') {
			r = sc->depth ? on_close(sc, i) : 0;
		} else if (c == ',') {
			r = sc->depth ? on_comma(sc, i) : 0;
		} else {
			value_start(sc, i);
			while (i + 1 < sc->n && !delim(sc->p[i + 1]))
				i++;
		}
	}
	/* a top-level scalar id cannot happen; close a capture at the end */
	return r < 0 ? -1 : 0;
}

/* Members json-c kept: one per distinct name in each object. */
static size_t kept_members(struct json_object *v)
{
	size_t k = 0;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val) {
			(void)key;
			k += 1 + kept_members(val);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; i < n; i++)
			k += kept_members(json_object_array_get_idx(v, i));
	}
	return k;
}

static void scanner_free(struct scanner *sc)
{
	drop_names(sc, 0);
	free(sc->names);
	free(sc->f);
}

int json_scan_value(const char *text, size_t n, struct json_object *v,
		    struct json_scan *s)
{
	struct scanner sc = { .p = text, .n = n, .out = s };
	int r;

	s->fault = JSON_SCAN_OK;
	s->fault_at = 0;
	s->dup[0] = '\0';
	s->nids = 0;
	r = scan(&sc);
	scanner_free(&sc);
	if (r < 0 || s->fault != JSON_SCAN_OK || sc.members == kept_members(v))
		return r;
	/* a name came twice: find which */
	memset(&sc, 0, sizeof sc);
	sc = (struct scanner){ .p = text, .n = n, .out = s, .collect = true };
	r = scan(&sc);
	scanner_free(&sc);
	if (r == 0 && s->fault == JSON_SCAN_OK)
		fault(&sc, JSON_SCAN_DUP_NAME, 0);  /* counted, not found */
	return r;
}

void json_scan_clear(struct json_scan *s)
{
	free(s->ids);
	memset(s, 0, sizeof *s);
}

size_t json_scan_compact(const char *text, size_t n, char *out)
{
	size_t k = 0;
	bool str = false, esc = false;

	for (size_t i = 0; i < n; i++) {
		char c = text[i];

		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (is_ws(c)) {
			continue;
		}
		out[k++] = c;
	}
	return k;
}
