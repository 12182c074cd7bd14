/* vmd's own counters for query-metrics: requests per command and errors
 * per class since vmd started (connections are climit.h's).  Each is
 * bumped by a one-line hook where the event happens (dispatch.c,
 * server.c). */
#ifndef VMD_DAEMON_COUNTERS_H
#define VMD_DAEMON_COUNTERS_H

#include <json-c/json.h>
#include "rpc/errors.h"

/* A request for a command of the schema (so the names are bounded). */
void counters_request(const char *command);
/* An error reply of class cls, to a call or to a malformed request. */
void counters_error(rpc_err cls);
/* query-metrics' "vmd": {"requests": {...}, "errors": {...}, "clients",
 * "connections", "refused"}. */
struct json_object *counters_json(void);
void counters_free(void);

#endif
