/* The gateway's one route table (gateway.h) and its matcher.  A pattern's
 * "{name}" segment matches one path segment, percent-decoded.  Rows that
 * name a protocol command are REST rows (rest.c): their placeholders become
 * the command's arguments of the same name. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gateway/console.h"
#include "gateway/gateway.h"
#include "gateway/rest_routes.h"

const struct gw_route gw_routes[] = {
	REST_ROUTE_ROWS
	{EVHTTP_REQ_GET, "/api/v1/openapi.json", rest_openapi, NULL, NULL},
	{EVHTTP_REQ_GET, "/metrics", metrics_get, NULL, NULL},
	{EVHTTP_REQ_GET, "/api/v1/vms/{vm}/console", console_ws, NULL, NULL},
	{EVHTTP_REQ_GET, "/api/v1/events", events_ws, NULL, NULL},
	{EVHTTP_REQ_GET, "/console/{vm}", www_console_page, NULL, NULL},
	{EVHTTP_REQ_GET, "/static/{file}", www_static, NULL, NULL},
	{0, NULL, NULL, NULL, NULL},
};

/* The next segment of *p (after its '/'): start and length; false at the
 * end. */
static bool segment(const char **p, const char **seg, size_t *len)
{
	if (**p != '/')
		return false;
	*seg = ++*p;
	*len = strcspn(*p, "/");
	*p += *len;
	return true;
}

static void params_clear(struct gw_req *r)
{
	for (int i = 0; i < r->nparams; i++) {
		free(r->params[i]);
		r->params[i] = NULL;
	}
	r->nparams = 0;
}

/* Whether path matches pattern; placeholders' values into r. */
static bool match(const char *pattern, const char *path, struct gw_req *r)
{
	const char *ps, *xs;
	size_t pn, xn;

	params_clear(r);
	while (segment(&pattern, &ps, &pn)) {
		if (!segment(&path, &xs, &xn))
			return false;
		if (pn > 2 && ps[0] == '{' && ps[pn - 1] == '}') {
			char *raw = strndup(xs, xn);
			size_t dn = 0;
			char *v = raw ? evhttp_uridecode(raw, 0, &dn) : NULL;
			free(raw);
			if (!v || !xn || dn != strlen(v) || r->nparams == GW_MAX_PARAMS) {
				free(v);  /* empty, or a NUL in it */
				return false;
			}
			snprintf(r->names[r->nparams], sizeof r->names[0],
				 "%.*s", (int)(pn - 2), ps + 1);
			r->params[r->nparams++] = v;
		} else if (pn != xn || memcmp(ps, xs, pn)) {
			return false;
		}
	}
	return *path == '\0';
}

const struct gw_route *routes_match(enum evhttp_cmd_type method,
				    const char *path, struct gw_req *r,
				    bool *path_known)
{
	*path_known = false;
	for (const struct gw_route *rt = gw_routes; rt->pattern; rt++) {
		if (!match(rt->pattern, path, r))
			continue;
		*path_known = true;
		if (rt->method == method)
			return rt;
	}
	params_clear(r);
	return NULL;
}

const char *gw_param(const struct gw_req *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (!strcmp(r->names[i], name))
			return r->params[i];
	return NULL;
}
