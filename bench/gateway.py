#!/usr/bin/python3
"""vmd-gateway's figures, measured on this machine in one run.

  (g) REST GET /api/v1/vms/{name} from one keep-alive HTTPS client (TLS,
      a bearer token checked by vmd on every call) against vm-show on
      vmd's unix socket from one client: round trips per second and p99
      of each, interleaved in rounds (targets: >= 50 % of the socket's
      rate, p99 < 2 ms).

Exit status: 0 when every target is met, 1 when one is missed
(--report-only: always 0), 2 when the benchmark could not run.

usage: gateway.py --builddir DIR [--srcdir DIR] [--calls N] [--rounds N]
                  [--only g] [--report-only]
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def options(p):
    p.add_argument("--calls", type=int, default=3000,
                   help="round trips per side and round (default 3000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="g")
    p.add_argument("--c-seconds", type=float, default=3.0,
                   help="seconds per side for the C clients (default 3)")


sys.path.insert(0, HERE)
from benchlib import bench_args  # noqa: E402
ARGS = bench_args(__doc__, options)
import vmdtest  # noqa: E402
from vmdproto import Client  # noqa: E402
from gwtest import GATEWAY, Gateway  # noqa: E402
from benchlib import (LineClient, log, missing, ms, pct,  # noqa: E402
                      qmp_handshake, run_bench)

VM = "web1"
RTT = os.path.join(os.path.abspath(ARGS.builddir), "bench", "rtt")
HTTPS_RTT = os.path.join(os.path.abspath(ARGS.builddir), "bench", "https_rtt")


class HttpsClient:
    """One keep-alive HTTPS connection sending the same GET; reads each
    response by its Content-Length.  No HTTP library on the hot path."""

    def __init__(self, gw, path, token):
        raw = socket.create_connection(("127.0.0.1", gw.port), 30)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = gw.tls_context().wrap_socket(raw, server_hostname="localhost")
        self.req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
                    "Bearer %s\r\n\r\n" % (path, token)).encode()
        self.buf = b""

    def call(self):
        self.sock.sendall(self.req)
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError("gateway: %r" % head[:200])
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(self.buf) < length:
            self.more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return body

    def more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("gateway closed the connection")
        self.buf += chunk

    def close(self):
        self.sock.close()


def cpu_seconds(pid):
    """User and system time of pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def c_client(argv):
    out = subprocess.run(argv, capture_output=True, timeout=60 + ARGS.c_seconds)
    if out.returncode:
        raise RuntimeError("%s: %s" % (argv[0], out.stderr.decode(
            errors="replace")))
    return json.loads(out.stdout)


def equal_clients(vmd, gw, token):
    """The same GET and vm-show from equal C clients (bench/https_rtt,
    bench/rtt: one connection, one call in flight), interleaved in rounds:
    their (socket, REST) figures, summed over the rounds."""
    req = '{"execute": "vm-show", "arguments": {"vm": "%s"}}' % VM
    sides = ([RTT, vmd.socket, None, "1", req],
             [HTTPS_RTT, str(gw.port), None, "/api/v1/vms/" + VM, token])
    total = [{"calls": 0, "seconds": 0.0, "p99_ms": 0.0} for _ in sides]
    for _ in range(ARGS.rounds):
        for argv, tot in zip(sides, total):
            argv[2] = str(ARGS.c_seconds / ARGS.rounds)
            r = c_client(argv)
            tot["calls"] += r["calls"]
            tot["seconds"] += r["seconds"]
            tot["p99_ms"] = max(tot["p99_ms"], r["p99_ms"])
    for tot in total:
        tot["rate"] = tot["calls"] / tot["seconds"]
    return total


def bench_rest(vmd, tmp, rows):
    os.chmod(tmp, 0o711)  # the gateway, as nobody, reaches its socket
    gw_sock = os.path.join(tmp, "gateway.sock")
    vmd.stop()
    vmd.extra_args += ["--gateway-socket", gw_sock, "--gateway-socket-group",
                       "nogroup"]
    vmd.start()
    c = Client(vmd.socket)
    c.command("vm-define", {"config": vmdtest.bootsector_config(VM)})
    token = c.command("token-create", {"label": "bench", "scope": "admin"})["token"]
    gw = Gateway(tmp, gw_sock)
    gw.start()
    try:
        https = HttpsClient(gw, "/api/v1/vms/" + VM, token)
        unix = LineClient(vmd.socket)
        qmp_handshake(unix)
        req = b'{"execute": "vm-show", "arguments": {"vm": "%s"}}\n' % VM.encode()
        show = lambda: unix.call(req)  # noqa: E731
        timed(https.call, 200)  # warm up: TLS, the pool's connections
        timed(show, 200)
        rest, sock, gw_cpu, vmd_rest, vmd_sock = [], [], 0.0, 0.0, 0.0
        for _ in range(ARGS.rounds):
            cpu0, vcpu0 = cpu_seconds(gw.proc.pid), cpu_seconds(vmd.proc.pid)
            rest += timed(https.call, ARGS.calls)
            gw_cpu += cpu_seconds(gw.proc.pid) - cpu0
            vcpu1 = cpu_seconds(vmd.proc.pid)
            vmd_rest += vcpu1 - vcpu0
            sock += timed(show, ARGS.calls)
            vmd_sock += cpu_seconds(vmd.proc.pid) - vcpu1
        rss = gw.rss()
        https.close()
        unix.close()
        c_sock, c_rest = equal_clients(vmd, gw, token)
    finally:
        gw.stop()
        c.close()
    rest_rate, sock_rate = len(rest) / sum(rest), len(sock) / sum(sock)
    share = rest_rate / sock_rate
    rows.append(("(g) vm-show on the unix socket", "%.0f/s, p99 %.2f ms"
                 % (sock_rate, ms(pct(sock, 99))), "reference", None))
    rows.append(("(g) REST GET /api/v1/vms/{name}, keep-alive TLS",
                 "%.0f/s (%.0f %%)" % (rest_rate, share * 100), ">= 50 %",
                 share >= 0.5))
    rows.append(("(g) REST p99", "%.2f ms" % ms(pct(rest, 99)), "< 2 ms",
                 ms(pct(rest, 99)) < 2.0))
    share = c_rest["rate"] / c_sock["rate"]
    rows.append(("(g) C client: vm-show on the unix socket", "%.0f/s, p99 "
                 "%.2f ms" % (c_sock["rate"], c_sock["p99_ms"]), "reference",
                 None))
    rows.append(("(g) C client: REST GET, keep-alive TLS", "%.0f/s (%.0f %%), "
                 "p99 %.2f ms" % (c_rest["rate"], share * 100,
                                  c_rest["p99_ms"]), ">= 50 %", share >= 0.5))
    rows.append(("(g) vmd CPU per call: REST (token) / socket", "%.0f us / "
                 "%.0f us" % (vmd_rest / len(rest) * 1e6,
                              vmd_sock / len(sock) * 1e6), "reported", None))
    rows.append(("(g) gateway CPU per REST call, RSS after", "%.0f us, %d KiB"
                 % (gw_cpu / len(rest) * 1e6, rss >> 10), "reported", None))


NOTES = [
    "(g) one Python client each, round trips one after another; %d rounds "
    "of %d calls," % (ARGS.rounds, ARGS.calls),
    "    the two sides interleaved; the REST calls carry an admin token "
    "that vmd checks each time.",
    "    The C client rows: bench/rtt and bench/https_rtt, one connection "
    "each, %g s per side in %d rounds." % (ARGS.c_seconds, ARGS.rounds),
]


def main():
    if missing((vmdtest.VMD, GATEWAY, RTT, HTTPS_RTT),
               "vmd vmd-gateway bench/rtt bench/https_rtt"):
        return 2
    return run_bench("gateway", measure, NOTES, ARGS)


def measure(vmd, c, tmp, host, rows):
    if "g" in ARGS.only:
        log("(g) REST vs socket, %d x %d calls" % (ARGS.rounds, ARGS.calls))
        c.close()
        bench_rest(vmd, tmp, rows)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(2))
    sys.exit(main())
