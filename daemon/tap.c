/* Bridged NICs (see tap.h).  The tap is made with TUNSETIFF on
 * /dev/net/tun; it is put on its bridge and set up over rtnetlink with
 * libnl-route-3, which builds and parses the messages (link kinds,
 * attributes, dumps).  These are calls into the kernel that answer at
 * once, like an ioctl, so the loop does not wait on anything outside. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include "daemon/log.h"
#include "daemon/tap.h"
#include "daemon/vm.h"
#include "rpc/schema.h"

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (sk && nl_connect(sk, NETLINK_ROUTE) == 0)
		return sk;
	nl_socket_free(sk);
	return NULL;
}

/* The bridge's link, or NULL with f set. */
static struct rtnl_link *find_bridge(struct nl_sock *sk, const char *vm,
				     size_t i, const char *bridge,
				     struct rpc_fault *f)
{
	struct rtnl_link *br = NULL;
	int e = rtnl_link_get_kernel(sk, 0, bridge, &br);

	if (e < 0) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "VM '%s': nics[%zu].bridge: %s",
			      vm, i, e == -NLE_OBJ_NOTFOUND || e == -NLE_NODEV ?
			      "no such interface on this host" : nl_geterror(e));
		return NULL;
	}
	const char *kind = rtnl_link_get_type(br);
	if (!kind || strcmp(kind, "bridge")) {
		rpc_fault_set(f, RPC_INVALID_ARGUMENT, "VM '%s': nics[%zu].bridge: "
			      "'%s' is not a bridge (it is %s)", vm, i, bridge,
			      kind ? kind : "a device of no kind");
		rtnl_link_put(br);
		return NULL;
	}
	return br;
}

/* A tap named name, made not persistent (a persistent leftover of that
 * name is taken over and then goes with QEMU too); fd or -1 with errno. */
static int make_tap(const char *name, bool vnet_hdr)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 0) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Up, with the bridge's MTU (a smaller one would lower the bridge's), on
 * the bridge.  0, or a libnl error. */
static int attach(struct nl_sock *sk, const char *name, struct rtnl_link *br)
{
	struct rtnl_link *tap = NULL, *want = rtnl_link_alloc();
	int e = want ? rtnl_link_get_kernel(sk, 0, name, &tap) : -NLE_NOMEM;

	if (e == 0) {
		rtnl_link_set_master(want, rtnl_link_get_ifindex(br));
		rtnl_link_set_mtu(want, rtnl_link_get_mtu(br));
		rtnl_link_set_flags(want, IFF_UP);
		e = rtnl_link_change(sk, tap, want, 0);
	}
	rtnl_link_put(tap);
	rtnl_link_put(want);
	return e;
}

/* NIC i: its tap on its bridge, and vhost-net when asked and possible. */
static int open_nic(struct nl_sock *sk, const struct vm *vm, size_t i,
		    struct json_object *nic, bool kvm, int *tap, int *vhost,
		    struct rpc_fault *f)
{
	const char *bridge = rpc_member_str(nic, "bridge");
	bool virtio = !strcmp(rpc_member_str(nic, "model"), "virtio");
	char name[TAP_NAME_SIZE];
	struct rtnl_link *br = find_bridge(sk, vm->name, i, bridge, f);

	if (!br)
		return -1;
	tap_name(vm->uuid, (int)i, name);
	*tap = make_tap(name, virtio);
	int e = *tap < 0 ? 0 : attach(sk, name, br);
	rtnl_link_put(br);
	if (*tap < 0 || e < 0) {
		rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': nics[%zu]: cannot %s "
			      "tap %s: %s", vm->name, i, *tap < 0 ? "make" : "bridge",
			      name, *tap < 0 ? strerror(errno) : nl_geterror(e));
		if (*tap >= 0)
			close(*tap);
		*tap = -1;
		return -1;
	}
	/* vhost-net needs ioeventfds, which only KVM has */
	const char *why = !kvm ? "TCG" : !virtio ? "not virtio" : NULL;
	if (!why && (*vhost = open("/dev/vhost-net", O_RDWR | O_CLOEXEC)) < 0)
		why = strerror(errno);
	log_vm(LOG_INFO, vm->name, vm->uuid, "nics[%zu]: tap %s on bridge %s, %s%s",
	       i, name, bridge, why ? "without vhost-net: " : "vhost-net",
	       why ? why : "");
	return 0;
}

int tap_open_all(const struct vm *vm, struct json_object *config, bool kvm,
		 int tap[], int vhost[], struct rpc_fault *f)
{
	struct json_object *nics = NULL;
	struct nl_sock *sk = NULL;
	int rc = 0;

	if (!json_object_object_get_ex(config, "nics", &nics) ||
	    !json_object_is_type(nics, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(nics) && i < VMD_NIC_MAX &&
			   rc == 0; i++) {
		struct json_object *nic = json_object_array_get_idx(nics, i);
		if (strcmp(rpc_member_str(nic, "type"), "bridge"))
			continue;
		if (geteuid() != 0) {
			rpc_fault_set(f, RPC_UNSUPPORTED, "VM '%s': nics[%zu] (bridge "
				      "%s): bridged NICs need vmd to run as root, "
				      "to make their taps", vm->name, i,
				      rpc_member_str(nic, "bridge"));
			rc = -1;
		} else if (!sk && !(sk = nl_open())) {
			rpc_fault_set(f, RPC_GENERIC_ERROR, "VM '%s': nics[%zu]: no "
				      "netlink socket: %s", vm->name, i, strerror(errno));
			rc = -1;
		} else {
			rc = open_nic(sk, vm, i, nic, kvm, &tap[i], &vhost[i], f);
		}
	}
	nl_socket_free(sk);
	for (size_t i = 0; rc < 0 && i < VMD_NIC_MAX; i++) {
		if (tap[i] >= 0)
			close(tap[i]);
		if (vhost[i] >= 0)
			close(vhost[i]);
		tap[i] = vhost[i] = -1;
	}
	return rc;
}

struct json_object *tap_describe(const struct vm *vm, struct json_object *config)
{
	struct json_object *nics = NULL, *a = json_object_new_array();
	struct tap_counters c;
	char name[TAP_NAME_SIZE];

	if (!json_object_object_get_ex(config, "nics", &nics) ||
	    !json_object_is_type(nics, json_type_array))
		return a;
	for (size_t i = 0; i < json_object_array_length(nics); i++) {
		struct json_object *nic = json_object_array_get_idx(nics, i), *o;
		if (strcmp(rpc_member_str(nic, "type"), "bridge"))
			continue;
		tap_name(vm->uuid, (int)i, name);
		o = json_object_new_object();
		json_object_object_add(o, "nic", json_object_new_int((int)i));
		json_object_object_add(o, "bridge", json_object_new_string(
					       rpc_member_str(nic, "bridge")));
		json_object_object_add(o, "tap", json_object_new_string(name));
		if (tap_counters(name, &c) == 0) {
			json_object_object_add(o, "rx_bytes", json_object_new_int64((int64_t)c.rx_bytes));
			json_object_object_add(o, "rx_packets", json_object_new_int64((int64_t)c.rx_packets));
			json_object_object_add(o, "tx_bytes", json_object_new_int64((int64_t)c.tx_bytes));
			json_object_object_add(o, "tx_packets", json_object_new_int64((int64_t)c.tx_packets));
		}
		json_object_array_add(a, o);
	}
	return a;
}

static void sweep_one(struct nl_object *obj, void *arg)
{
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link), *kind = rtnl_link_get_type(link);
	uint64_t flags;
	int *removed = arg, e;

	if (!name || !tap_is_vmd_name(name) || !kind || strcmp(kind, "tun") ||
	    tap_sysfs_u64(name, "tun_flags", &flags) < 0 || !(flags & IFF_PERSIST))
		return;
	/* the cache's own socket is busy iterating: a fresh one deletes */
	struct nl_sock *sk = nl_open();
	if (!sk || (e = rtnl_link_delete(sk, link)) < 0)
		log_warn("cannot remove leftover tap %s: %s", name,
			 sk ? nl_geterror(e) : strerror(errno));
	else {
		log_info("removed leftover tap %s", name);
		(*removed)++;
	}
	nl_socket_free(sk);
}

int tap_sweep(void)
{
	struct nl_sock *sk = nl_open();
	struct nl_cache *cache = NULL;
	int removed = 0;

	if (geteuid() == 0 && sk && rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) == 0)
		nl_cache_foreach(cache, sweep_one, &removed);
	nl_cache_free(cache);
	nl_socket_free(sk);
	return removed;
}
