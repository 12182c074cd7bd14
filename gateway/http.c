/* The gateway's HTTP side (gateway.h): evhttp over TLS.
 *
 * evhttp reads each connection through a bufferevent_openssl made in
 * bevcb().  What evhttp does not bound, this file does:
 *  - connections at once (--max-connections): at the limit the listener
 *    stops accepting, so the rest wait in the kernel's backlog;
 *  - slow clients: a request's headers (and the TLS handshake) must come
 *    within --header-timeout of its first byte, its body within
 *    --body-timeout after them; trickling bytes does not extend either.
 *    The decrypted bytes are watched on the connection's input buffer
 *    (an evbuffer callback) to see a request start and its headers end;
 *    the connection's end is seen when its SSL object is freed;
 *  - Host not on the allow-list (--allow-host): 421.
 * evhttp itself bounds header and body sizes and idle keep-alives. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include "gateway/gateway.h"

#define TLS_RECORD_MAX 16384   /* plaintext bytes in one TLS record */

enum phase { PH_IDLE, PH_HEADERS, PH_BODY };

/* One HTTP connection, tied to its SSL object. */
struct client {
	struct gw *gw;
	struct bufferevent *bev;
	struct event *deadline;
	enum phase phase;
	char tail[3];            /* last bytes seen, for a split "\r\n\r\n" */
	size_t ntail;
	bool nodelay;            /* TCP_NODELAY set */
};

struct gw_http {
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	SSL_CTX *ssl;
	int ex_index;            /* SSL ex_data slot of struct client */
	int nconns;
	bool paused;             /* at --max-connections: not accepting */
};

static struct gw *the_gw;    /* for the SSL free callback */

static void client_arm(struct client *c, enum phase ph, int seconds)
{
	struct timeval tv = {seconds, 0};

	c->phase = ph;
	if (ph == PH_IDLE)
		evtimer_del(c->deadline);
	else
		evtimer_add(c->deadline, &tv);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	fprintf(stderr, "vmd-gateway: closing a connection: %s too slow\n",
		c->phase == PH_BODY ? "request body" : "request headers");
	/* evhttp's own error path closes and frees the connection */
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT,
				  0);
}

/* Whether "\r\n\r\n" ends within the new bytes (with the tail before). */
static bool headers_end(struct client *c, struct evbuffer *buf, size_t added)
{
	size_t len = evbuffer_get_length(buf);
	size_t from = len - added;
	char win[4096 + 3];

	while (from < len) {
		size_t n = len - from < 4096 ? len - from : 4096;
		memcpy(win, c->tail, c->ntail);
		struct evbuffer_ptr p;
		evbuffer_ptr_set(buf, &p, from, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(buf, &p, win + c->ntail, n);
		size_t w = c->ntail + n;
		bool found = memmem(win, w, "\r\n\r\n", 4) != NULL;
		c->ntail = w < 3 ? w : 3;
		memcpy(c->tail, win + w - c->ntail, c->ntail);
		if (found)
			return true;
		from += n;
	}
	return false;
}

static void input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
		     void *arg)
{
	struct client *c = arg;
	const struct gw_config *cfg = &c->gw->cfg;

	if (!info->n_added)
		return;
	if (c->phase == PH_IDLE) {
		c->ntail = 0;
		client_arm(c, PH_HEADERS, cfg->header_timeout);
	}
	if (c->phase == PH_HEADERS && headers_end(c, buf, info->n_added))
		client_arm(c, PH_BODY, cfg->body_timeout);
}

static void accepting(struct gw_http *h, bool on)
{
	struct evconnlistener *l = evhttp_bound_socket_get_listener(h->bound);

	if (on == !h->paused)
		return;
	h->paused = !on;
	if (on)
		evconnlistener_enable(l);
	else
		evconnlistener_disable(l);
}

/* The SSL object goes with its connection: so does the client. */
static void client_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			long argl, void *argp)
{
	struct client *c = ptr;
	struct gw *gw;

	if (!c)
		return;
	gw = c->gw;
	if (c->deadline)
		event_free(c->deadline);
	free(c);
	if (!gw || !gw->http)
		return;  /* never counted, or the gateway is ending */
	gw->http->nconns--;
	if (gw->http->nconns < gw->cfg.max_conns)
		accepting(gw->http, true);
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
	struct gw *gw = arg;
	struct gw_http *h = gw->http;
	struct client *c = calloc(1, sizeof *c);
	SSL *ssl = SSL_new(h->ssl);
	struct bufferevent *bev = NULL;

	if (c && ssl && (c->deadline = evtimer_new(base, deadline_cb, c)) &&
	    SSL_set_ex_data(ssl, h->ex_index, c))
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
						     BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {  /* evhttp copes with NULL: a plain socket we then drop */
		if (ssl)
			SSL_free(ssl);  /* frees c, when it was attached */
		else if (c)
			free(c);
		return NULL;
	}
	c->gw = gw;
	c->bev = bev;
	h->nconns++;
	if (h->nconns >= gw->cfg.max_conns)
		accepting(h, false);
	evbuffer_add_cb(bufferevent_get_input(bev), input_cb, c);
	client_arm(c, PH_HEADERS, gw->cfg.header_timeout);
	return bev;
}

static struct client *client_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl ? SSL_get_ex_data(ssl, the_gw->http->ex_index) : NULL;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 421: return "Misdirected Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void req_free(struct gw_req *r)
{
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	free(r);
}

/* The client left while r was served: the reply is dropped. */
static void req_closed(struct evhttp_connection *evcon, void *arg)
{
	struct gw_req *r = arg;

	upstream_cancel(r->pending);
	req_free(r);
}

void gw_req_done(struct gw_req *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);

	if (evcon)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	req_free(r);
}

void gw_req_upgraded(struct gw_req *r)
{
	struct client *c = client_of(r->req);

	if (c) {
		evbuffer_remove_cb(bufferevent_get_input(c->bev), input_cb, c);
		client_arm(c, PH_IDLE, 0);
	}
	gw_req_done(r);
}

/* evhttp queues a reply's head and body as two pieces, which TLS would
 * send as two records in two write()s: a small reply goes as one. */
static void one_record(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct evbuffer *out = bev ? bufferevent_get_output(bev) : NULL;

	if (out && evbuffer_get_length(out) <= TLS_RECORD_MAX)
		evbuffer_pullup(out, -1);
}

void gw_reply_bytes(struct gw_req *r, int status, const char *type,
		    const void *buf, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(r->req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	if (type)
		evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (len)
		evbuffer_add(out, buf, len);
	struct evhttp_request *req = r->req;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	gw_req_done(r);
	evhttp_send_reply(req, status, reason(status), NULL);
	one_record(evcon);
}

void gw_reply_json(struct gw_req *r, int status, struct json_object *body)
{
	size_t len = 0;
	const char *text = body ? json_object_to_json_string_length(body,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len) : NULL;

	gw_reply_bytes(r, status, text ? "application/json" : NULL, text, len);
	json_object_put(body);
}

void gw_reply_error(struct gw_req *r, int status, const char *cls,
		    const char *fmt, ...)
{
	struct json_object *err = json_object_new_object(), *body;
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof desc, fmt, ap);
	va_end(ap);
	json_object_object_add(err, "class", json_object_new_string(cls));
	json_object_object_add(err, "desc", json_object_new_string(desc));
	body = json_object_new_object();
	json_object_object_add(body, "error", err);
	gw_reply_json(r, status, body);
}

static bool host_allowed(const struct gw_config *cfg, const char *host)
{
	size_t n;

	if (!cfg->nhosts)
		return true;
	if (!host)
		return false;
	/* "name:port" or "[v6]:port": compare the name */
	const char *end = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
	n = end ? (size_t)(end - host) + (host[0] == '[') : strlen(host);
	for (int i = 0; i < cfg->nhosts; i++)
		if (strlen(cfg->hosts[i]) == n && !strncasecmp(cfg->hosts[i], host, n))
			return true;
	return false;
}

static const char *bearer(struct evkeyvalq *in)
{
	const char *a = evhttp_find_header(in, "Authorization");

	if (!a || strncasecmp(a, "Bearer ", 7))
		return NULL;
	a += 7;
	while (*a == ' ')
		a++;
	return *a ? a : NULL;
}

static void gencb(struct evhttp_request *req, void *arg)
{
	struct gw *gw = arg;
	struct client *c = client_of(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct gw_req *r = calloc(1, sizeof *r);
	bool known = false;

	if (c)
		client_arm(c, PH_IDLE, 0);
	if (c && !c->nodelay) {
		/* a reply goes out as several TLS records: Nagle would hold
		 * the last until the client's delayed ACK */
		int one = 1;
		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
			   &one, sizeof one);
		c->nodelay = true;
	}
	if (!r) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	r->gw = gw;
	r->req = req;
	r->token = bearer(in);
	ev_uint16_t port;
	char *peer = NULL;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer,
				   &port);
	r->peer = peer ? peer : "";
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
				      req_closed, r);
	if (!host_allowed(&gw->cfg, evhttp_request_get_host(req))) {
		gw_reply_error(r, 421, "PermissionDenied",
			       "Host is not one this gateway serves");
		return;
	}
	r->route = path ? routes_match(evhttp_request_get_command(req), path,
				       r, &known) : NULL;
	if (!r->route) {
		gw_reply_error(r, known ? 405 : 404, "CommandNotFound",
			       known ? "method not allowed here" : "no such path");
		return;
	}
	r->route->handler(r);
}

int gw_http_conns(const struct gw *gw)
{
	return gw->http ? gw->http->nconns : 0;
}

static SSL_CTX *tls_context(const struct gw_config *cfg, char *err, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* client-started renegotiation costs the server: refuse it; idle
	 * connections keep no read/write buffers */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return ctx;
fail:
	snprintf(err, len, "TLS set-up (--cert %s, --key %s): %s", cfg->cert,
		 cfg->key, ERR_reason_error_string(ERR_get_error()));
	SSL_CTX_free(ctx);
	return NULL;
}

int gw_http_start(struct gw *gw, char *err, size_t errlen)
{
	struct gw_http *h = calloc(1, sizeof *h);
	struct sockaddr_storage ss;
	int sslen = sizeof ss;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gw->http = h;
	the_gw = gw;
	if (!(h->ssl = tls_context(&gw->cfg, err, errlen)))
		return -1;
	h->ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, client_free);
	if (evutil_parse_sockaddr_port(gw->cfg.listen, (struct sockaddr *)&ss,
				       &sslen) < 0) {
		snprintf(err, errlen, "--listen %s: expected ADDRESS:PORT",
			 gw->cfg.listen);
		return -1;
	}
	h->http = evhttp_new(gw->base);
	if (!h->http) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	evhttp_set_max_headers_size(h->http, gw->cfg.max_header);
	evhttp_set_max_body_size(h->http, gw->cfg.max_body);
	/* an oversized body is read (and dropped, within --body-timeout)
	 * so that the client can read its 413 */
	evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(h->http, gw->cfg.idle_timeout);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_default_content_type(h->http, "application/json");
	evhttp_set_bevcb(h->http, bevcb, gw);
	evhttp_set_gencb(h->http, gencb, gw);
	struct evconnlistener *l = evconnlistener_new_bind(gw->base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
		1024, (struct sockaddr *)&ss, sslen);
	if (!l || !(h->bound = evhttp_bind_listener(h->http, l))) {
		snprintf(err, errlen, "cannot listen on %s: %s", gw->cfg.listen,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (l)
			evconnlistener_free(l);
		return -1;
	}
	return 0;
}

void gw_http_stop(struct gw *gw)
{
	struct gw_http *h = gw->http;

	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	SSL_CTX_free(h->ssl);
	free(h);
	gw->http = NULL;
}
