/* vmd-gateway: HTTPS (and websockets) in front of vmd's socket.
 *
 * The gateway holds no right of its own: it talks to vmd on a listener
 * whose peer credentials grant nothing (vmd --gateway-socket), and passes
 * each caller's token ("Authorization: Bearer vmd_...") with every call.
 * vmd checks the token; the gateway only translates.
 *
 * Parts (one file per concept):
 *   main.c      options, privilege drop, the event loop
 *   http.c      evhttp over TLS (bufferevent_openssl), connection limits,
 *               header/body deadlines, Host allow-list, the dispatch to
 *               routes
 *   routes.c    THE route table: {method, path pattern, handler, command}
 *   rest.c      the REST handler: one protocol command per route, JSON in
 *               and out, error classes to HTTP status codes
 *   upstream.c  the client of vmd's socket: upstream_call (a pool of
 *               negotiated connections) and upstream_stream (a fresh
 *               connection handed over raw after one request)
 *   authguard.c failed tokens per client address
 *
 * Other parts add: a row to routes.c's table and a handler in a file of
 * their own; options go in struct gw_config (main.c parses them). */
#ifndef VMD_GATEWAY_GATEWAY_H
#define VMD_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <event2/event.h>
#include <event2/http.h>
#include "rpc/errors.h"

struct bufferevent;
struct evbuffer;
struct upstream;
struct gw_http;

#define GW_MAX_HOSTS 16
#define GW_MAX_PARAMS 4

struct gw_config {
	const char *listen;          /* "ADDR:PORT" ("[v6]:PORT") */
	const char *cert, *key;      /* PEM files */
	const char *vmd_socket;      /* vmd's --gateway-socket */
	const char *user;            /* root drops to this user */
	const char *hosts[GW_MAX_HOSTS]; /* Host allow-list; none: any */
	int nhosts;
	const char *origins[GW_MAX_HOSTS + 1]; /* websocket Origin allow-list
	                                besides the gateway's own; NULL-ended */
	int norigins;
	const char *www;             /* the console page's files */
	int max_conns;               /* HTTP connections at once */
	size_t max_header, max_body; /* bytes */
	int header_timeout;          /* s from a request's first byte (or
	                                the accept) to its last header */
	int body_timeout;            /* s from the last header to the body's
	                                end */
	int idle_timeout;            /* s a keep-alive connection may idle */
	int upstream_max;            /* vmd connections of the call pool */
};

struct gw {
	struct event_base *base;
	struct gw_config cfg;
	struct gw_http *http;        /* http.c */
	struct upstream *up;         /* upstream.c */
};

/* ---- upstream.c: calls on vmd's socket ---- */

/* The reply to an upstream call: ret (borrowed; valid during the
 * callback) on success; else cls and desc, vmd's error (cls RPC_GENERIC_
 * ERROR and io true when vmd could not be reached or the connection
 * broke). */
struct upstream_reply {
	struct json_object *ret;
	rpc_err cls;
	const char *cls_name;        /* as vmd sent it */
	const char *desc;
	bool io;
};
typedef void (*upstream_cb)(void *arg, const struct upstream_reply *r);

struct upstream *upstream_new(struct gw *gw);
void upstream_free(struct upstream *up);
/* Run command with args (owned; NULL: none) and token (copied; NULL:
 * none) on one of the pool's connections, queued while all are busy.  cb
 * runs exactly once, never before upstream_call returned, unless the call
 * is cancelled first.  Returns a handle for upstream_cancel, or NULL on
 * ENOMEM (cb never runs then). */
struct upstream_call *upstream_call(struct gw *gw, const char *token,
				    const char *command,
				    struct json_object *args, upstream_cb cb,
				    void *arg);
/* The caller is gone: cb will not run.  The call itself may still reach
 * vmd (its reply is then dropped). */
void upstream_cancel(struct upstream_call *call);

/* A fresh connection for one long request (console-attach, or
 * qmp_capabilities with a token for an event session).  When vmd
 * answers, cb gets the reply and, on success, bev: the connection,
 * yours from then on (free it with bufferevent_free), with any bytes vmd
 * sent after the reply already in its input buffer and no callbacks set.
 * On failure bev is NULL.  command "qmp_capabilities" negotiates with the
 * token; any other command is sent, with the token, after a negotiation
 * without one.  NULL on ENOMEM (cb never runs); the handle cancels. */
typedef void (*upstream_stream_cb)(void *arg, const struct upstream_reply *r,
				   struct bufferevent *bev);
struct upstream_stream *upstream_stream(struct gw *gw, const char *token,
					const char *command,
					struct json_object *args,
					upstream_stream_cb cb, void *arg);
void upstream_stream_cancel(struct upstream_stream *s);

/* ---- routes.c / http.c: requests ---- */

/* A request being served.  Handlers end it with one of gw_reply_*
 * (now or later), or take it over (websocket upgrade: see http.c). */
struct gw_req {
	struct gw *gw;
	struct evhttp_request *req;
	const struct gw_route *route;
	const char *token;               /* from Authorization: Bearer; NULL */
	const char *peer;                /* the client's address */
	char *params[GW_MAX_PARAMS];     /* decoded {placeholders}, in order */
	char names[GW_MAX_PARAMS][32];   /* their names */
	int nparams;
	struct upstream_call *pending;   /* cancelled if the client leaves */
	bool gone;                       /* the client left: reply dropped */
};

typedef void (*gw_handler)(struct gw_req *r);

/* One row of the table: method (EVHTTP_REQ_GET...), a path pattern
 * whose "{name}" segments match one path segment each, the handler, and
 * for REST rows (generated from schemas/rest.json by gen_rest.py) the
 * protocol command rest.c runs and the arguments the query string may
 * give: "name:T,..." with T one of i (integer), b (boolean), s (string),
 * n (integer or string).  Other rows: {method, pattern, handler}. */
struct gw_route {
	enum evhttp_cmd_type method;
	const char *pattern;
	gw_handler handler;
	const char *command;
	const char *query;
};

/* The row for method and path, with params filled in r; NULL when none
 * (*path_known tells a 405 from a 404). */
const struct gw_route *routes_match(enum evhttp_cmd_type method,
				    const char *path, struct gw_req *r,
				    bool *path_known);
/* Every row, ending with a row whose pattern is NULL (openapi, tests). */
extern const struct gw_route gw_routes[];
/* The value of placeholder name, NULL if the route has none. */
const char *gw_param(const struct gw_req *r, const char *name);

/* Reply with status and a JSON body (owned; NULL: none), and end r. */
void gw_reply_json(struct gw_req *r, int status, struct json_object *body);
/* {"error": {"class": cls, "desc": desc}} with status. */
void gw_reply_error(struct gw_req *r, int status, const char *cls,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Reply with bytes of content type type, and end r. */
void gw_reply_bytes(struct gw_req *r, int status, const char *type,
		    const void *buf, size_t len);
/* End r without replying: the handler took over the connection (websocket
 * upgrade) and owns what evhttp_request_get_connection gives. */
void gw_req_done(struct gw_req *r);
/* gw_req_done for a websocket upgrade: the connection's HTTP deadlines
 * stop watching it too (ws.c bounds it from then on). */
void gw_req_upgraded(struct gw_req *r);

/* http.c */
int gw_http_start(struct gw *gw, char *err, size_t errlen);
void gw_http_stop(struct gw *gw);
/* Open HTTP connections now (metrics). */
int gw_http_conns(const struct gw *gw);

/* authguard.c: failed tokens per client address.  Seconds addr must wait
 * before the gateway passes on another token from it (0: none). */
int authguard_wait(const char *addr);
/* When r's address must wait: answer 403 with Retry-After, and true. */
bool authguard_refuse(struct gw_req *r);
void authguard_fail(const char *addr);
/* Whether vmd's error (class, desc) says the token itself is no good. */
bool authguard_token_refused(const char *cls, const char *desc);

/* rest.c: the handler of rows that name a command; and of
 * PREFIX/openapi.json (the document gen_rest.py made, gw_openapi_json). */
void rest_call(struct gw_req *r);
void rest_openapi(struct gw_req *r);
extern const char gw_openapi_json[];
/* The HTTP status of a vmd error class. */
int rest_status(const char *cls);

/* metrics.c: GET /metrics, Prometheus' text format (prom.h). */
void metrics_get(struct gw_req *r);

#endif
