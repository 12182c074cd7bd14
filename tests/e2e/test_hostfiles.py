"""End-to-end: a VM's host files are opened with the rights of the user
QEMU runs as (nobody, when vmd is root), never as root.

QEMU used to open disk paths itself, as root, before -runas dropped
privileges, following symlinks: a symlink in a user's directory made a VM
write into a root-only file, and /etc/shadow could be a disk.  Now vmd
opens them as the QEMU user and passes descriptors (-add-fd,
/dev/fdset/N), so a file that user cannot open is refused at vm-start with
the path, the user and the reason."""

import hashlib
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class HostFilesTest(vmdtest.VmdTestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: QEMU runs as nobody then")
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)

    def start_error(self, c, name, cfg):
        c.command("vm-define", {"config": cfg})
        err = c.error("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(self.vm_state(c, name), "stopped")
        self.assertEqual(c.command("vm-show", {"vm": name})["pid"], 0)
        return err

    def test_symlink_to_root_only_file_refused(self):
        """A symlink in a directory anyone may write to, pointing at a file
        only root may write: the VM does not start and the file is
        untouched."""
        c = self.client()
        target = os.path.join(self.tmp, "root-only.img")
        with open(target, "wb") as f:
            f.write(b"secret" * 1000)
        os.chmod(target, 0o600)
        before = digest(target)
        userdir = os.path.join(self.tmp, "userdir")
        os.mkdir(userdir)
        os.chmod(userdir, 0o1777)
        link = os.path.join(userdir, "disk.img")
        os.symlink(target, link)
        err = self.start_error(c, "sym", bootsector_config(
            "sym", disks=[{"path": vmdtest.bootsector_disk(), "bus": "ide"},
                          {"path": link, "format": "raw", "bus": "virtio"}]))
        self.assertError(err, "InvalidArgument",
                         ["disk " + link, "QEMU user nobody", "read-write",
                          "Permission denied", "chown it to nobody"])
        self.assertEqual(digest(target), before)

    def test_shadow_as_readonly_disk_refused(self):
        """/etc/shadow, read-only: nobody cannot read it, so no VM sees it
        (and no vm-monitor drive-backup can copy it out)."""
        if not os.path.exists("/etc/shadow"):
            self.skipTest("no /etc/shadow here")
        c = self.client()
        err = self.start_error(c, "shadow", bootsector_config(
            "shadow", disks=[{"path": vmdtest.bootsector_disk(), "bus": "ide"},
                             {"path": "/etc/shadow", "format": "raw",
                              "bus": "virtio", "readonly": True}]))
        self.assertError(err, "InvalidArgument",
                         ["disk /etc/shadow", "nobody", "read-only",
                          "Permission denied"])

    def test_unreadable_kernel_refused(self):
        c = self.client()
        kernel = os.path.join(self.tmp, "vmlinuz")
        with open(kernel, "wb") as f:
            f.write(b"\0" * 4096)
        os.chmod(kernel, 0o600)
        err = self.start_error(c, "kern", {
            "name": "kern", "accel": "tcg", "memory_mib": 32,
            "boot": {"kernel": kernel}})
        self.assertError(err, "InvalidArgument",
                         ["kernel " + kernel, "nobody", "read-only"])

    def test_qcow2_backing_file_refused(self):
        """A qcow2 image naming a backing file: QEMU would open that file
        by path itself, so vmd refuses the image."""
        c = self.client()
        overlay = os.path.join(self.tmp, "overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
                        "-b", "/etc/shadow", overlay, "1M"], check=True,
                       capture_output=True, timeout=t(30))
        vmdtest.for_qemu(overlay)
        err = self.start_error(c, "overlay", bootsector_config(
            "overlay", disks=[{"path": vmdtest.bootsector_disk(), "bus": "ide"},
                              {"path": overlay, "format": "qcow2",
                               "bus": "virtio"}]))
        self.assertError(err, "InvalidArgument",
                         ["disk " + overlay, "backing file (/etc/shadow)"])

    def test_fifo_is_no_disk(self):
        """A FIFO (put where a disk was after vm-define) would block whoever
        opens it: refused, quickly."""
        c = self.client()
        fifo = vmdtest.bootsector_disk()
        c.command("vm-define", {"config": bootsector_config(
            "fifo", disks=[{"path": vmdtest.bootsector_disk(), "bus": "ide"},
                           {"path": fifo, "bus": "virtio"}])})
        os.unlink(fifo)
        os.mkfifo(fifo, 0o666)
        started = time.monotonic()
        err = c.error("vm-start", {"vm": "fifo"}, timeout=t(60))
        self.assertError(err, "InvalidArgument",
                         [fifo, "not a regular file or block device"])
        self.assertLess(time.monotonic() - started, t(10))

    def test_qemu_user_image_boots_and_is_written_through_fd(self):
        """An image the QEMU user owns boots; QEMU gets descriptors, not
        paths; a write in the guest's disk lands in that file, and a
        read-only disk stays read-only."""
        c = self.client()
        data = os.path.join(self.tmp, "data.img")
        with open(data, "wb") as f:
            f.write(b"\0" * 65536)
        vmdtest.for_qemu(data)
        ro = os.path.join(self.tmp, "ro.img")
        with open(ro, "wb") as f:
            f.write(b"\1" * 65536)
        os.chmod(ro, 0o644)   # root's, readable by all
        boot = vmdtest.bootsector_disk()
        c.command("vm-define", {"config": bootsector_config(
            "good", disks=[{"path": boot, "format": "raw", "bus": "ide"},
                           {"path": data, "format": "raw", "bus": "virtio"},
                           {"path": ro, "format": "raw", "bus": "virtio",
                            "readonly": True}])})
        r = c.command("vm-start", {"vm": "good"}, timeout=t(60))
        self.console("good").read_until(BOOT_BANNER, t(30))
        with open("/proc/%d/cmdline" % r["pid"], "rb") as f:
            argv = f.read().split(b"\0")
        self.assertIn(b"-add-fd", argv)
        self.assertIn(b"file=/dev/fdset/1,format=raw,if=virtio,id=disk1,"
                      b"auto-read-only=off",
                      argv)
        for path in (boot, data, ro):
            self.assertFalse(any(path.encode() in a for a in argv), argv)

        def hmp(line):
            return c.command("vm-monitor", {
                "vm": "good", "command": "human-monitor-command",
                "arguments": {"command-line": line}}, timeout=t(30))
        out = hmp('qemu-io disk1 "write -P 0x5a 512 512"')
        self.assertNotIn("rror", out)
        with open(data, "rb") as f:
            self.assertEqual(f.read(1024), b"\0" * 512 + b"\x5a" * 512)
        out = hmp('qemu-io disk2 "write -P 0x5a 0 512"')
        self.assertIn("read-only", out.lower())
        with open(ro, "rb") as f:
            self.assertEqual(f.read(512), b"\1" * 512)
        blocks = {b["device"]: b for b in c.command(
            "vm-monitor", {"vm": "good", "command": "query-block"})}
        self.assertFalse(blocks["disk1"]["inserted"]["ro"])
        self.assertTrue(blocks["disk2"]["inserted"]["ro"])
        c.command("vm-kill", {"vm": "good"}, timeout=t(30))


if __name__ == "__main__":
    vmdtest.main()
