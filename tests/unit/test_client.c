/* Unit tests of rpc/client.c against a fake QMP server in a fork()ed child
 * on a socketpair.  The server behaves like QEMU does on the wire: greeting,
 * events between replies, replies echoing "id", output split into tiny
 * writes or packed back to back.  The child checks what the client sent and
 * reports through its exit status, which every test asserts. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rpc/client.h"
#include "rpc/stream.h"

/* ---- the fake server (runs in the child; no cmocka there) ---- */

#define CHECK(x) do { \
	if (!(x)) { \
		fprintf(stderr, "fake server: %s:%d: check failed: %s\n", \
			__FILE__, __LINE__, #x); \
		_exit(1); \
	} \
} while (0)

struct srv {
	int fd;
	struct rpc_stream *in;
	long long last_id;
};

static const char greeting[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7},"
	" \"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n";

static int only_ws(const char *p, size_t len)
{
	return strspn(p, " \t\r\n") >= len;
}

/* Write text chunk bytes at a time, pausing so the reads see them apart.
 * The client may hang up once it has the message's closing brace: a line
 * end it did not wait for is no failure. */
static void srv_send(struct srv *s, const char *text, size_t len, size_t chunk)
{
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ssize_t w = write(s->fd, text + off, n);

		if (w < 0 && errno == EPIPE && only_ws(text + off, len - off))
			return;
		CHECK(w == (ssize_t)n);
		if (chunk < len)
			usleep(300);
	}
}

static void srv_sendf(struct srv *s, size_t chunk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void srv_sendf(struct srv *s, size_t chunk, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	CHECK(n > 0 && (size_t)n < sizeof(buf));
	srv_send(s, buf, (size_t)n, chunk);
}

/* Next request, which must be a QMP command named cmd with an integer id
 * larger than any before. */
static struct json_object *srv_recv(struct srv *s, const char *cmd)
{
	struct json_object *req = NULL, *v;
	char buf[65536];

	while (rpc_stream_next(s->in, &req, NULL, 0) != RPC_STREAM_VALUE) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		CHECK(n > 0);
		CHECK(rpc_stream_push(s->in, buf, (size_t)n) == 0);
	}
	CHECK(json_object_object_get_ex(req, "execute", &v));
	CHECK(strcmp(json_object_get_string(v), cmd) == 0);
	CHECK(json_object_object_get_ex(req, "id", &v));
	CHECK(json_object_is_type(v, json_type_int));
	CHECK(json_object_get_int64(v) > s->last_id);
	s->last_id = json_object_get_int64(v);
	return req;
}

static void srv_negotiate(struct srv *s)
{
	struct json_object *req;

	srv_send(s, greeting, strlen(greeting), 7);
	req = srv_recv(s, "qmp_capabilities");
	CHECK(!json_object_object_get_ex(req, "arguments", NULL));
	json_object_put(req);
	srv_sendf(s, 1, "{\"return\": {}, \"id\": %lld}\r\n", s->last_id);
}

/* Stay until the client hangs up, so the client never sees EOF early. */
static void srv_wait_eof(struct srv *s)
{
	char buf[4096];

	while (read(s->fd, buf, sizeof(buf)) > 0)
		;
}

typedef void (*script_fn)(struct srv *s);

struct fake {
	pid_t pid;
	struct rpc_client *c;
};

static struct fake start_server(script_fn script)
{
	struct fake f;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	f.pid = fork();
	assert_true(f.pid >= 0);
	if (f.pid == 0) {
		struct srv s = { .fd = sv[1], .in = rpc_stream_new(RPC_MAX_MSG) };

		close(sv[0]);
		signal(SIGPIPE, SIG_IGN);
		script(&s);
		rpc_stream_free(s.in);
		_exit(0);
	}
	close(sv[1]);
	f.c = rpc_client_from_fd(sv[0]);
	assert_non_null(f.c);
	return f;
}

static void finish(struct fake *f)
{
	int status = -1;

	rpc_client_close(f->c);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void negotiate(struct fake *f)
{
	char err[256] = "";

	assert_int_equal(rpc_client_negotiate(f->c, 5000, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* ---- tests ---- */

static void script_negotiate(struct srv *s)
{
	srv_negotiate(s);
	srv_wait_eof(s);
}

static void test_negotiate(void **state)
{
	struct fake f = start_server(script_negotiate);
	struct json_object *g, *v;

	negotiate(&f);
	g = rpc_client_greeting(f.c);
	assert_non_null(g);
	assert_true(json_object_object_get_ex(g, "QMP", &v));
	assert_true(json_object_object_get_ex(v, "capabilities", NULL));
	finish(&f);
}

static void script_event_before_reply(struct srv *s)
{
	struct json_object *req;

	srv_negotiate(s);
	req = srv_recv(s, "vm-list");
	CHECK(!json_object_object_get_ex(req, "arguments", NULL));
	json_object_put(req);
	srv_sendf(s, 3, "{\"event\": \"VM_STATE\", \"data\": {\"vm\": \"a\"}, "
		  "\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");
	srv_sendf(s, 2, "{\"return\": [{\"name\": \"a\"}], \"id\": %lld}\r\n", s->last_id);
	srv_wait_eof(s);
}

static void test_event_before_reply(void **state)
{
	struct fake f = start_server(script_event_before_reply);
	struct json_object *ret = NULL, *ev;
	char desc[256];
	int io = -1;

	negotiate(&f);
	assert_int_equal(rpc_client_call(f.c, "vm-list", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_OK);
	assert_int_equal(io, 0);
	assert_true(json_object_is_type(ret, json_type_array));
	assert_int_equal(json_object_array_length(ret), 1);
	json_object_put(ret);
	ev = rpc_client_next_event(f.c, 0);
	assert_non_null(ev);
	assert_string_equal(member_str(ev, "event"), "VM_STATE");
	json_object_put(ev);
	assert_null(rpc_client_next_event(f.c, 0));
	finish(&f);
}

static void script_back_to_back(struct srv *s)
{
	struct json_object *req, *args;

	srv_negotiate(s);
	req = srv_recv(s, "vm-show");
	CHECK(json_object_object_get_ex(req, "arguments", &args));
	CHECK(strcmp(json_object_get_string(json_object_object_get(args, "vm")), "x") == 0);
	json_object_put(req);
	srv_sendf(s, 4096, "{\"event\":\"A\"}{\"return\":{\"x\":1},\"id\":%lld}{\"event\":\"B\"}",
		  s->last_id);
	srv_wait_eof(s);
}

static void test_back_to_back(void **state)
{
	struct fake f = start_server(script_back_to_back);
	struct json_object *args = json_object_new_object(), *ret = NULL, *ev;

	negotiate(&f);
	json_object_object_add(args, "vm", json_object_new_string("x"));
	assert_int_equal(rpc_client_call(f.c, "vm-show", args, 5000, &ret, NULL, 0, NULL),
			 RPC_OK);
	assert_int_equal(json_object_get_int(json_object_object_get(ret, "x")), 1);
	json_object_put(ret);
	ev = rpc_client_next_event(f.c, 1000);
	assert_non_null(ev);
	assert_string_equal(member_str(ev, "event"), "A");
	json_object_put(ev);
	ev = rpc_client_next_event(f.c, 1000);
	assert_non_null(ev);
	assert_string_equal(member_str(ev, "event"), "B");
	json_object_put(ev);
	assert_null(rpc_client_next_event(f.c, 50));
	finish(&f);
}

static void script_errors(struct srv *s)
{
	long long id;

	srv_negotiate(s);
	json_object_put(srv_recv(s, "vm-start"));
	srv_sendf(s, 5, "{\"error\": {\"class\": \"VmNotFound\", \"desc\": \"no VM named 'w'\"},"
		  " \"id\": %lld}\n", s->last_id);
	json_object_put(srv_recv(s, "device_del"));
	srv_sendf(s, 64, "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"no dev\"},"
		  " \"id\": %lld}\n", s->last_id);
	json_object_put(srv_recv(s, "vm-show"));
	id = s->last_id;
	srv_sendf(s, 64, "{\"return\": {\"stale\": true}, \"id\": %lld}\n", id + 100);
	srv_sendf(s, 64, "{\"return\": {\"stale\": true}, \"id\": \"%lld\"}\n", id);
	srv_sendf(s, 64, "{\"return\": {\"fresh\": true}, \"id\": %lld}\n", id);
	srv_wait_eof(s);
}

static void test_error_replies(void **state)
{
	struct fake f = start_server(script_errors);
	struct json_object *ret = (struct json_object *)&f;
	char desc[256];
	int io = -1;

	negotiate(&f);
	assert_int_equal(rpc_client_call(f.c, "vm-start", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_VM_NOT_FOUND);
	assert_null(ret);
	assert_int_equal(io, 0);
	assert_string_equal(desc, "no VM named 'w'");
	assert_int_equal(rpc_client_call(f.c, "device_del", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_GENERIC_ERROR);
	assert_int_equal(io, 0);
	assert_string_equal(desc, "no dev");
	/* replies with other ids (late, or a string id) are not ours */
	assert_int_equal(rpc_client_call(f.c, "vm-show", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_OK);
	assert_true(json_object_get_boolean(json_object_object_get(ret, "fresh")));
	json_object_put(ret);
	assert_null(rpc_client_next_event(f.c, 0));
	finish(&f);
}

static void script_timeout(struct srv *s)
{
	long long first;

	srv_negotiate(s);
	json_object_put(srv_recv(s, "slow"));
	first = s->last_id;
	json_object_put(srv_recv(s, "fast"));
	srv_sendf(s, 64, "{\"return\": {\"which\": \"slow\"}, \"id\": %lld}\n", first);
	srv_sendf(s, 64, "{\"return\": {\"which\": \"fast\"}, \"id\": %lld}\n", s->last_id);
	srv_wait_eof(s);
}

static void test_timeout(void **state)
{
	struct fake f = start_server(script_timeout);
	struct json_object *ret = NULL;
	char desc[256];
	long long t0;
	int io = 0;

	negotiate(&f);
	t0 = now_ms();
	assert_int_equal(rpc_client_call(f.c, "slow", NULL, 150, &ret, desc,
					 sizeof(desc), &io), RPC_GENERIC_ERROR);
	assert_int_equal(io, 1);
	assert_null(ret);
	assert_non_null(strstr(desc, "no reply within 150 ms"));
	assert_true(now_ms() - t0 >= 140);
	assert_true(now_ms() - t0 < 3000);
	/* the late reply to "slow" is not taken for the reply to "fast" */
	assert_int_equal(rpc_client_call(f.c, "fast", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_OK);
	assert_int_equal(io, 0);
	assert_string_equal(member_str(ret, "which"), "fast");
	json_object_put(ret);
	finish(&f);
}

static void script_eof(struct srv *s)
{
	srv_negotiate(s);
	json_object_put(srv_recv(s, "vm-list"));
	srv_sendf(s, 64, "{\"event\": \"LAST\"}");
	close(s->fd);
}

static void test_eof(void **state)
{
	struct fake f = start_server(script_eof);
	struct json_object *ret = NULL, *ev;
	char desc[256];
	long long t0;
	int io = 0;

	negotiate(&f);
	assert_int_equal(rpc_client_call(f.c, "vm-list", NULL, 5000, &ret, desc,
					 sizeof(desc), &io), RPC_GENERIC_ERROR);
	assert_int_equal(io, 1);
	assert_null(ret);
	assert_non_null(strstr(desc, "connection closed by peer"));
	/* the event that came before EOF is still delivered, then nothing */
	ev = rpc_client_next_event(f.c, 1000);
	assert_non_null(ev);
	assert_string_equal(member_str(ev, "event"), "LAST");
	json_object_put(ev);
	t0 = now_ms();
	assert_null(rpc_client_next_event(f.c, 2000));
	assert_true(now_ms() - t0 < 1000);
	/* writing to a closed peer is an error, not SIGPIPE */
	assert_int_equal(rpc_client_call(f.c, "again", NULL, 1000, NULL, desc,
					 sizeof(desc), &io), RPC_GENERIC_ERROR);
	assert_int_equal(io, 1);
	finish(&f);
}

static const char raw_tail[] = "\r\nlogin: \x01\xff\n";

static void script_take_rest(struct srv *s)
{
	char buf[256];
	int n;

	srv_negotiate(s);
	json_object_put(srv_recv(s, "console-attach"));
	n = snprintf(buf, sizeof(buf), "{\"return\":{\"vm\":\"a\",\"port\":0,\"mode\":\"rw\"},"
		     "\"id\":%lld}\n%s", s->last_id, raw_tail);
	srv_send(s, buf, (size_t)n, (size_t)n);
	srv_wait_eof(s);
}

static void test_take_rest(void **state)
{
	struct fake f = start_server(script_take_rest);
	struct json_object *ret = NULL;
	char buf[64];
	size_t n;

	negotiate(&f);
	assert_int_equal(rpc_client_call(f.c, "console-attach", NULL, 5000, &ret, NULL, 0,
					 NULL), RPC_OK);
	assert_string_equal(member_str(ret, "mode"), "rw");
	json_object_put(ret);
	n = rpc_client_take_rest(f.c, buf, sizeof(buf));
	assert_int_equal(n, strlen(raw_tail));
	assert_memory_equal(buf, raw_tail, n);
	assert_int_equal(rpc_client_take_rest(f.c, buf, sizeof(buf)), 0);
	finish(&f);
}

static void script_nonblocking(struct srv *s)
{
	struct json_object *req = srv_recv(s, "query-host"), *v;

	CHECK(s->last_id == 42);
	CHECK(json_object_object_get_ex(req, "arguments", &v));
	CHECK(json_object_get_int(json_object_object_get(v, "a")) == 1);
	json_object_put(req);
	srv_sendf(s, 1, "{\"event\":\"E\"}\n{\"return\":{},\"id\":42}");
	close(s->fd);
}

/* The event-loop interface: send, flush, then poll/read/pop. */
static void test_nonblocking(void **state)
{
	struct fake f = start_server(script_nonblocking);
	struct json_object *args = json_object_new_object(), *got[2] = { NULL, NULL };
	struct pollfd p = { .fd = rpc_client_fd(f.c), .events = POLLIN };
	int n = 0, r = 0;

	json_object_object_add(args, "a", json_object_new_int(1));
	assert_int_equal(rpc_client_send(f.c, "query-host", args, 42), 0);
	assert_int_equal(rpc_client_flush(f.c), 0);
	assert_null(rpc_client_pop(f.c));
	while (r == 0) {
		struct json_object *m;

		assert_int_equal(poll(&p, 1, 5000), 1);
		r = rpc_client_read(f.c);
		while ((m = rpc_client_pop(f.c)) != NULL) {
			assert_true(n < 2);
			got[n++] = m;
		}
	}
	assert_int_equal(r, -1);   /* EOF after both messages */
	assert_int_equal(n, 2);
	assert_string_equal(member_str(got[0], "event"), "E");
	assert_int_equal(json_object_get_int(json_object_object_get(got[1], "id")), 42);
	json_object_put(got[0]);
	json_object_put(got[1]);
	finish(&f);
}

static void script_garbage(struct srv *s)
{
	srv_sendf(s, 64, "{\"event\":\"OK\"}{]");
	srv_wait_eof(s);
}

static void test_malformed_input(void **state)
{
	struct fake f = start_server(script_garbage);
	struct pollfd p = { .fd = rpc_client_fd(f.c), .events = POLLIN };
	struct json_object *m;

	assert_int_equal(poll(&p, 1, 5000), 1);
	usleep(20000);   /* both parts of the one write are there */
	assert_int_equal(rpc_client_read(f.c), -1);
	m = rpc_client_pop(f.c);
	assert_non_null(m);
	assert_string_equal(member_str(m, "event"), "OK");
	json_object_put(m);
	assert_null(rpc_client_pop(f.c));
	assert_int_equal(rpc_client_read(f.c), -1);
	finish(&f);
}

static void script_bad_greeting(struct srv *s)
{
	srv_sendf(s, 64, "{\"hello\": 1}\n");
	srv_wait_eof(s);
}

static void test_bad_greeting(void **state)
{
	struct fake f = start_server(script_bad_greeting);
	char err[256] = "";

	assert_int_equal(rpc_client_negotiate(f.c, 2000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a QMP greeting"));
	assert_null(rpc_client_greeting(f.c));
	finish(&f);
}

/* vmd refuses a client over its limits with an error in place of the
 * greeting: the caller reads why, not a QMP greeting complaint. */
static void script_refused(struct srv *s)
{
	srv_sendf(s, 256, "{\"error\": {\"class\": \"Busy\", \"desc\": "
		  "\"too many connections of uid 1000 (at most 64)\"}}\n");
	srv_wait_eof(s);
}

static void test_refused_instead_of_greeting(void **state)
{
	struct fake f = start_server(script_refused);
	char err[256] = "";

	assert_int_equal(rpc_client_negotiate(f.c, 2000, err, sizeof(err)), -1);
	assert_string_equal(err, "refused: too many connections of uid 1000 "
			    "(at most 64)");
	finish(&f);
}

static void script_silent(struct srv *s)
{
	srv_wait_eof(s);
}

static void test_negotiate_timeout(void **state)
{
	struct fake f = start_server(script_silent);
	char err[256] = "";
	long long t0 = now_ms();

	assert_int_equal(rpc_client_negotiate(f.c, 100, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "timed out"));
	assert_true(now_ms() - t0 >= 90);
	finish(&f);
}

#define BIG_LEN (600 * 1024)

static void script_big_request(struct srv *s)
{
	struct json_object *req = srv_recv(s, "vm-define"), *args;

	CHECK(json_object_object_get_ex(req, "arguments", &args));
	srv_sendf(s, 64, "{\"return\": {\"len\": %d}, \"id\": %lld}\n",
		  json_object_get_string_len(json_object_object_get(args, "blob")),
		  s->last_id);
	json_object_put(req);
	srv_wait_eof(s);
}

/* A request larger than the socket buffer needs several waits to write. */
static void test_big_request(void **state)
{
	struct fake f = start_server(script_big_request);
	struct json_object *args = json_object_new_object(), *ret = NULL;
	char *blob = malloc(BIG_LEN + 1);

	memset(blob, 'b', BIG_LEN);
	blob[BIG_LEN] = '\0';
	json_object_object_add(args, "blob", json_object_new_string(blob));
	free(blob);
	assert_int_equal(rpc_client_call(f.c, "vm-define", args, 5000, &ret, NULL, 0, NULL),
			 RPC_OK);
	assert_int_equal(json_object_get_int(json_object_object_get(ret, "len")), BIG_LEN);
	json_object_put(ret);
	finish(&f);
}

/* rpc_client_connect() on a real path; the server side is driven from
 * here, with its replies written before the client asks (ids start at 1). */
static void test_connect(void **state)
{
	char dir[] = "/tmp/vmd-test-client-XXXXXX", path[128], err[256], buf[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rpc_client *c;
	int lfd, sfd;
	ssize_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vmd.sock", dir);
	assert_null(rpc_client_connect(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	c = rpc_client_connect(path, err, sizeof(err));
	assert_non_null(c);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	n = snprintf(buf, sizeof(buf), "%s{\"return\": {}, \"id\": 1}\n", greeting);
	assert_int_equal(write(sfd, buf, (size_t)n), n);
	assert_int_equal(rpc_client_negotiate(c, 2000, err, sizeof(err)), 0);
	n = read(sfd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "{\"execute\":\"qmp_capabilities\",\"id\":1}\n");
	rpc_client_close(c);
	close(sfd);
	close(lfd);
	unlink(path);
	rmdir(dir);

	memset(buf, 'p', 200);
	buf[200] = '\0';
	assert_null(rpc_client_connect(buf, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_event_before_reply),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_take_rest),
		cmocka_unit_test(test_nonblocking),
		cmocka_unit_test(test_malformed_input),
		cmocka_unit_test(test_bad_greeting),
		cmocka_unit_test(test_refused_instead_of_greeting),
		cmocka_unit_test(test_negotiate_timeout),
		cmocka_unit_test(test_big_request),
		cmocka_unit_test(test_connect),
	};

	/* SIGPIPE stays fatal: the client must never raise it (MSG_NOSIGNAL) */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
