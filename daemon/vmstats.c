/* The raw counters of one VM (see vmstats.h): /proc and cgroupfs read at
 * once, disks asked of QEMU over QMP, console logs and viewers from the
 * console relay, bridged taps from /sys/class/net. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "console/conlog.h"
#include "console/console.h"
#include "daemon/ports.h"
#include "daemon/qmp.h"
#include "daemon/tap.h"
#include "daemon/vm_config.h"
#include "daemon/vm_paths.h"
#include "daemon/vmd.h"
#include "daemon/vmstats.h"
#include "emu/spawn.h"
#include "rpc/schema.h"

struct pending {
	struct vmstats st;
	vmstats_cb cb;
	void *arg;
};

/* A small file of procfs, sysfs or cgroupfs, NUL-terminated; -1 if
 * unreadable.  These are kernel memory: reading never waits on a disk. */
static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* utime + stime of pid (all its threads) from /proc/PID/stat. */
static int proc_cpu(pid_t pid, uint64_t *usec)
{
	char path[64], buf[4096];
	unsigned long long ut, st;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	/* comm may hold ')': fields after the last one; utime is field 14 */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	*usec = (ut + st) * (1000000ULL / (uint64_t)(hz > 0 ? hz : 100));
	return 0;
}

/* The cgroup v2 path of pid ("/machine.slice/machine-x.scope"). */
static int cgroup_of(const char *proc, char *out, size_t cap)
{
	char path[64], buf[4096];

	snprintf(path, sizeof path, "/proc/%s/cgroup", proc);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	char *p = strstr(buf, "0::");
	if (!p)
		return -1;
	p += 3;
	size_t n = strcspn(p, "\n");
	if (n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

/* usage_usec of the QEMU's own scope; -1 when it has none (it still runs
 * in vmd's cgroup, whose usage would count vmd too). */
static int cgroup_cpu(pid_t pid, uint64_t *usec)
{
	char pidname[16], mine[2048], its[2048], path[2200], buf[1024];

	snprintf(pidname, sizeof pidname, "%d", (int)pid);
	if (cgroup_of(pidname, its, sizeof its) < 0 ||
	    cgroup_of("self", mine, sizeof mine) < 0 || !strcmp(its, mine))
		return -1;
	size_t n = strlen(its);
	if (n < 6 || strcmp(its + n - 6, ".scope"))
		return -1;
	snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.stat", its);
	if (read_small(path, buf, sizeof buf) < 0)
		return -1;
	char *p = strstr(buf, "usage_usec ");
	return p && sscanf(p, "usage_usec %" SCNu64, usec) == 1 ? 0 : -1;
}

static int proc_rss(pid_t pid, uint64_t *bytes)
{
	char path[64], buf[256];
	unsigned long long size, res;

	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if (read_small(path, buf, sizeof buf) < 0 ||
	    sscanf(buf, "%llu %llu", &size, &res) != 2)
		return -1;
	*bytes = res * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

static void read_process(struct vmstats *st)
{
	if (cgroup_cpu(st->qemu_pid, &st->cpu_usec) == 0)
		st->have_cpu = st->cpu_from_cgroup = true;
	else
		st->have_cpu = proc_cpu(st->qemu_pid, &st->cpu_usec) == 0;
	st->have_rss = proc_rss(st->qemu_pid, &st->rss_bytes) == 0;
}

int vmstats_read_netdev(const char *ifname, struct vmstats_nic *out)
{
	struct tap_counters c;

	if (strlen(ifname) >= sizeof out->ifname || tap_counters(ifname, &c) < 0)
		return -1;
	/* the tap's tx is what reached the guest: the guest's rx */
	out->rx_bytes = c.tx_bytes;
	out->rx_packets = c.tx_packets;
	out->tx_bytes = c.rx_bytes;
	out->tx_packets = c.rx_packets;
	snprintf(out->ifname, sizeof out->ifname, "%s", ifname);
	return 0;
}

/* The host tap of NIC i, or -1 when it has none.  Only bridged NICs have
 * one: user-mode NICs live inside QEMU and count nothing. */
static int nic_tap(const struct vm *vm, struct json_object *nic,
		   int i, char ifname[TAP_NAME_SIZE])
{
	struct json_object *type;

	if (!json_object_object_get_ex(nic, "type", &type) ||
	    strcmp(json_object_get_string(type), "bridge"))
		return -1;
	tap_name(vm->uuid, i, ifname);
	return 0;
}

static void read_nics(struct vm *vm, struct vmstats *st)
{
	struct json_object *nics = NULL;
	char ifname[TAP_NAME_SIZE];

	json_object_object_get_ex(vm_live_config(vm), "nics", &nics);
	int n = nics ? (int)json_object_array_length(nics) : 0;
	for (int i = 0; i < n && st->nnics < VMD_NIC_MAX; i++) {
		struct vmstats_nic *nic = &st->nic[st->nnics];
		if (nic_tap(vm, json_object_array_get_idx(nics, i), i, ifname) < 0 ||
		    vmstats_read_netdev(ifname, nic) < 0)
			continue;
		nic->index = i;
		st->nnics++;
	}
}

/* Console and tcp ports: the live relay's counts while it runs, else the
 * log on disk (so a stopped VM still says what its guest wrote). */
static void read_ports(struct vm *vm, struct vmstats *st)
{
	char dir[4096];

	vm_log_dir_path(dir, sizeof dir, vmd.state_dir, vm->uuid);
	for (int i = 0; i < ports_count(vm) && i < VMD_SERIAL_MAX; i++) {
		const char *type = ports_type(vm, i);
		if (strcmp(type, "console") && strcmp(type, "tcp"))
			continue;
		struct vmstats_port *p = &st->port[st->nports++];
		p->port = i;
		if (vm->console[i]) {
			p->bytes = console_log_end(vm->console[i]);
			p->viewers = console_viewer_count(vm->console[i]);
		} else
			p->bytes = conlog_size(dir, i);
	}
}

/* "disk3" (emu/argv_disk.c's -drive id) -> 3; -1 for other drives (the
 * cloud-init seed). */
static int disk_index(const char *device)
{
	char *end;

	if (!device || strncmp(device, "disk", 4) || !device[4])
		return -1;
	long i = strtol(device + 4, &end, 10);
	return *end || i < 0 || i >= VMD_DISK_MAX ? -1 : (int)i;
}

static uint64_t stat_u64(struct json_object *stats, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(stats, key, &v))
		return 0;
	int64_t n = json_object_get_int64(v);
	return n > 0 ? (uint64_t)n : 0;
}

static void fill_disks(struct vmstats *st, struct json_object *ret)
{
	size_t n = json_object_is_type(ret, json_type_array) ?
		   json_object_array_length(ret) : 0;

	for (size_t i = 0; i < n && st->ndisks < VMD_DISK_MAX; i++) {
		struct json_object *b = json_object_array_get_idx(ret, i), *stats;
		int idx = disk_index(rpc_member_str(b, "device"));
		if (idx < 0 || !json_object_object_get_ex(b, "stats", &stats))
			continue;
		struct vmstats_disk *d = &st->disk[st->ndisks++];
		d->index = idx;
		d->rd_bytes = stat_u64(stats, "rd_bytes");
		d->wr_bytes = stat_u64(stats, "wr_bytes");
		d->rd_ops = stat_u64(stats, "rd_operations");
		d->wr_ops = stat_u64(stats, "wr_operations");
	}
	st->have_disks = true;
}

static void blockstats_done(void *ctx, struct json_object *ret, rpc_err err,
			    const char *desc)
{
	struct pending *p = ctx;

	(void)desc;  /* the QEMU is ending or gone: no disk counters */
	if (err == RPC_OK)
		fill_disks(&p->st, ret);
	p->cb(p->arg, &p->st);
	free(p);
}

void vmstats_read(struct vm *vm, vmstats_cb cb, void *arg)
{
	struct pending *p = calloc(1, sizeof *p);
	struct vmstats local, *st = p ? &p->st : &local;

	if (!p)
		memset(&local, 0, sizeof local);
	memcpy(st->uuid, vm->uuid, sizeof st->uuid);
	st->state = vm->state;
	clock_gettime(CLOCK_REALTIME, &st->taken);
	if (vm_is_active(vm) && vm->pid > 0 && !vm->ending) {
		st->qemu_pid = vm->pid;
		st->qemu_starttime = vm->starttime;
		read_process(st);
	}
	read_ports(vm, st);
	read_nics(vm, st);
	if (!p || !st->qemu_pid || !vm->qmp) {
		cb(arg, st);
		free(p);
		return;
	}
	p->cb = cb;
	p->arg = arg;
	qmp_exec(vm->qmp, "query-blockstats", NULL, blockstats_done, p);
}
