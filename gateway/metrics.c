/* GET /metrics: query-metrics with the scraper's bearer token, answered
 * in Prometheus' text format (prom.c), plus the gateway's own HTTP
 * connections.  The token decides what the scrape sees, as on vmd's
 * socket: a VM-scoped token its VMs only. */
#include "config.h"
#include <event2/buffer.h>
#include <event2/http.h>
#include "gateway/gateway.h"
#include "gateway/prom.h"

static void metrics_done(void *arg, const struct upstream_reply *rep)
{
	struct gw_req *r = arg;
	struct evbuffer *out;

	r->pending = NULL;
	if (!rep->ret) {
		gw_reply_error(r, rep->io ? 502 : rest_status(rep->cls_name),
			       rep->io ? "GenericError" : rep->cls_name, "%s",
			       rep->desc);
		return;
	}
	if (!(out = evbuffer_new()) || prom_write(out, rep->ret) < 0) {
		gw_reply_error(r, 502, "GenericError", "vmd's query-metrics "
			       "return is not what its schema says");
		if (out)
			evbuffer_free(out);
		return;
	}
	prom_gauge(out, "vmd_gateway_http_connections",
		   "HTTP connections open on the gateway.", gw_http_conns(r->gw));
	gw_reply_bytes(r, 200, PROM_CONTENT_TYPE, evbuffer_pullup(out, -1),
		       evbuffer_get_length(out));
	evbuffer_free(out);
}

void metrics_get(struct gw_req *r)
{
	if (!r->token) {  /* Prometheus: authorization: {credentials: ...} */
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
				  "WWW-Authenticate", "Bearer");
		gw_reply_error(r, 401, "PermissionDenied", "no token: scrape "
			       "with Authorization: Bearer vmd_...");
		return;
	}
	r->pending = upstream_call(r->gw, r->token, "query-metrics", NULL,
				   metrics_done, r);
	if (!r->pending)
		gw_reply_error(r, 503, "GenericError", "out of memory");
}
