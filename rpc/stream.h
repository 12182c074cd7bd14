/* Incremental reader of a stream of JSON values, as QMP sends them: objects
 * back to back, with or without whitespace or newlines between them.  Bytes
 * are pushed as they arrive from a socket; complete values are pulled one at
 * a time.  Never line based. */
#ifndef VMD_RPC_STREAM_H
#define VMD_RPC_STREAM_H

#include <stddef.h>
#include <json-c/json.h>

#define RPC_MAX_MSG (1024 * 1024)

struct rpc_stream;

enum rpc_stream_status {
	RPC_STREAM_VALUE = 1,    /* *out holds one complete value (caller owns) */
	RPC_STREAM_MORE = 0,     /* need more bytes */
	RPC_STREAM_BAD_JSON = -1,/* malformed input; the stream skips to the
	                            next line or to the next '{' or '[' outside
	                            the broken value, and reads on */
	RPC_STREAM_TOO_BIG = -2, /* one value exceeds the cap; caller should close */
	RPC_STREAM_REFUSED = -3, /* a complete value refused: a member name
	                            twice in one object, or with a NUL in it;
	                            the stream reads on after it */
};

/* max_msg: byte cap on one value (RPC_MAX_MSG normally; at most INT_MAX - 1
 * is kept). NULL on ENOMEM. */
struct rpc_stream *rpc_stream_new(size_t max_msg);
void rpc_stream_free(struct rpc_stream *s);

/* Append bytes to the internal buffer. 0, or -1 on ENOMEM. */
int rpc_stream_push(struct rpc_stream *s, const void *buf, size_t len);

/* Take the next complete value.  On an error status, err (if not NULL)
 * receives a one-line description such as "JSON parse error at line 1,
 * column 12: unexpected character" (lines and columns of the whole stream,
 * from 1; columns in bytes).  A UTF-8 byte order mark that starts the
 * stream is skipped. */
enum rpc_stream_status rpc_stream_next(struct rpc_stream *s,
				       struct json_object **out,
				       char *err, size_t errlen);

/* The exact text (whitespace outside strings removed) of the "id" member of
 * the value the last rpc_stream_next() returned: of the value itself (elem
 * RPC_STREAM_TOP) or of element elem of it, an array.  NULL when there is
 * no such id.  Valid until the next rpc_stream_next(). */
#define RPC_STREAM_TOP ((size_t)-1)
const char *rpc_stream_raw_id(const struct rpc_stream *s, size_t elem,
			      size_t *len);

/* Bytes buffered but not yet part of any parsed value.  Used when a
 * connection leaves JSON for raw console bytes (console-attach): the caller
 * takes the rest and stops using the stream. */
size_t rpc_stream_pending(const struct rpc_stream *s);
size_t rpc_stream_take_rest(struct rpc_stream *s, void *buf, size_t cap);

#endif
