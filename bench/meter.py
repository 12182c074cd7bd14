#!/usr/bin/python3
"""Cost of usage metering (daemon/meter.c) and of usage-report.

(a) vmd's CPU time for one metering pass, per guest: N boot-sector guests
    (started, then paused so that their TCG loops leave the CPUs to vmd;
    a paused guest is metered like a running one: /proc, QMP
    query-blockstats, one transaction), vmd's CPU (/proc/PID/schedstat, ns)
    over a window with --meter-interval 1 minus the same window with
    --meter-interval 3600, divided by passes and guests; at two N.
(b) usage-report of 1,000 VMs over a month (month granularity, every row;
    then the same VMs named by uuid): rows synthesized into the store
    (usage_rollup: month rows, and a month of hour rows), median of 10 calls.
    Target < 100 ms.
(c) Store growth per VM per day at the default interval (60 s): bytes per
    raw sample (dbstat: bytes used in the pages of usage_sample and its indexes) times 1,440, kept
    --meter-retention days; roll-ups (usage_rollup, kept for ever): bytes per
    row times the hour rows of one VM's day.

usage: meter.py --builddir DIR [--srcdir DIR] [--guests 50] [--few 10]
                [--window 10] [--report-only]
"""

import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid as uuidlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, lambda p: (
    p.add_argument("--guests", type=int, default=50),
    p.add_argument("--few", type=int, default=10),
    p.add_argument("--window", type=float, default=10.0)))
ARGS.only = "abc"
from benchlib import LineClient, log, qmp_handshake, run_bench  # noqa: E402
from vmdtest import Client, Vmd, bootsector_config  # noqa: E402

NOTES = [
    "(a) boot-sector guests, paused (metered as running ones); vmd CPU from "
    "/proc/PID/schedstat",
    "    over %.0f s at --meter-interval 1, minus the same at 3600; per pass "
    "and guest" % ARGS.window,
    "(b) 1,000 VMs x 13 counters a month, 1,000 x 744 hours x 4 counters "
    "(usage_rollup);",
    "    one Python client, median of 10 calls",
    "(c) at --meter-interval 60: 1,440 samples a day (kept 7 days by "
    "default), 24 hours of roll-ups (kept)",
]


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def window_cpu(vmd):
    """vmd's CPU ns over one window, and the passes in it."""
    time.sleep(1.5)   # adoption and the first readings settle
    a = cpu_ns(vmd.pid)
    time.sleep(ARGS.window)
    return cpu_ns(vmd.pid) - a


def restart(vmd, interval):
    vmd.stop()        # SIGTERM: the guests keep running
    vmd.extra_args = ["--meter-interval", str(interval)]
    vmd.start()


def table_bytes(db, prefix):
    """Bytes the rows of a table and its indexes take in their pages."""
    return db.execute("SELECT sum(pgsize - unused) FROM dbstat WHERE name "
                      "LIKE ?",
                      (prefix + "%",)).fetchone()[0] or 0


def store(vmd):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(vmd.state_dir,
                                                          "vmd.db"), uri=True)
    return db


def measure_pass(vmd, c, rows, growth):
    names = ["mb%d" % i for i in range(ARGS.guests)]
    for n in names:
        c.command("vm-define", {"config": bootsector_config(n)})
        c.command("vm-start", {"vm": n}, timeout=120)
        c.command("vm-pause", {"vm": n})
    log("%d guests started and paused" % len(names))
    per = {}
    db = store(vmd)
    s0 = db.execute("SELECT count(*) FROM usage_sample").fetchone()[0]
    b0 = table_bytes(db, "usage_sample")
    db.close()
    on = window_cpu(vmd)
    db = store(vmd)
    growth["samples"] = db.execute("SELECT count(*) FROM usage_sample"
                                   ).fetchone()[0] - s0
    growth["sample_bytes"] = table_bytes(db, "usage_sample") - b0
    growth["hour_bytes"] = table_bytes(db, "usage_rollup")
    growth["hour_rows"] = db.execute("SELECT count(*) FROM usage_rollup"
                                     ).fetchone()[0]
    db.close()
    restart(vmd, 3600)
    off = window_cpu(vmd)
    per[len(names)] = (on - off) / 1000.0 / ARGS.window / len(names)
    c = Client(vmd.socket)
    for n in names[ARGS.few:]:
        c.command("vm-kill", {"vm": n})
    off = window_cpu(vmd)
    restart(vmd, 1)
    on = window_cpu(vmd)
    per[ARGS.few] = (on - off) / 1000.0 / ARGS.window / ARGS.few
    for n, us in sorted(per.items()):
        rows.append(("(a) one metering pass, per guest, %d guests" % n,
                     "%.0f us" % us, "", None))


def synthesize(path, n_vms):
    """usage rows of n_vms VMs for December 2026, written as vmd would."""
    dec = 1796083200
    db = sqlite3.connect(path)
    uuids = [str(uuidlib.UUID(int=i + 1, version=4)) for i in range(n_vms)]
    counters = ["running_s", "vcpu_s", "mib_s", "cpu_us", "disk0.rd_bytes",
                "disk0.wr_bytes", "disk0.rd_ops", "disk0.wr_ops",
                "nic0.rx_bytes", "nic0.tx_bytes", "nic0.rx_packets",
                "nic0.tx_packets", "serial0.bytes"]
    with db:
        db.executemany("INSERT INTO usage_rollup VALUES (?, 'month', ?, ?, ?)",
                       ((u, dec, k, 1000 + i) for u in uuids
                        for i, k in enumerate(counters)))
        db.executemany("INSERT INTO usage_rollup VALUES (?, 'hour', ?, ?, ?)",
                       ((u, dec + h * 3600, k, 3600) for u in uuids
                        for h in range(744) for k in counters[:4]))
    db.close()
    return uuids


def measure_report(rows):
    tmp = tempfile.mkdtemp(prefix="vmd-bench-report-")
    vmd = Vmd(tmp)
    try:
        vmd.start()
        vmd.stop()
        t0 = time.monotonic()
        uuids = synthesize(os.path.join(vmd.state_dir, "vmd.db"), 1000)
        log("store synthesized in %.1f s" % (time.monotonic() - t0))
        vmd.start()
        lc = LineClient(vmd.socket)
        qmp_handshake(lc)
        reqs = [
            ("every VM", b'{"execute": "usage-report", "arguments": '
             b'{"from": "2026-12", "to": "2027-01"}}\n'),
            ("1,000 named by uuid", ('{"execute": "usage-report", '
             '"arguments": {"from": "2026-12", "to": "2027-01", "vms": %s}}\n'
             % str(uuids).replace("'", '"')).encode()),
        ]
        for what, req in reqs:
            times = []
            for _ in range(10):
                a = time.perf_counter()
                r = lc.call(req)
                times.append(time.perf_counter() - a)
            assert b'"rows"' in r and r.count(b'"uuid"') == 1000, r[:300]
            med = statistics.median(times) * 1000
            rows.append(("(b) usage-report, 1,000 VMs, a month (%s)" % what,
                         "%.1f ms" % med, "< 100 ms", med < 100))
        lc.close()
    finally:
        vmd.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def growth_rows(rows, g):
    per_sample = g["sample_bytes"] / max(1, g["samples"])
    per_hour_row = g["hour_bytes"] / max(1, g["hour_rows"])
    raw_day = per_sample * 1440
    # a guest with one disk, one bridged NIC and one console has 13
    # counters (these paused boot-sector guests had fewer)
    roll_day = per_hour_row * 13 * 24
    rows.append(("(c) raw samples per VM per day (kept 7 days)",
                 "%.0f KiB (%.0f B/sample)" % (raw_day / 1024, per_sample),
                 "", None))
    rows.append(("(c) hour roll-ups per VM per day (kept)",
                 "%.1f KiB (13 counters, %.0f B/row)" % (roll_day / 1024,
                                                        per_hour_row),
                 "", None))


def measure(vmd, c, tmp, host, rows):
    """run_bench's vmd, restarted with --meter-interval 1, runs (a) and
    (c); (b) has a vmd of its own."""
    os.chmod(tmp, 0o711)    # the QEMU user reaches its sockets' directory
    restart(vmd, 1)
    growth = {}
    measure_pass(vmd, Client(vmd.socket), rows, growth)
    vmd.cleanup()
    growth_rows(rows, growth)
    measure_report(rows)


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(run_bench("meter", measure, NOTES, ARGS))
