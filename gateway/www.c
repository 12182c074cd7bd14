/* The console page (/console/{name}) and its static files (/static/
 * {file}): a fixed list, read once at start from the www directory
 * (installed under pkgdatadir) and served from memory; without them the
 * gateway serves the API and answers the page with 503. */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "gateway.h"

#define WWW_FILE_MAX (4 * 1024 * 1024)

static struct www_file {
	const char *name;
	const char *type;
	char *data;
	size_t len;
} files[] = {
	{"console.html", "text/html; charset=utf-8", NULL, 0},
	{"console.js", "text/javascript; charset=utf-8", NULL, 0},
	{"console.css", "text/css; charset=utf-8", NULL, 0},
	{"xterm.js", "text/javascript; charset=utf-8", NULL, 0},
	{"xterm.css", "text/css; charset=utf-8", NULL, 0},
	{"addon-fit.js", "text/javascript; charset=utf-8", NULL, 0},
};
#define NFILES (sizeof files / sizeof files[0])

static int www_read(const char *dir, struct www_file *f, char *err,
		    size_t errlen)
{
	char path[4096];
	FILE *fp;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir, f->name);
	if (!(fp = fopen(path, "rb"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) < 0 || (n = ftell(fp)) < 0 ||
	    n > WWW_FILE_MAX || fseek(fp, 0, SEEK_SET) < 0 ||
	    !(f->data = malloc(n ? (size_t)n : 1)) ||
	    fread(f->data, 1, (size_t)n, fp) != (size_t)n) {
		snprintf(err, errlen, "%s: cannot read it (at most %d bytes)",
			 path, WWW_FILE_MAX);
		fclose(fp);
		return -1;
	}
	f->len = (size_t)n;
	fclose(fp);
	return 0;
}

/* All or none: a page missing a script is no page. */
int www_load(const char *dir, char *err, size_t errlen)
{
	for (size_t i = 0; i < NFILES; i++)
		if (www_read(dir, &files[i], err, errlen) < 0) {
			www_free();
			return -1;
		}
	return 0;
}

void www_free(void)
{
	for (size_t i = 0; i < NFILES; i++) {
		free(files[i].data);
		files[i].data = NULL;
	}
}

static void www_send(struct gw_req *r, const struct www_file *f)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	if (!f->data) {
		gw_reply_error(r, 503, "Unsupported", "the console page is not "
			       "installed (vmd-gateway --www)");
		return;
	}
	/* scripts and sockets of this origin only; panels may frame it */
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'self'; style-src 'self' 'unsafe-inline'");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	gw_reply_bytes(r, 200, f->type, f->data, f->len);
}

void www_console_page(struct gw_req *r)
{
	www_send(r, &files[0]);
}

void www_static(struct gw_req *r)
{
	const char *name = gw_param(r, "file");

	for (size_t i = 1; name && i < NFILES; i++)
		if (!strcmp(name, files[i].name)) {
			www_send(r, &files[i]);
			return;
		}
	gw_reply_error(r, 404, "NotFound", "no static file '%s'", name ? name : "");
}
