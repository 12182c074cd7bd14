#!/usr/bin/env python3
"""Transfer quotas with a bridged guest (issue 13): what the guest sends
counts; on reaching the quota vmd sends USAGE_QUOTA and throttles what the
guest sends (an ingress qdisc on its tap redirecting to an ifb device with
a tbf qdisc): the qdiscs exist and the rate drops to the quota's rate;
raising the quota lifts it (qdiscs gone, the rate back).  A guest paused
for its quota is resumed when the month changes (vmd-testclock's clock
crosses into the next one), also when vmd was killed and restarted in
between.  The network is test_bridge.py's: a namespace, a bridge and a
veth pair, nothing else."""

import datetime
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge  # noqa: E402
import test_metering  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402

MIB = 1 << 20
RATE_KBIT = 400          # 50 000 bytes a second


def qdiscs(dev):
    return subprocess.run(("tc", "qdisc", "show", "dev", dev), text=True,
                          capture_output=True, timeout=30).stdout


class QuotaNetTest(test_bridge.BridgeTest):
    start_vmd = False

    start = test_metering.MeteringTest.start

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
        self.start("--meter-interval", "1")
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

        # over the quota again; kill -9 of vmd, a restart: still throttled,
        # not announced again; a restart in the next month: lifted
        mark = len(c.events)
        cfg["transfer_quota"]["bytes"] = MIB
        c.command("vm-update", {"vm": name, "config": cfg})
        self.quota_event(c, "reached", mark)
        self.assertIn("ingress", qdiscs(tap))
        self.vmd.stop(signal.SIGKILL)
        self.start("--meter-interval", "1")
        time.sleep(3)
        self.assertEqual(self.log_count("reached"), 2)
        self.assertIn("ingress", qdiscs(tap))
        self.vmd.stop(signal.SIGKILL)
        now = datetime.datetime.now(datetime.timezone.utc)
        month = datetime.datetime(now.year + now.month // 12, now.month % 12 + 1,
                                  1, tzinfo=datetime.timezone.utc).timestamp()
        self.start("--meter-interval", "1", clock_offset=month + 5 - time.time())
        self.wait_for(lambda: "ingress" not in qdiscs(tap) and not os.path.exists(
            "/sys/class/net/" + ifb), t(30), "the throttle lifted in the next month")
        self.assertEqual(self.log_count("lifted"), 2)

        # over a quota of 0; QEMU ends: its ifb goes with its tap
        c = self.client()
        mark = len(c.events)
        cfg["transfer_quota"]["bytes"] = 0
        c.command("vm-update", {"vm": name, "config": cfg})
        self.quota_event(c, "reached", mark)
        self.assertIn("ingress", qdiscs(tap))
        c.command("vm-kill", {"vm": name}, timeout=t(30))
        self.wait_for(lambda: not os.path.exists("/sys/class/net/" + ifb),
                      t(10), "the ifb removed with QEMU")


    def ping_replies(self, size):
        """The guest answers pings of size bytes: what it sends counts."""
        test_bridge.netns(self.ns, "busybox", "ping", "-c", "4", "-i", "0.2",
                          "-W", "2", "-s", str(size), self.guest_ip)

    def log_count(self, what):
        with open(self.vmd.log_path) as f:
            return f.read().count("transfer quota " + what)

    def test_pause_lifted_at_the_month(self):
        jan = test_metering.NEW_YEAR
        feb = jan + 31 * 86400
        self.start("--meter-interval", "1",
                   clock_offset=jan - t(30) - time.time())
        c = self.client()
        name = "paused"
        cfg = self.config(name, transfer_quota={"bytes": 32 * 1024,
                                                "action": "pause"})
        c.command("vm-define", {"config": cfg})
        c.command("vm-start", {"vm": name}, timeout=t(60))
        self.leftovers.append(test_bridge.tap_of(
            c.command("vm-show", {"vm": name})["uuid"]))
        self.guest_shell(name)
        mark = len(c.events)
        self.ping_replies(16000)
        ev = self.quota_event(c, "reached", mark)["data"]
        self.assertEqual((ev["action"], ev["month"]), ("pause", "2026-12-01T00:00:00Z"))
        c.wait_state(name, "paused", t(30), since=mark)
        left = jan - (time.time() + self.clock_offset)
        self.assertGreater(left, 1, "the guest booted too slowly for the test")
        mark = len(c.events)
        ev = c.wait_event(lambda e: e.get("event") == "USAGE_QUOTA",
                          left + t(30), since=mark)[1]["data"]
        self.assertEqual((ev["state"], ev["month"]),
                         ("lifted", "2027-01-01T00:00:00Z"))
        c.wait_state(name, "running", t(30), since=mark)

        # over again in January; kill -9 of vmd, a restart in January: no
        # second "reached", still paused; one in February: resumed
        mark = len(c.events)
        self.ping_replies(16000)
        self.quota_event(c, "reached", mark)
        c.wait_state(name, "paused", t(30), since=mark)
        self.vmd.stop(signal.SIGKILL)
        self.start("--meter-interval", "1", clock_offset=self.clock_offset)
        c = self.client()
        time.sleep(3)
        self.assertEqual(self.log_count("reached"), 2)
        self.assertEqual(c.command("vm-show", {"vm": name})["state"], "paused")
        self.vmd.stop(signal.SIGKILL)
        self.start("--meter-interval", "1", clock_offset=feb + 5 - time.time())
        c = self.client()
        self.wait_for(lambda: c.command("vm-show", {"vm": name})["state"] ==
                      "running", t(30), "the guest resumed in February")
        self.assertEqual(self.log_count("lifted"), 2)
        self.assertEqual(self.log_count("reached"), 2)

def load_tests(loader, tests, pattern):
    """Only this file's tests: test_bridge's are test_bridge.py's."""
    return loader.loadTestsFromNames(["test_throttle_and_lift",
                                      "test_pause_lifted_at_the_month"],
                                     QuotaNetTest)


if __name__ == "__main__":
    vmdtest.main()
