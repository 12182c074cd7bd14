/* Checks on the raw text of one complete JSON value that json-c parsed,
 * for what json-c cannot report once it has built the value: duplicate
 * member names (it keeps the last), NUL in member names (it cuts the name
 * there), raw control characters in strings (its strict mode lets them
 * through), and the exact text of "id" members, to echo ids as sent. */
#ifndef VMD_RPC_JSONSCAN_H
#define VMD_RPC_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

/* elem of the "id" of a top-level object (not of an array element) */
#define JSON_SCAN_TOP ((size_t)-1)

enum json_scan_fault {
	JSON_SCAN_OK = 0,
	JSON_SCAN_CTRL,      /* raw control character inside a string */
	JSON_SCAN_NUL_NAME,  /* member name holds \u0000 */
	JSON_SCAN_DUP_NAME,  /* member name given twice in one object */
};

struct json_scan_id {
	size_t elem;         /* JSON_SCAN_TOP, or index in a top-level array */
	size_t off, len;     /* the id's text, in text */
};

struct json_scan {
	enum json_scan_fault fault;
	size_t fault_at;     /* byte offset of the fault in text */
	char dup[80];        /* JSON_SCAN_DUP_NAME: the name, clipped */
	/* "id" members of the top-level object, or of the objects directly in
	 * a top-level array, in text order */
	struct json_scan_id *ids;
	size_t nids, idcap;
};

/* Scan text (n bytes, a value v that json-c parsed from exactly this
 * text).  Returns 0 (see s->fault), or -1 on ENOMEM.  s starts zeroed and
 * may be used again for the next value (its id list is reused); free it
 * with json_scan_clear(). */
int json_scan_value(const char *text, size_t n, struct json_object *v,
		    struct json_scan *s);
void json_scan_clear(struct json_scan *s);

/* Copy the id text (n bytes of valid JSON) to out without whitespace
 * outside strings, so an echoed id never breaks a line.  Returns the
 * length; out must hold n bytes. */
size_t json_scan_compact(const char *text, size_t n, char *out);

#endif
