/* JSON-RPC 2.0 batches (section 6 of the specification): an array of
 * requests answered by one array of replies.  server.c runs the calls one
 * after another, as it serves any connection one request at a time; this
 * file keeps the calls still to run and gathers their replies. */
#ifndef VMD_DAEMON_BATCH_H
#define VMD_DAEMON_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

/* At most this many calls in one batch: a larger one is refused whole. */
#define BATCH_MAX_CALLS 100
/* Replies gathered past this many bytes are replaced by a short error, so
 * a batch cannot make vmd hold more than this for one answer. */
#define BATCH_MAX_REPLY (8 * 1024 * 1024)

struct batch;

/* Whether arr may run as a batch: RPC_OK, or RPC_INVALID_REQUEST with a
 * description (empty, too many calls). */
rpc_err batch_check(struct json_object *arr, char *desc, size_t desclen);
/* A batch of arr's elements; takes arr.  NULL on ENOMEM. */
struct batch *batch_new(struct json_object *arr);
void batch_free(struct batch *b);
/* The next call to run (a new reference), NULL when none is left. */
struct json_object *batch_next(struct batch *b);
/* Gather one reply (takes it). */
void batch_add(struct batch *b, struct json_object *reply);
/* The replies as one line, "[...]\n" (malloc'd), or NULL when there are
 * none (every call was a notification) or on ENOMEM. */
char *batch_reply(struct batch *b, size_t *len);
/* Set while server.c's loop runs the calls: a call that ends inside it
 * must not start the loop again.  Returns the old value. */
bool batch_set_running(struct batch *b, bool running);

#endif
