"""End-to-end: who can reach a console over a tcp serial port, and what a
writer that floods a console costs vmd (issue 9, items 2 and 12).

A tcp port listens on 127.0.0.1, where every local user can connect, and
the console behind it is often a root shell.  A local unprivileged user
(vmdt-nobody, made here as in test_access.py) that does not send the
port's secret gets nothing from the guest and cannot type into it (the
boot-sector guest echoes every byte it receives, so anything that reached
it would show on a root viewer and in the log); with the secret it can,
and vmd's log names its uid and port.  Only admins see the secret in
vm-show.  A writer sending 200 MiB without reading, over TCP or as a
console-attach viewer, keeps vmd's RSS growth under 16 MiB (not checked in
an ASan build, whose RSS says nothing about that): vmd stops reading it
while the guest is behind.  A tcp port without "port" shows
the port it got in vm-show, also after vmd was killed and started again."""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, Schemas, TcpConsole,
                     bootsector_config, console_read_all, t)  # noqa: E402

MiB = 1024 * 1024

# Run as another user: connect to 127.0.0.1:PORT, send LINE (may be
# empty) and then PAYLOAD, read for SECONDS (or until WANT shows), and
# print {"port": our local port, "got": what came, "eof": closed}.
CLIENT = r"""
import json, socket, sys, time
port, line, payload, want, secs = sys.argv[1:6]
s = socket.create_connection(("127.0.0.1", int(port)), 10)
out = {"port": s.getsockname()[1], "got": "", "eof": False}
print(json.dumps(out), flush=True)
s.sendall(line.encode() + payload.encode())
got, deadline = b"", time.monotonic() + float(secs)
while time.monotonic() < deadline and not (want and want.encode() in got):
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        continue
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        out["eof"] = True
        break
    got += chunk
out["got"] = got.decode("latin-1")
print(json.dumps(out), flush=True)
"""


class TcpConsoleTest(vmdtest.UsersTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()

    def boot(self, name, **port):
        """vm-show's view of the VM's tcp port; a fixed port unless the
        test is about the chosen one, so that the tests of what a client
        can do run (and fail) on a vmd that shows no tcp_port."""
        self.c.command("vm-define", {"config": bootsector_config(
            name, serial=[dict(type="tcp", **port)])})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        shown = self.c.command("vm-show", {"vm": name})["ports"][0]
        if "port" in port:
            shown.setdefault("tcp_port", port["port"])
        return shown

    def as_user(self, user, *argv, timeout=None):
        return subprocess.Popen(
            ["setpriv", "--reuid=" + user, "--regid=" + user,
             "--init-groups"] + list(argv),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def client_as(self, user, port, line, payload, want="", secs=2):
        """CLIENT as user; returns its output and its local port."""
        p = self.as_user(user, sys.executable, "-c", CLIENT, str(port), line,
                         payload, want, str(t(secs)))
        try:
            out, err = p.communicate(timeout=t(secs) + t(30))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, (out, err))
        return json.loads(lines[1])

    def vmd_log_has(self, pattern, timeout=10):
        deadline = time.monotonic() + t(timeout)
        while time.monotonic() < deadline:
            m = re.search(pattern, self.vmd.log())
            if m:
                return m
            time.sleep(0.1)
        self.fail("vmd's log has no line matching %r" % pattern)

    def test_secret_keeps_other_users_out(self):
        name = "guarded-tcp"
        port = self.boot(name, port=vmdtest.free_tcp_port())
        tcp_port, secret = port["tcp_port"], port.get("secret", "")
        root_view = self.console(name, mode="ro")
        root_view.read_until(BOOT_BANNER, t(10))
        nobody = pwd.getpwnam("vmdt-nobody").pw_uid

        # no secret: nothing from the guest, nothing typed reaches it
        r = self.client_as("vmdt-nobody", tcp_port, "HOSTILE-A\r\n",
                           "HOSTILE-B\r")
        self.assertNotIn("VMD-BOOT-OK", r["got"])
        self.assertEqual(r["got"], "vmd: wrong secret; closing\r\n")
        self.assertTrue(r["eof"])
        self.vmd_log_has(r"tcp client 127\.0\.0\.1:%d uid=%d refused: wrong "
                         r"secret" % (r["port"], nobody))
        # bytes without a newline: nothing, then the deadline closes it
        r = self.client_as("vmdt-nobody", tcp_port, "", "HOSTILE-C\r",
                           want="closing", secs=15)
        self.assertEqual(r["got"], "vmd: no secret within 10 s; closing\r\n")
        self.vmd_log_has(r"tcp client 127\.0\.0\.1:%d uid=%d refused: no "
                         r"secret" % (r["port"], nobody))
        # a secret one character off is as wrong
        wrong = secret[:-1] + ("0" if secret[-1] != "0" else "1")
        r = self.client_as("vmdt-nobody", tcp_port, wrong + "\n", "HOSTILE-D\r")
        self.assertEqual(r["got"], "vmd: wrong secret; closing\r\n")

        # the guest echoes what it gets: none of it arrived
        root_view.read_for(t(0.5))
        self.assertNotIn(b"HOSTILE", bytes(root_view.data))
        self.assertNotIn(b"HOSTILE", console_read_all(self.c, name)[0])
        self.assertEqual(port["auth"], "secret")
        self.assertRegex(secret, "^[0-9a-f]{32}$")

        # with the secret (an admin gave it): console both ways, and the
        # log line of its typing names its uid and port
        r = self.client_as("vmdt-nobody", tcp_port, secret + "\r\n",
                           "typed-by-nobody\r", want="typed-by-nobody\r\n")
        self.assertIn("VMD-BOOT-OK", r["got"])
        self.assertIn("typed-by-nobody\r\n", r["got"])
        self.vmd_log_has(r"console 0: input from uid=%d via tcp "
                         r"127\.0\.0\.1:%d" % (nobody, r["port"]))
        _, ev = self.c.wait_event(lambda e: e.get("event") == "CONSOLE_ATTACH"
                                  and e["data"].get("via") == "tcp", t(10))
        self.assertEqual((ev["data"]["uid"], ev["data"].get("peer")),
                         (nobody, "127.0.0.1:%d" % r["port"]))
        Schemas().check_event(ev)

    def test_gate_deadline_and_waiting_limit(self):
        """The 10 s are a deadline from connect, not an idle timer (a byte
        a second does not keep a client waiting for ever); at most 16
        clients wait to authenticate, so idle ones cannot pile up."""
        name = "gate-tcp"
        port = self.boot(name)
        addr = ("127.0.0.1", port["tcp_port"])
        trickle = socket.create_connection(addr, t(10))
        self.addCleanup(trickle.close)
        t0 = time.monotonic()
        trickle.settimeout(1)
        got = b""
        for ch in port["secret"].encode():   # 32 s at one a second
            try:
                trickle.send(bytes([ch]))
                got += trickle.recv(4096)
                if b"closing" in got:
                    break
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - t0
        self.assertIn(b"no secret within 10 s", got)
        self.assertLess(elapsed, 10 + t(3))
        idle = [socket.create_connection(addr, t(10)) for _ in range(16)]
        for s in idle:
            self.addCleanup(s.close)
        time.sleep(t(0.3))
        extra = TcpConsole(port["tcp_port"])
        self.addCleanup(extra.close)
        self.assertTrue(extra.wait_eof(t(5)), "a 17th waiting client was "
                        "let wait")
        self.assertIn(b"too many clients waiting", bytes(extra.data))
        idle.pop().close()
        time.sleep(t(0.3))
        ok = TcpConsole(port["tcp_port"], secret=port["secret"])
        self.addCleanup(ok.close)
        ok.read_until(BOOT_BANNER, t(10))

    def test_only_admins_see_the_secret(self):
        name = "shown-tcp"
        port = self.boot(name)
        os.chmod(self.tmp, 0o755)   # the reader must reach the socket
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        os.chmod(bindir, 0o755)
        vmctl = shutil.copy(vmdtest.VMCTL, bindir)
        os.chmod(vmctl, 0o755)
        p = self.as_user("vmdt-reader", vmctl, "-s", self.vmd.socket,
                         "--json", "show", name)
        out, err = p.communicate(timeout=t(30))
        self.assertEqual(p.returncode, 0, err)
        seen = json.loads(out)["ports"][0]
        self.assertEqual((seen["tcp_port"], seen["auth"]),
                         (port["tcp_port"], "secret"))
        self.assertNotIn("secret", seen)
        self.assertNotIn(port["secret"], out)
        Schemas().check_return("vm-show", json.loads(out))

    def test_random_port_is_shown_and_kept(self):
        """A tcp port without "port" (item 12): vm-show gives the port it
        got; a vmd killed and started again listens there again, with the
        same secret."""
        name = "random-tcp"
        port = self.boot(name)
        self.assertGreater(port["tcp_port"], 0)
        con = TcpConsole(port["tcp_port"], secret=port["secret"])
        self.addCleanup(con.close)
        con.read_until(BOOT_BANNER, t(10))
        pid = self.c.command("vm-show", {"vm": name})["pid"]
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        self.vmd.start()
        c2 = self.client()
        show = c2.command("vm-show", {"vm": name})
        self.assertEqual((show["pid"], show["ports"][0]["tcp_port"],
                          show["ports"][0]["secret"]),
                         (pid, port["tcp_port"], port["secret"]))
        again = TcpConsole(port["tcp_port"], secret=port["secret"])
        self.addCleanup(again.close)
        again.read_until(BOOT_BANNER, t(10))
        start = len(again.data)
        again.write(b"after-restart\r")
        again.read_until(b"after-restart\r\n", t(10), start)
        show = c2.command("vm-show", {"vm": name})
        Schemas().check_return("vm-show", show)
        self.assertEqual(
            [(a["via"], a["mode"], a["uid"], a["peer"])
             for a in show["ports"][0]["attached"]],
            [("tcp", "rw", os.getuid(),
              "127.0.0.1:%d" % again.sock.getsockname()[1])])

    def test_auth_none_lets_anyone_in(self):
        """The documented opt-out: no secret asked, none shown."""
        name = "open-tcp"
        port = self.boot(name, auth="none", port=vmdtest.free_tcp_port())
        self.assertEqual(port["auth"], "none")
        self.assertNotIn("secret", port)
        r = self.client_as("vmdt-nobody", port["tcp_port"], "", "open-typed\r",
                           want="open-typed\r\n")
        self.assertIn("VMD-BOOT-OK", r["got"])
        self.assertIn("open-typed\r\n", r["got"])

    def flood(self, sock, what):
        """Send up to 200 MiB of 'x' (never 0x1f, the guest's power-off
        key) on sock without reading, while vmd's RSS is watched; vmd must
        not take it all in.  Returns (bytes sent, RSS growth)."""
        pid = self.vmd.pid
        before = peak = vmdtest.rss(pid)
        chunk = b"x" * 65536
        sent, total = 0, 200 * MiB
        sock.setblocking(False)
        deadline = time.monotonic() + t(20)
        last_progress = time.monotonic()
        while sent < total and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk)
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > t(3):
                    break  # vmd stopped reading us: the point
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break      # dropped (too slow a reader of the echo)
            peak = max(peak, vmdtest.rss(pid))
        time.sleep(0.5)
        peak = max(peak, vmdtest.rss(pid))
        growth = peak - before
        sys.stderr.write("[%s: %.1f MiB sent, vmd RSS +%.1f MiB] "
                         % (what, sent / MiB, growth / MiB))
        # vmd stopped reading long before 200 MiB (without backpressure
        # it takes them all in within seconds)
        self.assertLess(sent, 64 * MiB, "vmd read %.1f MiB from %s"
                        % (sent / MiB, what))
        if not vmdtest.sanitized():
            self.assertLess(growth, 16 * MiB, "vmd grew by %.1f MiB while %s "
                            "sent %.1f MiB" % (growth / MiB, what, sent / MiB))
        # vmd still answers others at once
        t0 = time.monotonic()
        self.c.command("vm-list")
        self.assertLess(time.monotonic() - t0, t(1))
        return sent, growth

    def test_tcp_writer_flood_is_bounded(self):
        name = "flood-tcp"
        port = self.boot(name, port=vmdtest.free_tcp_port())
        con = TcpConsole(port["tcp_port"], secret=port.get("secret", ""))
        self.addCleanup(con.close)
        con.read_until(BOOT_BANNER, t(10))
        self.flood(con.sock, "a tcp writer")

    def test_socket_writer_flood_is_bounded(self):
        name = "flood-sock"
        self.c.command("vm-define", {"config": bootsector_config(name)})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(10))
        self.flood(con.sock, "a console-attach writer")


if __name__ == "__main__":
    vmdtest.main()
