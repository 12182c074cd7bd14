#!/usr/bin/python3
"""Boot time of foreign-architecture guests: vmd against a bare QEMU.

For each arch (aarch64, s390x): Debian 12's kernel for it with the busybox
test initramfs (tests/guests/mkforeign.sh), under TCG.  Measured: from
vm-start to the shell's first prompt on the console through vmd, and the
same guest started by a bare qemu-system-ARCH command with vmd's own
options (bench/bare.py), its serial port on a socket of ours; interleaved,
median of N each.  Target: vmd within 10 % (plus 0.3 s) of bare QEMU.

Exit status: 0 when every target is met, 1 when one is missed
(--report-only: always 0), 2 when the benchmark could not run.

usage: arch.py --builddir DIR [--srcdir DIR] [--runs N] [--arches A,B]
               [--report-only]
"""

import os
import select
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = b"guest# "


def options(p):
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--arches", default="aarch64,s390x")


sys.path.insert(0, HERE)
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, options)
ARGS.only = "a"
from vmdproto import Console  # noqa: E402
from benchlib import log, run_bench  # noqa: E402
from bare import bare_argv, listening_pair, vmd_qemu_argv  # noqa: E402
from test_foreign import foreign_guest  # noqa: E402

NOTES = ["(a) TCG on this machine's CPUs; time from vm-start (vmd) or from "
         "spawning QEMU (bare)",
         "    to the first shell prompt on serial port 0; interleaved, "
         "median of %d each." % ARGS.runs]


def read_until(sock, pattern, timeout):
    """perf_counter() when pattern arrived on sock."""
    data = b""
    deadline = time.monotonic() + timeout
    while pattern not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            raise RuntimeError("no %r within %d s" % (pattern, timeout))
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("console closed before %r" % pattern)
        data += chunk
    return time.perf_counter()


def vmd_boot(c, vmd, name):
    """Seconds from vm-start to the prompt; the guest's QEMU argv."""
    t0 = time.perf_counter()
    c.command("vm-start", {"vm": name}, timeout=120)
    con = Console(vmd.socket, name)   # scrollback: nothing is missed
    try:
        con.read_until(PROMPT, 120)
        t1 = time.perf_counter()
        argv = vmd_qemu_argv(c, name)
    finally:
        con.close()
    c.command("vm-kill", {"vm": name}, timeout=60)
    return t1 - t0, argv


def bare_boot(template, tmp):
    path = os.path.join(tmp, "bare-arch.sock")
    if os.path.exists(path):
        os.unlink(path)
    lsock, conn = listening_pair(path)
    t0 = time.perf_counter()
    proc = subprocess.Popen(bare_argv(template, lsock.fileno()),
                            pass_fds=[lsock.fileno()],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        return read_until(conn, PROMPT, 120) - t0
    finally:
        proc.kill()
        proc.wait(30)
        conn.close()
        lsock.close()


def bench_arch(vmd, c, tmp, host, arch, rows):
    emus = {e["arch"]: e for e in host["emulators"]}
    kernel, initrd = foreign_guest(arch)
    c.command("vm-define", {"config": {
        "name": arch, "arch": arch, "memory_mib": 256,
        "boot": {"kernel": kernel, "initrd": initrd,
                 "cmdline": "console=%s quiet panic=-1"
                 % emus[arch]["console"]}}})
    ours, bare = [], []
    for _ in range(ARGS.runs):
        s, template = vmd_boot(c, vmd, arch)
        ours.append(s)
        bare.append(bare_boot(template, tmp))
    o, b = statistics.median(ours), statistics.median(bare)
    log("%s: vmd %s, bare %s" % (arch, ["%.2f" % x for x in ours],
                                 ["%.2f" % x for x in bare]))
    rows.append(("%s boot to shell, vmd" % arch, "%.2f s" % o,
                 "<= bare x 1.1 + 0.3 s", o <= b * 1.1 + 0.3))
    rows.append(("%s boot to shell, bare QEMU" % arch, "%.2f s" % b, "",
                 None))


def measure(vmd, c, tmp, host, rows):
    for arch in ARGS.arches.split(","):
        log("(a) %s, %d runs each" % (arch, ARGS.runs))
        bench_arch(vmd, c, tmp, host, arch, rows)


def main():
    return run_bench("arch", measure, NOTES, ARGS)


if __name__ == "__main__":
    sys.exit(main())
