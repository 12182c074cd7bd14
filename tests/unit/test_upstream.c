/* gateway/upstream.c against a scripted vmd on a unix socket in the same
 * event loop: a call's reply and error, the token on each request, a
 * stream handed over with the bytes vmd sent right behind its reply, a
 * qmp_capabilities stream that negotiates with the token, and a vmd that
 * is not there. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "gateway/gateway.h"

/* The fake vmd: greets, then answers each request line by script. */
static char requests[8][512];
static int nrequests;
static const char *raw_after;   /* bytes sent behind the next return */

static void fake_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;

	while ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF))) {
		snprintf(requests[nrequests++ % 8], sizeof requests[0], "%s", line);
		if (strstr(line, "\"fail-me\""))
			evbuffer_add_printf(bufferevent_get_output(bev),
				"{\"error\": {\"class\": \"VmNotFound\", "
				"\"desc\": \"no VM named 'x'\"}, \"id\": 1}\n");
		else
			evbuffer_add_printf(bufferevent_get_output(bev),
				"{\"return\": {\"n\": %d}, \"id\": 1}\n%s",
				nrequests, strstr(line, "console-attach") &&
				raw_after ? raw_after : "");
		free(line);
	}
}

/* The fake vmd's connections, freed at their EOF or by teardown. */
static struct bufferevent *served[16];

static void fake_event(struct bufferevent *bev, short what, void *arg)
{
	for (size_t i = 0; i < sizeof served / sizeof served[0]; i++)
		if (served[i] == bev)
			served[i] = NULL;
	bufferevent_free(bev);
}

static void fake_accept(struct evconnlistener *l, evutil_socket_t fd,
			struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(arg, fd,
							 BEV_OPT_CLOSE_ON_FREE);

	for (size_t i = 0; i < sizeof served / sizeof served[0]; i++)
		if (!served[i]) {
			served[i] = bev;
			break;
		}
	bufferevent_setcb(bev, fake_read, NULL, fake_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(bev),
			    "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n");
}

struct fixture {
	struct gw gw;
	struct evconnlistener *l;
	char path[108];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(f->path, sizeof f->path, "/tmp/test-upstream-%d.sock", getpid());
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->gw.base = event_base_new();
	f->gw.cfg.vmd_socket = f->path;
	f->gw.cfg.upstream_max = 2;
	f->gw.up = upstream_new(&f->gw);
	f->l = evconnlistener_new_bind(f->gw.base, fake_accept, f->gw.base,
				       LEV_OPT_CLOSE_ON_FREE, 16,
				       (struct sockaddr *)&sa, sizeof sa);
	assert_non_null(f->l);
	nrequests = 0;
	raw_after = NULL;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	upstream_free(f->gw.up);
	for (size_t i = 0; i < sizeof served / sizeof served[0]; i++) {
		if (served[i])
			bufferevent_free(served[i]);
		served[i] = NULL;
	}
	evconnlistener_free(f->l);
	event_base_free(f->gw.base);
	unlink(f->path);
	free(f);
	return 0;
}

struct got {
	int calls;
	char ret[256], cls[64], desc[256];
	bool io;
	char raw[64];
	struct event_base *base;
};

static void on_reply(void *arg, const struct upstream_reply *r)
{
	struct got *g = arg;

	g->calls++;
	g->io = r->io;
	if (r->ret)
		snprintf(g->ret, sizeof g->ret, "%s",
			 json_object_to_json_string(r->ret));
	else
		snprintf(g->cls, sizeof g->cls, "%s", r->cls_name);
	snprintf(g->desc, sizeof g->desc, "%s", r->desc ? r->desc : "");
	event_base_loopbreak(g->base);
}

static void on_stream(void *arg, const struct upstream_reply *r,
		      struct bufferevent *bev)
{
	struct got *g = arg;

	on_reply(arg, r);
	if (bev) {
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t n = evbuffer_get_length(in);
		if (n >= sizeof g->raw)
			n = sizeof g->raw - 1;
		evbuffer_remove(in, g->raw, n);
		g->raw[n] = 0;
		bufferevent_free(bev);
	}
}

static void run(struct fixture *f, struct got *g)
{
	struct timeval limit = {5, 0};

	g->base = f->gw.base;
	event_base_loopexit(f->gw.base, &limit);
	event_base_dispatch(f->gw.base);
}

static void test_call_return_and_token(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "vm", json_object_new_string("web1"));
	assert_non_null(upstream_call(&f->gw, "vmd_tok", "vm-show", args,
				      on_reply, &g));
	assert_int_equal(g.calls, 0);  /* never before upstream_call returns */
	run(f, &g);
	assert_int_equal(g.calls, 1);
	assert_string_equal(g.ret, "{ \"n\": 2 }");
	assert_int_equal(nrequests, 2);
	assert_null(strstr(requests[0], "token"));  /* the pool negotiates bare */
	assert_non_null(strstr(requests[1], "\"execute\":\"vm-show\""));
	assert_non_null(strstr(requests[1], "\"token\":\"vmd_tok\""));
	assert_non_null(strstr(requests[1], "\"vm\":\"web1\""));
}

static void test_call_error(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};

	upstream_call(&f->gw, NULL, "fail-me", NULL, on_reply, &g);
	run(f, &g);
	assert_int_equal(g.calls, 1);
	assert_string_equal(g.cls, "VmNotFound");
	assert_string_equal(g.desc, "no VM named 'x'");
	assert_false(g.io);
}

static void test_cancelled_call_is_not_answered(void **state)
{
	struct fixture *f = *state;
	struct got g = {0}, h = {0};

	upstream_cancel(upstream_call(&f->gw, "t", "vm-list", NULL, on_reply, &g));
	upstream_call(&f->gw, "t", "vm-list", NULL, on_reply, &h);
	run(f, &h);
	assert_int_equal(g.calls, 0);
	assert_int_equal(h.calls, 1);
}

static void test_stream_hands_over_the_rest(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};

	raw_after = "RAW BYTES";
	assert_non_null(upstream_stream(&f->gw, "vmd_tok", "console-attach",
					NULL, on_stream, &g));
	run(f, &g);
	assert_int_equal(g.calls, 1);
	assert_string_equal(g.raw, "RAW BYTES");
	assert_int_equal(nrequests, 2);
	assert_null(strstr(requests[0], "token"));
	assert_non_null(strstr(requests[1], "\"execute\":\"console-attach\""));
	assert_non_null(strstr(requests[1], "\"token\":\"vmd_tok\""));
}

static void test_stream_negotiates_with_token(void **state)
{
	struct fixture *f = *state;
	struct got g = {0};

	upstream_stream(&f->gw, "vmd_tok", "qmp_capabilities", NULL, on_stream,
			&g);
	run(f, &g);
	assert_int_equal(g.calls, 1);
	assert_int_equal(nrequests, 1);
	assert_non_null(strstr(requests[0], "\"execute\":\"qmp_capabilities\""));
	assert_non_null(strstr(requests[0], "\"token\":\"vmd_tok\""));
}

static void test_vmd_not_there(void **state)
{
	struct fixture *f = *state;
	struct got g = {0}, h = {0};

	unlink(f->path);
	upstream_call(&f->gw, "t", "vm-list", NULL, on_reply, &g);
	run(f, &g);
	assert_int_equal(g.calls, 1);
	assert_true(g.io);
	upstream_stream(&f->gw, "t", "console-attach", NULL, on_stream, &h);
	run(f, &h);
	assert_int_equal(h.calls, 1);
	assert_true(h.io);
	assert_string_equal(h.raw, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_return_and_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancelled_call_is_not_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_hands_over_the_rest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_negotiates_with_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmd_not_there, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
