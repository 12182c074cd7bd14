/* plan-define, plan-list, plan-delete (plan.c keeps the plans). */
#include "config.h"
#include <string.h>
#include "daemon/dispatch.h"
#include "daemon/plan.h"
#include "rpc/schema.h"

void cmd_plan_define(struct call *c)
{
	struct json_object *def = json_object_new_object();
	struct rpc_fault f;

	json_object_object_foreach(c->args, k, v)
		if (strcmp(k, "token"))
			json_object_object_add(def, k, json_object_get(v));
	if (plan_define(call_str(c, "name"), def, &f) < 0)
		call_fault(c, &f);
	else
		call_reply_synced(c, NULL);
	json_object_put(def);
}

void cmd_plan_list(struct call *c)
{
	struct json_object *out = json_object_new_array();

	json_object_object_foreach(plan_all(), name, def) {
		(void)name;
		json_object_array_add(out, json_object_get(def));
	}
	struct json_object *ret = json_object_new_object();
	json_object_object_add(ret, "plans", out);
	call_return(c, ret);
}

void cmd_plan_delete(struct call *c)
{
	struct rpc_fault f;

	if (plan_delete(call_str(c, "name"), &f) < 0)
		call_fault(c, &f);
	else
		call_reply_synced(c, NULL);
}
