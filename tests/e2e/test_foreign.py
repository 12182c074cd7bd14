"""End-to-end: guests of foreign architectures (aarch64, s390x) under TCG
through the real daemon.

Each boots Debian 12's own kernel for its arch with a busybox initramfs of
that arch's busybox-static (tests/guests/mkforeign.sh: apt-get download
through a private apt state, dpkg-deb -x; nothing is installed).  The test
types `uname -m` on the console and reads the arch back; the keeper
journals the console; vm-stop powers the guest off through its arch's
power button (aarch64: the virt machine's GPIO power key; s390x: the SCLP
signal quiesce), so neither may need a kill; a restarted vmd reattaches to
a running aarch64 guest, and restarts it after a crash under its
restart_policy.  riscv64 has no Debian 12 kernel: its virt
machine runs OpenSBI alone, which is enough to see its UART and that
vm-stop kills a machine without a power button at once.

The test skips, naming the reason, only when Debian's packages for the
arch cannot be downloaded (no network or no apt sources)."""

import glob
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import LINUX_BANNER, pid_alive, t  # noqa: E402

BOOT_TIMEOUT = 120   # aarch64 ~5 s, s390x ~3 s to the shell here (TCG)
CACHE = os.path.join(vmdtest.BUILDDIR, "tests", "cache", "foreign")
MKFOREIGN = os.path.join(vmdtest.SRCDIR, "tests", "guests", "mkforeign.sh")


def foreign_guest(arch):
    """(kernel, initrd) of arch's test guest, built once into CACHE.
    Raises unittest.SkipTest when the packages cannot be downloaded."""
    d = os.path.join(CACHE, arch)
    r = subprocess.run(["sh", MKFOREIGN, arch, d], capture_output=True,
                       text=True, timeout=t(600))
    if r.returncode == 77:
        raise vmdtest.unittest.SkipTest(
            "no Debian %s packages to download: %s" % (arch, r.stderr.strip()))
    if r.returncode != 0:
        raise AssertionError("mkforeign.sh %s failed: %s" % (arch, r.stderr))
    return os.path.join(d, "vmlinuz"), os.path.join(d, "initramfs.cpio.gz")


def journal(run_dir):
    """What the keeper journaled of console 0."""
    data = b""
    for path in glob.glob(os.path.join(run_dir, "console0.*.journal")):
        with open(path, "rb") as f:
            data += f.read()
    return data


class ForeignTest(vmdtest.VmdTestCase):

    def emulators(self, c):
        return {e["arch"]: e for e in c.command("query-host")["emulators"]}

    def define(self, c, name, arch, **extra):
        """A guest of arch on its own console (as query-host names it)."""
        console = self.emulators(c)[arch]["console"]
        kernel, initrd = foreign_guest(arch)
        cfg = {"name": name, "arch": arch, "memory_mib": 256,
               "boot": {"kernel": kernel, "initrd": initrd,
                        "cmdline": "console=%s quiet panic=-1" % console}}
        cfg.update(extra)
        c.command("vm-define", {"config": cfg})

    def start(self, c, name):
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual((r["state"], r["accel"]), ("running", "tcg"))
        uuid = c.command("vm-show", {"vm": name})["uuid"]
        return r["pid"], os.path.join(self.vmd.run_dir, "vms", uuid)

    def uname(self, con, arch):
        t0 = time.monotonic()
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        boot = time.monotonic() - t0
        vmdtest.type_until(con, b"uname -m\n", b"\r\n%s\r\n" % arch.encode(),
                           t(60))
        return boot

    def check_qemu(self, pid, arch, machine):
        argv = vmdtest._proc_cmdline(pid).split(" ")
        self.assertTrue(argv[0].endswith("qemu-system-" + arch), argv[0])
        self.assertIn("%s,accel=tcg" % machine, argv)

    def stop_cleanly(self, c, name, con):
        mark = len(c.events)
        t0 = time.monotonic()
        r = c.command("vm-stop", {"vm": name, "timeout": 60}, timeout=t(90))
        self.assertEqual(r["state"], "stopped")
        self.assertFalse(r["forced"], "%s: vmd had to kill the guest after "
                         "%.1f s: its power button went unheard"
                         % (name, time.monotonic() - t0))
        c.wait_state(name, "stopped", t(5), since=mark)
        self.assertEqual(c.transitions(name, mark),
                         [("running", "stopping", "stop"),
                          ("stopping", "stopped", "stop")])
        self.assertTrue(con.wait_eof(t(10)), "console not closed")

    def boot_arch(self, arch, machine):
        c = self.client()
        self.assertEqual(self.emulators(c)[arch]["accel"], "tcg")
        self.define(c, arch, arch, accel="auto")
        pid, run_dir = self.start(c, arch)
        self.check_qemu(pid, arch, machine)
        con = self.console(arch)
        boot = self.uname(con, arch)
        sys.stderr.write("%s: shell in %.1f s under TCG\n" % (arch, boot))
        # the keeper journals what the console saw
        self.wait_for(lambda: b"\r\n%s\r\n" % arch.encode() in journal(run_dir),
                      t(10), "the keeper's journal to hold uname's answer")
        # pause and resume reach the foreign guest too
        c.command("vm-pause", {"vm": arch})
        c.command("vm-resume", {"vm": arch})
        vmdtest.type_until(con, b"echo foreign$((6*7))\n", b"foreign42", t(30))
        self.stop_cleanly(c, arch, con)
        self.wait_for(lambda: not pid_alive(pid), t(5), "QEMU gone")

    def test_aarch64(self):
        self.boot_arch("aarch64", "virt")

    def test_s390x(self):
        self.boot_arch("s390x", "s390-ccw-virtio")

    def test_query_host(self):
        c = self.client()
        emus = self.emulators(c)
        for arch, machine in (("x86_64", "pc"), ("aarch64", "virt"),
                              ("riscv64", "virt"),
                              ("s390x", "s390-ccw-virtio")):
            self.assertIn(arch, emus, "qemu-system-%s not listed" % arch)
            self.assertIn(machine, emus[arch]["machines"])
            self.assertTrue(emus[arch]["path"].endswith("qemu-system-" + arch))
            self.assertRegex(emus[arch]["version"], r"^\d+\.\d+")
        self.assertEqual(emus["aarch64"]["console"], "ttyAMA0")
        self.assertIsNone(emus["riscv64"]["powerdown"])
        # vmctl host shows them too
        rc, out, _ = self.vmctl("host")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"emulator aarch64: +\S*qemu-system-aarch64 "
                         r"[0-9.]+, tcg, \d+ machines")
        # KVM only ever for the host's own arch
        self.assertEqual({a for a, e in emus.items() if e["accel"] == "kvm"}
                         - {"x86_64", "i386"}, set())

    def test_reattach_after_vmd_restart(self):
        c = self.client()
        self.define(c, "arm", "aarch64")
        pid, _ = self.start(c, "arm")
        con = self.console("arm")
        self.uname(con, "aarch64")
        c.close()
        con.close()
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        self.assertTrue(pid_alive(pid), "QEMU died with vmd")

        self.vmd.start()
        c = self.client()
        show = c.command("vm-show", {"vm": "arm"})
        self.assertEqual((show["state"], show["pid"]), ("running", pid))
        con = self.console("arm")
        vmdtest.type_until(con, b"echo back$((40+2)) $(uname -m)\n",
                           b"back42 aarch64", t(30))
        self.stop_cleanly(c, "arm", con)

    def test_restart_policy(self):
        """A crashed aarch64 guest comes back under on-failure, as x86."""
        c = self.client()
        self.define(c, "arm", "aarch64", restart_policy="on-failure")
        pid, _ = self.start(c, "arm")
        self.uname(self.console("arm"), "aarch64")
        mark = len(c.events)
        os.kill(pid, signal.SIGKILL)
        c.wait_state("arm", "crashed", t(30), since=mark)
        c.wait_state("arm", "running", t(60), since=mark)
        new = c.command("vm-show", {"vm": "arm"})["pid"]
        self.assertNotEqual(new, pid)
        # the scrollback holds the first boot: ask for what only the new
        # guest can answer
        vmdtest.type_until(self.console("arm"),
                           b"echo again$((40+2)) $(uname -m)\n",
                           b"again42 aarch64", t(BOOT_TIMEOUT))

    def test_qemu_per_arch(self):
        """--qemu ARCH=PATH picks one arch's binary; the plain --qemu PATH
        stays x86_64's; an unknown arch is refused at start."""
        mine = os.path.join(self.tmp, "mine")
        os.mkdir(mine)
        os.chmod(mine, 0o755)
        link = os.path.join(mine, "qemu-system-riscv64")
        os.symlink("/usr/bin/qemu-system-riscv64", link)
        self.vmd.stop()
        self.vmd.extra_args += ["--qemu", "riscv64=" + link]
        self.vmd.start()
        c = self.client()
        emus = self.emulators(c)
        self.assertEqual(emus["riscv64"]["path"], link)
        self.assertEqual(emus["aarch64"]["path"], "/usr/bin/qemu-system-aarch64")
        c.command("vm-define", {"config": {"name": "rv", "arch": "riscv64",
                                           "memory_mib": 128}})
        pid, _ = self.start(c, "rv")
        self.assertEqual(vmdtest._proc_cmdline(pid).split(" ")[0], link)
        c.command("vm-kill", {"vm": "rv"}, timeout=t(30))

        r = subprocess.run([vmdtest.VMD, "--qemu", "arm=/usr/bin/qemu-arm",
                            "--help"], capture_output=True, text=True,
                           timeout=t(10))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--qemu arm=/usr/bin/qemu-arm: expected PATH or "
                      "ARCH=PATH, ARCH one of: x86_64 i386 aarch64 riscv64 "
                      "s390x", r.stderr)

    def test_riscv64_stop_kills(self):
        """riscv64's virt machine has no power button: vm-stop kills its
        QEMU at once instead of waiting out the timeout."""
        c = self.client()
        c.command("vm-define", {"config": {"name": "rv", "arch": "riscv64",
                                           "memory_mib": 128}})
        pid, _ = self.start(c, "rv")
        self.check_qemu(pid, "riscv64", "virt")
        con = self.console("rv")
        con.read_until(b"OpenSBI", t(30))   # its UART (NS16550A) works
        t0 = time.monotonic()
        r = c.command("vm-stop", {"vm": "rv", "timeout": 120}, timeout=t(60))
        self.assertEqual((r["state"], r["forced"]), ("stopped", True))
        self.assertLess(time.monotonic() - t0, t(20),
                        "vm-stop waited for a power button riscv64 lacks")
        self.assertIn("no power button", self.vmd.log())


if __name__ == "__main__":
    vmdtest.main()
