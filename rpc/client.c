/* Protocol client over a unix stream socket: used by vmctl, by the tests,
 * and by emu/ for each QEMU's QMP monitor (same framing, same shapes).
 *
 * Input goes through an rpc_stream; complete messages wait in a queue.  The
 * blocking calls parse one message at a time and stop right after the
 * reply they wait for, so that bytes after it (raw console output after
 * console-attach) stay unparsed for rpc_client_take_rest().  The event-loop
 * interface (send/flush/read/pop) never blocks: the socket is O_NONBLOCK
 * and unsent output waits in a buffer. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rpc/client.h"
#include "rpc/message.h"
#include "rpc/stream.h"

#define READ_CHUNK 65536
/* Per rpc_client_read() call, so one busy peer cannot starve an event loop. */
#define READ_BUDGET (4 * READ_CHUNK)

struct msg_node {
	struct json_object *msg;
	struct msg_node *next;
};

struct rpc_client {
	int fd;
	struct rpc_stream *in;
	struct msg_node *head, *tail;   /* messages read, oldest first */
	struct json_object *greeting;
	long long next_id;
	char *out;                      /* unsent bytes: out[out_off..out_len) */
	size_t out_off, out_len, out_cap;
	int eof;                        /* peer closed its end */
	int broken;                     /* I/O error or bad input: give up */
	char why[256];                  /* what broke, for error messages */
	char *token;                    /* sent with every request, or NULL */
};

static void set_msg(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- lifetime ---- */

struct rpc_client *rpc_client_from_fd(int fd)
{
	return rpc_client_from_fd_max(fd, RPC_MAX_MSG);
}

const char *rpc_client_why(const struct rpc_client *c)
{
	return c->why[0] ? c->why : c->eof ? "connection closed by peer" : "";
}

struct rpc_client *rpc_client_from_fd_max(int fd, size_t max_msg)
{
	struct rpc_client *c;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->in = rpc_stream_new(max_msg)) == NULL) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->next_id = 1;
	return c;
}

struct rpc_client *rpc_client_connect(const char *path, char *err, size_t errlen)
{
	return rpc_client_connect_max(path, RPC_MAX_MSG, err, errlen);
}

struct rpc_client *rpc_client_connect_max(const char *path, size_t max_msg,
					  char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rpc_client *c;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_msg(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_msg(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		set_msg(err, errlen, "connect to %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	c = rpc_client_from_fd_max(fd, max_msg);
	if (c == NULL)
		set_msg(err, errlen, "connect to %s: out of memory", path);
	return c;
}

void rpc_client_close(struct rpc_client *c)
{
	struct msg_node *n;

	if (c == NULL)
		return;
	while ((n = c->head) != NULL) {
		c->head = n->next;
		json_object_put(n->msg);
		free(n);
	}
	json_object_put(c->greeting);
	rpc_stream_free(c->in);
	free(c->out);
	free(c->token);
	close(c->fd);
	free(c);
}

int rpc_client_fd(const struct rpc_client *c)
{
	return c->fd;
}

struct json_object *rpc_client_greeting(const struct rpc_client *c)
{
	return c->greeting;
}

/* ---- time ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline for a timeout in ms; -1 stays "forever". */
static long long deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* poll() timeout left until deadline: -1 forever, 0 when passed. */
static int ms_left(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Wait until fd is ready for events; 1 ready, 0 timed out, -1 error. */
static int wait_fd(struct rpc_client *c, short events, long long deadline)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	int r;

	for (;;) {
		r = poll(&p, 1, ms_left(deadline));
		if (r >= 0)
			return r > 0;
		if (errno != EINTR) {
			c->broken = 1;
			set_msg(c->why, sizeof(c->why), "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* ---- output ---- */

static int out_append(struct rpc_client *c, const char *buf, size_t len)
{
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t ncap = c->out_cap ? c->out_cap : 4096;
		char *n;

		while (ncap < c->out_len + len)
			ncap *= 2;
		n = realloc(c->out, ncap);
		if (n == NULL)
			return -1;
		c->out = n;
		c->out_cap = ncap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return 0;
}

int rpc_client_flush(struct rpc_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0) {
			c->broken = 1;
			set_msg(c->why, sizeof(c->why), "write: %s", strerror(errno));
			return -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

int rpc_client_set_token(struct rpc_client *c, const char *token)
{
	free(c->token);
	c->token = token ? strdup(token) : NULL;
	return token && !c->token ? -1 : 0;
}

static struct json_object *request_new(const struct rpc_client *c,
				       const char *cmd, struct json_object *args,
				       long long id)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (c->token)
		json_object_object_add(req, "token", json_object_new_string(c->token));
	if (args != NULL)
		json_object_object_add(req, "arguments", args);
	json_object_object_add(req, "id", json_object_new_int64(id));
	return req;
}

int rpc_client_send(struct rpc_client *c, const char *cmd,
		    struct json_object *args, long long id)
{
	struct json_object *req = request_new(c, cmd, args, id);
	size_t len;
	char *bytes = rpc_emit(req, &len);
	int r = -1;

	json_object_put(req);
	if (c->broken) {
		free(bytes);
		return -1;
	}
	if (bytes != NULL && out_append(c, bytes, len) == 0)
		r = rpc_client_flush(c) < 0 ? -1 : 0;
	free(bytes);
	return r;
}

/* Blocking: write everything queued before the deadline. */
static int flush_until(struct rpc_client *c, long long deadline)
{
	int r;

	while ((r = rpc_client_flush(c)) == 1) {
		r = wait_fd(c, POLLOUT, deadline);
		if (r <= 0)
			return r == 0 ? 0 : -1;
	}
	return r == 0 ? 1 : -1;
}

/* ---- input ---- */

/* Read what the socket has into the stream, without parsing.
 * 1: got bytes (or nothing yet, EAGAIN), 0: EOF, -1: error. */
static int fill(struct rpc_client *c, size_t budget)
{
	char buf[READ_CHUNK];
	size_t got = 0;

	while (got < budget) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n < 0) {
			c->broken = 1;
			set_msg(c->why, sizeof(c->why), "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (rpc_stream_push(c->in, buf, (size_t)n) < 0) {
			c->broken = 1;
			set_msg(c->why, sizeof(c->why), "read: out of memory");
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

/* Parse the next buffered message: 1 with *msg, 0 none yet, -1 bad input.
 * Every QMP message is an object; anything else means a confused peer. */
static int parse_one(struct rpc_client *c, struct json_object **msg)
{
	char err[160];
	enum rpc_stream_status st = rpc_stream_next(c->in, msg, err, sizeof(err));

	if (st == RPC_STREAM_MORE)
		return 0;
	if (st == RPC_STREAM_VALUE && json_object_is_type(*msg, json_type_object))
		return 1;
	if (st == RPC_STREAM_VALUE) {
		json_object_put(*msg);
		*msg = NULL;
		snprintf(err, sizeof(err), "peer sent a JSON value that is not an object");
	}
	c->broken = 1;
	set_msg(c->why, sizeof(c->why), "bad message from peer: %s", err);
	return -1;
}

static int enqueue(struct rpc_client *c, struct json_object *msg)
{
	struct msg_node *n = malloc(sizeof(*n));

	if (n == NULL) {
		json_object_put(msg);
		return -1;
	}
	n->msg = msg;
	n->next = NULL;
	if (c->tail != NULL)
		c->tail->next = n;
	else
		c->head = n;
	c->tail = n;
	return 0;
}

/* Remove and return the first queued message that is an event (events ==
 * 1) or any message (events == 0). */
static struct json_object *dequeue(struct rpc_client *c, int events)
{
	struct msg_node **pp = &c->head, *prev = NULL, *n;
	struct json_object *msg;

	while ((n = *pp) != NULL &&
	       events && !json_object_object_get_ex(n->msg, "event", NULL)) {
		prev = n;
		pp = &n->next;
	}
	if (n == NULL)
		return NULL;
	*pp = n->next;
	if (c->tail == n)
		c->tail = prev;
	msg = n->msg;
	free(n);
	return msg;
}

int rpc_client_read(struct rpc_client *c)
{
	struct json_object *msg;
	int r, p;

	if (c->broken)
		return -1;
	r = fill(c, READ_BUDGET);
	while ((p = parse_one(c, &msg)) == 1) {
		if (enqueue(c, msg) < 0)
			return -1;
	}
	if (p < 0 || r <= 0)
		return -1;
	return 0;
}

struct json_object *rpc_client_pop(struct rpc_client *c)
{
	struct json_object *msg = dequeue(c, 0);

	if (msg == NULL && !c->broken && parse_one(c, &msg) != 1)
		msg = NULL;
	return msg;
}

/* Blocking: the next message, waiting until the deadline.
 * 1 with *msg, 0 on timeout, -1 on EOF or error (c->why says which). */
static int wait_message(struct rpc_client *c, long long deadline,
			struct json_object **msg)
{
	int r;

	for (;;) {
		if (c->broken)
			return -1;
		r = parse_one(c, msg);
		if (r != 0)
			return r;
		if (c->eof) {
			set_msg(c->why, sizeof(c->why), "connection closed by peer");
			return -1;
		}
		r = wait_fd(c, POLLIN, deadline);
		if (r <= 0)
			return r;
		if (fill(c, READ_CHUNK) < 0)
			return -1;
	}
}

/* ---- blocking calls ---- */

static int is_reply_to(struct json_object *msg, long long id)
{
	struct json_object *v;

	return json_object_object_get_ex(msg, "id", &v) &&
	       json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == id;
}

/* Turn a reply into the call's result. */
static rpc_err take_reply(struct json_object *msg, struct json_object **ret,
			  char *desc, size_t desclen)
{
	struct json_object *v, *cls = NULL, *d = NULL;

	if (json_object_object_get_ex(msg, "return", &v)) {
		if (ret != NULL)
			*ret = json_object_get(v);
		return RPC_OK;
	}
	if (!json_object_object_get_ex(msg, "error", &v) ||
	    !json_object_is_type(v, json_type_object)) {
		set_msg(desc, desclen, "malformed reply: %s",
			json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
		return RPC_GENERIC_ERROR;
	}
	json_object_object_get_ex(v, "class", &cls);
	json_object_object_get_ex(v, "desc", &d);
	set_msg(desc, desclen, "%s", d ? json_object_get_string(d) : "(no description)");
	return rpc_err_from_name(json_object_get_string(cls));
}

/* Wait for the reply with this id; events are queued, anything else (a
 * late reply to a call that timed out) is dropped. */
static int await_reply(struct rpc_client *c, long long id, long long deadline,
		       struct json_object **reply)
{
	struct json_object *msg;
	int r;

	while ((r = wait_message(c, deadline, &msg)) == 1) {
		if (is_reply_to(msg, id)) {
			*reply = msg;
			return 1;
		}
		if (json_object_object_get_ex(msg, "event", NULL)) {
			if (enqueue(c, msg) < 0)
				return -1;
		} else {
			json_object_put(msg);
		}
	}
	return r;
}

static rpc_err io_error(struct rpc_client *c, int timed_out, const char *cmd,
			int timeout_ms, char *desc, size_t desclen, int *io_failed)
{
	if (io_failed != NULL)
		*io_failed = 1;
	if (timed_out)
		set_msg(desc, desclen, "%s: no reply within %d ms", cmd, timeout_ms);
	else
		set_msg(desc, desclen, "%s: %s", cmd, c->why[0] ? c->why : "I/O error");
	return RPC_GENERIC_ERROR;
}

rpc_err rpc_client_call(struct rpc_client *c, const char *cmd,
			struct json_object *args, int timeout_ms,
			struct json_object **ret, char *desc, size_t desclen,
			int *io_failed)
{
	long long deadline = deadline_of(timeout_ms);
	long long id = c->next_id++;
	struct json_object *reply = NULL;
	rpc_err e;
	int r;

	if (ret != NULL)
		*ret = NULL;
	if (io_failed != NULL)
		*io_failed = 0;
	set_msg(desc, desclen, "%s", "");
	if (rpc_client_send(c, cmd, args, id) < 0)
		return io_error(c, 0, cmd, timeout_ms, desc, desclen, io_failed);
	r = flush_until(c, deadline);
	if (r == 1)
		r = await_reply(c, id, deadline, &reply);
	if (r <= 0)
		return io_error(c, r == 0, cmd, timeout_ms, desc, desclen, io_failed);
	e = take_reply(reply, ret, desc, desclen);
	json_object_put(reply);
	return e;
}

struct json_object *rpc_client_next_event(struct rpc_client *c, int timeout_ms)
{
	long long deadline = deadline_of(timeout_ms);
	struct json_object *msg = dequeue(c, 1);

	while (msg == NULL && wait_message(c, deadline, &msg) == 1) {
		if (!json_object_object_get_ex(msg, "event", NULL)) {
			json_object_put(msg);
			msg = NULL;
		}
	}
	return msg;
}

/* The greeting must be the first message and QMP-shaped. */
static int read_greeting(struct rpc_client *c, long long deadline,
			 char *err, size_t errlen)
{
	struct json_object *msg = NULL;
	int r = wait_message(c, deadline, &msg);

	if (r <= 0) {
		set_msg(err, errlen, "no greeting: %s",
			r == 0 ? "timed out" : c->why);
		return -1;
	}
	struct json_object *e, *desc;
	/* a server that refuses the connection (too many clients) says why
	 * in an error instead of its greeting */
	if (json_object_object_get_ex(msg, "error", &e) &&
	    json_object_object_get_ex(e, "desc", &desc)) {
		set_msg(err, errlen, "refused: %s", json_object_get_string(desc));
		json_object_put(msg);
		return -1;
	}
	if (!json_object_object_get_ex(msg, "QMP", NULL)) {
		set_msg(err, errlen, "not a QMP greeting: %s",
			json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN));
		json_object_put(msg);
		return -1;
	}
	json_object_put(c->greeting);
	c->greeting = msg;
	return 0;
}

int rpc_client_negotiate(struct rpc_client *c, int timeout_ms, char *err, size_t errlen)
{
	long long deadline = deadline_of(timeout_ms);
	char desc[256];
	int left;
	rpc_err e;

	if (read_greeting(c, deadline, err, errlen) < 0)
		return -1;
	left = ms_left(deadline);
	if (timeout_ms >= 0 && left == 0)
		left = 1;	/* a reply already buffered may still be read */
	e = rpc_client_call(c, "qmp_capabilities", NULL, left, NULL,
			    desc, sizeof(desc), NULL);
	if (e != RPC_OK) {
		set_msg(err, errlen, "negotiation failed: %s", desc);
		return -1;
	}
	return 0;
}

size_t rpc_client_take_rest(struct rpc_client *c, void *buf, size_t cap)
{
	return rpc_stream_take_rest(c->in, buf, cap);
}
