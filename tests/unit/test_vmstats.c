/* daemon/vmstats.c against fakes of what it reads through (ports, the
 * console relay, QMP): the process counters of a real process (this
 * test's own), the QMP answer mapped to the config's disks, the callback
 * told once and only after QMP answered, and /sys/class/net reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "console/conlog.h"
#include "console/console.h"
#include "daemon/ports.h"
#include "daemon/qmp.h"
#include "daemon/vm_config.h"
#include "daemon/vmd.h"
#include "daemon/vmstats.h"

struct vmd vmd;

/* ---- fakes ---- */
static qmp_reply_cb qmp_cb;
static void *qmp_ctx;
static char qmp_cmd[64];

void qmp_exec(struct qmp *q, const char *cmd, struct json_object *args,
	      qmp_reply_cb cb, void *cbctx)
{
	(void)q;
	json_object_put(args);
	snprintf(qmp_cmd, sizeof qmp_cmd, "%s", cmd);
	qmp_cb = cb;
	qmp_ctx = cbctx;
}

bool vm_is_active(const struct vm *vm) { return vm->pid > 0; }
int ports_count(const struct vm *vm) { (void)vm; return 2; }
const char *ports_type(const struct vm *vm, int i)
{
	(void)vm;
	return i == 0 ? "console" : "host";
}
uint64_t console_log_end(const struct console *con) { (void)con; return 1234; }
int console_viewer_count(const struct console *con) { (void)con; return 3; }
uint64_t conlog_size(const char *dir, int port)
{
	(void)dir;
	return 100 + (uint64_t)port;
}
struct json_object *vm_live_config(const struct vm *vm) { return vm->config; }

/* ---- the tests ---- */
static struct vmstats got;
static int calls;

static void done(void *arg, const struct vmstats *st)
{
	assert_ptr_equal(arg, &got);
	got = *st;
	calls++;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Work for 0.2 s of this process's CPU time. */
static void burn_cpu(void)
{
	volatile unsigned long x = 0;
	double end = cpu_now() + 0.2;

	while (cpu_now() < end)
		x++;
}

static void test_running(void **state)
{
	struct vm vm = { .uuid = "0d6f3f7e-6a53-4c2f-9a0e-4b1d2c3e4f50",
			 .state = VM_RUNNING, .pid = getpid(), .starttime = 7,
			 .qmp = (struct qmp *)1, .config = json_object_new_object() };
	struct console *con = (struct console *)1;

	(void)state;
	vm.console[0] = con;
	calls = 0;
	vmstats_read(&vm, done, &got);
	assert_int_equal(calls, 0);               /* waits for QMP */
	assert_string_equal(qmp_cmd, "query-blockstats");
	struct json_object *ret = json_tokener_parse(
		"[{\"device\": \"disk1\", \"stats\": {\"rd_bytes\": 512,"
		" \"wr_bytes\": 4096, \"rd_operations\": 1, \"wr_operations\": 2}},"
		" {\"device\": \"cidata\", \"stats\": {\"rd_bytes\": 9}},"
		" {\"device\": \"disk99\", \"stats\": {\"rd_bytes\": 9}}]");
	qmp_cb(qmp_ctx, ret, RPC_OK, NULL);
	json_object_put(ret);
	assert_int_equal(calls, 1);
	assert_string_equal(got.uuid, vm.uuid);
	assert_int_equal(got.qemu_pid, getpid());
	assert_int_equal(got.qemu_starttime, 7);
	assert_true(got.have_disks);
	assert_int_equal(got.ndisks, 1);           /* cidata, disk99 left out */
	assert_int_equal(got.disk[0].index, 1);
	assert_int_equal(got.disk[0].rd_bytes, 512);
	assert_int_equal(got.disk[0].wr_bytes, 4096);
	assert_int_equal(got.disk[0].rd_ops, 1);
	assert_int_equal(got.disk[0].wr_ops, 2);
	assert_int_equal(got.nports, 1);           /* the host port has none */
	assert_int_equal(got.port[0].bytes, 1234);
	assert_int_equal(got.port[0].viewers, 3);
	assert_true(got.have_rss);
	assert_true(got.rss_bytes > 0);
	assert_true(got.have_cpu);

	/* CPU time of this process grows as it works */
	uint64_t before = got.cpu_usec;
	burn_cpu();
	vmstats_read(&vm, done, &got);
	qmp_cb(qmp_ctx, NULL, RPC_GENERIC_ERROR, "monitor closed");
	assert_int_equal(calls, 2);
	assert_false(got.have_disks);              /* QMP failed: no guess */
	assert_int_equal(got.ndisks, 0);
	assert_true(got.cpu_usec >= before + 150000);  /* ticks: 10 ms */
	json_object_put(vm.config);
}

static void test_stopped(void **state)
{
	struct vm vm = { .uuid = "u", .state = VM_STOPPED,
			 .config = json_object_new_object() };

	(void)state;
	calls = 0;
	qmp_cmd[0] = 0;
	vmstats_read(&vm, done, &got);
	assert_int_equal(calls, 1);                /* at once: nothing to ask */
	assert_string_equal(qmp_cmd, "");
	assert_int_equal(got.qemu_pid, 0);
	assert_false(got.have_cpu || got.have_rss || got.have_disks);
	assert_int_equal(got.nports, 1);
	assert_int_equal(got.port[0].bytes, 100);  /* from the log on disk */
	assert_int_equal(got.port[0].viewers, 0);
	json_object_put(vm.config);
}

static void test_netdev(void **state)
{
	struct vmstats_nic nic;

	(void)state;
	memset(&nic, 0xff, sizeof nic);
	assert_int_equal(vmstats_read_netdev("lo", &nic), 0);
	assert_string_equal(nic.ifname, "lo");
	assert_true(nic.rx_bytes != UINT64_MAX && nic.tx_packets != UINT64_MAX);
	assert_int_equal(vmstats_read_netdev("nosuch0", &nic), -1);
	assert_int_equal(vmstats_read_netdev("../lo", &nic), -1);
	assert_int_equal(vmstats_read_netdev("", &nic), -1);
	assert_int_equal(vmstats_read_netdev("a-name-too-long-for-ifnamsiz", &nic), -1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_running),
	cmocka_unit_test(test_stopped),
	cmocka_unit_test(test_netdev),
};

int main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
