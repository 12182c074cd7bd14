/* Waiting for a copy job (volume import, full clones): vmctl waits for the
 * reply without a deadline unless --timeout is given, and on a terminal
 * (without --json) draws a progress bar from the VOLUME_PROGRESS events
 * vmd sends every session, one line per volume the caller says is its. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/print.h"
#include "rpc/client.h"

void ctl_size(char *buf, size_t len, long long n)
{
	static const char units[] = "BKMGT";
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static void draw_bar(const char *volume, long long done, long long total)
{
	char d[32], t[32];
	int width = 30, filled = total > 0 ? (int)(done * width / total) : 0;

	ctl_size(d, sizeof(d), done);
	ctl_size(t, sizeof(t), total);
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s/%s", volume, filled,
		"##############################", width - filled, "",
		total > 0 ? (int)(done * 100 / total) : 0, d, t);
	fflush(stderr);
}

/* The reply to request id, drawing the VOLUME_PROGRESS events that mine
 * accepts meanwhile; a new volume starts a new line. */
static struct json_object *wait_drawing(struct ctl *ctl, long long id,
					const char *what, ctl_job_match *mine)
{
	struct pollfd p = { rpc_client_fd(ctl->rpc), POLLIN, 0 };
	struct json_object *m, *d;
	char last[256] = "";

	for (;;) {
		while ((m = rpc_client_pop(ctl->rpc)) != NULL) {
			if (jget(m, "event") == NULL && jint(m, "id", -1) == id)
				return m;
			d = jget(m, "data");
			if (!strcmp(jstr(m, "event", ""), "VOLUME_PROGRESS") &&
			    mine(what, d)) {
				if (last[0] && strcmp(last, jstr(d, "volume", "")))
					fputc('\n', stderr);
				snprintf(last, sizeof last, "%s", jstr(d, "volume", ""));
				draw_bar(last, jint(d, "done", 0), jint(d, "total", 0));
			}
			json_object_put(m);
		}
		if (rpc_client_flush(ctl->rpc) < 0 ||
		    (poll(&p, 1, ctl->timeout_ms) <= 0 && errno != EINTR) ||
		    rpc_client_read(ctl->rpc) < 0)
			return NULL;
	}
}

struct json_object *ctl_call_copy(struct ctl *ctl, const char *what,
				  struct json_object *args, ctl_job_match *mine)
{
	struct json_object *m, *err, *ret;
	static long long id = 1000;
	char desc[2048];
	rpc_err e;

	if (!ctl->timeout_given)
		ctl->timeout_ms = -1;   /* a copy takes what it takes */
	if (ctl->json || !isatty(STDERR_FILENO))
		return ctl_call(ctl, what, args);
	ctl_connect(ctl);
	if (rpc_client_send(ctl->rpc, ctl->cmd->protocol, args, ++id) < 0 ||
	    (m = wait_drawing(ctl, id, what, mine)) == NULL)
		ctl_fail(ctl, EXIT_PROTOCOL, "GenericError", "%s %s: lost vmd: %s",
			 ctl->cmd->name, what, rpc_client_why(ctl->rpc));
	fputc('\n', stderr);
	err = jget(m, "error");
	ret = json_object_get(jget(m, "return"));
	e = err ? rpc_err_from_name(jstr(err, "class", "")) : RPC_OK;
	snprintf(desc, sizeof(desc), "%s", jstr(err, "desc", ""));
	json_object_put(m);
	return ctl_result(ctl, what, e, ret, desc);
}

bool ctl_job_is(const char *volume, struct json_object *event)
{
	return !strcmp(jstr(event, "volume", ""), volume);
}
