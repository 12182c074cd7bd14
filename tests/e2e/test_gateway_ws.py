"""End-to-end: the gateway's websockets (gateway/ws.c, console.c) on the
boot-sector guest, which echoes every byte it gets.  The console both
ways byte for byte, plain and with Proxmox's termproxy framing; a
read-only token's typing dropped; a console token on another VM, a bad
Origin and a revoked token refused or closed; malformed, unmasked and
oversized frames closed with the right code; the event feed filtered by
the token's scope; and the gateway's descriptors back where they were."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, INITRAMFS, LINUX_BANNER,
                     bootsector_config, console_read_all, linux_config,
                     t)  # noqa: E402
import gwtest  # noqa: E402
from wsclient import BINARY, TEXT, Closed, WsClient, frame  # noqa: E402

POWEROFF_KEY = 0x1f   # tests/guests/bootsector.S: never type it
WWW = os.path.join(vmdtest.SRCDIR, "gateway", "www")
ALLOWED_ORIGIN = "https://panel.example"


def echoed(data):
    """What the boot-sector guest sends back for data (CR gets an LF)."""
    return data.replace(b"\r", b"\r\n")


class GatewayWsCase(gwtest.GatewayCase):
    """Two running boot-sector guests, web1 and web2, and a gateway."""

    gateway_args = ("--www", WWW, "--allow-origin", ALLOWED_ORIGIN)

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        for vm in ("web1", "web2"):
            self.c.command("vm-define", {"config": bootsector_config(vm)})
            self.c.command("vm-start", {"vm": vm}, timeout=t(60))

    def tok(self, scope):
        """A new token: token-create's return (token, id)."""
        return self.c.command("token-create", {"label": "t", "scope": scope})

    def ws(self, path, token=None, **kw):
        w = WsClient(self.gw.port, path, **kw)
        self.addCleanup(w.close)
        if token is not None:
            w.send(token, opcode=TEXT)
        return w

    def console(self, vm="web1", token=None, query="", **kw):
        w = self.ws("/api/v1/vms/%s/console%s" % (vm, query),
                    self.admin if token is None else token, **kw)
        self.assertEqual(w.status, 101)
        return w

    def test_console_byte_exact_both_ways(self):
        w = self.console()
        w.read_until(BOOT_BANNER, t(10))
        data = bytes(b for b in range(256) if b != POWEROFF_KEY) * 4 + \
            b"<end>\r"
        w.send(data)
        got = w.read_until(b"<end>\r\n", t(10))
        self.assertEqual(got, echoed(data))
        # a second viewer sees the scrollback: banner and echo, once each
        v = self.console(query="?mode=ro")
        back = v.read_until(echoed(data), t(10))
        self.assertEqual(back.count(BOOT_BANNER), 1)

    def test_token_in_header(self):
        w = self.ws("/api/v1/vms/web1/console",
                    headers={"Authorization": "Bearer " +
                             self.admin})
        w.read_until(BOOT_BANNER, t(10))
        w.send(b"hdr\r")
        w.read_until(b"hdr\r\n", t(10))

    def test_termproxy(self):
        w = self.ws("/api/v1/vms/web1/console", protocols=["binary"])
        self.assertEqual(w.protocol, "binary")
        # the ticket line, split over two messages, as a byte stream
        w.send(b"root@pam:" + self.admin[:10].encode())
        w.send(self.admin[10:].encode() + b"\n")
        self.assertEqual(w.recv()[1][:2], b"OK")
        w.read_until(BOOT_BANNER, t(10))
        msg = "héllo\r".encode()
        # data, a resize and pings in one message; data split in another
        w.send(b"0:%d:%s1:80:24:22" % (len(msg), msg))
        w.send(b"0:4:ab")
        w.send(b"c\r")
        got = w.read_until(b"abc\r\n", t(10))
        self.assertIn(echoed(msg) + b"abc\r\n", got)
        w.send(b"0:x:")
        self.assertEqual(w.close_code(), 1008)

    def test_termproxy_bad_ticket(self):
        w = self.ws("/api/v1/vms/web1/console", protocols=["termproxy"])
        w.send(b"root@pam:vmd_0000000000000000_" + b"ab" * 32 + b"\n")
        self.assertEqual(w.close_code(), 1008)

    def test_read_only_typing_dropped(self):
        ro = self.tok("read")
        v = self.console(token=ro["token"])
        v.read_until(BOOT_BANNER, t(10))
        w = self.console()
        w.read_until(BOOT_BANNER, t(10))
        v.send(b"SHOULD-NOT\r")
        w.send(b"writer-ok\r")
        got = w.read_until(b"writer-ok\r\n", t(10))
        self.assertNotIn(b"SHOULD-NOT", got)
        self.assertNotIn(b"SHOULD-NOT", v.read_until(b"writer-ok\r\n", t(10)))

    def test_read_only_fallback_said(self):
        """A console that attached read-only though the client did not ask
        for it says so first, in one text message; one that got what it
        asked for, and termproxy's, send console bytes only."""
        ro = self.tok("read")
        v = self.console(token=ro["token"])
        op, msg = v.recv()
        self.assertEqual(op, TEXT)
        said = json.loads(msg)
        self.assertEqual(said["mode"], "ro")
        self.assertTrue(said["reason"].startswith("PermissionDenied: "), said)
        v.read_until(BOOT_BANNER, t(10))
        w = self.console()   # the writer
        self.assertEqual(w.recv()[0], BINARY)
        other = self.console()
        op, msg = other.recv()
        self.assertEqual(op, TEXT)
        self.assertEqual(json.loads(msg)["mode"], "ro")
        self.assertTrue(json.loads(msg)["reason"].startswith("Busy: "), msg)
        asked = self.console(query="?mode=ro")
        self.assertEqual(asked.recv()[0], BINARY)
        tp = self.ws("/api/v1/vms/web1/console", protocols=["termproxy"])
        tp.send(b"u@pam:" + self.admin.encode() + b"\n")
        got = tp.read_until(BOOT_BANNER, t(10))
        self.assertTrue(got.startswith(b"OK"), got[:40])
        self.assertNotIn(b'"mode"', got)

    def test_console_token_on_other_vm(self):
        tok = self.tok([{"vm": "web1", "allow": ["console"]}])
        w = self.console("web2", tok["token"])
        with self.assertRaises(Closed) as cm:
            w.recv()
        self.assertEqual(cm.exception.code, 1008)
        self.assertIn("PermissionDenied", cm.exception.reason)
        ok = self.console("web1", tok["token"])
        ok.read_until(BOOT_BANNER, t(10))

    def test_revoked_token_closes(self):
        tok = self.tok([{"vm": "web1", "allow": ["console"]}])
        w = self.console(token=tok["token"])
        w.read_until(BOOT_BANNER, t(10))
        ev = self.ws("/api/v1/events", tok["token"])
        self.assertEqual(json.loads(ev.recv()[1]), {"return": {}})
        self.c.command("token-revoke", {"id": tok["id"]})
        got = w.read_until(b"revoked", t(10))
        self.assertIn(b"console closed", got)
        self.assertEqual(w.close_code(), 1000)
        self.assertEqual(ev.close_code(), 1000)
        # and it opens nothing new
        again = self.console(token=tok["token"])
        self.assertEqual(again.close_code(), 1008)

    def test_token_guessing_refused_per_address(self):
        """Failed tokens on websockets count against the client's address
        as REST's do: a guessing address is refused at the upgrade (403,
        Retry-After) before it spends vmd's allowance; others go on."""
        for i in range(5):
            w = self.ws("/api/v1/vms/web1/console",
                        "vmd_%016x_%s" % (i, "cd" * 32), source="127.0.0.3")
            self.assertEqual((w.status, w.close_code()), (101, 1008))
        w = WsClient(self.gw.port, "/api/v1/vms/web1/console",
                     source="127.0.0.3")
        self.addCleanup(w.close)
        self.assertEqual(w.status, 403)
        self.assertTrue(w.headers.get("retry-after"))
        self.console().read_until(BOOT_BANNER, t(10))

    def test_origin(self):
        bad = WsClient(self.gw.port, "/api/v1/vms/web1/console",
                       origin="https://evil.example")
        self.assertEqual(bad.status, 403)
        bad.close()
        own = "https://127.0.0.1:%d" % self.gw.port
        for origin in (own, ALLOWED_ORIGIN):
            w = self.console(origin=origin, query="?mode=ro")
            w.read_until(BOOT_BANNER, t(10))

    def test_no_token_in_time(self):
        w = self.ws("/api/v1/vms/web1/console")
        self.assertEqual(w.close_code(t(20)), 1008)

    def test_bad_frames(self):
        cases = [
            (frame(BINARY, b"x", mask=False), 1002),          # unmasked
            (frame(BINARY, bytes(100), length=70000), 1009),  # too big
            (bytes([0x83, 0x80]) + os.urandom(4), 1002),     # opcode 3
            # a long ping: wslay closes with no status code (None)
            (frame(9, b"p" * 126), None),
            (frame(BINARY, b"a", fin=False) + frame(TEXT, b"b"), 1002),
        ]
        for raw, code in cases:
            w = self.console()
            w.read_until(BOOT_BANNER, t(10))
            w.send_raw(raw)
            self.assertEqual(w.close_code(), code, raw[:4])
            self.assertEqual(w.sock.recv(1), b"")   # and hung up
        # a fragmented message whose parts together are too big
        w = self.console()
        w.send(b"x" * 40000, fin=False)
        w.send(b"x" * 40000, opcode=0)
        self.assertEqual(w.close_code(), 1009)

    def test_not_an_upgrade(self):
        import http.client
        import ssl
        ctx = ssl._create_unverified_context()
        h = http.client.HTTPSConnection("127.0.0.1", self.gw.port,
                                        context=ctx, timeout=10)
        h.request("GET", "/api/v1/vms/web1/console")
        self.assertEqual(h.getresponse().status, 400)
        h.close()
        w = WsClient(self.gw.port, "/api/v1/vms/web1/console",
                     headers={"X-Dummy": "1"})
        self.assertEqual(w.status, 101)
        w.close()

    def test_events_scoped(self):
        tok = self.tok([{"vm": "web2", "allow": ["show", "power"]}])
        ev = self.ws("/api/v1/events", tok["token"], protocols=["vmd-events"])
        self.assertEqual(ev.protocol, "vmd-events")
        adm = self.ws("/api/v1/events", self.admin)
        for w in (ev, adm):   # both negotiated before the events
            self.assertEqual(json.loads(w.recv()[1]), {"return": {}})
        for vm in ("web1", "web2"):
            self.c.command("vm-kill", {"vm": vm}, timeout=t(30))
        seen = {}
        for w, key in ((adm, "admin"), (ev, "scoped")):
            w.sock.settimeout(t(10))
            vms = set()
            while len(vms) < (2 if key == "admin" else 1):
                op, msg = w.recv()
                self.assertEqual(op, TEXT)
                e = json.loads(msg)
                if e.get("event") == "VM_STATE":
                    vms.add(e["data"]["vm"])
            seen[key] = vms
        self.assertEqual(seen["admin"], {"web1", "web2"})
        self.assertEqual(seen["scoped"], {"web2"})
        # nothing about web1 reaches the scoped feed
        ev.sock.settimeout(1)
        with self.assertRaises(OSError):
            while True:
                self.assertNotIn(b"web1", ev.recv()[1])

    def test_fds_back(self):
        before = self.gw.fd_count()
        ws = [self.console(query="?mode=ro") for _ in range(20)]
        for w in ws:
            w.read_until(BOOT_BANNER, t(10))
        self.assertGreaterEqual(self.gw.fd_count(), before + 40)
        for w in ws:
            w.close()
        bad = [self.ws("/api/v1/vms/web1/console") for _ in range(5)]
        for w in bad:
            w.send_raw(frame(BINARY, b"x", mask=False))
            w.close_code()
            w.close()
        self.wait_for(lambda: self.gw.fd_count() == before, t(10),
                      "the gateway's descriptors back to %d" % before)


class ConsoleFloodTest(gwtest.GatewayCase):
    """A Linux guest prints ~8 MiB (seq, 0.2 to 0.45 MiB/s under TCG) to
    two websocket viewers: one reads everything, the other never reads
    (a small SO_RCVBUF).  The reader gets every byte the log has; the
    gateway stops reading vmd's stream for the stalled one at WS_OUT_HIGH
    unsent, so its RSS stays flat while vmd drops that viewer once 4 MiB
    wait for it, and the gateway then closes the websocket."""

    RSS_SLACK = 4 << 20   # far below the flood: the gateway holds ~300 KiB
    LINES = 1000000       # seq 1 1000000: 7.9 MB as the tty sends it

    def read_until(self, w, data, want, timeout, on_msg=None):
        """Appends w's console bytes to data until want is in its tail."""
        end = time.monotonic() + timeout
        start = len(data)
        while want not in data[max(start, len(data) - 65536 - len(want)):]:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r in %r" % (want, bytes(data[-300:])))
            w.sock.settimeout(left)
            data += w.recv()[1]
            if on_msg:
                on_msg()

    def attached(self, vm):
        return self.c.command("vm-show", {"vm": vm})["ports"][0]["viewers"]

    def test_stalled_viewer_bounded(self):
        vmdtest.require_guests(INITRAMFS)
        self.c.command("vm-define", {"config": linux_config(
            "flood", serial=[{"type": "console", "log_kib": 65536}])})
        self.c.command("vm-start", {"vm": "flood"}, timeout=t(60))
        fds = self.gw.fd_count()
        reader = WsClient(self.gw.port, "/api/v1/vms/flood/console")
        self.addCleanup(reader.close)
        reader.send(self.admin, opcode=TEXT)
        got = bytearray()
        self.read_until(reader, got, LINUX_BANNER, t(90))
        for n in range(1, 21):   # until the shell reads its terminal
            reader.send(b"echo R$((%d+1))DY\n" % n)
            try:
                self.read_until(reader, got, b"R%dDY" % (n + 1), t(5))
                break
            except TimeoutError:
                pass
        else:
            self.fail("the guest's shell does not answer")
        stalled = WsClient(self.gw.port, "/api/v1/vms/flood/console?mode=ro",
                           rcvbuf=4096)
        self.addCleanup(stalled.close)
        stalled.send(self.admin, opcode=TEXT)
        self.wait_for(lambda: self.attached("flood") == 2, t(10),
                      "both viewers attached")
        idle = peak = self.gw.rss()

        def sample():
            nonlocal peak
            peak = max(peak, self.gw.rss())
        reader.send(b"seq 1 %d; echo FLOOD-$((6*7))\n" % self.LINES)
        self.read_until(reader, got, b"FLOOD-42", t(180), sample)
        sample()
        try:   # and the prompt after it, until the guest is quiet
            while True:
                self.read_until(reader, got, b"\0", 2)
        except TimeoutError:
            pass
        # the reader: every byte, as the log has them
        log, first, last = console_read_all(self.c, "flood")
        self.assertEqual(last["end"] - first, len(log))
        self.assertGreater(len(got), 7 << 20)
        self.assertEqual(bytes(got), log[len(log) - len(got):],
                         "the reader's bytes are not the log's")
        self.assertIn(b"\r\n999999\r\n1000000\r\nFLOOD-42", got)
        # the stalled viewer: dropped by vmd, its websocket closed, and
        # meanwhile the gateway held little for it
        self.wait_for(lambda: self.attached("flood") == 1, t(10),
                      "vmd to drop the viewer that never reads")
        self.wait_for(lambda: self.gw.fd_count() == fds + 2, t(10),
                      "the stalled websocket closed by the gateway")
        if not vmdtest.sanitized():  # ASan's RSS says nothing about buffers
            self.assertLess(peak - idle, self.RSS_SLACK,
                            "the gateway's RSS grew from %d to %d KiB"
                            % (idle >> 10, peak >> 10))
        print("\nflood: %d bytes; gateway RSS idle %d KiB, peak %d KiB"
              % (len(got), idle >> 10, peak >> 10))
        reader.close()
        stalled.close()
        self.wait_for(lambda: self.gw.fd_count() == fds, t(10),
                      "the gateway's descriptors back to %d" % fds)


if __name__ == "__main__":
    vmdtest.main()
