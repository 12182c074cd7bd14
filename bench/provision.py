#!/usr/bin/python3
"""vmd's provisioning figures, measured on this machine in one run.

  (p) linked clones: vm-clone of a template whose disk is a 20 GiB sparse
      base, N in a row: the reply time of each (median, p99) and clones
      per second; the base's size must not matter (target < 20 ms);
  (q) full copies: volume-clone --full of a 1 GiB volume full of data
      against a bare `qemu-img convert` of the same file into the same
      pool, interleaved, median of N (target >= 95 % of bare);
  (r) apply: one spec-apply of 50 VMs made from one template, each with
      its own cloud-init block: time until all 50 are defined; then 10 of
      them started at once, time until each has printed the host name
      from its seed on its console (the Linux test guest under TCG).

Exit status: 0 when every target is met, 1 when one is missed
(--report-only: always 0), 2 when the benchmark could not run.

usage: provision.py --builddir DIR [--srcdir DIR] [--clones N] [--runs N]
                    [--copy-mib N] [--apply-vms N] [--boot-vms N]
                    [--only pqr] [--report-only]
"""

import os
import select
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def options(p):
    p.add_argument("--clones", type=int, default=100)
    p.add_argument("--runs", type=int, default=5,
                   help="copies per side for (q) (default 5)")
    p.add_argument("--copy-mib", type=int, default=1024)
    p.add_argument("--apply-vms", type=int, default=50)
    p.add_argument("--boot-vms", type=int, default=10)
    p.add_argument("--only", default="pqr")


sys.path.insert(0, HERE)
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, options)
import vmdtest  # noqa: E402
from vmdproto import Console  # noqa: E402
from vmdtest import linux_config  # noqa: E402
from benchlib import log, missing, ms, pct, run_bench  # noqa: E402

KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVtZC1iZW5jaC1rZXktMDAwMDAw"
       "MDAwMDAwMDAwMDAw bench@vmd")


def make_template(c, name, disk_size, kind):
    """A template VM whose one disk is a fresh volume of disk_size; kind
    "linux" boots the test kernel and initramfs, "empty" nothing."""
    c.command("volume-create", {"name": name + "-base", "size": disk_size,
                                "format": "raw"}, timeout=120)
    disks = [{"volume": name + "-base"}]
    if kind == "linux":
        cfg = linux_config(name, disks=disks, nics=[{"type": "user"}])
        cfg["boot"]["cmdline"] += " vmd.cidata"
    else:
        cfg = {"name": name, "disks": disks}
    c.command("vm-define", {"config": cfg})
    c.command("vm-template", {"vm": name})


def bench_clones(c, rows):
    make_template(c, "tpl20g", "20G", "empty")
    times = []
    for i in range(ARGS.clones):
        t0 = time.perf_counter()
        c.command("vm-clone", {"vm": "tpl20g", "name": "c%03d" % i},
                  timeout=60)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    rows.append(("(p) vm-clone, linked, 20 GiB base (median of %d)"
                 % len(times), "%.1f ms (p99 %.1f, max %.1f)"
                 % (ms(med), ms(pct(times, 99)), ms(max(times))),
                 "< 20 ms", ms(med) < 20))
    rows.append(("(p) linked clones per second, %d in a row" % len(times),
                 "%.0f/s" % (len(times) / sum(times)), "reported", None))


def data_file(path, mib):
    """mib MiB that are not zeros (qemu-img skips zeros), and not all
    alike: each MiB a different repeating block."""
    block = os.urandom(4096)
    with open(path, "wb") as f:
        for i in range(mib):
            f.write((block[i % 4096:] + block[:i % 4096]) * 256)


def timed(fn):
    os.sync()   # neither side pays for the other's dirty pages
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_copy(c, vmd, tmp, rows):
    src = os.path.join(tmp, "copy-src.raw")
    data_file(src, ARGS.copy_mib)
    os.chmod(tmp, 0o755)
    os.chmod(src, 0o644)   # volume-import opens it as the QEMU user
    c.command("volume-import", {"name": "src", "file": src,
                                "source_format": "raw", "format": "raw"},
              timeout=600)
    pool_file = c.command("volume-show", {"volume": "src"})["path"]
    bare_out = os.path.join(os.path.dirname(pool_file), "bare-copy.raw")
    bare_argv = ["qemu-img", "convert", "-f", "raw", "-O", "raw",
                 pool_file, bare_out]

    def vmd_copy():
        c.command("volume-clone", {"source": "src", "name": "copy",
                                   "mode": "full", "format": "raw"},
                  timeout=600)

    def bare_copy():
        subprocess.run(bare_argv, check=True, timeout=600)

    timed(bare_copy)   # warm the page cache, not counted
    os.unlink(bare_out)
    vmd_t, bare_t = [], []
    for _ in range(ARGS.runs):
        vmd_t.append(timed(vmd_copy))
        c.command("volume-delete", {"volume": "copy"})
        bare_t.append(timed(bare_copy))
        os.unlink(bare_out)
    mib = ARGS.copy_mib
    v, b = statistics.median(vmd_t), statistics.median(bare_t)
    rows.append(("(q) bare qemu-img convert, %d MiB raw -> raw" % mib,
                 "%.0f MiB/s (%.2f s)" % (mib / b, b), "reference", None))
    rows.append(("(q) vmd volume-clone --full, same file",
                 "%.0f MiB/s (%.2f s) = %.0f %% of bare"
                 % (mib / v, v, 100 * b / v), ">= 95 % of bare",
                 b / v >= 0.95))


def apply_spec(n):
    vms = []
    for i in range(n):
        name = "web%02d" % i
        vms.append({"name": name, "from_template": "tpllin",
                    "cloud_init": {"hostname": "host-" + name,
                                   "users": [{"name": "root",
                                              "ssh_authorized_keys": [KEY]}]}})
    return {"label": "bench=apply", "vms": vms}


def wait_hostnames(vmd, names, deadline):
    """perf_counter() at which each VM's console showed its seeded host
    name, read through console-attach (scrollback, then live)."""
    cons = {n: Console(vmd.socket, n) for n in names}
    seen = {}
    try:
        while len(seen) < len(cons) and time.monotonic() < deadline:
            wait = [con for n, con in cons.items() if n not in seen]
            ready, _, _ = select.select(wait, [], [], 1.0)
            now = time.perf_counter()
            for n, con in cons.items():
                if con not in ready:
                    continue
                con.read_some(0)
                if con.find(b"VMD-CIDATA hostname=host-" + n.encode()) >= 0:
                    seen[n] = now
    finally:
        for con in cons.values():
            con.close()
    if len(seen) < len(cons):
        raise RuntimeError("no seeded host name from %s"
                           % sorted(set(cons) - set(seen)))
    return seen


def bench_apply(c, vmd, rows):
    make_template(c, "tpllin", "64M", "linux")
    spec = apply_spec(ARGS.apply_vms)
    t0 = time.perf_counter()
    r = c.command("spec-apply", {"spec": spec}, timeout=600)
    t_def = time.perf_counter() - t0
    made = [a for a in r["actions"] if a["action"] == "create"]
    if len(made) != ARGS.apply_vms:
        raise RuntimeError("spec-apply created %d VMs, not %d"
                           % (len(made), ARGS.apply_vms))
    rows.append(("(r) spec-apply of %d VMs from a template, cloud-init"
                 % ARGS.apply_vms, "%.0f ms until all are defined"
                 % ms(t_def), "reported", None))
    names = [v["name"] for v in spec["vms"][:ARGS.boot_vms]]
    if not names:
        return
    t1 = time.perf_counter()
    for n in names:
        c.command("vm-start", {"vm": n}, timeout=120)
    seen = wait_hostnames(vmd, names, time.monotonic() + 600)
    last = max(seen.values()) - t1
    first = min(seen.values()) - t1
    rows.append(("(r) %d of them started at once, seeded host name on "
                 "the console" % len(names), "first %.1f s, all %.1f s"
                 % (first, last), "reported", None))
    for n in names:
        c.command("vm-kill", {"vm": n}, timeout=60)


NOTES = [
    "(p) one client, one vm-clone at a time, each committed to SQLite "
    "before its reply;",
    "    the base is a sparse 20 GiB raw volume: qemu-img writes only the "
    "overlay's header.",
    "(q) both copies read the volume's file in the pool (page cache warm) "
    "and write into",
    "    the same pool; interleaved, median of %d each, after a sync."
    % ARGS.runs,
    "(r) the Linux test guest under TCG on this machine's CPUs; its init "
    "mounts the cidata",
    "    CD-ROM and prints the host name it finds in meta-data.",
]


def main():
    if missing((vmdtest.VMD, vmdtest.VMCTL, vmdtest.INITRAMFS),
               "vmd vmctl tests/guests/initramfs.cpio.gz"):
        return 2
    return run_bench("prov", measure, NOTES, ARGS)


def measure(vmd, c, tmp, host, rows):
    if "p" in ARGS.only:
        log("(p) %d linked clones of a 20 GiB base" % ARGS.clones)
        bench_clones(c, rows)
    if "q" in ARGS.only:
        log("(q) full copies of %d MiB, %d runs" % (ARGS.copy_mib,
                                                    ARGS.runs))
        bench_copy(c, vmd, tmp, rows)
    if "r" in ARGS.only:
        log("(r) apply of %d VMs, %d booted" % (ARGS.apply_vms,
                                                ARGS.boot_vms))
        bench_apply(c, vmd, rows)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))
    sys.exit(main())
