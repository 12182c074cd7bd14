#!/usr/bin/env python3
"""vmd-gateway's websockets: 1,000 concurrent console viewers of one
boot-sector guest over TLS (each attached read-only through the gateway,
each its own vmd stream), one writer typing a known text: every viewer
must receive exactly the scrollback and the guest's echo, byte for byte.
Reports the time to attach them all and to deliver the text to all, and
the gateway's RSS; then the time from page load to the first console byte
of the console page in headless Chromium (median of a few loads).

Usage: gateway_ws.py --builddir DIR [--viewers 1000] [--bytes 16384]"""

import asyncio
from base64 import b64encode
import json
from os import path as osp
import os
from resource import RLIMIT_NOFILE, getrlimit, setrlimit
import ssl
from statistics import median
import struct
from subprocess import run as run_cmd
import sys
from tempfile import mkdtemp
import shutil
import time

HERE = osp.dirname(osp.abspath(__file__))


def options(p):
    for name, default in (("--viewers", 1000), ("--bytes", 16384),
                          ("--page-loads", 5)):
        p.add_argument(name, type=int, default=default)


sys.path.insert(0, HERE)
from benchlib import bench_args, log, print_table  # noqa: E402
ARGS = bench_args(__doc__, options)
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, Client, Vmd, bootsector_config  # noqa: E402
import gwtest  # noqa: E402
from wsclient import BINARY, TEXT, frame  # noqa: E402

WWW = os.path.join(ARGS.srcdir, "gateway", "www")
RSS_TARGET_MIB = 200       # 1,000 viewers: ~200 KiB each at most
MiB = 1024 * 1024


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


async def ws_open(port, path, token):
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx())
    key = b64encode(os.urandom(16)).decode()
    w.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n" % (path, port, key))
            .encode())
    head = await r.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise AssertionError("no upgrade: %r" % head[:200])
    w.write(frame(TEXT, token.encode()))
    return r, w


async def read_msg(r, w):
    """The next data message's payload (pings answered)."""
    while True:
        b0, b1 = await r.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await r.readexactly(8))[0]
        data = await r.readexactly(n)
        if b0 & 0x0F == 8:
            raise EOFError("closed: %r" % data)
        if b0 & 0x0F == 9:
            w.write(frame(10, data))
        if b0 & 0x0F in (1, 2, 0):
            return data


async def viewer(port, token, want, ready, results, i, opening):
    async with opening:   # this client's TLS handshakes, a few at a time
        r, w = await ws_open(port, "/api/v1/vms/bench/console?mode=ro",
                             token)
        got = b""
        while len(got) < len(BOOT_BANNER):
            got += await read_msg(r, w)
    try:
        ready.append(i)
        while len(got) < len(want):
            got += await read_msg(r, w)
        results[i] = (got == want, time.perf_counter())
    finally:
        w.close()


async def viewers_round(port, token, payload):
    want = BOOT_BANNER + payload.replace(b"\r", b"\r\n")
    ready, results = [], {}
    t0 = time.perf_counter()
    opening = asyncio.Semaphore(32)
    tasks = [asyncio.create_task(viewer(port, token, want, ready, results, i,
                                        opening))
             for i in range(ARGS.viewers)]
    while len(ready) < ARGS.viewers:
        if any(t.done() and t.exception() for t in tasks):
            raise [t.exception() for t in tasks
                   if t.done() and t.exception()][0]
        await asyncio.sleep(0.05)
    attached = time.perf_counter() - t0
    rss_attached = vmdtest.rss(GW.proc.pid)
    r, w = await ws_open(port, "/api/v1/vms/bench/console?mode=rw", token)
    t1 = time.perf_counter()
    for i in range(0, len(payload), 1024):
        w.write(frame(BINARY, payload[i:i + 1024]))
    await w.drain()
    await asyncio.wait_for(asyncio.gather(*tasks), 600)
    delivered = max(v[1] for v in results.values()) - t1
    w.close()
    exact = sum(1 for v in results.values() if v[0])
    return attached, delivered, exact, rss_attached


def page_first_byte(port, token, tmp):
    driver = os.path.join(ARGS.srcdir, "tests", "e2e", "console_page.js")
    url = "https://127.0.0.1:%d/console/bench#token=%s" % (port, token)
    opt = {"url": url, "chromium": "/usr/bin/chromium",
           "screenshot": os.path.join(tmp, "page.png"),
           "expect": BOOT_BANNER.decode().strip(), "timeoutMs": 60000}
    env = dict(os.environ, VMD_NODE_MODULES=os.path.join(
        ARGS.srcdir, "tests", "node", "node_modules"))
    p = run_cmd(["node", driver, json.dumps(opt)], env=env,
                       capture_output=True, timeout=120)
    if p.returncode:
        raise AssertionError(p.stderr.decode(errors="replace")[-2000:])
    return json.loads(p.stdout)["firstByteMs"]


def main():
    global GW
    hard = getrlimit(RLIMIT_NOFILE)[1]
    setrlimit(RLIMIT_NOFILE, (hard, hard))
    tmp = mkdtemp(prefix="vmd-bench-gw-")
    os.chmod(tmp, 0o711)
    gw_sock = os.path.join(tmp, "gateway.sock")
    n = str(ARGS.viewers + 100)
    vmd = Vmd(tmp, extra_args=["--gateway-socket", gw_sock,
                               "--gateway-socket-group", "nogroup",
                               "--max-clients", n,
                               "--max-clients-per-uid", n])
    GW = gwtest.Gateway(tmp, gw_sock, ["--www", WWW,
                                       "--max-connections", n])
    try:
        vmd.start()
        c = Client(vmd.socket)
        c.command("vm-define", {"config": bootsector_config("bench")})
        c.command("vm-start", {"vm": "bench"}, timeout=60)
        token = c.command("token-create", {"label": "bench",
                                           "scope": "admin"})["token"]
        GW.start()
        rss0 = vmdtest.rss(GW.proc.pid)
        payload = b"".join(b"%07d\r" % i for i in range(ARGS.bytes // 8))
        attached, delivered, exact, rss_on = asyncio.run(
            viewers_round(GW.port, token, payload))
        time.sleep(1)
        rss_after = vmdtest.rss(GW.proc.pid)
        firsts = [page_first_byte(GW.port, token, tmp)
                  for _ in range(ARGS.page_loads)]
        c.close()
    except Exception as e:
        log("failed: %s: %s" % (type(e).__name__, e))
        sys.stderr.write(GW.log()[-3000:] + vmd.log()[-3000:])
        return 2
    finally:
        GW.stop()
        vmd.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    v = ARGS.viewers
    rows = [
        ("%d websocket viewers attached (TLS, ro; 32 opening at a time)" % v,
         "%.2f s" % attached, "", None),
        ("%d bytes typed, echoed to all" % len(payload),
         "%.2f s" % delivered, "", None),
        ("viewers byte-exact", "%d of %d" % (exact, v), "all", exact == v),
        ("gateway RSS idle / %d viewers / after" % v,
         "%.1f / %.1f / %.1f MiB" % (rss0 / MiB, rss_on / MiB,
                                     rss_after / MiB),
         "< %d MiB" % RSS_TARGET_MIB, rss_on / MiB < RSS_TARGET_MIB),
        ("console page: load to first console byte (Chromium, median of %d)"
         % len(firsts), "%.0f ms" % median(firsts), "", None),
    ]
    print_table(["vmd-gateway websockets, %d CPUs" % os.cpu_count()], rows,
                ["each viewer is a TLS websocket and its own vmd stream; "
                 "the page figure is performance.now() at the first "
                 "message (from navigation start)"])
    missed = [r for r in rows if r[3] is False]
    print("all targets met" if not missed else
          "%d targets missed" % len(missed))
    return 1 if missed and not ARGS.report_only else 0


if __name__ == "__main__":
    sys.exit(main())
