/* The lifecycle of daemon/vm_run.c and the restart policy of
 * daemon/restart.c, with no server and no QEMU.  The seam is the link: this
 * program links vm_run.c, vm.c, restart.c (and the VM and MAC indexes)
 * from libvmd.a as they are, and defines itself what they call below them
 * (so the linker takes those from here, not from the library):
 * spawning QEMU (emu_*), QMP (qmp_*), ports, the store and the event
 * sink.  kill() is wrapped (-Wl,--wrap=kill) so that no signal is sent.
 * QEMU's exit is vm_child_exited(), as SIGCHLD calls it.
 *
 * Each test reads one trace of what the lifecycle did, in order:
 * "state a running>stopping (stop)" for a VM_STATE event, "restart ..."
 * for a VM_RESTART event, "qmp cont" for a monitor command, "kill 9" for
 * a signal, "done ..." for the completion callback. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "daemon/conn.h"
#include "daemon/schema_doc.h"
#include "daemon/leftovers.h"
#include "daemon/log.h"
#include "daemon/meter.h"
#include "daemon/plan.h"
#include "daemon/quota.h"
#include "daemon/ports.h"
#include "daemon/qmp.h"
#include "daemon/restart.h"
#include "daemon/scope.h"
#include "daemon/store.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "daemon/vm_files.h"
#include "daemon/vmd.h"
#include "emu/emulator.h"
#include "emu/argv.h"
#include "emu/cdrom.h"
#include "emu/spawn.h"
#include "rpc/schema.h"
#include "schemas/embedded.h"

struct vmd vmd;

/* ---- the trace ---------------------------------------------------------- */

static char trace[8192];

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	size_t len = strlen(trace);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(trace + len, sizeof trace - len, fmt, ap);
	va_end(ap);
	len = strlen(trace);
	if (len + 1 < sizeof trace)
		strcpy(trace + len, "\n");
}

/* The trace from its first line that starts with from. */
static const char *trace_from(const char *from)
{
	const char *p = strstr(trace, from);

	return p ? p : "";
}

/* ---- what lies below the lifecycle: fakes -------------------------------- */

static pid_t next_pid = 900000;   /* never a process: kill() is wrapped */
static bool spawn_fails, store_fails;

int __wrap_kill(pid_t pid, int sig);
int __wrap_kill(pid_t pid, int sig)
{
	(void)pid;
	note("kill %d", sig);
	return 0;
}

void log_msg(int prio, const char *fmt, ...)
{
	(void)prio;
	(void)fmt;
}

void log_vm(int prio, const char *vm, const char *uuid, const char *fmt, ...)
{
	(void)prio;
	(void)vm;
	(void)uuid;
	(void)fmt;
}

static const char *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

void server_broadcast(struct json_object *event)
{
	struct json_object *d;
	const char *name = member(event, "event");

	json_object_object_get_ex(event, "data", &d);
	if (!strcmp(name, "VM_STATE"))
		note("state %s %s>%s (%s)", member(d, "vm"), member(d, "old"),
		     member(d, "new"), member(d, "reason"));
	else
		note("restart %s %s attempt %s in %s ms", member(d, "vm"),
		     member(d, "action"), member(d, "attempt"), member(d, "delay_ms"));
	json_object_put(event);
}

const char *store_errmsg(struct store *s)
{
	(void)s;
	return "disk full";
}

int store_runtime_set(struct store *s, const char *uuid, const char *state,
		      pid_t pid, unsigned long long starttime, const char *qmp_path)
{
	(void)s, (void)uuid, (void)state, (void)pid, (void)starttime, (void)qmp_path;
	return store_fails ? STORE_ERR : STORE_OK;
}

int store_event_add(struct store *s, const char *uuid, const char *vm_name,
		    const char *action, const char *old_state,
		    const char *new_state, const char *reason, const char *who)
{
	(void)s, (void)uuid, (void)vm_name, (void)old_state, (void)reason;
	if (!strcmp(action, "state") && !strcmp(new_state, "starting"))
		note("audit start by %s", who);
	return STORE_OK;
}

int store_vm_foreach(struct store *s, store_vm_cb cb, void *ctx)
{
	(void)s, (void)cb, (void)ctx;
	return 0;
}

char *emu_qemu_path(const char *arch, char *const *set,
		    const char *default_qemu)
{
	(void)arch, (void)set, (void)default_qemu;
	return strdup("qemu-system-x86_64");
}

static const struct emu_arch x86 = { .name = "x86_64", .powerdown = "ACPI" };

const struct emu_arch *emu_arch(const char *name)
{
	(void)name;
	return &x86;
}

bool emu_arch_native(const struct emu_arch *a)
{
	return a == &x86;
}

const char *emu_host_arch(void)
{
	return "x86_64";
}

void emu_argv_init(struct emu_argv *a)
{
	memset(a, 0, sizeof *a);
}

char *emu_argv_render(const struct emu_argv *a)
{
	(void)a;
	return NULL;
}

int emu_build_argv(struct json_object *config, const struct emu_launch *l,
		   struct emu_argv *out, char *err, size_t errlen)
{
	(void)config, (void)l, (void)out, (void)err, (void)errlen;
	return 0;
}

pid_t emu_spawn(char *const argv[], const int *keep_fds, size_t nkeep,
		const char *log_path, char *err, size_t errlen)
{
	(void)argv, (void)keep_fds, (void)nkeep, (void)log_path;
	if (spawn_fails) {
		snprintf(err, errlen, "cannot exec qemu-system-x86_64: No such file");
		return -1;
	}
	note("spawn %d", (int)next_pid);
	return next_pid++;
}

unsigned long long emu_proc_starttime(pid_t pid)
{
	(void)pid;
	return 1;
}

void emu_log_tail(const char *log_path, char *buf, size_t cap)
{
	(void)log_path;
	snprintf(buf, cap, "qemu: guest said goodbye");
}

/* What does nothing here: freeing, closing, indexing, logging leftovers. */
#define NOTHING(fn, type) void fn(type x) { (void)x; }
NOTHING(ports_plan_free, struct port_plan *)
NOTHING(ports_close, struct vm *)
NOTHING(scope_place, const struct vm *)
NOTHING(leftovers_stopped, const struct vm *)
NOTHING(vm_files_close, struct vm_files *)
NOTHING(vm_run_config_drop, struct vm *)
NOTHING(vm_config_index, struct vm *)
NOTHING(vm_config_unindex, struct vm *)
NOTHING(vm_config_fill_macs, struct vm *)
NOTHING(emu_argv_free, struct emu_argv *)
NOTHING(meter_forget, struct vm *)
/* Billing has tests of its own (test_rate, test_billing.py). */
NOTHING(plan_note, struct vm *)
NOTHING(quota_forget, struct vm *)

/* Metering has a test of its own (test_meter_calc, test_metering.py). */
void meter_transition(struct vm *vm, enum vm_state old)
{
	(void)vm, (void)old;
}


/* No console: the logs have QEMU's last bytes at once, unless the test
 * holds them back (a keeper that is slow to send them). */
static bool hold_logs;
static void (*logs_done)(struct vm *vm);

void ports_finish(struct vm *vm, void (*done)(struct vm *vm))
{
	if (hold_logs)
		logs_done = done;
	else
		done(vm);
}

static void release_logs(struct vm *vm)
{
	void (*done)(struct vm *vm) = logs_done;

	hold_logs = false;
	logs_done = NULL;
	assert_non_null(done);
	done(vm);
}

/* One QMP session at a time is enough here: its commands wait in a list
 * until the test answers them, as QEMU would. */
struct pending {
	char cmd[32];
	qmp_reply_cb cb;
	void *ctx;
};
static struct pending pending[8];
static size_t npending;
static int the_qmp;

struct qmp *qmp_open(int fd, qmp_event_cb ev, qmp_closed_cb closed, void *ctx)
{
	(void)ev, (void)closed, (void)ctx;
	close(fd);
	return (struct qmp *)&the_qmp;
}

void qmp_exec(struct qmp *q, const char *cmd, struct json_object *args,
	      qmp_reply_cb cb, void *cbctx)
{
	(void)q;
	json_object_put(args);
	note("qmp %s", cmd);
	assert_true(npending < sizeof pending / sizeof pending[0]);
	pending[npending] = (struct pending){.cb = cb, .ctx = cbctx};
	snprintf(pending[npending++].cmd, sizeof pending[0].cmd, "%s", cmd);
}

/* QEMU answers the oldest command, which must be cmd. */
static void qmp_answer(const char *cmd, rpc_err err, const char *desc)
{
	assert_true(npending > 0);
	struct pending p = pending[0];
	memmove(pending, pending + 1, --npending * sizeof pending[0]);
	assert_string_equal(p.cmd, cmd);
	p.cb(p.ctx, NULL, err, desc);
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	while (npending)
		qmp_answer(pending[0].cmd, RPC_GENERIC_ERROR, "QEMU monitor closed");
}

int ports_prepare(struct vm *vm, struct port_plan *pl, struct rpc_fault *f)
{
	(void)vm, (void)f;
	memset(pl, 0, sizeof *pl);
	return 0;
}

int ports_start_keeper(struct vm *vm, struct port_plan *pl, int *conn_fds,
		       struct rpc_fault *f)
{
	(void)vm, (void)pl, (void)conn_fds, (void)f;
	return 0;
}

void ports_open(struct vm *vm, struct port_plan *pl, int *conn_fds)
{
	(void)vm, (void)pl, (void)conn_fds;
}

int vm_files_open(struct vm *vm, struct vm_files *f, bool kvm,
		  struct rpc_fault *fault)
{
	(void)vm, (void)kvm, (void)fault;
	memset(f, 0, sizeof *f);
	memset(&f->fds, -1, sizeof f->fds);  /* no files, no cloud-init seed */
	return 0;
}

int emu_argv_add_seed(struct emu_argv *a, int fd, const char *arch,
		      const char *machine)
{
	(void)a, (void)arch, (void)machine;
	fail_msg("a seed (fd %d) without a cloud_init block", fd);
	return -1;
}

int vm_run_config_save(struct vm *vm, struct rpc_fault *f)
{
	(void)vm, (void)f;
	return 0;
}

/* ---- the one who asked --------------------------------------------------- */

/* What the completion callback was told, and how often. */
struct outcome {
	int calls;
	rpc_err cls;
	char msg[1024];
	bool forced;
};

static void done(void *ctx, struct vm *vm, const struct rpc_fault *err)
{
	struct outcome *o = ctx;

	o->calls++;
	o->cls = err ? err->cls : RPC_OK;
	snprintf(o->msg, sizeof o->msg, "%s", err ? err->msg : "");
	o->forced = vm->kill_sent;
	note("done %s %s", err ? rpc_err_name(err->cls) : "ok", vm_state_name(vm->state));
}

/* ---- fixture ----------------------------------------------------------- */

static char run_dir[] = "/tmp/vmd-lifecycle.XXXXXX";

static int setup(void **state)
{
	(void)state;
	trace[0] = '\0';
	npending = 0;
	next_pid = 900000;
	spawn_fails = store_fails = false;
	vmd.base = event_base_new();
	vmd.run_dir = mkdtemp(run_dir) ? run_dir : NULL;
	return vmd.base && vmd.run_dir ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	vm_free_all();
	event_base_free(vmd.base);
	vmd.base = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", run_dir);
	assert_int_equal(system(cmd), 0);
	strcpy(run_dir, "/tmp/vmd-lifecycle.XXXXXX");
	return 0;
}

static struct vm *define(const char *config_text)
{
	static int n;
	char uuid[37];
	struct json_object *config = json_tokener_parse(config_text);

	assert_non_null(config);
	/* the defaults of schemas/vm-config.json, as at define and load */
	if (!vmd.vm_schema)
		vmd.vm_schema = json_tokener_parse(vmd_schema_vm_config);
	assert_int_equal(schema_doc_fill_config(vmd.vm_schema, config), 0);
	snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", ++n);
	struct vm *vm = vm_add(uuid, "a", config, 0, 0);
	assert_non_null(vm);
	return vm;
}

/* Run what the loop has ready, and one timer as though its time came. */
static void fire(struct event *timer)
{
	assert_non_null(timer);
	assert_true(event_pending(timer, EV_TIMEOUT, NULL));
	event_active(timer, EV_TIMEOUT, 0);
	event_base_loop(vmd.base, EVLOOP_NONBLOCK);
}

static void exited(struct vm *vm, int status)
{
	vm_child_exited(vm->pid, status);
}

#define KILLED (SIGKILL)          /* a wait status: killed by SIGKILL */
#define EXIT(n) ((n) << 8)        /* a wait status: exit(n) */

/* A VM with nothing but a name, asked to start. */
static struct vm *start_plain(struct outcome *o)
{
	struct vm *vm = define("{\"name\": \"a\"}");

	vm_start(vm, "uid=0 pid=1", done, o);
	return vm;
}

/* Started and running: the trace is cleared behind it. */
static struct vm *running(const char *config_text)
{
	struct outcome o = {0};
	struct vm *vm = define(config_text);

	vm_start(vm, "uid=0 pid=1", done, &o);
	qmp_answer("cont", RPC_OK, NULL);
	assert_int_equal(o.calls, 1);
	assert_int_equal(vm->state, VM_RUNNING);
	trace[0] = '\0';
	return vm;
}

/* ---- start --------------------------------------------------------------- */

/* Spawned paused, "starting" stored and announced, "cont", then "running"
 * and only then the caller is told, once, with the QEMU's pid. */
static void test_start(void **state)
{
	struct outcome o = {0};
	struct vm *vm = define("{\"name\": \"a\", \"accel\": \"tcg\"}");

	(void)state;
	vm_start(vm, "uid=0 pid=1", done, &o);
	assert_string_equal(trace, "spawn 900000\n"
			    "audit start by uid=0 pid=1\n"
			    "state a stopped>starting (start)\n"
			    "qmp cont\n");
	assert_int_equal(o.calls, 0);
	qmp_answer("cont", RPC_OK, NULL);
	assert_string_equal(trace_from("state a starting"),
			    "state a starting>running (boot)\n"
			    "done ok running\n");
	assert_int_equal(o.calls, 1);
	assert_int_equal(vm->pid, 900000);
	assert_string_equal(vm->accel, "tcg");

	/* a second start is refused at once, and told once */
	struct outcome again = {0};
	vm_start(vm, "uid=0 pid=1", done, &again);
	assert_int_equal(again.calls, 1);
	assert_int_equal(again.cls, RPC_INVALID_STATE);
	assert_string_equal(again.msg, "VM 'a' is already running");
}

/* QEMU cannot be spawned: the error, at once, and the VM stays stopped. */
static void test_start_spawn_fails(void **state)
{
	struct outcome o = {0};

	(void)state;
	spawn_fails = true;
	struct vm *vm = start_plain(&o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.cls, RPC_EMULATOR_FAILED);
	assert_string_equal(o.msg, "VM 'a': cannot exec qemu-system-x86_64: No such file");
	assert_int_equal(vm->state, VM_STOPPED);
	assert_string_equal(trace, "done EmulatorFailed stopped\n");
}

/* "starting" cannot be stored: QEMU is ended unannounced, and its exit
 * tells the caller why. */
static void test_start_unrecorded(void **state)
{
	struct outcome o = {0};

	(void)state;
	store_fails = true;
	struct vm *vm = start_plain(&o);
	assert_string_equal(trace, "spawn 900000\nkill 9\n");
	assert_int_equal(o.calls, 0);
	store_fails = false;
	exited(vm, KILLED);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.cls, RPC_GENERIC_ERROR);
	assert_string_equal(o.msg, "VM 'a': cannot record its state (disk full); "
			    "its QEMU was ended");
}

/* ---- stop ---------------------------------------------------------------- */

/* The guest ignores the power button: at the timeout QEMU is killed, and
 * the stop is told once, as forced. */
static void test_stop_timeout_kills(void **state)
{
	struct outcome o = {0};
	struct vm *vm = running("{\"name\": \"a\"}");

	(void)state;
	vm_stop(vm, "uid=0 pid=1", 30, done, &o);
	assert_string_equal(trace, "state a running>stopping (stop)\n"
			    "qmp system_powerdown\n");
	qmp_answer("system_powerdown", RPC_OK, NULL);
	assert_int_equal(o.calls, 0);
	fire(vm->stop_timer);
	assert_string_equal(trace_from("qmp system_powerdown"),
			    "qmp system_powerdown\nkill 9\n");
	assert_int_equal(o.calls, 0);
	exited(vm, KILLED);
	assert_string_equal(trace_from("kill 9"), "kill 9\n"
			    "state a stopping>stopped (stop)\n"
			    "done ok stopped\n");
	assert_int_equal(o.calls, 1);
	assert_true(o.forced);
}

/* The guest powers off in time: not forced; a second stop meanwhile is
 * refused and the first still told once. */
static void test_stop_clean(void **state)
{
	struct outcome o = {0}, second = {0};
	struct vm *vm = running("{\"name\": \"a\"}");

	(void)state;
	vm_stop(vm, "uid=0 pid=1", 30, done, &o);
	vm_stop(vm, "uid=0 pid=1", 30, done, &second);
	assert_int_equal(second.calls, 1);
	assert_string_equal(second.msg, "VM 'a' is already stopping");
	qmp_answer("system_powerdown", RPC_OK, NULL);
	vm_qemu_event(vm, "SHUTDOWN", NULL);
	exited(vm, EXIT(0));
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.cls, RPC_OK);
	assert_false(o.forced);
	assert_false(event_pending(vm->stop_timer, EV_TIMEOUT, NULL));
}

/* QEMU exits unasked while the guest powers down: that is the stop (not a
 * crash), told once, and no restart follows whatever the policy. */
static void test_crash_during_stop(void **state)
{
	struct outcome o = {0};
	struct vm *vm = running("{\"name\": \"a\", \"restart_policy\": \"always\"}");

	(void)state;
	vm_stop(vm, "uid=0 pid=1", 30, done, &o);
	exited(vm, EXIT(1));
	assert_string_equal(trace_from("state a stopping"),
			    "state a stopping>stopped (stop)\n"
			    "done ok stopped\n");
	assert_int_equal(o.calls, 1);
	assert_int_equal(vm->state, VM_STOPPED);
	assert_null(strstr(trace, "restart"));
	assert_false(restart_cancel(vm));
}

/* QEMU ends while "system_powerdown" or "cont" waits for its answer: vmd
 * has reaped it, so its pid may already be another process's; the
 * monitor's closing must not make vmd signal it, nor count as a kill. */
static void test_no_signal_after_exit(void **state)
{
	struct outcome o = {0};
	struct vm *vm = running("{\"name\": \"a\"}");

	(void)state;
	vm_stop(vm, "uid=0 pid=1", 30, done, &o);
	exited(vm, EXIT(0));
	assert_null(strstr(trace, "kill"));
	assert_false(vm->kill_sent);
	assert_int_equal(o.calls, 1);
	trace[0] = '\0';
	vm = start_plain(&o);
	exited(vm, EXIT(1));
	assert_null(strstr(trace, "kill"));
	assert_int_equal(vm->state, VM_STOPPED);
}

/* QEMU crashes, and a kill and a stop come while vmd completes its logs:
 * no signal goes to the reaped pid, nothing is announced before the end,
 * and the end is the crash it was (restart policy applied), not a kill or
 * stop; both are told once, after it. */
static void test_late_kill_keeps_the_crash(void **state)
{
	struct outcome k = {0}, s = {0};
	struct vm *vm = running("{\"name\": \"a\", \"restart_policy\": \"always\"}");

	(void)state;
	hold_logs = true;
	exited(vm, KILLED);
	vm_kill(vm, done, &k);
	vm_stop(vm, "uid=0 pid=1", 30, done, &s);
	assert_string_equal(trace, "");
	assert_int_equal(k.calls + s.calls, 0);
	release_logs(vm);
	assert_string_equal(trace_from("state"),
			    "state a running>crashed (crash)\n"
			    "restart a scheduled attempt 1 in 1000 ms\n"
			    "done ok crashed\n"
			    "done ok crashed\n");
	assert_int_equal(k.calls, 1);
	assert_int_equal(s.calls, 1);
	assert_false(s.forced);
	assert_null(strstr(trace, "kill"));
}

/* ---- kill ---------------------------------------------------------------- */

/* vm-kill while QEMU has not answered "cont": the start fails with QEMU's
 * last words, then the kill is told, each once; a stop is refused. */
static void test_kill_during_start(void **state)
{
	struct outcome start = {0}, stop = {0}, kill = {0};
	struct vm *vm = define("{\"name\": \"a\", \"restart_policy\": \"on-failure\"}");

	(void)state;
	vm_start(vm, "uid=0 pid=1", done, &start);
	vm_stop(vm, "uid=0 pid=1", 30, done, &stop);
	assert_int_equal(stop.calls, 1);
	assert_string_equal(stop.msg, "VM 'a' is still starting");
	trace[0] = '\0';
	vm_kill(vm, done, &kill);
	assert_string_equal(trace, "kill 9\n");
	exited(vm, KILLED);
	assert_string_equal(trace_from("state"),
			    "state a starting>stopped (start-failed)\n"
			    "done EmulatorFailed stopped\n"
			    "done ok stopped\n");
	assert_int_equal(start.calls, 1);
	assert_string_equal(start.msg, "VM 'a': QEMU killed by signal 9: "
			    "qemu: guest said goodbye");
	assert_int_equal(kill.calls, 1);
	assert_int_equal(vm->pid, 0);
}

/* ---- the restart policy -------------------------------------------------- */

/* A crash with restarts on: 1 s, then 2 s; the restart is vmd's own start. */
static void test_restart_backoff(void **state)
{
	struct vm *vm = running("{\"name\": \"a\", \"restart_policy\": \"on-failure\"}");

	(void)state;
	exited(vm, EXIT(1));
	assert_string_equal(trace, "state a running>crashed (crash)\n"
			    "restart a scheduled attempt 1 in 1000 ms\n");
	fire(vm->restart_timer);
	assert_string_equal(trace_from("spawn"), "spawn 900001\n"
			    "audit start by autostart\n"
			    "state a crashed>starting (start)\n"
			    "qmp cont\n");
	qmp_answer("cont", RPC_OK, NULL);
	assert_int_equal(vm->state, VM_RUNNING);
	trace[0] = '\0';
	exited(vm, KILLED);
	assert_string_equal(trace, "state a running>crashed (crash)\n"
			    "restart a scheduled attempt 2 in 2000 ms\n");
}

/* Past restart_max within the window vmd gives up. */
static void test_restart_gives_up(void **state)
{
	struct vm *vm = running("{\"name\": \"a\", \"restart_policy\": "
				"\"on-failure\", \"restart_max\": 1}");

	(void)state;
	exited(vm, EXIT(1));
	fire(vm->restart_timer);
	qmp_answer("cont", RPC_OK, NULL);
	trace[0] = '\0';
	exited(vm, EXIT(1));
	assert_string_equal(trace, "state a running>crashed (crash)\n"
			    "restart a gave-up attempt 2 in 0 ms\n");
	assert_false(restart_cancel(vm));
}

/* Which endings restart, per policy. */
static void test_restart_policy(void **state)
{
	static const struct {
		const char *policy;
		bool guest_off;    /* the guest powered off, else a crash */
		bool restarts;
	} cases[] = {
		{"no", false, false}, {"no", true, false},
		{"on-failure", false, true}, {"on-failure", true, false},
		{"always", false, true}, {"always", true, true},
	};
	char config[128];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(config, sizeof config, "{\"name\": \"a\", "
			 "\"restart_policy\": \"%s\"}", cases[i].policy);
		struct vm *vm = running(config);
		if (cases[i].guest_off) {
			struct json_object *d = json_tokener_parse("{\"guest\": true}");
			vm_qemu_event(vm, "SHUTDOWN", d);
			json_object_put(d);
			qmp_answer("quit", RPC_OK, NULL);
		}
		exited(vm, EXIT(cases[i].guest_off ? 0 : 1));
		bool scheduled = strstr(trace, "restart a scheduled") != NULL;
		if (scheduled != cases[i].restarts)
			fail_msg("policy %s, %s: restart %s expected; trace:\n%s",
				 cases[i].policy, cases[i].guest_off ? "guest off" :
				 "crash", cases[i].restarts ? "" : "not", trace);
		assert_int_equal(restart_cancel(vm), cases[i].restarts);
		vm_remove(vm);
	}
}

/* A start by hand cancels the restart that was pending. */
static void test_start_cancels_restart(void **state)
{
	struct outcome o = {0};
	struct vm *vm = running("{\"name\": \"a\", \"restart_policy\": \"always\"}");

	(void)state;
	exited(vm, EXIT(1));
	vm_start(vm, "uid=0 pid=1", done, &o);
	assert_false(event_pending(vm->restart_timer, EV_TIMEOUT, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_start), T(test_start_spawn_fails), T(test_start_unrecorded),
		T(test_stop_timeout_kills), T(test_stop_clean),
		T(test_crash_during_stop), T(test_no_signal_after_exit),
		T(test_late_kill_keeps_the_crash),
		T(test_kill_during_start),
		T(test_restart_backoff), T(test_restart_gives_up),
		T(test_restart_policy), T(test_start_cancels_restart),
#undef T
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	json_object_put(vmd.vm_schema);
	return failed;
}
