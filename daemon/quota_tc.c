/* Throttling a VM's sent traffic with a token bucket (see quota.h).  The
 * kernel shapes only what an interface sends; what the guest sends is
 * what its tap receives.  So the tap gets an ingress qdisc whose matchall
 * filter redirects every packet (mirred) to an ifb device, and the ifb a
 * tbf qdisc at the rate: the packets then go on into the bridge as
 * before.  All over rtnetlink with libnl-route-3, as tap.c does. */
#include "config.h"
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/classifier.h>
#include <netlink/route/action.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc/tbf.h>
#include "daemon/log.h"
#include "daemon/quota.h"
#include "daemon/tap.h"
#include "daemon/vm.h"
#include "daemon/vm_config.h"
#include "rpc/schema.h"

/* ffff:, the ingress qdisc's handle (libnl's TC_HANDLE(0xffff, 0) shifts
 * an int into its sign bit, which UBSan rightly reports) */
#define INGRESS_HANDLE TC_H_MAKE(0xffffU << 16, 0U)

/* "vmq" and the tap's name after its "vmd" */
static void ifb_name(const char *tap, char out[IFNAMSIZ])
{
	snprintf(out, IFNAMSIZ, "vmq%s", tap + 3);
}

static int ifindex(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = NULL;
	int i = rtnl_link_get_kernel(sk, 0, name, &l) < 0 ? 0
		: rtnl_link_get_ifindex(l);

	rtnl_link_put(l);
	return i;
}

static int make_ifb(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int e;

	if (ifindex(sk, name))
		return 0;
	rtnl_link_set_name(l, name);
	rtnl_link_set_type(l, "ifb");
	rtnl_link_set_flags(l, IFF_UP);
	e = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(l);
	return e;
}

static struct rtnl_qdisc *qdisc(int ifi, uint32_t parent, uint32_t handle,
				const char *kind)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	rtnl_tc_set_ifindex(TC_CAST(q), ifi);
	rtnl_tc_set_parent(TC_CAST(q), parent);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	rtnl_tc_set_kind(TC_CAST(q), kind);
	return q;
}

static int tbf(struct nl_sock *sk, int ifb, int64_t rate_kbit)
{
	struct rtnl_qdisc *q = qdisc(ifb, TC_H_ROOT, TC_HANDLE(1, 0), "tbf");
	int rate = (int)(rate_kbit * 1000 / 8), e;

	rtnl_qdisc_tbf_set_rate(q, rate, rate / 10 > 3000 ? rate / 10 : 3000, 0);
	rtnl_qdisc_tbf_set_limit(q, rate / 2 > 6000 ? rate / 2 : 6000);
	e = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return e;
}

static int redirect(struct nl_sock *sk, int tap, int ifb)
{
	struct rtnl_qdisc *q = qdisc(tap, TC_H_INGRESS, INGRESS_HANDLE,
				     "ingress");
	struct rtnl_cls *cls = rtnl_cls_alloc();
	struct rtnl_act *act = rtnl_act_alloc();
	int e = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);

	if (e == -NLE_EXIST)   /* shaped already: this tap, this QEMU */
		e = 1;
	rtnl_tc_set_ifindex(TC_CAST(cls), tap);
	rtnl_tc_set_parent(TC_CAST(cls), INGRESS_HANDLE);
	rtnl_tc_set_kind(TC_CAST(cls), "u32");   /* matchall is newer, often absent */
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	rtnl_cls_set_prio(cls, 1);
	rtnl_tc_set_kind(TC_CAST(act), "mirred");
	rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
	rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
	rtnl_mirred_set_ifindex(act, (uint32_t)ifb);
	if (e == 0 && (e = rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0)) >= 0 &&
	    (e = rtnl_u32_set_cls_terminal(cls)) >= 0 &&
	    (e = rtnl_u32_add_action(cls, act)) >= 0)
		e = rtnl_cls_add(sk, cls, NLM_F_CREATE | NLM_F_REPLACE);
	if (e < 0 && e != -NLE_EXIST)   /* not half shaped: next check retries */
		rtnl_qdisc_delete(sk, q);
	rtnl_act_put(act);
	rtnl_cls_put(cls);
	rtnl_qdisc_put(q);
	return e;
}

static int unshape(struct nl_sock *sk, const char *tap, const char *ifb)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int ti = ifindex(sk, tap), e = 0;

	if (ti) {
		struct rtnl_qdisc *q = qdisc(ti, TC_H_INGRESS, INGRESS_HANDLE,
					     "ingress");
		e = rtnl_qdisc_delete(sk, q);
		rtnl_qdisc_put(q);
		if (e == -NLE_OBJ_NOTFOUND || e == -NLE_INVAL)
			e = 0;
	}
	rtnl_link_set_name(l, ifb);
	if (ifindex(sk, ifb) && rtnl_link_delete(sk, l) < 0 && !e)
		e = -NLE_FAILURE;
	rtnl_link_put(l);
	return e;
}

/* For each bridged NIC: its tap's and its ifb's names to fn. */
static int each_nic(struct vm *vm, int64_t rate_kbit)
{
	struct json_object *nics = NULL;
	struct nl_sock *sk = nl_socket_alloc();
	int rc = 0;

	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		log_vm(LOG_ERR, vm->name, vm->uuid, "quota: netlink: %s", strerror(errno));
		return -1;
	}
	json_object_object_get_ex(vm_live_config(vm), "nics", &nics);
	for (size_t i = 0; i < json_object_array_length(nics); i++) {
		char tap[TAP_NAME_SIZE], ifb[IFNAMSIZ];
		const char *type = rpc_member_str(json_object_array_get_idx(nics, i), "type");
		int e, ti, fi;
		if (!type || strcmp(type, "bridge"))
			continue;
		tap_name(vm->uuid, (int)i, tap);
		ifb_name(tap, ifb);
		if (rate_kbit < 0)
			e = unshape(sk, tap, ifb);
		else if ((e = make_ifb(sk, ifb)) >= 0 && (ti = ifindex(sk, tap)) &&
			 (fi = ifindex(sk, ifb)) && (e = redirect(sk, ti, fi)) == 0)
			e = tbf(sk, fi, rate_kbit);
		if (e < 0) {
			log_vm(LOG_ERR, vm->name, vm->uuid, "quota: nic %zu (%s): %s",
			       i, tap, nl_geterror(e));
			rc = -1;
		}
	}
	nl_socket_free(sk);
	return rc;
}

int quota_tc_throttle(struct vm *vm, int64_t rate_kbit)
{
	return each_nic(vm, rate_kbit);
}

int quota_tc_lift(struct vm *vm)
{
	return each_nic(vm, -1);
}
