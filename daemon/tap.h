/* Bridged NICs: the tap device vmd makes for each at a start, puts on its
 * bridge and hands to QEMU as a descriptor, and the tap's counters.
 *
 * A tap is named after its VM and NIC (tap_name) and is not persistent:
 * the kernel removes it when the last descriptor closes, that is when
 * QEMU ends, however it ends.  vmd closes its own copy once QEMU has
 * been spawned. */
#ifndef VMD_DAEMON_TAP_H
#define VMD_DAEMON_TAP_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "rpc/errors.h"

#define TAP_NAME_SIZE 16   /* IFNAMSIZ */

struct vm;

/* "vmd" + the first 10 hex digits of the uuid + "n" + the NIC's index:
 * 15 characters, the most a Linux interface name has. */
void tap_name(const char *uuid, int nic, char out[TAP_NAME_SIZE]);
/* Whether name is of that form (any vmd's tap). */
bool tap_is_vmd_name(const char *name);

/* The tap's counters, as the host sees the tap: rx is what the tap
 * received, i.e. what the guest sent (its tx), and tx is what reached the
 * guest (its rx).  From /sys/class/net/NAME/statistics.  0, or -1 with
 * errno (ENOENT: no such tap). */
struct tap_counters {
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};
int tap_counters(const char *name, struct tap_counters *c);
/* /sys/class/net/NAME/FILE as a number: 0, or -1 with errno. */
int tap_sysfs_u64(const char *name, const char *file, uint64_t *v);

/* For each NIC of config of type bridge: make its tap on its bridge,
 * tap[i] its descriptor (O_CLOEXEC) and vhost[i] a /dev/vhost-net one when
 * kvm, the model is virtio and vhost-net opens; -1 elsewhere.  0, or -1
 * with f set (naming the NIC) and nothing left open. */
int tap_open_all(const struct vm *vm, struct json_object *config, bool kvm,
		 int tap[], int vhost[], struct rpc_fault *f);

/* The running VM's bridged NICs for vm-show: {nic, bridge, tap, counters}
 * each; an empty array when it has none. */
struct json_object *tap_describe(const struct vm *vm, struct json_object *config);

/* Remove every persistent tap of vmd's naming: vmd's own are never
 * persistent, so such a tap is a leftover nobody serves.  How many went. */
int tap_sweep(void);

#endif
