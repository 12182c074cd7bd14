#!/usr/bin/env python3
"""Billing (issue 13): plans, invoices and transfer quotas.

An invoice of synthesized usage (rows written into the store while vmd is
stopped: a real month cannot pass) is checked against amounts computed
by hand; a real guest moved between plans is split at the second of the
change (the samples of metering are cut there); a quota of 0 bytes is
reached at once and pauses the guest until it is raised; bad input.  The
throttle, which needs a bridged guest, is in test_billing_net.py."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_metering  # noqa: E402
import vmdtest  # noqa: E402
from vmdproto import SRCDIR  # noqa: E402
from vmdtest import VmdTestCase, bootsector_config, t  # noqa: E402

NOV = 1793491200          # 2026-11-01T00:00:00Z
MONTH = 30 * 86400        # November's seconds
CUT = NOV + 907217        # 2026-11-11T12:00:17Z: the plan changes here
GIB = 1 << 30

SMALL = {"name": "small", "currency": "EUR",
         "prices": {"vcpu_hour": 3, "memory_gib_hour": 2,
                    "volume_gib_month": 40, "transfer_gib": 7},
         "included": {"transfer_gib": 100}}
BIG = {"name": "big", "currency": "EUR",
       "prices": {"vcpu_hour": 5, "memory_gib_hour": 3,
                  "volume_gib_month": 30, "transfer_gib": 4},
       "included": {"vcpu_hour": 1000}}


class BillingTest(VmdTestCase):
    start_vmd = False
    start = test_metering.MeteringTest.start
    query = test_metering.MeteringTest.query

    def plans(self, c):
        for p in (SMALL, BIG):
            c.command("plan-define", p)

    def test_invoice_by_hand(self):
        self.start()
        c = self.client()
        self.plans(c)
        cfg = bootsector_config("web1", cpus=2, plan="small",
                                labels={"customer": "acme"})
        uuid = c.command("vm-define", {"config": cfg})["uuid"]
        c.close()
        self.vmd.stop()
        small, big = [self.query("SELECT def FROM plan WHERE name = ?", n)[0][0]
                      for n in ("small", "big")]
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        with db:
            db.execute("DELETE FROM plan_history")
            db.execute("INSERT INTO plan_history VALUES (?, ?, 'small', "
                       "'acme', ?)", (uuid, NOV, small))
            db.execute("INSERT INTO plan_history VALUES (?, ?, 'big', "
                       "'acme', ?)", (uuid, CUT, big))
            a, b = CUT - NOV, NOV + MONTH - CUT
            rows = [(NOV, "vcpu_s", 2 * a), (NOV, "mib_s", 2048 * a),
                    (NOV, "disk0.size_mib_s", 20480 * a),
                    (NOV, "nic0.tx_bytes", 150 * GIB),
                    (NOV, "nic0.rx_bytes", 999 * GIB),    # not billed
                    (CUT, "vcpu_s", 4 * b), (CUT, "mib_s", 8192 * b),
                    (CUT, "disk0.size_mib_s", 20480 * b),
                    (CUT, "nic0.tx_bytes", 6 * GIB), (CUT, "nic1.tx_bytes", 4 * GIB)]
            db.executemany("INSERT INTO usage_plan VALUES (?, ?, ?, ?, ?)",
                           [(uuid, NOV, s, k, v) for s, k, v in rows])
        db.close()
        self.start()
        c = self.client()
        inv = c.command("invoice", {"customer": "acme", "month": "2026-11"})
        got = [(l["plan"], l["from"], l["to"], l["resource"], l["quantity"],
                l["included"], l["unit_price"], l["amount"]) for l in inv["lines"]]
        A = ("small", "2026-11-01T00:00:00Z", "2026-11-11T12:00:17Z")
        B = ("big", "2026-11-11T12:00:17Z", "2026-12-01T00:00:00Z")
        # By hand.  Segment A: 907217 s of 2592000; B: 1684783 s.
        #  vcpu A: 2*907217/3600 = 504.009444 h * 3 = 1512.028 -> 1512
        #  mem  A: 2 GiB * 907217/3600 = 504.009444 GiB-h * 2 = 1008.019 -> 1008
        #  vol  A: 20 GiB * 907217/2592000 = 7.000131 GiB-month * 40 = 280.005 -> 280
        #  tx   A: 150 GiB - 100 * 907217/2592000 (35.000656) = 114.999344 * 7
        #          = 804.995 -> 805
        #  vcpu B: 4*1684783/3600 = 1871.981111 h - 1000*1684783/2592000
        #          (649.993441) = 1221.987948 * 5 = 6109.94 -> 6110
        #  mem  B: 8 GiB * 1684783/3600 = 3743.962222 * 3 = 11231.887 -> 11232
        #  vol  B: 20 * 1684783/2592000 = 12.999869 * 30 = 389.996 -> 390
        #  tx   B: 10 GiB * 4 = 40
        self.assertEqual(got, [
            A + ("vcpu", "504.009444", "0.000000", 3, 1512),
            A + ("memory", "504.009444", "0.000000", 2, 1008),
            A + ("volume", "7.000131", "0.000000", 40, 280),
            A + ("transfer", "150.000000", "35.000656", 7, 805),
            B + ("vcpu", "1871.981111", "649.993441", 5, 6110),
            B + ("memory", "3743.962222", "0.000000", 3, 11232),
            B + ("volume", "12.999869", "0.000000", 30, 390),
            B + ("transfer", "10.000000", "0.000000", 4, 40)])
        self.assertEqual(inv["total"], 1512 + 1008 + 280 + 805 + 6110 +
                         11232 + 390 + 40)
        self.assertEqual(inv["currency"], "EUR")
        self.assertTrue(all(l["vm"] == "web1" for l in inv["lines"]))
        # vmctl invoice --csv: the same lines, then the total
        rc, out, err = self.vmctl("invoice", "acme", "--month", "2026-11", "--csv")
        self.assertEqual(rc, 0, err)
        rows = out.splitlines()
        self.assertEqual(rows[0], "vm,uuid,plan,from,to,resource,quantity,"
                         "included,unit,unit_price,amount,currency")
        self.assertEqual(rows[1], "web1,%s,small,2026-11-01T00:00:00Z,"
                         "2026-11-11T12:00:17Z,vcpu,504.009444,0.000000,"
                         "vCPU-hour,3,1512,EUR" % uuid)
        self.assertEqual(len(rows), 10)
        self.assertEqual(rows[-1], "total,,,,,,,,,,21377,EUR")
        # another customer, another month: nothing
        self.assertEqual(c.command("invoice", {"customer": "other",
                                               "month": "2026-11"})["lines"], [])
        self.assertEqual(c.command("invoice", {"customer": "acme",
                                               "month": "2026-10"})["lines"], [])

    def test_moved_between_plans_split_at_the_second(self):
        self.start("--meter-interval", "2")
        c = self.client()
        self.plans(c)
        cfg = bootsector_config("web1", plan="small", labels={"customer": "acme"})
        uuid = c.command("vm-define", {"config": cfg})["uuid"]
        c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        time.sleep(3.3)
        cfg["plan"] = "big"
        c.command("vm-update", {"vm": "web1", "config": cfg})
        time.sleep(3.3)
        c.command("vm-stop", {"vm": "web1"}, timeout=t(60))
        hist = self.query("SELECT since, plan FROM plan_history WHERE uuid = ? "
                          "ORDER BY since", uuid)
        self.assertEqual([p for _, p in hist], ["small", "big"])
        cut = hist[1][0]
        samples = self.query("SELECT t0, t1, delta FROM usage_sample WHERE "
                             "uuid = ?", uuid)
        self.assertIn(cut, [t1 for _, t1, _ in samples], "no sample ends at the change")
        self.assertFalse([s for s in samples if s[0] < cut < s[1]],
                         "a sample spans the change")
        month = self.query("SELECT DISTINCT month FROM usage_plan WHERE uuid = ?",
                           uuid)
        self.assertEqual(len(month), 1)
        per_seg = {s: dict(self.query("SELECT counter, value FROM usage_plan "
                                      "WHERE uuid = ? AND since = ?", uuid, s))
                   for s, _ in hist}
        import json
        before, after = {}, {}
        for t0, t1, d in samples:
            for k, v in json.loads(d).items():
                # the segment of a sample is the one its start is in
                side = before if t0 < cut else after
                side[k] = side.get(k, 0) + v
        self.assertEqual(per_seg[hist[0][0]], before)
        self.assertEqual(per_seg[cut], after)
        self.assertGreater(after.get("vcpu_s", 0), 0)
        self.assertGreater(before.get("vcpu_s", 0), 0)
        # the invoice has the two segments, met at the second of the change
        y, m = time.gmtime(cut)[:2]
        inv = c.command("invoice", {"customer": "acme",
                                    "month": "%04d-%02d" % (y, m)})
        vcpu = [l for l in inv["lines"] if l["resource"] == "vcpu"]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
        self.assertEqual([(l["plan"], l["to"] if l["plan"] == "small" else l["from"])
                          for l in vcpu], [("small", stamp), ("big", stamp)])

    def test_volume_size_metered(self):
        """The volumes a QEMU holds are metered as MiB-seconds of their
        virtual size (rounded up to a MiB), over the same seconds as vcpu_s."""
        self.start("--meter-interval", "1")
        c = self.client()
        c.command("volume-create", {"name": "v1", "size": 64 * 1024 * 1024 + 1})
        cfg = bootsector_config("vol1", cpus=1)
        cfg["disks"].append({"volume": "v1"})
        uuid = c.command("vm-define", {"config": cfg})["uuid"]
        c.command("vm-start", {"vm": "vol1"}, timeout=t(60))
        time.sleep(2.5)
        c.command("vm-kill", {"vm": "vol1"}, timeout=t(30))
        self.wait_for(lambda: self.query(
            "SELECT state FROM usage_meter WHERE uuid = ?", uuid) == [("stopped",)],
            t(10), "the last sample")
        use = dict(self.query("SELECT counter, sum(value) FROM usage_rollup "
                              "WHERE uuid = ? AND period = 'month' GROUP BY "
                              "counter", uuid))
        self.assertGreaterEqual(use["vcpu_s"], 2)
        self.assertEqual(use["disk1.size_mib_s"], 65 * use["vcpu_s"])
        self.assertNotIn("disk0.size_mib_s", use)   # a file, not a volume

    def test_quota_pause_and_lift(self):
        self.start("--meter-interval", "1")
        c = self.client()
        cfg = bootsector_config("web1", transfer_quota={"bytes": 0,
                                                        "action": "pause"})
        c.command("vm-define", {"config": cfg})
        mark = len(c.events)
        c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        _, ev = c.wait_event(lambda e: e.get("event") == "USAGE_QUOTA",
                             t(30), since=mark)
        self.assertEqual((ev["data"]["state"], ev["data"]["action"],
                          ev["data"]["quota"]), ("reached", "pause", 0))
        c.wait_state("web1", "paused", t(30), since=mark)
        self.assertEqual(c.command("vm-show", {"vm": "web1"})["state"], "paused")
        mark = len(c.events)
        cfg["transfer_quota"]["bytes"] = 10 ** 12
        c.command("vm-update", {"vm": "web1", "config": cfg})
        _, ev = c.wait_event(lambda e: e.get("event") == "USAGE_QUOTA",
                             t(30), since=mark)
        self.assertEqual(ev["data"]["state"], "lifted")
        c.wait_state("web1", "running", t(30), since=mark)

    def reached_in_log(self):
        with open(self.vmd.log_path) as f:
            return f.read().count("transfer quota reached")

    def test_quota_pause_survives_vmd_restart(self):
        """kill -9 of vmd: the restarted vmd knows what it paused (the store
        says), announces no second "reached", and raising the quota then
        resumes the guest it paused, not the one an admin paused."""
        quota = {"bytes": 0, "action": "pause"}
        self.start("--meter-interval", "1")
        c = self.client()
        mine = bootsector_config("q1", transfer_quota=dict(quota))
        theirs = bootsector_config("q2")
        uuid = c.command("vm-define", {"config": mine})["uuid"]
        c.command("vm-define", {"config": theirs})
        mark = len(c.events)
        c.command("vm-start", {"vm": "q1"}, timeout=t(60))
        c.wait_state("q1", "paused", t(30), since=mark)
        c.command("vm-start", {"vm": "q2"}, timeout=t(60))
        c.command("vm-pause", {"vm": "q2"})
        theirs["transfer_quota"] = dict(quota)
        c.command("vm-update", {"vm": "q2", "config": theirs})
        self.wait_for(lambda: self.reached_in_log() == 2, t(30), "q2 reached")
        rows = self.query("SELECT uuid, action, paused FROM quota_enforced")
        self.assertIn((uuid, "pause", 1), rows)
        self.assertEqual(sorted(r[2] for r in rows), [0, 1])

        self.vmd.stop(signal.SIGKILL)
        self.start("--meter-interval", "1")
        c = self.client()
        time.sleep(3)            # samples, and checks, every second
        self.assertEqual(self.reached_in_log(), 2, "announced again")
        for name in ("q1", "q2"):
            self.assertEqual(c.command("vm-show", {"vm": name})["state"], "paused")
        mark = len(c.events)
        for name, cfg in (("q1", mine), ("q2", theirs)):
            cfg["transfer_quota"]["bytes"] = 10 ** 12
            c.command("vm-update", {"vm": name, "config": cfg})
        for name in ("q1", "q2"):
            _, ev = c.wait_event(lambda e: e.get("event") == "USAGE_QUOTA" and
                                 e["data"]["vm"] == name, t(30), since=mark)
            self.assertEqual(ev["data"]["state"], "lifted")
        c.wait_state("q1", "running", t(30), since=mark)
        time.sleep(2)
        self.assertEqual(c.command("vm-show", {"vm": "q2"})["state"], "paused",
                         "resumed a guest the quota had not paused")
        self.assertEqual(self.query("SELECT * FROM quota_enforced"), [])

    def test_bad_input(self):
        self.start()
        c = self.client()
        self.plans(c)
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "x", plan="nosuch")}, "InvalidArgument", ("config.plan", "nosuch"))
        self.assertCmdError(c, "spec-apply", {"spec": {"label": "t=1", "vms": [dict(
            bootsector_config("y"), plan="nosuch")]}}, "InvalidArgument",
            ("config.plan", "nosuch"))
        bad = dict(SMALL, name="neg", prices={"vcpu_hour": -1})
        self.assertCmdError(c, "plan-define", bad, "InvalidArgument", "vcpu_hour")
        c.command("plan-define", dict(SMALL, name="t1", labels={"tier": "a"}))
        c.command("plan-define", dict(SMALL, name="t2", labels={"tier": "b"}))
        self.assertCmdError(c, "plan-define", dict(SMALL, name="t3", labels={
            "zone": "x"}), "InvalidArgument", ("labels", "t1"))
        self.assertCmdError(c, "plan-define", dict(SMALL, name="t3", labels={
            "tier": "a", "zone": "x"}), "InvalidArgument", "t1")
        for month in ("2026-13", "2026-1", "26-11", "2026-11-01"):
            self.assertCmdError(c, "invoice", {"customer": "acme", "month": month},
                                "InvalidArgument", "month")
        c.command("vm-define", {"config": bootsector_config(
            "a1", labels={"tier": "a"})})
        self.assertCmdError(c, "plan-delete", {"name": "t1"}, "InvalidState",
                            ("t1", "a1"))
        self.assertCmdError(c, "plan-delete", {"name": "nosuch"},
                            "InvalidArgument", "nosuch")
        # tokens: a VM-scoped one lists plans but sees no invoice (it spans
        # VMs); a read token defines no plan
        vmtok = c.command("token-create", {"label": "v", "scope": [
            {"vm": "a1", "allow": ["show"]}]})["token"]
        rtok = c.command("token-create", {"label": "r", "scope": "read"})["token"]
        r = c.request({"execute": "plan-list", "token": vmtok, "id": 1})
        self.assertIn("small", [p["name"] for p in r["return"]["plans"]])
        r = c.request({"execute": "invoice", "token": vmtok, "id": 2, "arguments":
                       {"customer": "acme", "month": "2026-11"}})
        self.assertError(r["error"], "PermissionDenied", "invoice")
        r = c.request({"execute": "plan-define", "token": rtok, "id": 3,
                       "arguments": dict(SMALL, name="x")})
        self.assertError(r["error"], "PermissionDenied", "plan-define")
        c.command("plan-delete", {"name": "t2"})
        self.assertEqual(sorted(p["name"] for p in c.command("plan-list")["plans"]),
                         ["big", "small", "t1"])


def readme_blocks():
    """The README's billing example: its sh block and its CSV block."""
    with open(os.path.join(SRCDIR, "README.md")) as f:
        text = f.read()
    part = text[text.index("## Billing, end to end"):]
    return (re.search(r"```sh\n(.*?)```", part, re.S).group(1),
            re.search(r"```csv\n(.*?)```", part, re.S).group(1))


class ReadmeBillingTest(VmdTestCase):
    """The README's billing example runs as written; the CSV it shows is
    what vmctl prints for its December (synthesized: the usage of a full
    month of both VMs written into the store)."""
    query = test_metering.MeteringTest.query

    def test_readme_example(self):
        script, csv = readme_blocks()
        env = dict(os.environ, VMD_SOCKET=self.vmd.socket,
                   PATH=vmdtest.BUILDDIR + ":" + os.environ["PATH"])
        p = subprocess.run(["bash", "-ec", script],
                           cwd=self.tmp, env=env, capture_output=True,
                           text=True, timeout=t(180))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("\nvm,uuid,plan,", p.stdout)
        c = self.client()
        for vm in ("shop-web", "shop-db"):
            self.assertEqual(c.command("vm-show", {"vm": vm})["state"], "running")
            c.command("vm-kill", {"vm": vm}, timeout=t(30))
        c.close()
        self.vmd.stop()
        dec, month = 1796083200, 31 * 86400       # 2026-12-01, its seconds
        use = {"shop-web": (2, 2048, 20480, 150), "shop-db": (4, 4096, 40960, 20)}
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        with db:
            for vm, (cpus, mib, disk_mib, gib) in use.items():
                uuid = db.execute("SELECT uuid FROM vms WHERE name = ?",
                                  (vm,)).fetchone()[0]
                self.assertEqual(db.execute(
                    "SELECT count(*), min(plan) FROM plan_history WHERE uuid = ?",
                    (uuid,)).fetchone(), (1, "small"))
                db.execute("UPDATE plan_history SET since = ? WHERE uuid = ?",
                           (dec, uuid))
                db.execute("DELETE FROM usage_plan WHERE uuid = ?", (uuid,))
                db.executemany("INSERT INTO usage_plan VALUES (?, ?, ?, ?, ?)", [
                    (uuid, dec, dec, k, v) for k, v in (
                        ("vcpu_s", cpus * month), ("mib_s", mib * month),
                        ("disk0.size_mib_s", disk_mib * month),
                        ("nic0.tx_bytes", gib << 30))])
        db.close()
        self.vmd.start()
        rc, out, err = self.vmctl("invoice", "acme", "--month", "2026-12", "--csv")
        self.assertEqual((rc, out), (0, csv), err)


if __name__ == "__main__":
    unittest.main()
