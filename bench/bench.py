#!/usr/bin/python3
"""vmd's published performance figures, measured on this machine in one run.

  (a) boot: time from `vmctl start` (and from the vm-start request) to the
      boot-sector guest's first serial byte at a console client, against a
      bare qemu-system-x86_64 with the same options whose serial is a socket
      we read (median of N), under TCG and, when KVM is usable, KVM;
  (b) round trips (C client bench/rtt, 1 and 100 connections):
      vm-monitor query-status through vmd and vm-show against query-status on a
      a paused bare QEMU's QMP socket (a few seconds each);
  (c) scale: with 10,000 defined VMs, vm-list time and define rate;
  (d) vm-kill to the VM_STATE "stopped" event;
  (e) console relay throughput: the Linux test guest writes zeros to ttyS0
      (dd), measured in MiB/s at 1 viewer and at each of 10 viewers through
      vmd, against a client reading a bare QEMU's chardev socket directly
      (vmd's argv for that guest), and against the same reader napping
      250 us per read as vmd-keeper does (the fair baseline), interleaved;
  (f) keystroke round trip: one byte from a viewer to the boot-sector guest
      and its echo back, p50/p99, through vmd and on a bare QEMU's socket.

Each figure is shown next to its target and marked PASS or MISS.  Exit
status: 0 when every target is met, 1 when any is missed (--report-only:
always 0), 2 when the benchmark itself could not run.

usage: bench.py --builddir DIR [--srcdir DIR] [--runs N] [--vms N]
                [--rtt-seconds S] [--console-mib N] [--console-runs N]
                [--keys N] [--only a,b,...] [--report-only]
"""

import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def options(p):
    p.add_argument("--runs", type=int, default=25,
                   help="samples for boot and kill medians (default 25)")
    p.add_argument("--vms", type=int, default=10000,
                   help="VMs to define for the scale test (default 10000)")
    p.add_argument("--rtt-seconds", type=float, default=5.0,
                   help="length of each round-trip run (default 5)")
    p.add_argument("--console-mib", type=int, default=1,
                   help="MiB the guest writes per relay run (default 1)")
    p.add_argument("--console-runs", type=int, default=5,
                   help="relay runs per case, median (default 5)")
    p.add_argument("--keys", type=int, default=2000,
                   help="keystroke round trips per side (default 2000)")
    p.add_argument("--only", default="abcdef",
                   help="measurements to run, e.g. ef (default: all)")


sys.path.insert(0, HERE)
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, options)
import vmdtest  # noqa: E402
from vmdtest import Client, bootsector_config  # noqa: E402
from bare import (bare_argv, bare_boot_once, listening_pair,  # noqa: E402
                  vmd_qemu_argv)
from benchlib import (LineClient, log, median_ms, missing, ms, pct,  # noqa: E402
                      qmp_handshake, run_bench)

RTT = os.path.join(os.path.abspath(ARGS.builddir), "bench", "rtt")


# ---------------------------------------------------------------------------
# small fast clients: the same code measures vmd and bare QEMU

# ---------------------------------------------------------------------------
# bare QEMU with vmd's own options

def rtt_c(path, seconds, nconn, req):
    """Round trips measured by bench/rtt (C, one poll loop, one request in
    flight per connection): a dict with calls, rate, p50_ms, p99_ms."""
    out = subprocess.run([RTT, path, "%g" % seconds, str(nconn), req],
                         capture_output=True, timeout=seconds + 120)
    if out.returncode:
        raise RuntimeError("rtt: %s" % out.stderr.decode(errors="replace"))
    return json.loads(out.stdout)


def bare_qmp_rtt(argv_template, tmp, seconds, req):
    """req round trips on a bare paused QEMU's QMP socket (QEMU serves one
    monitor client at a time, so one connection)."""
    qpath = os.path.join(tmp, "bare-qmp.sock")
    spath = os.path.join(tmp, "bare-serial2.sock")
    for p in (qpath, spath):
        if os.path.exists(p):
            os.unlink(p)
    qlisten = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    qlisten.bind(qpath)
    qlisten.listen(4)
    slisten = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slisten.bind(spath)
    slisten.listen(1)
    argv = bare_argv(argv_template, slisten.fileno(), qlisten.fileno())
    proc = subprocess.Popen(argv, pass_fds=[qlisten.fileno(),
                                            slisten.fileno()],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        try:
            rtt_c(qpath, 0.5, 1, req)  # warm up
        except RuntimeError:
            proc.kill()
            raise RuntimeError("bare QEMU: %s" % proc.communicate(
                timeout=30)[1].decode(errors="replace")[-2000:])
        return rtt_c(qpath, seconds, 1, req)
    finally:
        proc.kill()
        proc.wait(30)
        proc.stderr.close()
        qlisten.close()
        slisten.close()


# ---------------------------------------------------------------------------
# vmd measurements

def wait_state(c, name, state, timeout=30):
    c.wait_state(name, state, timeout, since=0)
    c.events.clear()
    c.event_times.clear()


def first_console_byte(con_client, name, deadline_s=60):
    """Attach on an already negotiated connection; perf_counter() at the
    arrival of the first byte of console output.  Events that reach the
    connection before the attach reply are skipped."""
    s = con_client.sock
    s.sendall(b'{"execute": "console-attach", "arguments": {"vm": "%s"}}\n'
              % name.encode())
    s.settimeout(deadline_s)
    buf = con_client.buf
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            msg = json.loads(line)
            if "event" in msg:
                continue
            if "return" not in msg:
                raise RuntimeError("console-attach: %r" % msg)
            if buf:
                return time.perf_counter()
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("console closed before any output")
            return time.perf_counter()
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("console-attach: connection closed")
        buf += chunk


def vmd_boot_once(vmd, c, name, via_vmctl):
    con = Client(vmd.socket)
    try:
        t0 = time.perf_counter()
        if via_vmctl:
            p = subprocess.run([vmdtest.VMCTL, "-s", vmd.socket, "start", name],
                               capture_output=True, timeout=60)
            if p.returncode != 0:
                raise RuntimeError("vmctl start: %s" % p.stderr.decode())
        else:
            c.command("vm-start", {"vm": name}, timeout=60)
        t1 = first_console_byte(con, name)
    finally:
        con.close()
    c.command("vm-kill", {"vm": name}, timeout=30)
    wait_state(c, name, "stopped")
    return t1 - t0


def bench_boot(vmd, c, tmp, accel, runs, rows):
    name = "bench-boot-" + accel
    c.command("vm-define", {"config": bootsector_config(name, accel)})
    # learn vmd's argv for this accelerator, then warm caches once
    c.command("vm-start", {"vm": name}, timeout=60)
    template = vmd_qemu_argv(c, name)
    c.command("vm-kill", {"vm": name})
    wait_state(c, name, "stopped")
    vmd_boot_once(vmd, c, name, False)
    bare_boot_once(template, tmp)

    req, cli, bare = [], [], []
    for i in range(runs):  # interleaved, so drift hits all three alike
        req.append(vmd_boot_once(vmd, c, name, False))
        cli.append(vmd_boot_once(vmd, c, name, True))
        bare.append(bare_boot_once(template, tmp))
    b = median_ms(bare)
    r = median_ms(req)
    v = median_ms(cli)

    def spread(samples):
        return "%.0f-%.0f" % (ms(min(samples)), ms(max(samples)))
    rows.append(("(a) boot %s: bare QEMU to first serial byte" % accel,
                 "%.1f ms (range %s)" % (b, spread(bare)), "reference", None))
    rows.append(("(a) boot %s: vm-start request to first byte" % accel,
                 "%.1f ms = %.2fx (range %s)" % (r, r / b, spread(req)),
                 "<= 1.10x bare", r / b <= 1.10))
    rows.append(("(a) boot %s: `vmctl start` to first byte" % accel,
                 "%.1f ms = %.2fx (range %s)" % (v, v / b, spread(cli)),
                 "<= 1.10x bare", v / b <= 1.10))
    c.command("vm-undefine", {"vm": name})
    return template


def rtt_row(label, r, base=None):
    ratio = " (%.2fx bare)" % (r["rate"] / base["rate"]) if base else ""
    return (label, "%.0f/s%s p50 %.3f p99 %.3f ms" % (
        r["rate"], ratio, r["p50_ms"], r["p99_ms"]))


def bench_rtt(vmd, c, tmp, template, seconds, rows):
    """What vmd adds as a proxy: vm-monitor query-status through vmd against
    query-status on QEMU's own QMP socket, plus vm-show (answered by vmd
    alone), with 1 and 100 connections, all measured by the C client."""
    name = "bench-rtt"
    c.command("vm-define", {"config": bootsector_config(name)})
    c.command("vm-start", {"vm": name}, timeout=60)
    c.command("vm-pause", {"vm": name})  # paused like the bare QEMU (-S)
    mon = ('{"execute": "vm-monitor", "arguments": {"vm": "%s", '
           '"command": "query-status"}}' % name)
    show = '{"execute": "vm-show", "arguments": {"vm": "%s"}}' % name
    bare = bare_qmp_rtt(template, tmp, seconds,
                        '{"execute": "query-status"}')
    rows.append(rtt_row("(b) bare QEMU query-status on its QMP socket, "
                        "1 conn", bare) + ("reference", None))
    rtt_c(vmd.socket, 0.5, 1, mon)  # warm up
    for n in (1, 100):
        r = rtt_c(vmd.socket, seconds, n, mon)
        label = "(b) vmd vm-monitor query-status, %d conn%s" % (
            n, "s" if n > 1 else "")
        if n == 1:
            rows.append(rtt_row(label, r, bare) + (
                ">= 0.5x bare, p99 < 1 ms",
                r["rate"] >= 0.5 * bare["rate"] and r["p99_ms"] < 1))
        else:  # one QMP session per QEMU: the calls queue behind it
            rows.append(rtt_row(label, r, bare) + (
                ">= 0.5x bare (all conns)", r["rate"] >= 0.5 * bare["rate"]))
    for n in (1, 100):
        r = rtt_c(vmd.socket, seconds, n, show)
        label = "(b) vmd vm-show (vmd alone), %d conn%s" % (
            n, "s" if n > 1 else "")
        rows.append(rtt_row(label, r, bare) + (
            ("p99 < 0.5 ms", r["p99_ms"] < 0.5) if n == 1 else
            ("p99 < 10 ms", r["p99_ms"] < 10)))
    c.command("vm-kill", {"vm": name})
    wait_state(c, name, "stopped")
    c.command("vm-undefine", {"vm": name})


def bench_scale(vmd, n, rows):
    lc = LineClient(vmd.socket)
    qmp_handshake(lc)
    disk = vmdtest.BOOTSECTOR
    template = ('{"execute": "vm-define", "arguments": {"config": '
                '{"name": "scale-%05d", "memory_mib": 64, "labels": '
                '{"owner": "customer-%d", "plan": "small"}, "disks": '
                '[{"path": "' + disk + '", "format": "raw"}]}}}\n')
    reqs = [(template % (i, i % 100)).encode() for i in range(n)]
    t0 = time.perf_counter()
    for req in reqs:
        r = lc.call(req)
        if not r.startswith(b'{"return"'):
            raise RuntimeError("vm-define failed: %r" % r[:300])
    define_s = time.perf_counter() - t0
    rate = n / define_s
    listreq = b'{"execute": "vm-list"}\n'
    count = len(json.loads(lc.call(listreq))["return"])
    if count != n:
        raise RuntimeError("vm-list shows %d VMs, defined %d" % (count, n))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        lc.call(listreq)
        times.append(time.perf_counter() - t0)
    lc.close()
    list_ms = median_ms(times)
    rows.append(("(c) vm-define rate, one client, sequential",
                 "%.0f defines/s (%d in %.1f s)" % (rate, n, define_s),
                 ">= 2000/s", rate >= 2000))
    rows.append(("(c) vm-list with %d VMs (median of 5)" % n,
                 "%.1f ms" % list_ms, "< 50 ms", list_ms < 50))


def bench_kill(vmd, c, runs, rows):
    name = "bench-kill"
    c.command("vm-define", {"config": bootsector_config(name)})
    samples = []
    for i in range(runs + 1):
        c.command("vm-start", {"vm": name}, timeout=60)
        wait_state(c, name, "running")
        t0 = time.perf_counter()
        c.send({"execute": "vm-kill", "arguments": {"vm": name}, "id": "k"})
        t1, replied = None, False
        while t1 is None or not replied:
            msg = c.recv(30)
            if msg.get("event") == "VM_STATE" and \
                    msg["data"]["vm"] == name and \
                    msg["data"]["new"] == "stopped":
                t1 = time.perf_counter()
            elif msg.get("id") == "k":
                if "return" not in msg:
                    raise RuntimeError("vm-kill: %r" % msg)
                replied = True
        c.events.clear()
        c.event_times.clear()
        if i > 0:  # the first one warms up
            samples.append(t1 - t0)
    m = median_ms(samples)
    rows.append(("(d) vm-kill to VM_STATE stopped (median of %d)" % runs,
                 "%.2f ms (max %.2f)" % (m, ms(max(samples))), "< 50 ms",
                 m < 50))
    c.command("vm-undefine", {"vm": name})


# ---------------------------------------------------------------------------
# (e), (f): consoles

KEEPER_NAP = 250e-6  # keeper/keeper.c's nap between reads while streaming
MiB = 1024 * 1024
DD_END = b"DD-END2"


def send_all(sock, data):
    sock.setblocking(True)
    sock.settimeout(30)
    sock.sendall(data)
    sock.setblocking(False)


def wait_shell(sock, seen=b"", timeout=120):
    """Wait for the Linux guest's banner on a raw console socket, then type
    a harmless command until the shell answers it."""
    sock.settimeout(timeout)
    buf = bytearray(seen)
    deadline = time.monotonic() + timeout
    while vmdtest.LINUX_BANNER not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise RuntimeError("console closed before the guest was up")
        buf += chunk
    for n in range(1000, 1000 + 60):
        sock.sendall(b"echo RDY$((%d+1))\n" % n)
        want = b"RDY%d" % (n + 1)
        step = time.monotonic() + 2
        sock.settimeout(0.5)
        while want not in buf and time.monotonic() < step:
            try:
                chunk = sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                raise RuntimeError("console closed")
            buf += chunk
        if want in buf:
            sock.setblocking(False)
            drain([sock], 0.3)
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError("the guest's shell does not answer")


def drain(socks, seconds):
    """Read and drop whatever comes within seconds (non-blocking sockets)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select(socks, [], [], end - time.monotonic())
        for s in r:
            try:
                s.recv(1 << 16)
            except BlockingIOError:
                pass


class RelayReader:
    """One reader of raw console bytes during a relay run: when the first
    zero arrived, when the end marker did, and how many zeros came."""

    def __init__(self, sock, nap=0.0):
        self.sock = sock
        self.nap = nap  # s to sleep after each read while bytes stream
        sock.setblocking(False)
        self.reset()

    def reset(self):
        self.first = self.end = None
        self.zeros = self.first_zeros = 0
        self.tail = b""

    def feed(self):
        try:
            chunk = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        now = time.perf_counter()
        if not chunk:
            raise RuntimeError("a console closed during a relay run")
        if self.end is not None:
            return  # the prompt after the run
        if self.nap:
            time.sleep(self.nap)
        z = chunk.count(b"\0")
        if self.first is None and z:
            self.first, self.first_zeros = now, z
        self.zeros += z
        hay = self.tail + chunk
        if DD_END in hay:
            self.end = now
        self.tail = hay[-16:]

    def rate(self):
        """MiB/s from the first chunk of zeros to the end marker."""
        return (self.zeros - self.first_zeros) / MiB / (self.end - self.first)


def relay_run(writer, readers, mib, timeout=600):
    """The guest writes mib MiB of zeros to ttyS0; every reader reads it
    all.  Returns the slowest reader's MiB/s."""
    for r in readers:
        r.reset()
    send_all(writer, b"dd if=/dev/zero bs=64k count=%d 2>/dev/null; "
             b"echo DD-END$((1+1))\n" % (mib * 16))
    socks = {r.sock: r for r in readers}
    deadline = time.monotonic() + timeout
    while any(r.end is None for r in readers):
        if time.monotonic() > deadline:
            raise RuntimeError("relay run: no end marker; zeros %s"
                               % [r.zeros for r in readers])
        ready, _, _ = select.select(list(socks), [], [], 1.0)
        for s in ready:
            socks[s].feed()
    drain(list(socks), 0.3)
    for r in readers:
        if r.zeros != mib * MiB:
            raise RuntimeError("relay run: a reader got %d zeros, not %d"
                               % (r.zeros, mib * MiB))
    return min(r.rate() for r in readers)


def start_bare(template, tmp, tag):
    """A bare QEMU from vmd's argv, its serial a socket we are connected
    to; returns (process, our socket, listening socket)."""
    path = os.path.join(tmp, "bare-%s.sock" % tag)
    if os.path.exists(path):
        os.unlink(path)
    lsock, conn = listening_pair(path)
    proc = subprocess.Popen(bare_argv(template, lsock.fileno()),
                            pass_fds=[lsock.fileno()],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, conn, lsock


def stop_bare(bare):
    proc, conn, lsock = bare
    proc.kill()
    proc.wait(30)
    conn.close()
    lsock.close()


def bench_console(vmd, c, tmp, mib, runs, rows):
    name = "bench-console"
    c.command("vm-define", {"config": vmdtest.linux_config(name)})
    c.command("vm-start", {"vm": name}, timeout=60)
    template = vmd_qemu_argv(c, name)
    writer = vmdtest.Console(vmd.socket, name)
    bare = start_bare(template, tmp, "linux")
    viewers = []
    try:
        wait_shell(writer.sock, bytes(writer.data))
        wait_shell(bare[1])
        w = RelayReader(writer.sock)
        b = RelayReader(bare[1])
        # the keeper naps 250 us between reads while output streams, so it
        # takes ~100 bytes per wakeup: the fair baseline does the same
        bn = RelayReader(bare[1], KEEPER_NAP)
        cases = []
        for n in (1, 10):
            while len(viewers) < n - 1:
                viewers.append(vmdtest.Console(vmd.socket, name, "ro"))
            if viewers:
                drain([v.sock for v in viewers], 0.3)
            readers = [w] + [RelayReader(v.sock) for v in viewers]
            vr, br, bnr = [], [], []
            for i in range(runs):  # interleaved
                br.append(relay_run(bare[1], [b], mib))
                bnr.append(relay_run(bare[1], [bn], mib))
                vr.append(relay_run(writer.sock, readers, mib))
            cases.append((n, statistics.median(vr), statistics.median(br),
                          statistics.median(bnr), vr))
    finally:
        stop_bare(bare)
        for v in viewers:
            v.close()
        writer.close()
    bare_all = statistics.median([b for _, _, b, _, _ in cases])
    napped_all = statistics.median([b for _, _, _, b, _ in cases])
    rows.append(("(e) console: bare QEMU's chardev socket, read directly",
                 "%.3f MiB/s" % bare_all, "reference", None))
    rows.append(("(e) the same, reader naps 250 us per read like the keeper",
                 "%.3f MiB/s" % napped_all, "fair reference", None))
    for n, v, b, bn, vs in cases:
        rows.append(("(e) console relay via vmd, %d viewer%s"
                     % (n, "s (slowest)" if n > 1 else ""),
                     "%.3f MiB/s = %.1f%% of napped direct, %.1f%% of direct"
                     " (%.3f / %.3f; range %.3f-%.3f)"
                     % (v, 100 * v / bn, 100 * v / b, bn, b, min(vs),
                        max(vs)),
                     ">= 90% of napped direct", v >= 0.9 * bn))
    c.command("vm-kill", {"vm": name})
    wait_state(c, name, "stopped")
    c.command("vm-undefine", {"vm": name})


def key_loop(sock, n):
    """n keystroke round trips on a raw console of the echoing boot-sector
    guest; per-key latencies in s (the first 50 not counted)."""
    sock.setblocking(True)
    sock.settimeout(10)
    lat = []
    perf = time.perf_counter
    for i in range(n + 50):
        t0 = perf()
        sock.sendall(b"x")
        if not sock.recv(64):
            raise RuntimeError("console closed")
        if i >= 50:
            lat.append(perf() - t0)
    return lat


def wait_for_bytes(sock, want, timeout=60):
    sock.settimeout(timeout)
    buf = b""
    while want not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("console closed before %r" % want)
        buf += chunk


def bench_keys(vmd, c, tmp, template, n, rows):
    name = "bench-keys"
    c.command("vm-define", {"config": bootsector_config(name)})
    c.command("vm-start", {"vm": name}, timeout=60)
    con = vmdtest.Console(vmd.socket, name)
    bare = start_bare(template, tmp, "keys")
    try:
        con.read_until(vmdtest.BOOT_BANNER, 60)
        wait_for_bytes(bare[1], vmdtest.BOOT_BANNER)
        lat_b = key_loop(bare[1], n)
        lat_v = key_loop(con.sock, n)
    finally:
        stop_bare(bare)
        con.close()
    rows.append(("(f) keystroke round trip, bare QEMU socket",
                 "p50 %.3f p99 %.3f ms" % (ms(pct(lat_b, 50)),
                                           ms(pct(lat_b, 99))),
                 "reference", None))
    rows.append(("(f) keystroke round trip via vmd (%d keys)" % n,
                 "p50 %.3f p99 %.3f ms" % (ms(pct(lat_v, 50)),
                                           ms(pct(lat_v, 99))),
                 "reported", None))
    c.command("vm-kill", {"vm": name})
    wait_state(c, name, "stopped")
    c.command("vm-undefine", {"vm": name})


def bootsector_template(c):
    """vmd's QEMU argv for the boot-sector guest under TCG."""
    name = "bench-template"
    c.command("vm-define", {"config": bootsector_config(name)})
    c.command("vm-start", {"vm": name}, timeout=60)
    template = vmd_qemu_argv(c, name)
    c.command("vm-kill", {"vm": name})
    wait_state(c, name, "stopped")
    c.command("vm-undefine", {"vm": name})
    return template


# ---------------------------------------------------------------------------

NOTES = [
    "(a) median of %d, interleaved; vmd: until a console client attached "
    "right after the" % ARGS.runs,
    "    start reply gets the first byte; bare: vmd's own QEMU argv without "
    "-S and QMP,",
    "    its serial socket connected before exec as vmd does.",
    "(b) bench/rtt (C, one poll loop, one request in flight per "
    "connection): query-status on",
    "    a paused bare QEMU's QMP socket (it serves one client) against "
    "vm-monitor query-status",
    "    through vmd to its paused guest's QEMU (vmd's cost as a proxy), "
    "and vm-show (vmd alone).",
    "(c) one client, one request at a time; each define is committed to "
    "SQLite before its reply.",
    "(d) from sending vm-kill until the VM_STATE event arrives; first run "
    "not counted.",
    "(e) the Linux test guest under TCG: `dd if=/dev/zero bs=64k` to ttyS0; "
    "rate from the first",
    "    zeros to the end marker at each reader (the slowest of 10 shown), "
    "median of %d runs of" % ARGS.console_runs,
    "    %d MiB; direct: a bare QEMU with vmd's argv for the guest, minus -S "
    "and QMP, its" % ARGS.console_mib,
    "    socket read by the same client; via vmd: QEMU -> vmd-keeper "
    "(journal) -> vmd -> viewers;",
    "    both guests up at once, runs interleaved; in brackets the direct "
    "rate of the runs beside",
    "    them and vmd's range.  The fair baseline's reader sleeps 250 us "
    "after each read, as",
    "    vmd-keeper does while output streams, so both take many bytes per "
    "wakeup.",
    "(f) one byte to the boot-sector guest (TCG) and its echo back, after "
    "50 not counted.",
]


def main():
    if missing((vmdtest.VMD, vmdtest.VMCTL, vmdtest.BOOTSECTOR, RTT),
               "vmd vmctl bench/rtt tests/guests/bootsector.img"):
        return 2
    return run_bench("", measure, NOTES, ARGS,
                     "Python client, C client (bench/rtt) for (b)")


def measure(vmd, c, tmp, host, rows):
    accels = ["tcg"] + (["kvm"] if host["accel"]["kvm_usable"] else [])
    only = ARGS.only
    template = None
    if "a" in only:
        for accel in accels:
            log("(a) boot under %s, %d runs" % (accel, ARGS.runs))
            t = bench_boot(vmd, c, tmp, accel, ARGS.runs, rows)
            template = template or t
        if "kvm" not in accels:
            rows.append(("(a) boot kvm", "not run: KVM not usable",
                         "-", None))
    if template is None and ("b" in only or "f" in only):
        template = bootsector_template(c)
    if "b" in only:
        log("(b) round trips, %.0f s each" % ARGS.rtt_seconds)
        bench_rtt(vmd, c, tmp, template, ARGS.rtt_seconds, rows)
    if "d" in only:
        log("(d) kill latency, %d runs" % ARGS.runs)
        bench_kill(vmd, c, ARGS.runs, rows)
    if "e" in only:
        log("(e) console relay, %d MiB x %d runs per case"
            % (ARGS.console_mib, ARGS.console_runs))
        bench_console(vmd, c, tmp, ARGS.console_mib, ARGS.console_runs,
                      rows)
    if "f" in only:
        log("(f) keystroke round trips, %d per side" % ARGS.keys)
        bench_keys(vmd, c, tmp, template, ARGS.keys, rows)
    if "c" in only:  # last: it leaves 10,000 definitions behind
        log("(c) %d definitions" % ARGS.vms)
        bench_scale(vmd, ARGS.vms, rows)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))
    sys.exit(main())
