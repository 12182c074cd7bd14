#!/usr/bin/env python3
"""Usage metering with real guests (daemon/meter.c, issue 13): totals grow
while a guest runs and stop when it stops; a kill -9 of vmd or of QEMU
neither loses nor counts anything twice; a sample that spans an hour and a
month boundary is split by the documented rule (with vmd-testclock, the
build whose metering clock takes VMD_TEST_CLOCK_OFFSET); raw samples are
pruned after --meter-retention days while the roll-ups stay; usage-report
refuses bad periods and pages its rows; vmctl usage prints them as CSV.

The store is read directly (sqlite3, read-only) to check the invariants:
every sample's amounts add up to the hour and month roll-ups, and for one
QEMU the CPU time counted is exactly its last raw reading."""

import json
import os
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BUILDDIR, VmdTestCase, bootsector_config, t  # noqa: E402

VMD_TESTCLOCK = os.path.join(BUILDDIR, "vmd-testclock")
NEW_YEAR = 1798761600   # 2027-01-01T00:00:00Z
HOUR = 3600


def split(t0, t1, amount):
    """meter_calc.c's rule: {hour: part} of amount accrued over [t0, t1)."""
    if t1 <= t0:
        return {t1 // HOUR * HOUR: amount} if amount else {}
    parts, done, a = {}, 0, t0
    while a < t1:
        hour = a // HOUR * HOUR
        b = min(hour + HOUR, t1)
        upto = amount * (b - t0) // (t1 - t0)
        if upto > done:
            parts[hour] = upto - done
        done, a = upto, b
    return parts


class MeteringTest(VmdTestCase):
    start_vmd = False

    def start(self, *args, clock_offset=None):
        self.vmd.extra_args = list(args)
        self.clock_offset = int(clock_offset or 0)
        if clock_offset is None:
            self.vmd.start()
            return
        if not os.access(VMD_TESTCLOCK, os.X_OK):
            self.fail("vmd-testclock not built (make vmd-testclock)")
        argv = self.vmd.argv
        self.vmd.argv = lambda: [VMD_TESTCLOCK] + argv()[1:]
        os.environ["VMD_TEST_CLOCK_OFFSET"] = str(int(clock_offset))
        try:
            self.vmd.start()
        finally:
            del os.environ["VMD_TEST_CLOCK_OFFSET"]

    # -- the store, read-only ------------------------------------------------
    def query(self, sql, *args):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
            self.vmd.state_dir, "vmd.db"), uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def totals(self, uuid, period="month"):
        return dict(self.query("SELECT counter, sum(value) FROM usage_rollup "
                               "WHERE uuid = ? AND period = ? GROUP BY counter",
                               uuid, period))

    def meter(self, uuid):
        rows = self.query("SELECT t, state, epoch, traw, raw FROM usage_meter "
                          "WHERE uuid = ?", uuid)
        if not rows:
            return None
        t0, state, epoch, traw, raw = rows[0]
        return {"t": t0, "state": state, "epoch": epoch, "traw": traw,
                "raw": json.loads(raw)}

    def samples(self, uuid):
        return [(a, b, json.loads(d)) for a, b, d in self.query(
            "SELECT t0, t1, delta FROM usage_sample WHERE uuid = ? "
            "ORDER BY rowid", uuid)]

    def sample_sums(self, uuid):
        sums = {}
        for _, _, d in self.samples(uuid):
            for k, v in d.items():
                sums[k] = sums.get(k, 0) + v
        return sums

    def assert_rollups_exact(self, uuid):
        """Samples, hours and months hold the same amounts."""
        s = self.sample_sums(uuid)
        self.assertEqual(s, self.totals(uuid, "hour"))
        self.assertEqual(s, self.totals(uuid, "month"))
        return s

    def boot(self, c, name, **extra):
        cfg = bootsector_config(name, **extra)
        uuid = c.command("vm-define", {"config": cfg})["uuid"]
        ret = c.command("vm-start", {"vm": name}, timeout=t(60))
        # the boot's reading (QMP) commits a moment after the reply
        m = self.wait_for(lambda: (lambda m: m if m and m["raw"].get("cpu_us")
                                   and m["state"] == "running" else None)(
                                       self.meter(uuid)),
                          t(30), "the first reading of " + name)
        return uuid, ret["pid"], m

    # -- tests --------------------------------------------------------------
    def test_grows_while_running_stops_when_stopped(self):
        self.start("--meter-interval", "1")
        c = self.client()
        uuid, pid, _ = self.boot(c, "m1")
        self.wait_for(lambda: self.totals(uuid).get("running_s", 0) >= 2,
                      t(30), "two seconds of running")
        a = self.totals(uuid)
        time.sleep(2.2)
        b = self.totals(uuid)
        for k in ("running_s", "vcpu_s", "mib_s", "cpu_us"):
            self.assertGreater(b[k], a[k], k)
        self.assertEqual(b["mib_s"], 32 * b["vcpu_s"])  # 1 cpu, 32 MiB
        self.assertEqual(b.get("serial0.bytes"), len(vmdtest.BOOT_BANNER))
        self.assertGreater(b.get("disk0.rd_bytes", 0), 0)
        c.command("vm-kill", {"vm": "m1"})
        stopped = self.totals(uuid)
        time.sleep(2.5)
        self.assertEqual(self.totals(uuid), stopped, "counted while stopped")
        s = self.assert_rollups_exact(uuid)
        # one QEMU, counted from 0: the sum of its samples is its last
        # raw reading, to the microsecond
        self.assertEqual(s["cpu_us"], self.meter(uuid)["raw"]["cpu_us"])
        rows = c.command("usage-report", {"vms": ["m1"], "from": "2026-01",
                                          "to": "2036-01"})["rows"]
        got = {}
        for r in rows:
            for k, v in r["usage"].items():
                got[k] = got.get(k, 0) + v
            for dev, cs in r["devices"].items():
                for k, v in cs.items():
                    got[dev + "." + k] = got.get(dev + "." + k, 0) + v
        self.assertEqual(got, {k: v for k, v in s.items() if v})

    def test_vmd_killed_mid_interval(self):
        """kill -9 of vmd between samples: the totals stay as committed,
        and the re-adoption sample continues from the stored reading."""
        self.start("--meter-interval", "3600")
        c = self.client()
        uuid, pid, _ = self.boot(c, "m2")
        time.sleep(2)
        before, m0 = self.totals(uuid), self.meter(uuid)
        self.vmd.stop(signal.SIGKILL)
        self.assertEqual(self.totals(uuid), before)
        time.sleep(2)
        self.start("--meter-interval", "3600")
        c = self.client()
        m1 = self.wait_for(lambda: (lambda m: m if m["t"] > m0["t"] else None)(
            self.meter(uuid)), t(30), "the re-adoption sample")
        self.assertEqual(m1["epoch"], m0["epoch"])
        t0, t1, d = self.samples(uuid)[-1]
        self.assertEqual(t0, m0["t"], "the sample starts where the last one ended")
        self.assertEqual(d["running_s"], t1 - t0)   # vmd's absence counts
        self.assertGreaterEqual(d["running_s"], 4)
        self.assertEqual(d["cpu_us"], m1["raw"]["cpu_us"] - m0["raw"]["cpu_us"])
        after = self.totals(uuid)
        for k, v in before.items():
            self.assertEqual(after[k], v + d.get(k, 0), k)
        c.command("vm-kill", {"vm": "m2"})
        s = self.assert_rollups_exact(uuid)
        self.assertEqual(s["cpu_us"], self.meter(uuid)["raw"]["cpu_us"])

    def test_qemu_killed_and_restarted(self):
        """kill -9 of QEMU under restart_policy on-failure: the new QEMU's
        counters start at 0, the totals do not."""
        self.start("--meter-interval", "3600")
        c = self.client()
        uuid, pid1, m0 = self.boot(c, "m3", restart_policy="on-failure")
        time.sleep(1)
        before = self.totals(uuid)
        r1 = self.meter(uuid)["raw"]["cpu_us"]
        os.kill(pid1, signal.SIGKILL)
        m1 = self.wait_for(lambda: (lambda m: m if m["epoch"] != m0["epoch"]
                                    and m["raw"].get("cpu_us") else None)(
                                        self.meter(uuid)),
                           t(60), "a reading of the restarted QEMU")
        self.assertNotEqual(c.command("vm-show", {"vm": "m3"})["pid"], pid1)
        mid = self.totals(uuid)
        for k, v in before.items():
            self.assertGreaterEqual(mid.get(k, 0), v, k)
        c.command("vm-kill", {"vm": "m3"})
        r2 = self.meter(uuid)["raw"]["cpu_us"]
        self.assertGreaterEqual(r2, m1["raw"]["cpu_us"])
        s = self.assert_rollups_exact(uuid)
        # each QEMU counted to its last reading, the second from 0
        self.assertEqual(s["cpu_us"], r1 + r2)

    def test_hour_and_month_split(self):
        """A sample across 2027-01-01T00:00:00Z is split by the rule."""
        interval = 3599   # no tick near the boundary: the split is the pause's
        self.assertGreater(min(NEW_YEAR % interval,
                               interval - NEW_YEAR % interval), 120)
        self.start("--meter-interval", str(interval),
                   clock_offset=NEW_YEAR - 10 - time.time())
        c = self.client()
        uuid, _, _ = self.boot(c, "m4")
        wait = NEW_YEAR + 3 - (time.time() + self.clock_offset)
        self.assertGreater(wait, 0, "the guest booted too slowly for the test")
        time.sleep(wait)
        c.command("vm-pause", {"vm": "m4"})
        time.sleep(1.2)
        c.command("vm-resume", {"vm": "m4"})
        time.sleep(1.2)
        c.command("vm-kill", {"vm": "m4"})
        samples = self.samples(uuid)
        across = [s for s in samples if s[0] < NEW_YEAR < s[1]]
        self.assertEqual(len(across), 1, samples)
        self.assertGreater(across[0][2].get("cpu_us", 0), 0)
        expect = {}
        for t0, t1, d in samples:
            for k, v in d.items():
                for hour, part in split(t0, t1, v).items():
                    expect[(hour, k)] = expect.get((hour, k), 0) + part
        hours = {(h, k): v for h, k, v in self.query(
            "SELECT start, counter, value FROM usage_rollup WHERE uuid = ? "
            "AND period = 'hour'", uuid)}
        self.assertEqual(hours, expect)
        t0, t1, d = across[0]
        # running all along: each side gets its own seconds exactly
        self.assertEqual(d["running_s"], t1 - t0)
        self.assertEqual(split(t0, t1, d["running_s"]),
                         {NEW_YEAR - HOUR: NEW_YEAR - t0, NEW_YEAR: t1 - NEW_YEAR})
        months = {(m, k): v for m, k, v in self.query(
            "SELECT start, counter, value FROM usage_rollup WHERE uuid = ? "
            "AND period = 'month'", uuid)}
        dec = NEW_YEAR - 31 * 86400
        for (hour, k), v in hours.items():
            month = dec if hour < NEW_YEAR else NEW_YEAR
            months[(month, k)] -= v
        self.assertEqual(set(months.values()), {0}, "months = sum of hours")
        rep = c.command("usage-report", {"vms": ["m4"], "from": "2026-12",
                                         "to": "2027-02"})["rows"]
        self.assertEqual([r["start"] for r in rep],
                         ["2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"])
        self.assertEqual(rep[1]["usage"]["running_s"],
                         sum(v for (h, k), v in hours.items()
                             if k == "running_s" and h >= NEW_YEAR))
        hourly = c.command("usage-report", {"vms": ["m4"], "granularity": "hour",
                                            "from": "2026-12-31T23:00:00Z",
                                            "to": "2027-01-01T01:00:00Z"})["rows"]
        self.assertEqual(hourly[1]["usage"]["cpu_us"],
                         hours[(NEW_YEAR, "cpu_us")])

    def test_retention(self):
        """Raw samples older than --meter-retention days go; hours and
        months stay."""
        self.start("--meter-interval", "1")
        c = self.client()
        uuid, _, _ = self.boot(c, "m5")
        time.sleep(1.5)
        c.command("vm-kill", {"vm": "m5"})
        kept = self.totals(uuid)
        self.assertTrue(self.samples(uuid))
        self.vmd.stop()
        self.start("--meter-retention", "7", clock_offset=6 * 86400)
        self.assertTrue(self.samples(uuid), "pruned before 7 days")
        self.vmd.stop()
        self.start("--meter-retention", "7", clock_offset=8 * 86400)
        self.wait_for(lambda: not self.samples(uuid), t(10), "the pruning")
        self.assertEqual(self.totals(uuid), kept)
        self.assertEqual(self.totals(uuid, "hour"), kept)

    def test_bad_input_and_pages(self):
        self.start("--meter-interval", "1")
        c = self.client()
        for n in ("p1", "p2", "p3"):
            self.boot(c, n, labels={"customer": "acme" if n != "p3" else "x"})
        time.sleep(1.2)
        for n in ("p1", "p2", "p3"):
            c.command("vm-kill", {"vm": n})
        now = time.gmtime()
        month = "%04d-%02d" % (now.tm_year, now.tm_mon)
        span = {"from": "2026-01", "to": "2036-01"}
        bad = [({"from": "2026-02-30", "to": "2026-03"}, "from"),
               ({"from": "2026-13", "to": "2027-01"}, "from"),
               ({"from": "2027-01", "to": "2026-12"}, "must come after"),
               ({"from": "2016-01", "to": "2026-02"}, "longer than 10 years"),
               ({"from": "2026-12-05", "to": "2027-01"}, "start a month"),
               ({"from": "2026-12-05T01:30:00Z", "to": "2026-12-06",
                 "granularity": "day"}, "start a day"),
               (dict(span, after="nonsense"), "after"),
               (dict(span, granularity="week"), "granularity"),
               (dict(span, limit=0), "limit")]
        for args, word in bad:
            self.assertCmdError(c, "usage-report", args, "InvalidArgument", word)
        self.assertCmdError(c, "usage-report", dict(span, vms=["nosuch"]),
                            "VmNotFound", "nosuch")
        whole = c.command("usage-report", dict(span, granularity="hour"))
        self.assertNotIn("next", whole)
        self.assertGreaterEqual(len(whole["rows"]), 3)
        pages, after = [], None
        while True:
            args = dict(span, granularity="hour", limit=1)
            if after:
                args["after"] = after
            r = c.command("usage-report", args)
            pages += r["rows"]
            after = r.get("next")
            if not after:
                break
        self.assertEqual(pages, whole["rows"])
        acme = c.command("usage-report", dict(span, labels={"customer": "acme"}))
        self.assertEqual(sorted(r["vm"] for r in acme["rows"]), ["p1", "p2"])
        # a token scoped to p2 sees p2's usage only
        tok = c.command("token-create", {"label": "m", "scope": [
            {"vm": "p2", "allow": ["show"]}]})["token"]
        mine = c.request({"execute": "usage-report", "arguments": span,
                          "token": tok, "id": 1})["return"]["rows"]
        self.assertEqual({r["vm"] for r in mine}, {"p2"})
        err = c.request({"execute": "usage-report", "id": 2, "token": tok,
                         "arguments": dict(span, vms=["p1"])})["error"]
        self.assertError(err, "VmNotFound", "p1")
        # vmctl usage: CSV of the same numbers
        rc, out, err = self.vmctl("usage", "p1", "--month", month, "--csv")
        self.assertEqual(rc, 0, err)
        head, line = out.splitlines()
        cols = dict(zip(head.split(","), line.split(",")))
        p1 = [r for r in whole["rows"] if r["vm"] == "p1"]
        self.assertEqual(int(cols["running_s"]),
                         sum(r["usage"].get("running_s", 0) for r in p1))
        self.assertEqual(int(cols["serial.bytes"]), len(vmdtest.BOOT_BANNER))
        rc, out, err = self.vmctl("usage", "--month", "2026-13")
        self.assertEqual(rc, 2)
        self.assertIn("--month", err)


if __name__ == "__main__":
    vmdtest.main()
