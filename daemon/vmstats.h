/* The raw counters of one VM, read in one place: what query-metrics shows
 * and what metering (usage) samples.  Raw means as the source has them:
 * totals since the current QEMU started (CPU, disks, NICs), or since the
 * VM's first byte (console logs, whose offsets outlive restarts).  Turning
 * them into monotonic totals across QEMU restarts is the reader's job:
 * qemu_pid + qemu_starttime name the QEMU the counters belong to.
 *
 * Interface (kept stable; metering merges it):
 *
 *   void vmstats_read(struct vm *vm, vmstats_cb cb, void *arg);
 *
 * Reads /proc and cgroupfs at once (no disk I/O: both are kernel memory)
 * and asks QEMU for query-blockstats over the VM's QMP session without
 * waiting for it.  cb(arg, st) is called exactly once, when everything is
 * known: later from the loop when QMP was asked, or before vmstats_read()
 * returns when there is no QEMU or no monitor.  st lives only during the
 * call (copy what you keep).  A counter whose source could not be read
 * has its have_* flag false and value 0, never a guess.  The VM must not
 * be freed before cb ran (vm_remove needs a stopped VM, and stopping
 * closes QMP, which ends the query first). */
#ifndef VMD_DAEMON_VMSTATS_H
#define VMD_DAEMON_VMSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include "daemon/vm.h"
#include "schemas/limits.h"

struct vmstats_disk {
	int index;                    /* the config's disks[index] */
	uint64_t rd_bytes, wr_bytes;  /* QMP query-blockstats */
	uint64_t rd_ops, wr_ops;
};

/* A bridged NIC's tap, named from the guest's point of view: rx is what
 * the guest received (the tap's tx), tx what it sent (the tap's rx). */
struct vmstats_nic {
	int index;                    /* the config's nics[index] */
	char ifname[16];              /* the host's tap (IFNAMSIZ) */
	uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};

/* A serial port vmd relays (type console or tcp). */
struct vmstats_port {
	int port;
	uint64_t bytes;               /* log end: every byte the guest ever
	                                 sent on it, as console-read's "end" */
	int viewers;                  /* attached now (0 when not running) */
};

struct vmstats {
	char uuid[37];
	enum vm_state state;
	struct timespec taken;        /* CLOCK_REALTIME when read */
	pid_t qemu_pid;               /* 0 when no QEMU runs */
	unsigned long long qemu_starttime; /* /proc starttime of that QEMU */

	bool have_cpu;
	uint64_t cpu_usec;            /* QEMU's CPU time: the cgroup's when the
	                                 QEMU has a scope of its own, else the
	                                 process's utime + stime */
	bool cpu_from_cgroup;         /* which of the two cpu_usec is */
	bool have_rss;
	uint64_t rss_bytes;           /* resident memory (statm) */

	bool have_disks;              /* QMP answered query-blockstats */
	int ndisks;
	struct vmstats_disk disk[VMD_DISK_MAX];
	int nnics;                    /* bridged NICs whose tap was read */
	struct vmstats_nic nic[VMD_NIC_MAX];
	int nports;
	struct vmstats_port port[VMD_SERIAL_MAX];
};

typedef void (*vmstats_cb)(void *arg, const struct vmstats *st);

void vmstats_read(struct vm *vm, vmstats_cb cb, void *arg);

/* The counters of network interface ifname (/sys/class/net/IF/statistics),
 * as vmstats_nic names them for a tap (guest view).  -1 when unreadable. */
int vmstats_read_netdev(const char *ifname, struct vmstats_nic *out);

#endif
