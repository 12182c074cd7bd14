/* The trace of commit_trace.h and the reply sink that writes into it. */
#include "config.h"
#include <stddef.h>
#include <json-c/json.h>
#include "daemon/log.h"
#include "daemon/commit.h"
#include "tests/unit/commit_trace.h"

char trace[4096];
static size_t trace_len;

void note(char what)
{
	if (trace_len + 1 < sizeof(trace))
		trace[trace_len++] = what;
	trace[trace_len] = '\0';
}

void trace_reset(void)
{
	trace_len = 0;
	trace[0] = '\0';
}

void trace_reply(void *ctx, struct json_object *ret,
		 const struct rpc_fault *err)
{
	(void)ctx;
	json_object_put(ret);
	note(err ? 'E' : 'R');
}

void log_msg(int prio, const char *fmt, ...)
{
	(void)prio;
	(void)fmt;
}
