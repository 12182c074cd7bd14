/* Incremental reader of a stream of JSON values (QMP framing).
 *
 * Pushed bytes wait in buf until rpc_stream_next() feeds them to a json-c
 * tokener, which keeps the state of a value split across any number of
 * pushes.  Only bytes the tokener has not seen stay in buf, so what follows
 * a parsed value can still be handed out by rpc_stream_take_rest() when the
 * connection switches to raw console bytes.
 *
 * Size cap: at most max_msg + 1 bytes of one value are ever given to the
 * tokener; a value that is still incomplete by then is over the cap, so an
 * endless value is caught without being buffered.
 *
 * Numbers are never split between two calls of the tokener: json-c
 * (json_tokener_state_number) does not keep which signs a number resumed
 * from an earlier call may still take, so "2" then "-" reads as the number
 * "2-" (that is 2) where "2-" in one call is 2 and then an error, and
 * {"a":1-2} split after the 1 is accepted as {"a":1}.  Bytes that may be
 * the end of a number wait in buf until the byte after them arrives, so
 * how the socket chunks the bytes never changes what is read.
 *
 * The bytes of the value being read stay in buf (from vstart) until it
 * ends, so that rpc/jsonscan.c can check its raw text: duplicate member
 * names and NUL in names are refused (RPC_STREAM_REFUSED), and the exact
 * text of "id" members is kept for the reply.
 *
 * After malformed input the stream resynchronises: it skips to the end of
 * the line, or to the next '{' or '[' at nesting depth 0 (brackets counted
 * outside strings from the start of the broken value), whichever comes
 * first, and reads on from there.  Errors name the line and column of the
 * fault, counted over the whole stream.  A UTF-8 byte order mark at the
 * start of the stream is skipped (RFC 8259 section 8.1). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/jsonscan.h"
#include "rpc/stream.h"

/* Deep enough for any schema vmd or QEMU sends, small enough that a
 * hostile "[[[[..." cannot make the tokener's stack large. */
#define STREAM_MAX_DEPTH 64

struct rpc_stream {
	struct json_tokener *tok;
	char *buf;          /* bytes not yet given to the tokener: buf[off..len) */
	size_t off, len, cap;
	size_t max_msg;
	size_t in_value;    /* bytes of the current value the tokener has seen */
	char last;          /* the last of them, when in_value > 0 */
	int eol_pending;    /* a value just ended: one "\n"/"\r\n" is its line end */
	/* UTF-8 check across pushes: json-c's own (JSON_TOKENER_VALIDATE_UTF8)
	 * forgets a half character at the end of a read, refuses a valid
	 * character right after a value and lets overlong forms through */
	unsigned char u8_need, u8_lo, u8_hi;
	size_t vstart;      /* buf index where the current value starts */
	bool bom_done;      /* the start of the stream was checked for a BOM */
	/* resynchronising after malformed input */
	bool skipping, skip_str, skip_esc;
	size_t skip_depth;
	size_t line, col;   /* line and column (from 1) of buf[0] */
	/* the last value's checks; its ids[i].off index idtext */
	struct json_scan scan;
	char *idtext;
	size_t idlen, idtextcap;
};

struct rpc_stream *rpc_stream_new(size_t max_msg)
{
	struct rpc_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->tok = json_tokener_new_ex(STREAM_MAX_DEPTH);
	if (s->tok == NULL) {
		free(s);
		return NULL;
	}
	/* Strict JSON, but several values in one buffer are how the stream
	 * works, and text must be valid UTF-8 before it reaches anyone. */
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_ALLOW_TRAILING_CHARS);
	/* max_msg + 1 bytes must fit one call of the tokener (an int) */
	s->max_msg = max_msg < INT_MAX - 1 ? max_msg : INT_MAX - 1;
	s->line = s->col = 1;
	return s;
}

void rpc_stream_free(struct rpc_stream *s)
{
	if (s == NULL)
		return;
	json_tokener_free(s->tok);
	free(s->buf);
	json_scan_clear(&s->scan);
	free(s->idtext);
	free(s);
}

/* Line and column of buf[at], counting from buf[0]'s. */
static void position(const struct rpc_stream *s, size_t at, size_t *line,
		     size_t *col)
{
	const char *p = s->buf, *end = s->buf + at, *nl;

	*line = s->line;
	*col = s->col;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		++*line;
		*col = 1;
		p = nl + 1;
	}
	*col += (size_t)(end - p);
}

/* Forget the first k bytes of buf, keeping count of lines. */
static void drop_front(struct rpc_stream *s, size_t k)
{
	position(s, k, &s->line, &s->col);
	memmove(s->buf, s->buf + k, s->len - k);
	s->len -= k;
	s->off -= k;
	if (s->in_value)
		s->vstart -= k;
}

/* Move the bytes still needed to the front so the buffer does not creep:
 * the unread ones, and those of a value not yet complete. */
static void stream_compact(struct rpc_stream *s)
{
	size_t keep = s->in_value ? s->vstart : s->off;

	if (keep > 0)
		drop_front(s, keep);
}

int rpc_stream_push(struct rpc_stream *s, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	stream_compact(s);
	if (len > SIZE_MAX / 2 - s->len) {
		errno = ENOMEM;
		return -1;
	}
	if (s->len + len > s->cap) {
		size_t ncap = s->cap ? s->cap : 4096;
		char *nbuf;

		while (ncap < s->len + len)
			ncap *= 2;
		nbuf = realloc(s->buf, ncap);
		if (nbuf == NULL)
			return -1;
		s->buf = nbuf;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	return 0;
}

/* Forget everything: buffered bytes and any half-parsed value. */
static void stream_reset(struct rpc_stream *s)
{
	json_tokener_reset(s->tok);
	s->in_value = 0;
	s->off = s->len;
	stream_compact(s);
	s->skipping = false;
	s->eol_pending = 0;
	s->u8_need = 0;
}

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) over the bytes the tokener took, carried across reads.
 * Returns the index of the first bad byte, or n. */
static size_t utf8_check(struct rpc_stream *s, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char b = p[i];
		if (s->u8_need) {
			if (b < s->u8_lo || b > s->u8_hi)
				return i;
			s->u8_need--;
			s->u8_lo = 0x80;
			s->u8_hi = 0xBF;
			continue;
		}
		if (b < 0x80)
			continue;
		s->u8_lo = 0x80;
		s->u8_hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF)
			s->u8_need = 1;
		else if (b >= 0xE0 && b <= 0xEF)
			s->u8_need = 2;
		else if (b >= 0xF0 && b <= 0xF4)
			s->u8_need = 3;
		else
			return i;
		if (b == 0xE0)
			s->u8_lo = 0xA0;
		else if (b == 0xED)
			s->u8_hi = 0x9F;
		else if (b == 0xF0)
			s->u8_lo = 0x90;
		else if (b == 0xF4)
			s->u8_hi = 0x8F;
	}
	return n;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Between values: drop whitespace ourselves so it never counts toward the
 * next value's size.  Any byte after a value settles its line end. */
static void skip_ws(struct rpc_stream *s)
{
	if (s->off < s->len)
		s->eol_pending = 0;
	while (s->off < s->len && is_ws(s->buf[s->off]))
		s->off++;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static enum rpc_stream_status too_big(struct rpc_stream *s, char *err,
				      size_t errlen)
{
	set_err(err, errlen, "message exceeds %zu bytes", s->max_msg);
	stream_reset(s);
	return RPC_STREAM_TOO_BIG;
}

/* The tokener swallows whitespace after a value (and a number ends only at
 * the byte after it).  Give those bytes back: they belong to whatever
 * follows, perhaps raw console output.  A value never ends in whitespace,
 * so trailing whitespace of the consumed range is exactly what to return. */
static size_t value_end(const struct rpc_stream *s, size_t consumed)
{
	while (consumed > 0 && is_ws(s->buf[s->off + consumed - 1]))
		consumed--;
	return consumed;
}

/* One byte of the resync scan: strings and bracket depth. */
static void skip_byte(struct rpc_stream *s, char c)
{
	if (s->skip_str) {
		if (s->skip_esc)
			s->skip_esc = false;
		else if (c == '\\')
			s->skip_esc = true;
		else if (c == '"')
			s->skip_str = false;
	} else if (c == '"') {
		s->skip_str = true;
	} else if (c == '{' || c == '[') {
		s->skip_depth++;
	} else if ((c == '}' || c == ']') && s->skip_depth > 0) {
		s->skip_depth--;
	}
}

/* Malformed input at buf[at]: drop the broken value's bytes so far and
 * skip from there (resync()), knowing how deep the value had got. */
static void start_resync(struct rpc_stream *s, size_t at)
{
	size_t from = s->in_value ? s->vstart : s->off;

	s->skip_str = s->skip_esc = false;
	s->skip_depth = 0;
	for (size_t i = from; i < at; i++)
		skip_byte(s, s->buf[i]);
	json_tokener_reset(s->tok);
	s->in_value = 0;
	s->off = at;
	s->eol_pending = 0;
	s->u8_need = 0;
	s->skipping = true;
}

/* Skip to a resync point: after a line end, or before a '{' or '[' at
 * depth 0.  False when the buffered bytes ran out first. */
static bool resync(struct rpc_stream *s)
{
	while (s->off < s->len) {
		char c = s->buf[s->off];

		if (c == '\n') {
			s->off++;
			s->skipping = false;
			return true;
		}
		if (!s->skip_str && s->skip_depth == 0 && (c == '{' || c == '[')) {
			s->skipping = false;
			return true;
		}
		skip_byte(s, c);
		s->off++;
	}
	return false;
}

static enum rpc_stream_status bad_at(struct rpc_stream *s, size_t at,
				     const char *what, char *err, size_t errlen)
{
	size_t line, col;

	position(s, at, &line, &col);
	set_err(err, errlen, "JSON parse error at line %zu, column %zu: %s",
		line, col, what);
	start_resync(s, at);
	return RPC_STREAM_BAD_JSON;
}

/* Keep the value's ids, without whitespace, for rpc_stream_raw_id(). */
static int keep_ids(struct rpc_stream *s, const char *text)
{
	struct json_scan *sc = &s->scan;
	size_t need = 0;

	for (size_t i = 0; i < sc->nids; i++)
		need += sc->ids[i].len;
	if (need > s->idtextcap) {
		char *t = realloc(s->idtext, need);
		if (t == NULL)
			return -1;
		s->idtext = t;
		s->idtextcap = need;
	}
	s->idlen = 0;
	for (size_t i = 0; i < sc->nids; i++) {
		struct json_scan_id *id = &sc->ids[i];
		size_t k = json_scan_compact(text + id->off, id->len,
					     s->idtext + s->idlen);

		id->off = s->idlen;
		id->len = k;
		s->idlen += k;
	}
	return 0;
}

/* A complete value buf[vstart..off): check its raw text. */
static enum rpc_stream_status check_value(struct rpc_stream *s,
					  struct json_object *v,
					  struct json_object **out,
					  char *err, size_t errlen)
{
	const char *text = s->buf + s->vstart;
	struct json_scan *sc = &s->scan;
	size_t line, col;

	if (json_scan_value(text, s->off - s->vstart, v, sc) < 0 ||
	    (sc->fault == JSON_SCAN_OK && keep_ids(s, text) < 0)) {
		sc->nids = 0;
		json_object_put(v);
		set_err(err, errlen, "out of memory reading a JSON value");
		return RPC_STREAM_REFUSED;
	}
	if (sc->fault == JSON_SCAN_OK) {
		*out = v;
		return RPC_STREAM_VALUE;
	}
	sc->nids = 0;
	json_object_put(v);
	position(s, s->vstart + sc->fault_at, &line, &col);
	if (sc->fault == JSON_SCAN_CTRL) {
		set_err(err, errlen, "JSON parse error at line %zu, column %zu: "
			"control character in a string (escape it)", line, col);
		return RPC_STREAM_BAD_JSON;
	}
	if (sc->fault == JSON_SCAN_NUL_NAME)
		set_err(err, errlen, "JSON value refused at line %zu, column %zu: "
			"a member name contains a NUL character (\\u0000)",
			line, col);
	else
		set_err(err, errlen, "JSON value refused at line %zu, column %zu: "
			"duplicate member name '%s'", line, col, sc->dup);
	return RPC_STREAM_REFUSED;
}

static enum rpc_stream_status got_value(struct rpc_stream *s,
					struct json_object *v, size_t consumed,
					struct json_object **out,
					char *err, size_t errlen)
{
	size_t used = value_end(s, consumed);

	json_tokener_reset(s->tok);
	s->off += used;
	if (s->in_value + used > s->max_msg) {
		json_object_put(v);
		return too_big(s, err, errlen);
	}
	s->in_value = 0;
	s->eol_pending = 1;
	return check_value(s, v, out, err, errlen);
}

static int is_number_byte(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
	       c == 'e' || c == 'E';
}

/* Whether a value may start after byte c: there the tokener would begin a
 * number. */
static int value_may_follow(char c)
{
	return c == '[' || c == ',' || c == ':' || is_ws(c);
}

/* How many of the n buffered bytes to give the tokener now: all but a
 * final run of number bytes that starts a number (a digit or '-' where a
 * value may start); it waits for the byte that ends it.  Such a run inside
 * a string only waits a little longer, as no value ends in one.  A run
 * right after true, false or null is given at once: its first byte is
 * what ends the literal (json-c, as for numbers, finishes a literal at the
 * byte after it), and it starts no number. */
static size_t feed_len(const struct rpc_stream *s, size_t n)
{
	const char *p = s->buf + s->off;
	size_t i = n;
	int starts;

	while (i > 0 && is_number_byte(p[i - 1]))
		i--;
	if (i == n || !(p[i] == '-' || (p[i] >= '0' && p[i] <= '9')))
		return n;
	if (i > 0)
		starts = value_may_follow(p[i - 1]);
	else
		starts = s->in_value == 0 || value_may_follow(s->last);
	return starts ? i : n;
}

/* Feed the next n buffered bytes to the tokener. */
static enum rpc_stream_status feed(struct rpc_stream *s, size_t n,
				   struct json_object **out,
				   char *err, size_t errlen)
{
	struct json_object *v;
	enum json_tokener_error jerr;
	size_t end;

	if (s->in_value == 0)
		s->vstart = s->off;
	v = json_tokener_parse_ex(s->tok, s->buf + s->off, (int)n);
	jerr = json_tokener_get_error(s->tok);
	end = json_tokener_get_parse_end(s->tok);
	size_t took = jerr == json_tokener_success ? value_end(s, end) :
		      jerr == json_tokener_continue ? n : end;
	size_t bad = utf8_check(s, (const unsigned char *)s->buf + s->off, took);
	if (bad < took) {
		json_object_put(v);
		return bad_at(s, s->off + bad, "invalid UTF-8", err, errlen);
	}
	if (jerr == json_tokener_success)
		return got_value(s, v, end, out, err, errlen);
	if (jerr != json_tokener_continue)
		return bad_at(s, s->off + end, json_tokener_error_desc(jerr),
			      err, errlen);
	s->last = s->buf[s->off + n - 1];
	s->off += n;
	s->in_value += n;
	if (s->in_value > s->max_msg)
		return too_big(s, err, errlen);
	return RPC_STREAM_MORE;
}

/* At the very start of the stream: drop a UTF-8 byte order mark.  False
 * while the bytes so far could still be one. */
static bool skip_bom(struct rpc_stream *s)
{
	static const char bom[3] = "\xEF\xBB\xBF";
	size_t n = s->len - s->off, k = n < 3 ? n : 3;

	if (n == 0)
		return false;
	if (memcmp(s->buf + s->off, bom, k) != 0) {
		s->bom_done = true;
		return true;
	}
	if (k < 3)
		return false;
	/* not counted as columns: the first character is column 1 */
	memmove(s->buf + s->off, s->buf + s->off + 3, s->len - s->off - 3);
	s->len -= 3;
	s->bom_done = true;
	return true;
}

enum rpc_stream_status rpc_stream_next(struct rpc_stream *s,
				       struct json_object **out,
				       char *err, size_t errlen)
{
	enum rpc_stream_status st = RPC_STREAM_MORE;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	s->scan.nids = 0;
	if (!s->bom_done && !skip_bom(s))
		return RPC_STREAM_MORE;
	if (s->skipping && !resync(s)) {
		stream_compact(s);
		return RPC_STREAM_MORE;
	}
	if (s->in_value == 0)
		skip_ws(s);
	while (s->off < s->len) {
		size_t n = s->len - s->off;
		size_t room = s->max_msg + 1 - s->in_value;

		/* Cut at the cap, the value is too big unless it ends first:
		 * that slice is never resumed, whatever it ends in. */
		n = n > room ? room : feed_len(s, n);
		if (n == 0)
			break;
		st = feed(s, n, out, err, errlen);
		if (st != RPC_STREAM_MORE)
			return st;
	}
	stream_compact(s);
	return st;
}

/* Bytes from off onward, less one line end that closes the last value:
 * "{...}\n" is one message line, the "\n" is not console output. */
static size_t rest_start(const struct rpc_stream *s)
{
	size_t at = s->off;

	if (!s->eol_pending)
		return at;
	if (at < s->len && s->buf[at] == '\n')
		return at + 1;
	if (at + 1 < s->len && s->buf[at] == '\r' && s->buf[at + 1] == '\n')
		return at + 2;
	return at;
}

size_t rpc_stream_pending(const struct rpc_stream *s)
{
	return s->len - rest_start(s);
}

/* Leaving JSON for raw bytes: a half-read value is abandoned with it. */
size_t rpc_stream_take_rest(struct rpc_stream *s, void *buf, size_t cap)
{
	size_t at = rest_start(s);
	size_t n = s->len - at;

	if (n > cap)
		n = cap;
	if (n > 0)
		memcpy(buf, s->buf + at, n);
	s->off = at + n;
	s->eol_pending = 0;
	s->in_value = 0;
	json_tokener_reset(s->tok);
	stream_compact(s);
	return n;
}

const char *rpc_stream_raw_id(const struct rpc_stream *s, size_t elem,
			      size_t *len)
{
	const struct json_scan *sc = &s->scan;

	for (size_t i = 0; i < sc->nids; i++) {
		if (sc->ids[i].elem == elem) {
			*len = sc->ids[i].len;
			return s->idtext + sc->ids[i].off;
		}
	}
	return NULL;
}
