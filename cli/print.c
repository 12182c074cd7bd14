/* vmctl output helpers: aligned tables and key/value blocks for people, JSON
 * for scripts.  Everything here writes to a FILE given by the caller, so the
 * handlers decide what goes to stdout and what to stderr. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/print.h"

/* Output helpers have no way to report failure usefully: running out of
 * memory while formatting a table is fatal for a one-shot CLI. */
static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		fputs("vmctl: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* The code point of the strict UTF-8 sequence (RFC 3629) at s and its
 * length, or 0 when the bytes there are not one. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		   s[0] >= 0xe0 && s[0] <= 0xef ? 3 :
		   s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	uint32_t c = n == 1 ? s[0] : s[0] & (0x7f >> n);

	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Characters a terminal acts on or hides instead of showing: the C1
 * controls, zero-width and bidirectional formatting (text that reads
 * differently from what it is), line and paragraph separators. */
static int hidden(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0xad ||
	       (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
	       (c >= 0x2060 && c <= 0x206f) || c == 0xfeff ||
	       (c >= 0xfff9 && c <= 0xfffb);
}

/* Append the visible form of s to buf (which has room for 10 bytes per
 * byte of s): C0 controls, DEL and bytes that are not UTF-8 as \xNN,
 * hidden characters as \uNNNN.  In json mode only what JSON allows is
 * touched: inside strings DEL and hidden characters become \uNNNN escapes
 * of the same characters, bytes that are not UTF-8 U+FFFD; control
 * characters are left to json-c (escaped in strings, layout outside). */
static void make_visible(char *buf, const char *s, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c = 0;

	while (*p) {
		size_t n = utf8_decode(p, &c);

		if (n == 0 || (c < 0x20 && !json) || c == 0x7f) {
			if (json && n == 0)
				buf += sprintf(buf, "\\ufffd");
			else
				buf += sprintf(buf, json ? "\\u%04x" : "\\x%02x", *p);
			p++;
		} else if (n > 1 && hidden(c)) {
			buf += sprintf(buf, "\\u%04x", (unsigned)c);
			p += n;
		} else {
			memcpy(buf, p, n);
			buf += n;
			p += n;
		}
	}
	*buf = '\0';
}

int text_is_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n;

	for (; *p; p += n)
		if ((n = utf8_decode(p, &c)) == 0)
			return 0;
	return 1;
}

char *text_visible(const char *s)
{
	char *buf = xrealloc(NULL, strlen(s) * 10 + 1);

	make_visible(buf, s, 0);
	return buf;
}

void print_visible(FILE *f, const char *s)
{
	char *v = text_visible(s);

	fputs(v, f);
	free(v);
}

/* Columns a visible string takes: one per character. */
static int text_width(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void table_init(struct table *t, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

static void table_grow(struct table *t)
{
	if (t->nrows < t->cap)
		return;
	t->cap = t->cap ? t->cap * 2 : 16;
	t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
}

void table_row(struct table *t, ...)
{
	va_list ap;

	table_grow(t);
	va_start(ap, t);
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->nrows * t->ncols + i] = text_visible(s ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

void table_print(const struct table *t, FILE *f)
{
	int width[t->ncols > 0 ? t->ncols : 1];

	for (int c = 0; c < t->ncols; c++) {
		width[c] = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			int n = text_width(t->cells[r * t->ncols + c]);

			if (n > width[c])
				width[c] = n;
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c == t->ncols - 1)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%s%*s  ", s, width[c] - text_width(s), "");
		}
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void kv_add(struct table *t, const char *key, const char *fmt, ...)
{
	char k[128], v[4096];
	va_list ap;

	snprintf(k, sizeof(k), "%s:", key);
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	table_row(t, k, *v ? v : "-");
}

/* JSON text with nothing a terminal would act on, yet the same value. */
static void put_json(FILE *f, const char *text)
{
	char *buf = xrealloc(NULL, strlen(text) * 10 + 1);

	make_visible(buf, text, 1);
	fprintf(f, "%s\n", buf);
	free(buf);
}

void print_json(FILE *f, struct json_object *o)
{
	put_json(f, json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE));
}

void print_json_line(FILE *f, struct json_object *o)
{
	put_json(f, json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

const char *jstr(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : dflt;
}

long long jint(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v = jget(o, key);

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		return json_object_get_int64(v);
	return dflt;
}

double jnum(struct json_object *o, const char *key, double dflt)
{
	struct json_object *v = jget(o, key);

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		return json_object_get_double(v);
	return dflt;
}

int jbool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_boolean) ?
		json_object_get_boolean(v) : dflt;
}

void format_mib(char *buf, size_t len, long long mib)
{
	if (mib > 0 && mib % (1024 * 1024) == 0)
		snprintf(buf, len, "%lldT", mib / (1024 * 1024));
	else if (mib > 0 && mib % 1024 == 0)
		snprintf(buf, len, "%lldG", mib / 1024);
	else
		snprintf(buf, len, "%lldM", mib);
}

void format_time(char *buf, size_t len, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
}

const char *format_value(struct json_object *v)
{
	if (v == NULL)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? "yes" : "no";
	return json_object_to_json_string_ext(v,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}
