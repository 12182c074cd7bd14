"""End-to-end: the daemon's limits and shutdown options.

--max-clients, --max-message, --handshake-timeout, --idle-timeout and
--socket-mode each do what they say; console viewers are not "idle";
--stop-guests powers guests down (killing them after --stop-timeout)
before vmd exits; bad option values are refused with exit status 2."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, ConnectionClosed,  # noqa: E402
                     bootsector_config, t)


def raw_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(t(10))
    return s


def read_all(s):
    """Everything until vmd closes the connection."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


class LimitsTest(vmdtest.VmdTestCase):
    start_vmd = False

    def start(self, *args):
        self.vmd.extra_args = list(args)
        self.vmd.start()

    def test_max_clients(self):
        self.start("--max-clients", "3")
        keep = [self.client() for _ in range(3)]
        s = raw_connect(self.vmd.socket)
        data = read_all(s)
        self.assertIn(b'"Busy"', data)
        self.assertIn(b"too many clients (at most 3)", data)
        keep[0].close()
        time.sleep(t(0.2))
        self.client().command("vm-list")   # a place is free again

    def test_max_message(self):
        self.start("--max-message", "4096")
        c = self.client()
        ok = {"name": "fits",
              "labels": {"k%d" % i: "x" * 250 for i in range(12)}}
        c.command("vm-define", {"config": ok})
        big = {"name": "big",
               "labels": {"k%d" % i: "x" * 250 for i in range(20)}}
        c.send({"execute": "vm-define", "arguments": {"config": big}})
        reply = c.recv_reply(t(10))
        self.assertIn("exceeds 4096 bytes", reply["error"]["desc"])
        with self.assertRaises(ConnectionClosed):
            c.recv(t(5))
        self.assertEqual([v["name"] for v in self.client().command("vm-list")],
                         ["fits"])

    def test_handshake_and_idle_timeouts(self):
        self.start("--handshake-timeout", "1", "--idle-timeout", "2")
        vmdtest.require_guests(BOOTSECTOR)
        silent = raw_connect(self.vmd.socket)
        t0 = time.monotonic()
        self.assertIn(b'"QMP"', read_all(silent))   # greeting, then closed
        self.assertLess(time.monotonic() - t0, t(3))
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("watched")})
        c.command("vm-start", {"vm": "watched"}, timeout=t(60))
        viewer = self.console("watched", mode="ro")
        viewer.read_until(BOOT_BANNER, t(30))
        time.sleep(t(3))                  # longer than the idle timeout
        with self.assertRaises((ConnectionClosed, OSError)):
            c.command("vm-list")
        # the console viewer is watching, not idle: still attached, and
        # closed only when the VM stops
        self.assertFalse(viewer.eof, "an idle console viewer was dropped")
        self.client().command("vm-kill", {"vm": "watched"}, timeout=t(30))
        self.assertTrue(viewer.wait_eof(t(10)), "viewer not closed at stop")

    def test_socket_mode(self):
        self.start("--socket-mode", "0600")
        self.assertEqual(os.stat(self.vmd.socket).st_mode & 0o777, 0o600)

    def test_stop_guests_on_sigterm(self):
        self.start("--stop-guests", "--stop-timeout", "1")
        vmdtest.require_guests(BOOTSECTOR)
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("tidy")})
        pid = c.command("vm-start", {"vm": "tidy"}, timeout=t(60))["pid"]
        c.close()
        t0 = time.monotonic()
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        # the boot sector ignores ACPI: killed after the 1 s grace
        self.assertGreater(time.monotonic() - t0, 0.9)
        self.assertFalse(vmdtest.pid_alive(pid), "guest left running")
        self.vmd.start()
        self.assertEqual(self.client().command("vm-show", {"vm": "tidy"})
                         ["state"], "stopped")

    def test_bad_values(self):
        for args in (["--max-clients", "0"], ["--socket-mode", "888"],
                     ["--idle-timeout", "-1"], ["--max-message", "12k"]):
            p = subprocess.run([vmdtest.VMD] + args, capture_output=True,
                               text=True, timeout=t(10))
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(args[0], p.stderr)


if __name__ == "__main__":
    vmdtest.main()
