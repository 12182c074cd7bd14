/* The termproxy stream parser: a state machine over bytes, so a message
 * may be split across websocket frames or several share one. */
#include "termproxy.h"

#include <string.h>

enum { TP_LINE, TP_TYPE, TP_SKIP_DATA, TP_SKIP_RESIZE, TP_LEN, TP_DATA,
       TP_COLS, TP_ROWS };

#define TP_DIGITS_MAX 9

void tp_init(struct tp *tp)
{
	memset(tp, 0, sizeof *tp);
	tp->state = TP_LINE;
}

int tp_ticket(struct tp *tp, const uint8_t *p, size_t n, size_t *used,
	      const char **ticket)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) + 1 : n;
	char *colon;

	*used = take;
	if (tp->state != TP_LINE || tp->line_len + take > sizeof tp->line - 1)
		return -1;
	memcpy(tp->line + tp->line_len, p, take);
	tp->line_len += take;
	if (!nl)
		return 0;
	tp->line[tp->line_len - 1] = '\0';
	if (memchr(tp->line, '\0', tp->line_len - 1) ||
	    !(colon = strchr(tp->line, ':')))
		return -1;
	*ticket = colon + 1;
	tp->state = TP_TYPE;
	return 1;
}

/* One digit or the ':' ending a number: 1 when the number is complete. */
static int tp_digit(struct tp *tp, uint8_t c)
{
	if (c == ':' && tp->digits)
		return 1;
	if (c < '0' || c > '9' || ++tp->digits > TP_DIGITS_MAX)
		return -1;
	tp->num = tp->num * 10 + (c - '0');
	return 0;
}

static int tp_number_done(struct tp *tp, uint8_t c, unsigned long *out)
{
	int r = tp_digit(tp, c);

	if (r == 1) {
		*out = tp->num;
		tp->num = 0;
		tp->digits = 0;
	}
	return r;
}

int tp_feed(struct tp *tp, const uint8_t *p, size_t n,
	    const struct tp_cbs *cbs, void *arg)
{
	unsigned long v;
	size_t i = 0;
	int r;

	while (i < n) {
		switch (tp->state) {
		case TP_TYPE:  /* "2" (ping) and unknown types: one byte */
			tp->state = p[i] == '0' ? TP_SKIP_DATA :
				    p[i] == '1' ? TP_SKIP_RESIZE : TP_TYPE;
			i++;
			break;
		case TP_SKIP_DATA:    /* the ':' after the type */
		case TP_SKIP_RESIZE:
			tp->state = tp->state == TP_SKIP_DATA ? TP_LEN : TP_COLS;
			i++;
			break;
		case TP_DATA:
			v = n - i < tp->left ? n - i : tp->left;
			if (v && cbs->data)
				cbs->data(arg, p + i, v);
			i += v;
			tp->left -= v;
			if (!tp->left)
				tp->state = TP_TYPE;
			break;
		default:       /* TP_LEN, TP_COLS, TP_ROWS: digits then ':' */
			if ((r = tp_number_done(tp, p[i++], &v)) < 0)
				return -1;
			if (r == 0)
				break;
			if (tp->state == TP_LEN) {
				tp->left = v;
				tp->state = v ? TP_DATA : TP_TYPE;
			} else if (tp->state == TP_COLS) {
				tp->cols = v;
				tp->state = TP_ROWS;
			} else {
				if (cbs->resize)
					cbs->resize(arg, tp->cols, v);
				tp->state = TP_TYPE;
			}
		}
	}
	return 0;
}
