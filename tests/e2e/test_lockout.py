"""End-to-end: a read-only user cannot lock root or vmd-admin out (issue 9).

A member of group vmd (vmdt-reader) opens connections until vmd refuses
one: it gets at most --max-clients-per-uid of them, on all sockets
together, and never the last --admin-reserve places; the refusal is Busy
and names the limit; root and a vmd-admin member still connect and list.
On --gateway-socket, --max-gateway-clients bounds the connections instead.

The users are those of test_access.py, made if missing and left in place
(another test file may be using them).  The hostile user is a forked
child that drops to vmdt-reader: SO_PEERCRED sees its uid and groups."""

import json
import os
import pwd
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import ProtocolError, t  # noqa: E402

def first_message(s):
    """vmd's first message on s (greeting, reply or refusal), or None when
    it closed without one."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data.split(b"\n")[0])


def _open_until_refused(path, jsonrpc, most):
    """In the child, as vmdt-reader: connections until one is refused (or
    `most`); each is used once, so the handshake deadline does not end it."""
    socks = []
    for _ in range(most):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        if jsonrpc:
            try:
                s.sendall(b'{"jsonrpc": "2.0", "method": "vm-list", "id": 1}')
            except (BrokenPipeError, ConnectionResetError):
                pass   # vmd refused and closed first: its refusal is queued
        msg = first_message(s)
        if msg is None or "error" in msg:
            return socks, msg
        socks.append(s)
    return socks, None


class HostileReader:
    """A child process, uid vmdt-reader, holding connections to vmd until
    release() closes the pipe it waits on."""
    holding = set()   # write ends of every live child's pipe

    def __init__(self, path, jsonrpc=False, most=200):
        r, w = os.pipe()
        hold_r, self.hold_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            status = 1
            try:
                os.close(r)
                os.close(self.hold_w)
                for fd in self.holding:   # or the others never see EOF
                    os.close(fd)
                pw = pwd.getpwnam("vmdt-reader")
                os.initgroups(pw.pw_name, pw.pw_gid)
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
                socks, refusal = _open_until_refused(path, jsonrpc, most)
                os.write(w, json.dumps({"opened": len(socks),
                                        "refusal": refusal}).encode() + b"\n")
                os.read(hold_r, 1)   # hold them until the test lets go
                status = 0
            finally:
                os._exit(status)
        os.close(w)
        os.close(hold_r)
        self.holding.add(self.hold_w)
        ready, _, _ = select.select([r], [], [], t(30))
        line = os.read(r, 65536) if ready else b""
        os.close(r)
        if not line:
            self.release()
            raise AssertionError("the hostile reader reported nothing")
        result = json.loads(line)
        self.opened, self.refusal = result["opened"], result["refusal"]

    def release(self):
        if self.hold_w is not None:
            self.holding.discard(self.hold_w)
            os.close(self.hold_w)
            self.hold_w = None
            deadline = time.monotonic() + t(10)
            while time.monotonic() < deadline:
                if os.waitpid(self.pid, os.WNOHANG)[0]:
                    return
                time.sleep(0.02)
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)


class LockoutTest(vmdtest.UsersTestCase):
    start_vmd = False

    def setUp(self):
        super().setUp()
        self.vmctl_copy = self.copy_for_others()

    def start(self, *args):
        self.vmd.rpc_socket = os.path.join(self.tmp, "rpc.sock")
        self.vmd.extra_args = list(args)
        self.vmd.start()
        self.client().command("vm-define", {"config": {"name": "kept",
                                                       "memory_mib": 32}})

    def hostile(self, *args, **kw):
        h = HostileReader(*args, **kw)
        self.addCleanup(h.release)
        return h

    def admin_lists(self):
        p = subprocess.run(
            ["setpriv", "--reuid=vmdt-admin", "--regid=vmdt-admin",
             "--init-groups", self.vmctl_copy, "-s", self.vmd.socket, "list"],
            capture_output=True, timeout=t(60), text=True)
        self.assertEqual(p.returncode, 0, "vmd-admin locked out: %r"
                         % (p.stdout + p.stderr))
        self.assertIn("kept", p.stdout)

    def root_lists(self):
        c = vmdtest.Client(self.vmd.socket)
        try:
            self.assertEqual([v["name"] for v in c.command("vm-list")],
                             ["kept"])
        finally:
            c.close()

    def test_per_uid_limit(self):
        # defaults: 64 connections per user, on every socket together;
        # the attack of issue 9 used the JSON-RPC socket
        self.start()
        h = self.hostile(self.vmd.rpc_socket, jsonrpc=True)
        self.assertEqual(h.opened, 64)
        err = h.refusal["error"]
        self.assertEqual(err["data"]["class"], "Busy", h.refusal)
        self.assertEqual(err["code"], -32005)
        uid = pwd.getpwnam("vmdt-reader").pw_uid
        self.assertEqual(err["message"], "too many connections from uid %d "
                         "(at most 64 per user, --max-clients-per-uid); close "
                         "some and try again" % uid)
        self.assertIsNone(h.refusal["id"])
        # the QMP socket counts the same user's connections too
        more = self.hostile(self.vmd.socket, most=1)
        self.assertEqual(more.opened, 0)
        self.assertEqual(more.refusal["error"]["class"], "Busy")
        self.assertIn("--max-clients-per-uid", more.refusal["error"]["desc"])
        self.root_lists()
        self.admin_lists()
        self.assertIn("client uid=%d pid=%d refused: too many connections"
                      % (uid, h.pid), self.vmd.log())
        # a place is free again once the reader lets go
        h.release()
        time.sleep(t(0.2))
        again = self.hostile(self.vmd.socket, most=1)
        self.assertEqual((again.opened, again.refusal), (1, None))

    def test_admin_reserve(self):
        # the reader may fill the first 16 places (root holds one of them),
        # never the last 8
        self.start("--max-clients", "24", "--admin-reserve", "8",
                   "--max-clients-per-uid", "100")
        h = self.hostile(self.vmd.socket)
        self.assertEqual(h.opened, 15)
        self.assertEqual(h.refusal, {"error": {
            "class": "Busy", "desc": "too many clients: the last 8 of 24 "
            "places are kept for root and vmd-admin (--admin-reserve); try "
            "again later"}})
        self.admin_lists()
        self.root_lists()
        # root may take the reserve, up to --max-clients in all (once vmd
        # saw the two sessions above end)
        time.sleep(t(0.2))
        held = []
        with self.assertRaises(ProtocolError) as refused:
            for _ in range(20):
                held.append(self.client())
        self.assertEqual(len(held), 8)   # 1 + 15 + 8 = 24
        self.assertIn("too many clients (at most 24)", str(refused.exception))

    def test_gateway_socket_has_its_own_bound(self):
        # the gateway socket's connections are a gateway's callers' sessions,
        # all of its uid: --max-gateway-clients bounds them, not the per-uid
        # share, and they take no place of the other sockets
        gw = os.path.join(self.tmp, "gateway.sock")
        self.start("--gateway-socket", gw, "--gateway-socket-mode", "0666",
                   "--max-gateway-clients", "100")
        h = self.hostile(gw)
        self.assertEqual(h.opened, 100)
        self.assertEqual(h.refusal, {"error": {
            "class": "Busy", "desc": "too many connections on the gateway "
            "socket (at most 100, --max-gateway-clients); try again later"}})
        # the same user's share of the other sockets is whole, and bounded
        more = self.hostile(self.vmd.socket)
        self.assertEqual(more.opened, 64)
        self.assertIn("--max-clients-per-uid", more.refusal["error"]["desc"])
        self.root_lists()
        self.admin_lists()
        # a place on the gateway socket is free again once one lets go
        h.release()
        time.sleep(t(0.2))
        again = self.hostile(gw, most=1)
        self.assertEqual((again.opened, again.refusal), (1, None))


if __name__ == "__main__":
    vmdtest.main()
