/* libFuzzer harness over the real vmd: one client's bytes go through vmd's
 * own listener, connection code, framing, dispatch, access checks, argument
 * validation and command handlers (daemon/server.c, dispatch.c, cmd_*.c,
 * the store), driven by vmd's own event loop in this process.  Where
 * fuzz_protocol.c checks framing and replies against its own model of that
 * path, this one runs the path itself, so a bug in the daemon's code (not a
 * copy of it) is what ASan and UBSan see.
 *
 * Differences from a real vmd, and why:
 * - the run directory is under /dev/null, so every vm-start fails at its
 *   first step (mkdir) and no QEMU or keeper is ever forked: the harness
 *   fuzzes requests, not launches, and must leave no process behind;
 * - the KVM probe is not run; the verdict is TCG;
 * - the state directory is in /dev/shm, where fsync is cheap.
 *
 * The first input byte picks the listener (even: QMP, odd: JSON-RPC); the
 * rest is sent on a fresh connection in slices whose sizes come from the
 * input, with the event loop run between them, and every reply is read.
 * Checks: the replies read back as JSON objects (or JSON-RPC batch arrays)
 * through a strict stream, vmd never sends more than OUT_MAX bytes for one
 * input, and each input is answered within a bounded number of loop turns.
 * After each input every VM it defined is removed again, so inputs do not
 * depend on each other. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include "daemon/commit.h"
#include "daemon/dispatch.h"
#include "daemon/log.h"
#include "daemon/scope.h"
#include "daemon/server.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vmd.h"
#include "rpc/stream.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct vmd vmd;  /* what daemon/main.c defines in vmd */

/* vmd amplifying one input into more than this is a bug. */
#define OUT_MAX (64u << 20)
/* Loop turns without progress after which an input counts as answered. */
#define IDLE_TURNS 8
/* Loop turns one input may take at most: more is a hang. */
#define MAX_TURNS 200000

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_vmd: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

static char *qmp_path, *rpc_path;
static struct rpc_stream *back;

static char *in_dir(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", dir, name) < 0)
		FAIL("out of memory");
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/dev/shm/vmd-fuzz-XXXXXX", err[512];
	char *dir = mkdtemp(tmpl);

	if (!dir)
		FAIL("mkdtemp: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("FUZZ_VMD_LOG") ? LOG_DEBUG : LOG_EMERG);
	vmd.state_dir = in_dir(dir, "state");
	vmd.run_dir = strdup("/dev/null/vmd-fuzz");
	vmd.qemu = strdup("/nonexistent/qemu-system-x86_64");
	vmd.sandbox = 1;
	vmd.probe.verdict = "tcg";
	snprintf(vmd.probe.reason, sizeof vmd.probe.reason, "fuzz harness");
	qmp_path = in_dir(dir, "vmd.sock");
	rpc_path = in_dir(dir, "rpc.sock");
	vmd.sock_path = strdup(qmp_path);
	vmd.base = event_base_new();
	scope_init(vmd.base, SCOPES_OFF);
	char *db = in_dir(dir, "vmd.db");
	if (mkdir(vmd.state_dir, 0700) < 0 || dispatch_init(err, sizeof err) < 0 ||
	    !(vmd.store = store_open(db, err, sizeof err)) || vm_load_all() < 0 ||
	    server_listen(qmp_path, LISTEN_QMP) < 0 ||
	    server_listen(rpc_path, LISTEN_JSONRPC) < 0)
		FAIL("setup: %s", err);
	free(db);
	if (!(back = rpc_stream_new(OUT_MAX)))
		FAIL("out of memory");
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		FAIL("connect %s: %s", path, strerror(errno));
	return fd;
}

/* Every reply is an object, or (JSON-RPC batches) an array of objects. */
static void check_replies(const char *buf, size_t n)
{
	struct json_object *v;
	char err[256];
	enum rpc_stream_status st;

	if (rpc_stream_push(back, buf, n) < 0)
		FAIL("replies: cannot buffer %zu bytes", n);
	while ((st = rpc_stream_next(back, &v, err, sizeof err)) == RPC_STREAM_VALUE) {
		bool ok = json_object_is_type(v, json_type_object);
		if (json_object_is_type(v, json_type_array)) {
			ok = json_object_array_length(v) > 0;
			for (size_t i = 0; ok && i < json_object_array_length(v); i++)
				ok = json_object_is_type(json_object_array_get_idx(v, i),
							 json_type_object);
		}
		if (!ok)
			FAIL("a reply is not an object: %s",
			     json_object_to_json_string(v));
		json_object_put(v);
	}
	if (st != RPC_STREAM_MORE)
		FAIL("vmd sent what does not read back as JSON: %s", err);
}

/* Slice sizes from the input: one byte, a few, or large pieces. */
static size_t slice_of(const uint8_t *data, size_t size, size_t off)
{
	uint8_t b = data[off % size];

	return b < 64 ? 1 : b < 192 ? (size_t)(b & 31) + 1 : 4096;
}

/* Send data to vmd and read its answers until nothing moves any more. */
static void converse(int fd, const uint8_t *data, size_t size)
{
	size_t off = 0, out = 0;
	int idle = 0;
	char buf[65536];

	for (int turn = 0; idle < IDLE_TURNS; turn++) {
		bool moved = false;
		if (turn > MAX_TURNS)
			FAIL("no end after %d loop turns (%zu of %zu bytes sent)",
			     turn, off, size);
		if (off < size) {
			size_t want = slice_of(data, size, off);
			ssize_t w = send(fd, data + off, want < size - off ? want :
					 size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w, moved = true;
			else if (errno != EAGAIN)
				off = size;  /* vmd closed: nothing more to send */
		}
		event_base_loop(vmd.base, EVLOOP_NONBLOCK);
		ssize_t r;
		while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
			check_replies(buf, (size_t)r);
			if ((out += (size_t)r) > OUT_MAX)
				FAIL("more than %u bytes of replies to %zu bytes",
				     OUT_MAX, size);
			moved = true;
		}
		if (r == 0)
			return;  /* vmd closed the connection */
		idle = moved || off < size ? 0 : idle + 1;
	}
}

/* Inputs do not build on each other: what one defined goes again. */
static void forget_vms(void)
{
	size_t n;
	struct vm **all = vm_sorted(&n);

	for (size_t i = 0; all && i < n; i++) {
		if (vm_is_active(all[i]))
			FAIL("VM %s is running: no start may succeed here",
			     all[i]->name);
		if (store_vm_delete(vmd.store, all[i]->uuid) != STORE_OK)
			FAIL("store: %s", store_errmsg(vmd.store));
		vm_remove(all[i]);
	}
	free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int fd = connect_to(data[0] & 1 ? rpc_path : qmp_path);

	converse(fd, data + 1, size - 1);
	close(fd);
	for (int i = 0; i < 4; i++)  /* vmd sees the close and frees it */
		event_base_loop(vmd.base, EVLOOP_NONBLOCK);
	rpc_stream_free(back);  /* a reply cut short stays behind */
	if (!(back = rpc_stream_new(OUT_MAX)))
		FAIL("out of memory");
	forget_vms();
	return 0;
}
