"""Helpers shared by vmd's benchmarks (bench.py and the provisioning one): timing and
percentiles, a fast line client, the machine description and the result
table."""

import argparse
import json
import os
import platform
import socket
import shutil
import statistics
import subprocess
import sys
import tempfile


def bench_args(doc, options):
    """The command line of a benchmark: --builddir, --srcdir, what
    options(parser) adds, --report-only.  Points the test harness (VMD_*
    and tests/e2e on sys.path) at the build, as make check does."""
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--builddir", required=True)
    p.add_argument("--srcdir", default=os.path.dirname(here))
    options(p)
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 even when a target is missed")
    args = p.parse_args()
    os.environ["VMD_BUILDDIR"] = os.path.abspath(args.builddir)
    os.environ["VMD_SRCDIR"] = os.path.abspath(args.srcdir)
    sys.path.insert(0, os.path.join(os.path.abspath(args.srcdir), "tests",
                                    "e2e"))
    return args


def ms(seconds):
    return seconds * 1000.0


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# small fast clients: the same code measures vmd and bare QEMU

class LineClient:
    """Request/response over a unix socket where every reply is one line.
    Events (QMP-shaped) are skipped.  No JSON parsing on the hot path."""

    def __init__(self, path=None, sock=None):
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(30)
            sock.connect(path)
        self.sock = sock
        self.sock.settimeout(30)
        self.buf = b""

    def line(self):
        i = self.buf.find(b"\n")
        if i >= 0:
            out, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            return out
        # A big reply (vm-list of 10,000 VMs) comes in many reads: keep the
        # pieces and look for the newline only in each new one, so the
        # client's cost stays linear and out of the measurement.
        parts = [self.buf]
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed")
            i = chunk.find(b"\n")
            if i >= 0:
                parts.append(chunk[:i + 1])
                self.buf = chunk[i + 1:]
                return b"".join(parts)
            parts.append(chunk)

    def reply(self):
        while True:
            ln = self.line()
            if not ln.startswith(b'{"event"'):
                return ln

    def call(self, req):
        self.sock.sendall(req)
        return self.reply()

    def close(self):
        self.sock.close()


def qmp_handshake(lc):
    greeting = json.loads(lc.line())
    assert "QMP" in greeting, greeting
    r = json.loads(lc.call(b'{"execute": "qmp_capabilities"}\n'))
    assert "return" in r, r


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def median_ms(samples):
    return ms(statistics.median(samples))


def machine_info(host, state_dir, clients="Python client"):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    fs = subprocess.run(["df", "-T", state_dir], capture_output=True,
                        text=True).stdout.splitlines()[-1].split()[1]
    return [
        "host: %s, %d CPUs, Linux %s" % (cpu, os.cpu_count(),
                                        platform.release()),
        "vmd %s, QEMU %s (%s)" % (host["version"], host["qemu"]["version"],
                                  host["qemu"]["binary"]),
        "accel verdict: %s (%s)" % (host["accel"]["verdict"],
                                    host["accel"]["reason"]),
        "state dir on %s; %s; one run, same machine" % (fs, clients),
    ]


def measured_notes(notes, only):
    """The notes of the measurements in only: a note "(x) ..." and the
    indented lines after it belong to measurement x."""
    out, letter = [], None
    for note in notes:
        if note.startswith("("):
            letter = note[1]
        if letter in only:
            out.append(note)
    return out


def print_table(info, rows, notes):
    """rows: (measurement, result, target, ok) with ok None for no target;
    notes: the lines printed under the table."""
    print("vmd benchmark")
    for line in info:
        print("  " + line)
    print()
    head = ("measurement", "result", "target", "")
    body = [(a, b, c, "" if ok is None else ("PASS" if ok else "MISS"))
            for a, b, c, ok in rows]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(4)]
    for r in [head] + body:
        print("  ".join(r[i].ljust(widths[i]) for i in range(4)).rstrip())
    print()
    for note in notes:
        print("  " + note)
    print()


def missing(paths, hint):
    """Whether a file a bench needs is not built (then logged, with the
    make targets that build them)."""
    for p in paths:
        if not os.path.exists(p):
            log("missing %s (make %s)" % (p, hint))
            return True
    return False


def run_bench(name, measure, notes, args, clients="Python client"):
    """One vmd on a scratch directory; measure(vmd, client, tmp, host,
    rows) appends rows (measurement, result, target, ok).  Prints the
    table, the notes of what ran and the verdict; the exit status: 0 all
    targets met (or --report-only), 1 one missed, 2 the bench failed."""
    from vmdtest import Client, Vmd
    tmp = tempfile.mkdtemp(prefix="vmd-bench-%s-" % name)
    vmd = Vmd(tmp)
    rows = []
    try:
        vmd.start()
        c = Client(vmd.socket)
        host = c.command("query-host", timeout=120)
        info = machine_info(host, tmp, clients)
        measure(vmd, c, tmp, host, rows)
        c.close()
    except Exception as e:
        log("failed: %s: %s" % (type(e).__name__, e))
        sys.stderr.write(vmd.log()[-5000:])
        return 2
    finally:
        vmd.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(info, rows, measured_notes(notes, args.only))
    missed = [r for r in rows if r[3] is False]
    if missed:
        print("%d of %d targets missed" % (
            len(missed), sum(r[3] is not None for r in rows)))
    else:
        print("all targets met")
    sys.stdout.flush()
    return 1 if missed and not args.report_only else 0
