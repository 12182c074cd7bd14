#!/usr/bin/env python3
"""Transfer quotas with a bridged guest (issue 13): what the guest sends
counts; on reaching the quota vmd sends USAGE_QUOTA and throttles what the
guest sends (an ingress qdisc on its tap redirecting to an ifb device with
a tbf qdisc): the qdiscs exist and the rate drops to the quota's rate;
raising the quota lifts it (qdiscs gone, the rate back).  The network is
test_bridge.py's: a namespace, a bridge and a veth pair, nothing else."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402

MIB = 1 << 20
RATE_KBIT = 400          # 50 000 bytes a second


def qdiscs(dev):
    return subprocess.run(("tc", "qdisc", "show", "dev", dev), text=True,
                          capture_output=True, timeout=30).stdout


class QuotaNetTest(test_bridge.BridgeTest):
    start_vmd = False

    def setUp(self):
        super().setUp()
        self.vmd.extra_args = ["--meter-interval", "1"]
        self.vmd.start()

    def send(self, con, n):
        """The guest sends n bytes to the namespace: seconds it took."""
        recv = subprocess.Popen(("ip", "netns", "exec", self.ns, "python3",
                                 "-c", test_bridge.RECEIVER, str(n), "5001"),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: recv.poll() is None and recv.kill())
        self.assertEqual(recv.stdout.readline().strip(), "listening")
        self.run_in_guest(con, b"head -c %d /dev/urandom > /tmp/out; "
                          b"echo made$((1+2))\n" % n, b"made3", t(60))
        t0 = time.monotonic()
        self.run_in_guest(con, b"nc %s 5001 < /tmp/out; echo sent$((1+1))\n"
                          % self.host_ip.encode(), b"sent2", t(300))
        # until the namespace has it all: nc ends when its socket has it
        self.assertEqual(int(recv.communicate(timeout=t(300))[0].split()[0]), n)
        return time.monotonic() - t0

    def quota_event(self, c, state, mark):
        return c.wait_event(lambda e: e.get("event") == "USAGE_QUOTA" and
                            e["data"]["state"] == state, t(30), since=mark)[1]

    def test_throttle_and_lift(self):
        c = self.client()
        name = "metered"
        cfg = self.config(name, transfer_quota={
            "bytes": 3 * MIB, "action": "throttle", "rate_kbit": RATE_KBIT})
        c.command("vm-define", {"config": cfg})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        tap = test_bridge.tap_of(c.command("vm-show", {"vm": name})["uuid"])
        ifb = "vmq" + tap[3:]
        self.leftovers += [tap, ifb]
        con = self.guest_shell(name)
        free = 2 * MIB / self.send(con, 2 * MIB)          # bytes a second
        self.assertNotIn("ingress", qdiscs(tap))
        mark = len(c.events)
        self.send(con, 2 * MIB)                           # past 3 MiB
        ev = self.quota_event(c, "reached", mark)["data"]
        self.assertEqual((ev["vm"], ev["action"], ev["quota"]),
                         (name, "throttle", 3 * MIB))
        self.assertGreaterEqual(ev["used"], 3 * MIB)
        self.assertIn("ingress", qdiscs(tap))
        self.assertRegex(qdiscs(ifb), r"tbf .*rate %dKbit" % RATE_KBIT)
        n = 256 * 1024
        slow = n / self.send(con, n)
        self.assertLess(slow, RATE_KBIT * 1000 / 8 * 1.5,
                        "throttled at %d B/s, unthrottled %d B/s; %s %s %s" % (
                            slow, free, qdiscs(tap), qdiscs(ifb), subprocess.run(
                                ("tc", "-s", "filter", "show", "dev", tap, "ingress"),
                                capture_output=True, text=True).stdout))
        self.assertLess(slow, free / 3)

        mark = len(c.events)
        cfg["transfer_quota"]["bytes"] = 10 ** 12
        c.command("vm-update", {"vm": name, "config": cfg})
        self.quota_event(c, "lifted", mark)
        self.assertNotIn("ingress", qdiscs(tap))
        self.assertFalse(os.path.exists("/sys/class/net/" + ifb), "ifb left")
        again = MIB / self.send(con, MIB)
        self.assertGreater(again, slow * 3)
        sys.stderr.write("\nsent at %d B/s, throttled %d B/s (tbf %d), lifted "
                         "%d B/s\n" % (free, slow, RATE_KBIT * 125, again))

        # over the quota again; QEMU ends: its ifb goes with its tap
        mark = len(c.events)
        cfg["transfer_quota"]["bytes"] = MIB
        c.command("vm-update", {"vm": name, "config": cfg})
        self.quota_event(c, "reached", mark)
        self.assertIn("ingress", qdiscs(tap))
        c.command("vm-kill", {"vm": name}, timeout=t(30))
        self.wait_for(lambda: not os.path.exists("/sys/class/net/" + ifb),
                      t(10), "the ifb removed with QEMU")


def load_tests(loader, tests, pattern):
    """Only this file's test: test_bridge's are test_bridge.py's."""
    return loader.loadTestsFromNames(["test_throttle_and_lift"], QuotaNetTest)


if __name__ == "__main__":
    vmdtest.main()
