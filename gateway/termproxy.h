/* Proxmox's termproxy framing (pve-xtermjs), as its xterm.js front end
 * speaks it over a websocket.  The client's messages form one byte
 * stream: first the line "USER:TICKET\n", then "0:LEN:DATA" (LEN bytes
 * of input), "1:COLS:ROWS:" (resize) and "2" (ping); other type bytes
 * are skipped as termproxy does.  The server answers "OK" once the
 * ticket is good, then sends raw console bytes. */
#ifndef GW_TERMPROXY_H
#define GW_TERMPROXY_H

#include <stddef.h>
#include <stdint.h>

#define TP_LINE_MAX 512        /* the ticket line, newline included */

struct tp {
	int state;
	char line[TP_LINE_MAX];    /* the ticket line so far */
	size_t line_len;
	unsigned long num;         /* the number being read */
	int digits;
	unsigned long cols;
	unsigned long left;        /* DATA bytes still to come */
};

struct tp_cbs {
	void (*data)(void *arg, const uint8_t *p, size_t n);
	void (*resize)(void *arg, unsigned long cols, unsigned long rows);
};

void tp_init(struct tp *tp);
/* Reads the ticket line from p: 0 while incomplete, -1 if malformed (too
 * long, no ':'), else 1 with *ticket (in tp, NUL-terminated) set; *used
 * says how much of p it took (the rest is tp_feed's). */
int tp_ticket(struct tp *tp, const uint8_t *p, size_t n, size_t *used,
	      const char **ticket);
/* Parses what follows the ticket; -1 on a malformed number. */
int tp_feed(struct tp *tp, const uint8_t *p, size_t n,
	    const struct tp_cbs *cbs, void *arg);

#endif
