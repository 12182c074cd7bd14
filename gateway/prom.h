/* query-metrics' return as Prometheus' text exposition format (version
 * 0.0.4): one family per counter, each with HELP and TYPE, samples
 * grouped under it, label values escaped; counters end in _total, units
 * are in the names (_seconds, _bytes). */
#ifndef VMD_GATEWAY_PROM_H
#define VMD_GATEWAY_PROM_H

#include <json-c/json.h>
#include <event2/buffer.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the exposition of m (query-metrics' return) to out.  -1 when m
 * is not shaped as the schema says (nothing sensible can be written). */
int prom_write(struct evbuffer *out, struct json_object *m);
/* One family of one unlabelled gauge sample. */
void prom_gauge(struct evbuffer *out, const char *name, const char *help,
		long long value);
/* Append s as a label value: backslash, double quote and line feed
 * escaped as \\, \" and \n, the exposition format's three escapes. */
void prom_escape(struct evbuffer *out, const char *s);

#endif
