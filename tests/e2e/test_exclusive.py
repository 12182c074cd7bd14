"""End-to-end: one QEMU per VM and one vmd per state directory.

- vm-start when the store cannot record the transition (its disk is full:
  a small tmpfs under the state directory, filled up) fails with a clear
  error and leaves no QEMU; once there is room the VM starts;
- a QEMU vmd lost track of (vmd killed -9, its store then made to say
  "stopped") holds its run directory's lock: vm-start and vm-undefine are
  refused, naming its pid, and no second QEMU runs;
- a second vmd on the same state directory exits at once, naming the
  first one's pid, and leaves the first one's socket alone; also when the
  first one was started by socket activation."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, bootsector_config,  # noqa: E402
                     pid_alive, t)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")


def qemus_of(uuid):
    """Live QEMU processes started for the VM with this uuid."""
    found = []
    for pid in vmdtest._all_pids():
        cmd = vmdtest._proc_cmdline(pid)
        if "qemu" in cmd.split(" ")[0] and uuid in cmd and pid_alive(pid):
            found.append(pid)
    return found


class FullDiskStartTest(vmdtest.VmdTestCase):
    start_vmd = False

    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("mounting a small tmpfs needs root")
        vmdtest.require_guests(BOOTSECTOR)
        super().setUp()
        os.makedirs(self.vmd.state_dir)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700",
                               "vmd-state-test", self.vmd.state_dir])
        self.addCleanup(subprocess.call, ["umount", "-l", self.vmd.state_dir])
        self.vmd.start()

    def fill(self):
        """Fill the state directory's disk; returns the filler's path."""
        path = os.path.join(self.vmd.state_dir, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"f" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        return path

    def test_start_fails_cleanly_on_a_full_disk(self):
        c = self.client()
        uuid = c.command("vm-define", {"config": bootsector_config(
            "full1")})["uuid"]
        filler = self.fill()
        err = c.error("vm-start", {"vm": "full1"}, timeout=t(60))
        self.assertError(err, "GenericError", ["full1", "cannot record"])
        self.wait_for(lambda: not qemus_of(uuid), t(10),
                      "the QEMU of the failed start to end")
        self.assertEqual(self.vm_state(c, "full1"), "stopped")
        self.assertEqual(c.command("vm-show", {"vm": "full1"})["pid"], 0)
        # room again: it starts, so nothing of the failed start is left
        os.unlink(filler)
        r = c.command("vm-start", {"vm": "full1"}, timeout=t(60))
        self.assertEqual(qemus_of(uuid), [r["pid"]])
        self.console("full1").read_until(BOOT_BANNER, t(30))


class LostQemuTest(vmdtest.VmdTestCase):

    def test_second_start_refused_while_a_qemu_holds_the_lock(self):
        vmdtest.require_guests(BOOTSECTOR)
        c = self.client()
        uuid = c.command("vm-define", {"config": bootsector_config(
            "lost1")})["uuid"]
        qemu = c.command("vm-start", {"vm": "lost1"}, timeout=t(60))["pid"]
        self.vmd.stop(signal.SIGKILL)
        # the store forgets the QEMU, as a state it could not record did
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        db.execute("UPDATE runtime SET state = 'stopped', pid = 0, "
                   "starttime = 0 WHERE uuid = ?", (uuid,))
        db.commit()
        db.close()
        self.vmd.start()
        c = self.client()
        self.assertEqual(self.vm_state(c, "lost1"), "stopped")
        err = c.error("vm-start", {"vm": "lost1"}, timeout=t(60))
        self.assertError(err, "InvalidState", ["lost1", "pid %d" % qemu])
        self.assertEqual(qemus_of(uuid), [qemu], "a second QEMU ran")
        err = c.error("vm-undefine", {"vm": "lost1"})
        self.assertError(err, "InvalidState", ["pid %d" % qemu])
        # once that QEMU is gone the VM starts again
        os.kill(qemu, signal.SIGKILL)
        self.wait_for(lambda: not pid_alive(qemu), t(10), "QEMU to end")
        # a dead process's lock may be released a moment later (the
        # kernel can defer closing its files): vmd says so, then starts
        started = []

        def start():
            r = c.execute("vm-start", {"vm": "lost1"}, timeout=t(60))
            if "error" in r:
                self.assertError(r["error"], "InvalidState",
                                 ["has ended", "try again"])
                return False
            started.append(r["return"]["pid"])
            return True
        self.wait_for(start, t(10), "the start once the lock is free")
        self.assertEqual(qemus_of(uuid), started)


class StateLockTest(vmdtest.VmdTestCase):

    def second_vmd(self, argv):
        """Exit status and output of a vmd that must exit by itself."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL)
        return self.exit_of(p, t(10), "the second vmd was not refused")

    def test_second_vmd_refused(self):
        vmdtest.require_guests(BOOTSECTOR)
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("one")})
        qemu = c.command("vm-start", {"vm": "one"}, timeout=t(60))["pid"]
        ino = os.stat(self.vmd.socket).st_ino
        other = os.path.join(self.tmp, "other.sock")
        for sock in (other, self.vmd.socket):
            argv = self.vmd.argv()
            argv[argv.index("--socket") + 1] = sock
            rc, out = self.second_vmd(argv)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("another vmd (pid %d) uses %s"
                          % (self.vmd.pid, self.vmd.state_dir), out)
            self.assertNotIn("re-adopted", out)
        self.assertEqual(os.stat(self.vmd.socket).st_ino, ino,
                         "the second vmd replaced the first one's socket")
        self.assertFalse(os.path.exists(other))
        self.assertEqual(self.client().command("vm-show", {"vm": "one"})[
            "pid"], qemu)
        c2 = self.client()
        self.assertEqual([v["name"] for v in c2.command("vm-list")], ["one"])
        # once the first is gone, a vmd starts on the same directory
        self.assertEqual(self.vmd.stop(), 0)
        self.vmd.start()
        self.assertEqual(len(self.client().command("vm-list")), 1)


class SocketActivatedStateLockTest(vmdtest.VmdTestCase):
    start_vmd = False

    def setUp(self):
        if not SOCKET_ACTIVATE:
            self.fail("systemd-socket-activate not found (Debian package "
                      "systemd)")
        super().setUp()
        self.plain_argv = self.vmd.argv()   # a second vmd, its own socket
        self.plain_argv[self.plain_argv.index("--socket") + 1] = \
            os.path.join(self.tmp, "other.sock")
        wrapper = [SOCKET_ACTIVATE, "-l", self.vmd.socket]
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                wrapper += ["-E", name]
        own = os.path.join(self.tmp, "own.sock")
        vmd_argv = list(self.plain_argv)
        vmd_argv[vmd_argv.index("--socket") + 1] = own
        self.vmd.argv = lambda: wrapper + vmd_argv

    def test_activated_vmd_locks_and_releases(self):
        for round in range(2):
            self.vmd.start()
            c = self.client()
            self.assertEqual(c.command("vm-list"), [])
            self.assertIn("using 1 socket passed by systemd", self.vmd.log())
            try:
                p = subprocess.run(self.plain_argv, capture_output=True,
                                   text=True, timeout=t(10))
            except subprocess.TimeoutExpired:
                self.fail("the second vmd kept running")
            self.assertNotEqual(p.returncode, 0, p.stderr)
            self.assertIn("another vmd (pid %d) uses" % self.vmd.pid,
                          p.stderr)
            c.close()
            # its exit releases the lock: the next round starts
            self.assertEqual(self.vmd.stop(), 0)
            os.unlink(self.vmd.socket)


if __name__ == "__main__":
    vmdtest.main()
