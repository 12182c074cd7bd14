/* Protocol messages: parse requests (QMP "execute" or JSON-RPC 2.0 "method"),
 * build replies, errors, events and the QMP greeting, and emit them as one
 * line of compact JSON. */
#ifndef VMD_RPC_MESSAGE_H
#define VMD_RPC_MESSAGE_H

#include <stddef.h>
#include <json-c/json.h>
#include "rpc/errors.h"

enum rpc_dialect { RPC_QMP = 0, RPC_JSONRPC = 1 };

struct rpc_request {
	enum rpc_dialect dialect;
	const char *command;       /* borrowed from obj */
	struct json_object *args;  /* borrowed; an empty object if absent */
	struct json_object *id;    /* borrowed; NULL when absent */
	struct json_object *obj;   /* owned: the whole request */
	const char *token;         /* borrowed: "token" member, NULL if none */
};

/* Parse obj (ownership passes to req, even on error) into req.  A request
 * that has "jsonrpc": "2.0" is JSON-RPC (method/params/id), otherwise QMP
 * (execute/arguments/id).  Either may carry "token", a string vmd's
 * daemon/auth.c checks (vmd's extension: QMP clients that send none see
 * no difference).  Returns RPC_OK, or RPC_INVALID_REQUEST /
 * RPC_INVALID_ARGUMENT with a description in desc; req->dialect and req->id
 * are still set as far as they could be read, so the error can be answered. */
rpc_err rpc_request_parse(struct json_object *obj, struct rpc_request *req,
			  char *desc, size_t desclen);
void rpc_request_clear(struct rpc_request *req);
/* One element of a JSON-RPC batch, parsed with result e: every element must
 * be a JSON-RPC request (req->dialect is set to JSON-RPC for the error),
 * and console-attach cannot be one (its connection would turn into console
 * bytes).  e, or RPC_INVALID_REQUEST with desc set. */
rpc_err rpc_batch_element(struct rpc_request *req, rpc_err e, char *desc,
			  size_t desclen);

/* Replace the "id" member of obj (if it has one) by a value that prints
 * exactly text (len bytes of JSON, from rpc_stream_raw_id), so replies echo
 * the id as it was sent.  Call before rpc_request_parse.  0, or -1 on
 * ENOMEM (the id is then left as json-c read it). */
int rpc_id_keep_raw(struct json_object *obj, const char *text, size_t len);

/* Success reply in the request's dialect; takes ownership of ret (NULL means
 * an empty object). QMP: {"return": ret, "id": id}; JSON-RPC: {"jsonrpc":
 * "2.0", "result": ret, "id": id}.  "id" is omitted when the request had
 * none (QMP) and is null for JSON-RPC. */
struct json_object *rpc_reply_return(enum rpc_dialect d, struct json_object *id,
				     struct json_object *ret);
/* Error reply. QMP: {"error": {"class", "desc"}, "id"}; JSON-RPC: {"jsonrpc":
 * "2.0", "error": {"code", "message": desc, "data": {"class"}}, "id"}. */
struct json_object *rpc_reply_error(enum rpc_dialect d, struct json_object *id,
				    rpc_err cls, const char *desc);
/* QMP-shaped event with "timestamp": {"seconds", "microseconds"} of now
 * (CLOCK_REALTIME); takes ownership of data (NULL: no "data" member). */
struct json_object *rpc_event_new(const char *name, struct json_object *data);
/* The same event as a JSON-RPC 2.0 notification, for JSON-RPC listeners:
 * {"jsonrpc": "2.0", "method": NAME, "params": {"data", "timestamp"}}
 * (no "id"; "data" only when the event has it).  event stays the
 * caller's. */
struct json_object *rpc_event_notification(struct json_object *event);
/* {"QMP": {"version": {"qemu": {"major","minor","micro"}, "package"},
 *  "capabilities": []}} */
struct json_object *rpc_greeting_new(int major, int minor, int micro,
				     const char *package);

/* A value whose JSON text is already made (text, owned, freed with the
 * value): serializing it copies the text as it is.  For large replies built
 * from cached pieces (vm-list of thousands of VMs); the caller guarantees
 * the text is valid JSON. */
struct json_object *rpc_raw_new(char *text);

/* Length of the longest prefix of s (n bytes) that does not end inside a
 * UTF-8 sequence: text clipped to a buffer stays valid UTF-8 on the wire. */
size_t rpc_utf8_cut(const char *s, size_t n);

/* Serialize as compact JSON followed by "\n".  Returns malloc'd bytes (caller
 * frees) and sets *len; NULL on ENOMEM. */
char *rpc_emit(struct json_object *msg, size_t *len);

#endif
