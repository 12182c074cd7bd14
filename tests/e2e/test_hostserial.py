"""End-to-end: a host serial device passed into the Linux test guest.

The host device is one end of a socat pty pair (TMP/guest-tty, a symlink
to /dev/pts/N as a /dev/serial/by-id link is to /dev/ttyUSBn); the test
talks on the other end (TMP/host-end).  The guest's init echoes whatever
arrives on its ttyS1, so a line written on host-end comes back on it,
through vmd (which holds the tty) and QEMU's socket chardev.

Killing socat is what unplugging a USB-serial adapter looks like to vmd:
the tty hangs up and the link goes away.  A new socat under the same link
names is the adapter coming back: vmd reopens it, says so with SERIAL_DEVICE
events, and the guest (same QEMU process, no VM_STATE change) echoes again.
While the device is gone the guest's output to it is dropped and the guest
does not stall.

Bad input: a host path that does not exist, a regular file and a character
device that is not a terminal are refused with InvalidArgument naming the
path; a missing parallel device names its path too."""

import os
import shutil
import signal
import subprocess
import sys
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOTSECTOR, INITRAMFS, LINUX_BANNER, bootsector_config,  # noqa: E402
                     linux_config, pid_alive, t)

BOOT_TIMEOUT = 90  # ~10 s under TCG here; a loaded build host is slower


class HostEnd:
    """The test's end of the pty pair, raw, with a deadline on every read."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        os.set_blocking(self.fd, False)
        self.data = b""

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, data):
        view = memoryview(data)
        deadline = time.monotonic() + t(10)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("host end: cannot write")
                time.sleep(0.01)

    def _read(self, deadline):
        import select
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], remaining)
        if not r:
            return False
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return True
        except OSError:  # EIO: socat went away
            chunk = b""
        if not chunk:
            raise AssertionError("host end hung up; got %r" % self.data[-500:])
        self.data += chunk
        return True

    def read_until(self, pattern, timeout, start=0):
        deadline = time.monotonic() + timeout
        while True:
            i = self.data.find(pattern, start)
            if i >= 0:
                return i + len(pattern)
            if not self._read(deadline) and time.monotonic() >= deadline:
                raise AssertionError("%r did not come back on the host end; "
                                     "got %r" % (pattern, self.data[-500:]))

    def read_for(self, duration):
        start = len(self.data)
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self._read(deadline)
        return self.data[start:]


class HostSerialTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        if not shutil.which("socat"):
            raise AssertionError("socat not installed (apt-get install socat)")
        self.guest_tty = os.path.join(self.tmp, "guest-tty")
        self.host_end_path = os.path.join(self.tmp, "host-end")
        self.socats = []
        self.ends = []
        self.addCleanup(self._stop_all)

    def _stop_all(self):
        for end in self.ends:
            end.close()
        for p in self.socats:
            self.stop_socat(p)

    # -- the pty pair ---------------------------------------------------------
    def start_socat(self, give=True):
        """A new pty pair under the same two link names; the guest's end
        given to the QEMU user (give), as vmd opens host ports with its
        rights."""
        p = subprocess.Popen(
            ["socat", "-d", "-d",
             "pty,raw,echo=0,link=%s" % self.guest_tty,
             "pty,raw,echo=0,link=%s" % self.host_end_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.socats.append(p)
        self.wait_for(lambda: os.path.exists(self.guest_tty) and
                      os.path.exists(self.host_end_path) or
                      p.poll() is not None, t(10), "socat's pty links")
        if p.poll() is not None:
            raise AssertionError("socat exited: %r" % p.stderr.read())
        if give:
            vmdtest.for_qemu(os.path.realpath(self.guest_tty))
        return p

    def stop_socat(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(t(10))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(t(10))
        if p.stderr:
            p.stderr.close()

    def host_end(self):
        end = HostEnd(self.host_end_path)
        self.ends.append(end)
        return end

    # -- helpers --------------------------------------------------------------
    def echo(self, end, token, timeout):
        """Write token lines until the guest echoes one back: its init
        starts the echo on ttyS1 in the background around the banner."""
        deadline = time.monotonic() + timeout
        start = len(end.data)
        while True:
            end.write(token + b"\n")
            try:
                end.read_until(token + b"\n", min(t(3), max(
                    0.5, deadline - time.monotonic())), start)
                break
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
        # echoes of the earlier tries may still be on their way
        end.read_for(t(0.5))

    def echo_exact(self, end, payload):
        """payload comes back byte for byte, nothing more."""
        start = len(end.data)
        end.write(payload)
        end.read_until(payload, t(20), start)
        end.read_for(t(0.3))
        self.assertEqual(end.data[start:], payload)

    def shell(self, con, command, expect, timeout):
        """Type command into the guest's shell until expect shows up."""
        return vmdtest.type_until(con, command, expect, timeout)

    def serial_event(self, c, name, state, since):
        return c.wait_event(
            lambda e: e.get("event") == "SERIAL_DEVICE"
            and e["data"].get("vm") == name and e["data"].get("port") == 1
            and e["data"].get("state") == state, t(20), since)

    # -- the tests ------------------------------------------------------------
    def test_echo_and_reconnect(self):
        vmdtest.require_guests(INITRAMFS)
        schemas = vmdtest.Schemas()
        name = "hostser"
        first = self.start_socat()
        first_dev = os.path.realpath(self.guest_tty)
        self.assertTrue(first_dev.startswith("/dev/pts/"), first_dev)

        c = self.client()
        cfg = linux_config(name, serial=[
            {"type": "console"},
            {"type": "host", "path": self.guest_tty, "baud": 115200,
             "data_bits": 8, "parity": "none", "stop_bits": 1,
             "flow": "none"}])
        uuid = c.command("vm-define", {"config": cfg})["uuid"]
        mark = len(c.events)
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        pid = r["pid"]

        # connected once at start, naming the link and where it leads
        _, ev = self.serial_event(c, name, "connected", mark)
        schemas.check_event(ev)
        self.assertEqual(ev["data"], {
            "vm": name, "uuid": uuid, "port": 1, "path": self.guest_tty,
            "resolved": first_dev, "state": "connected"})

        con = self.console(name)
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        # vm-show records the link and where it led
        ports = c.command("vm-show", {"vm": name})["ports"]
        self.assertEqual(ports[1], {"port": 1, "type": "host",
                                    "path": self.guest_tty,
                                    "resolved": first_dev, "connected": True})
        self.assertEqual((ports[0]["port"], ports[0]["type"],
                          ports[0]["viewers"], ports[0]["writer"],
                          ports[0]["keeper"]), (0, "console", 1, True, True))
        self.assertGreater(ports[0]["log_end"], 0)
        end = self.host_end()
        self.echo(end, b"vmd-host-serial-one", t(30))
        # the guest's tty is raw by now: what goes out comes back as it is
        payload = bytes(range(0x20, 0x7f)) * 16 + b"\n"
        self.echo_exact(end, payload)

        # unplug: socat goes, vmd hears the hangup
        mark = len(c.events)
        self.stop_socat(first)
        end.close()
        _, ev = self.serial_event(c, name, "disconnected", mark)
        schemas.check_event(ev)
        self.assertEqual(ev["data"], {
            "vm": name, "uuid": uuid, "port": 1, "path": self.guest_tty,
            "resolved": "", "state": "disconnected"})
        self.assertEqual(c.command("vm-show", {"vm": name})["ports"][1],
                         {"port": 1, "type": "host", "path": self.guest_tty,
                          "resolved": "", "connected": False})

        # the guest writes to the missing device: dropped, and the guest
        # does not wait for it (the loop ends, the shell answers)
        t0 = time.monotonic()
        self.shell(con, b"seq 1 60000 | sed s/^/gone-/ >/dev/ttyS1 && "
                   b"echo gone-done$((40+2))\n", b"gone-done42", t(90))
        print("guest wrote 650 KB to the missing device in %.1f s"
              % (time.monotonic() - t0), file=sys.stderr)

        # plug back in: same link names, a new pty behind them
        since = len(c.events)
        self.start_socat()
        _, ev = self.serial_event(c, name, "connected", since)
        schemas.check_event(ev)
        self.assertEqual(ev["data"]["resolved"],
                         os.path.realpath(self.guest_tty))
        self.assertEqual(ev["data"]["path"], self.guest_tty)
        self.assertEqual(c.command("vm-show", {"vm": name})["ports"][1]
                         ["resolved"], os.path.realpath(self.guest_tty))
        end = self.host_end()
        self.echo(end, b"vmd-host-serial-two", t(30))
        self.assertNotIn(b"gone-", end.data,
                         "output written while the device was gone "
                         "reached it later")
        self.echo_exact(end, payload)

        # the guest never restarted
        c.drain(t(0.5))
        self.assertEqual(c.transitions(name, mark), [],
                         "the VM changed state across the reconnect")
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("running", pid))
        self.assertTrue(pid_alive(pid))
        states = [e["data"]["state"] for e in c.events[mark:]
                  if e.get("event") == "SERIAL_DEVICE"]
        self.assertEqual(states, ["disconnected", "connected"])
        # and its console still answers
        self.shell(con, b"echo still$((6*7))\n", b"still42", t(30))

    def start_error(self, c, name, cfg):
        """The error of defining and starting cfg: vmd may refuse it at
        vm-define or at vm-start; either way the VM does not run."""
        reply = c.execute("vm-define", {"config": cfg})
        if "error" in reply:
            return reply["error"]
        err = c.error("vm-start", {"vm": name}, timeout=t(60))
        self.assertIn(self.vm_state(c, name), ("stopped", "crashed"))
        self.assertEqual(c.command("vm-show", {"vm": name})["pid"], 0)
        return err

    def test_bad_host_paths(self):
        c = self.client()
        missing = os.path.join(self.tmp, "no-such-tty")
        err = self.start_error(c, "missing", bootsector_config(
            "missing", serial=[{"type": "console"},
                               {"type": "host", "path": missing}]))
        self.assertError(err, "InvalidArgument", [missing])

        regular = os.path.join(self.tmp, "regular-file")
        with open(regular, "w") as f:
            f.write("not a tty\n")
        err = self.start_error(c, "regular", bootsector_config(
            "regular", serial=[{"type": "host", "path": regular}]))
        self.assertError(err, "InvalidArgument", [regular, "not a tty"])

        # a character device, but no terminal
        err = self.start_error(c, "devnull", bootsector_config(
            "devnull", serial=[{"type": "console"},
                               {"type": "host", "path": "/dev/null"}]))
        self.assertError(err, "InvalidArgument", ["/dev/null", "not a tty"])

        # a dangling by-id style link names the configured path
        link = os.path.join(self.tmp, "usb-gone-if00-port0")
        os.symlink(os.path.join(self.tmp, "ttyUSB-nothing"), link)
        err = self.start_error(c, "dangling", bootsector_config(
            "dangling", serial=[{"type": "console"},
                                {"type": "host", "path": link}]))
        self.assertError(err, "InvalidArgument", [link])

        # a parallel device that is not there, or not a device
        parport = os.path.join(self.tmp, "parport9")
        err = self.start_error(c, "parallel", bootsector_config(
            "parallel", parallel=[{"type": "host", "path": parport}]))
        self.assertError(err, "InvalidArgument", [parport])
        err = self.start_error(c, "parallel-file", bootsector_config(
            "parallel-file", parallel=[{"type": "host", "path": BOOTSECTOR}]))
        self.assertError(err, "InvalidArgument",
                         [BOOTSECTOR, "not a character device"])

        # a terminal the QEMU user cannot open (root's, mode 0620): vmd,
        # which is root, does not open it on that user's behalf
        if os.geteuid() == 0:
            self.start_socat(give=False)
            pts = os.path.realpath(self.guest_tty)
            err = self.start_error(c, "roots-tty", bootsector_config(
                "roots-tty", serial=[{"type": "console"},
                                     {"type": "host", "path": self.guest_tty}]))
            self.assertError(err, "InvalidArgument",
                             [pts, "QEMU user nobody cannot open it",
                              "Permission denied"])

        # nothing was left running
        for vm in c.command("vm-list"):
            self.assertEqual(vm["pid"], 0, vm)


if __name__ == "__main__":
    vmdtest.main()
