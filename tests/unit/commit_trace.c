/* The trace of commit_trace.h and the fake reply sink that writes into it. */
#include "config.h"
#include <stddef.h>
#include <json-c/json.h>
#include "daemon/log.h"
#include "daemon/server.h"
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

void call_return(struct call *c, struct json_object *ret)
{
	(void)c;
	json_object_put(ret);
	note('R');
}

void call_error(struct call *c, rpc_err cls, const char *fmt, ...)
{
	(void)c;
	(void)cls;
	(void)fmt;
	note('E');
}

void log_msg(int prio, const char *fmt, ...)
{
	(void)prio;
	(void)fmt;
}
