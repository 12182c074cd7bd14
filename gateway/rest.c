/* REST rows (routes.c): one protocol command per route.  The request body
 * (a JSON object) is the command's arguments, with the route's
 * placeholders added as arguments of the same name; the reply's body is
 * the command's return, or {"error": {"class", "desc"}} with the HTTP
 * status of the class. */
#include "config.h"
#include <errno.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "gateway/gateway.h"
#include "gateway/rest_routes.h"

static const struct {
	const char *cls;
	int status;
} statuses[] = {
	REST_STATUS_ROWS
};

int rest_status(const char *cls)
{
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (cls && !strcmp(statuses[i].cls, cls))
			return statuses[i].status;
	return 500;
}

static void rest_done(void *arg, const struct upstream_reply *rep)
{
	struct gw_req *r = arg;

	r->pending = NULL;
	if (rep->ret) {
		bool created = evhttp_request_get_command(r->req) == EVHTTP_REQ_POST &&
			       !r->nparams;
		gw_reply_json(r, created ? 201 : 200, json_object_get(rep->ret));
	} else if (rep->io) {
		gw_reply_error(r, 502, "GenericError", "%s", rep->desc);
	} else {
		if (authguard_token_refused(rep->cls_name, rep->desc))
			authguard_fail(r->peer);
		gw_reply_error(r, rest_status(rep->cls_name), rep->cls_name, "%s",
			       rep->desc);
	}
}

/* The type letter the route's query spec gives name, or 0. */
static char query_type(const char *spec, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = spec; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (!strncmp(p, name, n) && p[n] == ':')
			return p[n + 1];
	return 0;
}

/* value as the type t wants it, or NULL. */
static struct json_object *query_value(char t, const char *value)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(value, &end, 10);
	bool integer = *value && !*end && !errno;
	switch (t) {
	case 'i': return integer ? json_object_new_int64(n) : NULL;
	case 'n': return integer ? json_object_new_int64(n) :
			 json_object_new_string(value);
	case 's': return json_object_new_string(value);
	case 'b': return !strcmp(value, "true") ? json_object_new_boolean(1) :
			 !strcmp(value, "false") ? json_object_new_boolean(0) : NULL;
	}
	return NULL;
}

/* The query string's arguments into args; false with why. */
static bool query_args(struct gw_req *r, struct json_object *args, char *why,
		       size_t len)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq kv;
	struct evkeyval *e;
	bool ok = true;

	if (!q || !*q)
		return true;
	if (evhttp_parse_query_str(q, &kv) < 0) {
		snprintf(why, len, "malformed query string");
		return false;
	}
	TAILQ_FOREACH(e, &kv, next) {
		char t = query_type(r->route->query, e->key);
		struct json_object *v = t ? query_value(t, e->value) : NULL;
		if (!t || !v || json_object_object_get_ex(args, e->key, NULL)) {
			snprintf(why, len, !t ? "'%s': not an argument the query "
				 "string may give here" : !v ? "'%s': expected %s" :
				 "'%s': given twice", e->key, t == 'b' ?
				 "true or false" : "an integer");
			json_object_put(v);
			ok = false;
			break;
		}
		json_object_object_add(args, e->key, v);
	}
	evhttp_clear_headers(&kv);
	return ok;
}

/* The arguments: the body's object (none: {}), the query string's, and
 * the placeholders. */
static struct json_object *rest_args(struct gw_req *r, char *why, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);
	struct json_object *args = NULL;

	if (n) {
		enum json_tokener_error e;
		struct json_tokener *tok = json_tokener_new();
		if (tok) {
			args = json_tokener_parse_ex(tok,
				(const char *)evbuffer_pullup(in, -1), (int)n);
			e = json_tokener_get_error(tok);
			if (e == json_tokener_success &&
			    json_tokener_get_parse_end(tok) < n)
				e = json_tokener_error_parse_unexpected;
			json_tokener_free(tok);
		} else {
			e = json_tokener_error_depth;
		}
		if (e != json_tokener_success ||
		    !json_object_is_type(args, json_type_object)) {
			snprintf(why, len, "the body is not a JSON object%s%s",
				 e != json_tokener_success ? ": " : "",
				 e != json_tokener_success ?
				 json_tokener_error_desc(e) : "");
			json_object_put(args);
			return NULL;
		}
	} else {
		args = json_object_new_object();
	}
	if (!query_args(r, args, why, len)) {
		json_object_put(args);
		return NULL;
	}
	for (int i = 0; i < r->nparams; i++)
		json_object_object_add(args, r->names[i],
				       json_object_new_string(r->params[i]));
	return args;
}

void rest_call(struct gw_req *r)
{
	char why[256];
	struct json_object *args;

	if (!r->token) {
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "WWW-Authenticate", "Bearer");
		gw_reply_error(r, 401, "PermissionDenied",
			       "no token: send Authorization: Bearer vmd_...");
		return;
	}
	if (authguard_refuse(r))
		return;
	if (!(args = rest_args(r, why, sizeof why))) {
		gw_reply_error(r, 400, "InvalidArgument", "%s", why);
		return;
	}
	r->pending = upstream_call(r->gw, r->token, r->route->command, args,
				   rest_done, r);
	if (!r->pending)
		gw_reply_error(r, 503, "GenericError", "out of memory");
}

void rest_openapi(struct gw_req *r)
{
	gw_reply_bytes(r, 200, "application/json", gw_openapi_json,
		       strlen(gw_openapi_json));
}
