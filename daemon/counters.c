/* vmd's own counters (see counters.h). */
#include "config.h"
#include <stdint.h>
#include "daemon/climit.h"
#include "daemon/counters.h"

static struct json_object *requests;  /* {command: count}, schema's names */
static uint64_t errors[RPC_ERR__COUNT];

void counters_request(const char *command)
{
	struct json_object *n;

	if (!requests && !(requests = json_object_new_object()))
		return;
	if (json_object_object_get_ex(requests, command, &n))
		json_object_set_int64(n, json_object_get_int64(n) + 1);
	else
		json_object_object_add(requests, command, json_object_new_int64(1));
}

void counters_error(rpc_err cls)
{
	if (cls > RPC_OK && cls < RPC_ERR__COUNT)
		errors[cls]++;
}

static struct json_object *errors_json(void)
{
	struct json_object *o = json_object_new_object(), *n;

	/* the framing classes share "GenericError" on the wire: one sum */
	for (int e = RPC_OK + 1; e < RPC_ERR__COUNT; e++) {
		const char *name = rpc_err_name((rpc_err)e);
		int64_t prev = json_object_object_get_ex(o, name, &n) ?
			       json_object_get_int64(n) : 0;
		json_object_object_add(o, name, json_object_new_int64(
			prev + (int64_t)errors[e]));
	}
	return o;
}

struct json_object *counters_json(void)
{
	struct json_object *o = json_object_new_object(), *r = NULL;

	if (requests)
		json_object_deep_copy(requests, &r, NULL);
	json_object_object_add(o, "requests", r ? r : json_object_new_object());
	json_object_object_add(o, "errors", errors_json());
	json_object_object_add(o, "clients", json_object_new_int(climit_clients()));
	json_object_object_add(o, "connections",
			       json_object_new_int64((int64_t)climit_admitted()));
	json_object_object_add(o, "refused",
			       json_object_new_int64((int64_t)climit_refused()));
	return o;
}

void counters_free(void)
{
	json_object_put(requests);
	requests = NULL;
}
