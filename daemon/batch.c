/* JSON-RPC 2.0 batches: the calls left and the replies gathered (see
 * batch.h).  Replies are kept as emitted text, not as objects, so what a
 * batch holds is what it will send, and it is capped. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/batch.h"
#include "rpc/message.h"

struct batch {
	struct json_object *arr;
	size_t next, n;
	char *out;           /* "[r1,r2" so far */
	size_t len, cap;
	size_t replies;
	bool running;
};

rpc_err batch_check(struct json_object *arr, char *desc, size_t desclen)
{
	size_t n = json_object_array_length(arr);

	if (n == 0) {
		snprintf(desc, desclen, "empty batch: a JSON-RPC batch needs at "
			 "least one request");
		return RPC_INVALID_REQUEST;
	}
	if (n > BATCH_MAX_CALLS) {
		snprintf(desc, desclen, "batch of %zu requests; at most %d are "
			 "allowed in one batch", n, BATCH_MAX_CALLS);
		return RPC_INVALID_REQUEST;
	}
	return RPC_OK;
}

struct batch *batch_new(struct json_object *arr)
{
	struct batch *b = calloc(1, sizeof *b);

	if (b == NULL) {
		json_object_put(arr);
		return NULL;
	}
	b->arr = arr;
	b->n = json_object_array_length(arr);
	return b;
}

void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	json_object_put(b->arr);
	free(b->out);
	free(b);
}

struct json_object *batch_next(struct batch *b)
{
	if (b->next >= b->n)
		return NULL;
	return json_object_get(json_object_array_get_idx(b->arr, b->next++));
}

static int append(struct batch *b, const char *s, size_t n)
{
	if (b->len + n + 3 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *o;

		while (ncap < b->len + n + 3)
			ncap *= 2;
		o = realloc(b->out, ncap);
		if (o == NULL)
			return -1;
		b->out = o;
		b->cap = ncap;
	}
	b->out[b->len++] = b->replies ? ',' : '[';
	memcpy(b->out + b->len, s, n);
	b->len += n;
	b->replies++;
	return 0;
}

/* A reply that would pass the cap: the same id, a short error instead. */
static struct json_object *too_much(struct json_object *reply)
{
	struct json_object *id = NULL;
	char desc[160];

	json_object_object_get_ex(reply, "id", &id);
	snprintf(desc, sizeof desc, "reply dropped: the replies of this batch "
		 "exceed %d bytes; send fewer requests per batch",
		 BATCH_MAX_REPLY);
	return rpc_reply_error(RPC_JSONRPC, id, RPC_GENERIC_ERROR, desc);
}

void batch_add(struct batch *b, struct json_object *reply)
{
	size_t n;
	char *s = rpc_emit(reply, &n);

	if (s != NULL && b->len + n > BATCH_MAX_REPLY) {
		struct json_object *short_reply = too_much(reply);

		free(s);
		s = rpc_emit(short_reply, &n);
		json_object_put(short_reply);
	}
	json_object_put(reply);
	if (s != NULL)
		append(b, s, n - 1);  /* without its "\n" */
	free(s);
}

char *batch_reply(struct batch *b, size_t *len)
{
	char *s;

	if (b->replies == 0)
		return NULL;
	b->out[b->len++] = ']';
	b->out[b->len++] = '\n';
	*len = b->len;
	s = b->out;
	b->out = NULL;
	b->len = b->cap = b->replies = 0;
	return s;
}

bool batch_set_running(struct batch *b, bool running)
{
	bool was = b->running;

	b->running = running;
	return was;
}
