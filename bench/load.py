#!/usr/bin/env python3
"""vmd under load: 100 concurrent clients x 1,000 mixed calls (vm-list,
vm-show, query-host), event subscribers that must see every event of a
guest started and killed over and over, and one client sending garbage all
the while.  Reports p50/p99 per call, errors (must be none for the good
clients) and vmd's RSS before and after (must not grow).

Usage: load.py --builddir DIR [--clients 100] [--calls 1000]"""

import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def options(p):
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--subscribers", type=int, default=10)


sys.path.insert(0, HERE)
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, options)
from vmdtest import Client, Vmd, bootsector_config  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}
        self.errors = []

    def add(self, cmd, seconds):
        with self.lock:
            self.lat.setdefault(cmd, []).append(seconds)

    def error(self, what):
        with self.lock:
            self.errors.append(what)


def good_client(path, calls, stats, names, barrier):
    rnd = random.Random()
    try:
        c = Client(path, timeout=60)
    except Exception as e:
        stats.error("connect: %r" % e)
        return
    barrier.wait()
    try:
        for _ in range(calls):
            pick = rnd.random()
            if pick < 0.4:
                cmd, args = "vm-list", None
            elif pick < 0.8:
                cmd, args = "vm-show", {"vm": rnd.choice(names)}
            else:
                cmd, args = "query-host", None
            t0 = time.perf_counter()
            reply = c.execute(cmd, args, timeout=60)
            stats.add(cmd, time.perf_counter() - t0)
            if "return" not in reply:
                stats.error("%s: %r" % (cmd, reply))
    except Exception as e:
        stats.error("client: %r" % e)
    finally:
        c.close()


def subscriber(path, stop, seen, i):
    """Collect every VM_STATE event of the churned guest, in order."""
    c = Client(path, timeout=60)
    try:
        while not stop.is_set():
            try:
                c.wait_event(lambda e: True, 0.5, len(c.events))
            except AssertionError:
                pass
        seen[i] = [(e["data"]["old"], e["data"]["new"]) for e in c.events
                   if e.get("event") == "VM_STATE" and
                   e["data"].get("vm") == "load-churn"]
    finally:
        c.close()


def churn(path, stop, done, stats):
    """Start and kill a guest over and over: the events subscribers count.
    A failure is an error of the run, not a quiet end of the churn."""
    n = 0
    try:
        c = Client(path, timeout=60)
        try:
            while not stop.is_set():
                c.command("vm-start", {"vm": "load-churn"}, timeout=60)
                c.command("vm-kill", {"vm": "load-churn"}, timeout=60)
                n += 1
        finally:
            c.close()
    except Exception as e:
        stats.error("churn: %r" % e)
    finally:
        done.append(n)


GARBAGE = [b"{", b"}}}", b'{"execute": 1}', b"\x00\xff\xfe",
           b'{"execute":"vm-show","arguments":{"vm":[]}}', b"[]",
           b'{"jsonrpc":"2.0","method":"nope","id":1}',
           b'{"execute":"qmp_capabilities"}{"execute":"vm-define",'
           b'"arguments":{"config":{"name":"../../etc"}}}']


def garbage(path, stop, sent):
    rnd = random.Random(1)
    while not stop.is_set():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.settimeout(0.01)
            for _ in range(50):
                s.sendall(rnd.choice(GARBAGE))
                sent[0] += 1
                try:
                    s.recv(65536)
                except socket.timeout:
                    pass
            if rnd.random() < 0.2:
                s.sendall(b'{"execute":"x","arguments":{"a":"' +
                          b"x" * (1100 * 1024))   # over the cap: closed
        except OSError:
            pass
        finally:
            s.close()


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q / 100))]


def main():
    tmp = tempfile.mkdtemp(prefix="vmd-load-")
    vmd = Vmd(tmp)
    vmd.start()
    try:
        return run(vmd)
    finally:
        vmd.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


# One start/kill cycle of the churned guest, as every subscriber must see it.
CYCLE = [("stopped", "starting"), ("starting", "running"),
         ("running", "stopped")]
# RSS the second of two identical rounds may add: about 10 bytes per call
# of 100,000, so a per-call leak shows; less is allocator noise.
RSS_SLACK_KIB = 1024


def load_round(vmd, names, calls):
    """One round: subscribers, the churned guest, the garbage client and
    the good clients, all at once.  Returns its figures."""
    stats, stop, stop_subs = Stats(), threading.Event(), threading.Event()
    seen, churned, sent = [None] * ARGS.subscribers, [], [0]
    subs = [threading.Thread(target=subscriber, args=(vmd.socket, stop_subs,
                                                      seen, i))
            for i in range(ARGS.subscribers)]
    [th.start() for th in subs]
    time.sleep(0.5)
    side = [threading.Thread(target=churn, args=(vmd.socket, stop, churned,
                                                 stats)),
            threading.Thread(target=garbage, args=(vmd.socket, stop, sent))]
    [th.start() for th in side]
    barrier = threading.Barrier(ARGS.clients)
    ths = [threading.Thread(target=good_client, args=(
        vmd.socket, calls, stats, names, barrier))
        for _ in range(ARGS.clients)]
    t0 = time.perf_counter()
    [th.start() for th in ths]
    [th.join() for th in ths]
    elapsed = time.perf_counter() - t0
    stop.set()
    [th.join() for th in side]
    time.sleep(1.0)          # the last cycle's events reach everyone
    stop_subs.set()
    [th.join() for th in subs]
    return {"stats": stats, "elapsed": elapsed, "seen": seen,
            "cycles": churned[0] if churned else 0, "sent": sent[0]}


def run(vmd):
    c = Client(vmd.socket)
    names = []
    for i in range(50):
        name = "load-%02d" % i
        c.command("vm-define", {"config": {"name": name, "memory_mib": 64,
                                           "labels": {"plan": "small"}}})
        names.append(name)
    c.command("vm-define", {"config": bootsector_config("load-churn")})
    pid = vmd.proc.pid
    # the same round twice: the first puts buffers and allocator pools in
    # place; what the second adds on top of that is a leak
    first = load_round(vmd, names, ARGS.calls)
    rss_before = rss_kib(pid)
    r = load_round(vmd, names, ARGS.calls)
    rss_after = rss_kib(pid)
    return report(first, r, rss_before, rss_after)


def check_round(r, tag):
    """Exact checks of one round; a list of what was missed."""
    miss = ["%s: ERRORS for good clients or the churn: %d, first: %s"
            % (tag, len(r["stats"].errors), r["stats"].errors[0])
            ] if r["stats"].errors else []
    total = sum(len(v) for v in r["stats"].lat.values())
    if total != ARGS.clients * ARGS.calls:
        miss.append("%s: %d calls answered of %d"
                    % (tag, total, ARGS.clients * ARGS.calls))
    if r["cycles"] < 1:
        miss.append("%s: the guest was never started and killed" % tag)
    want = CYCLE * r["cycles"]
    for i, got in enumerate(r["seen"]):
        if got != want:
            miss.append("%s: subscriber %d saw %d VM_STATE events of the "
                        "churned guest, not exactly the %d of %d cycles in "
                        "order" % (tag, i, len(got or []), len(want),
                                   r["cycles"]))
    return miss


def report(first, r, rss_before, rss_after):
    stats = r["stats"]
    total = sum(len(v) for v in stats.lat.values())
    print("vmd under load: %d clients x %d calls, %d event subscribers, "
          "one garbage client; two identical rounds"
          % (ARGS.clients, ARGS.calls, ARGS.subscribers))
    print("%-22s %8s %9s %9s" % ("call (2nd round)", "count", "p50 ms",
                                 "p99 ms"))
    for cmd, v in sorted(stats.lat.items()):
        print("%-22s %8d %9.3f %9.3f" % (cmd, len(v), pct(v, 50) * 1000,
                                          pct(v, 99) * 1000))
    allv = [x for v in stats.lat.values() for x in v]
    print("(latencies include the Python client's own thread scheduling:\n"
          " 100 threads share one interpreter lock)")
    print("%-22s %8d %9.3f %9.3f   (%.0f calls/s)" % (
        "all", total, statistics.median(allv) * 1000, pct(allv, 99) * 1000,
        total / r["elapsed"]))
    print("garbage messages sent: %d; guest start/kill cycles: %d"
          % (r["sent"], r["cycles"]))
    print("VM_STATE events per subscriber: %s (exactly %d expected)"
          % (sorted(set(len(x or []) for x in r["seen"])),
             3 * r["cycles"]))
    print("vmd RSS after round 1: %d KiB, after round 2: %d KiB (%+d KiB; "
          "at most +%d)" % (rss_before, rss_after, rss_after - rss_before,
                            RSS_SLACK_KIB))
    miss = check_round(first, "round 1") + check_round(r, "round 2")
    if rss_after - rss_before > RSS_SLACK_KIB:
        miss.append("RSS grew from one round to the same round again")
    for m in miss:
        print("MISS: " + m)
    print("load targets: %s" % ("all met" if not miss else "MISSED"))
    return 0 if not miss or ARGS.report_only else 1


if __name__ == "__main__":
    sys.exit(main())
