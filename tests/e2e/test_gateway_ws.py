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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402
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


if __name__ == "__main__":
    vmdtest.main()
