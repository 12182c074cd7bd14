"""End-to-end: a Linux guest (the host's newest kernel and the test
initramfs) under TCG through the real daemon.

The console is driven through `vmctl console VM` on pipes, as a script
would; a second, read-only viewer on the raw socket must see the same
output and must not be able to type.  vm-stop powers the guest off through
ACPI; "exit" in the guest's shell powers it off from inside."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (INITRAMFS, LINUX_BANNER, QMPError, linux_config,
                     pid_alive, t)  # noqa: E402

BOOT_TIMEOUT = 90  # ~9 s under TCG here; a loaded build host is slower
GUEST_INIT = os.path.join(vmdtest.SRCDIR, "tests", "guests", "init")


def guest_handles_acpi(console_output):
    """Does the test guest power off on the ACPI power button?  Its init
    starts busybox acpid when the kernel modules for the button are in the
    initramfs, and says "init: no ACPI power button" when they are not."""
    try:
        with open(GUEST_INIT, errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    return bool(re.search(r"acpid", text)) and \
        b"no ACPI power button" not in console_output


class LinuxTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(INITRAMFS)
        self.assertIsNotNone(vmdtest.newest_kernel(), "no /boot/vmlinuz-*")

    def boot(self, c, name, **extra):
        c.command("vm-define", {"config": linux_config(name, **extra)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual((r["state"], r["accel"]), ("running", "tcg"))
        return r

    def shell(self, con, command, expect, timeout, once=False):
        """Type command into the guest's shell until expect shows up: the
        first line may arrive before the shell reads its terminal.  once:
        a command that must not run twice (slow output on a loaded host
        is not a lost keystroke)."""
        if once:
            start = len(con.out)
            con.write(command)
            return con.read_until(expect, timeout, start)
        return vmdtest.type_until(con, command, expect, timeout)

    def test_console_viewers_and_guest_shutdown(self):
        c = self.client()
        name = "linux"
        r = self.boot(c, name)
        pid = r["pid"]

        # a read-only viewer on the raw socket, from the start
        ro = self.console(name, mode="ro")
        self.assertEqual(ro.reply["return"], {"vm": name, "port": 0,
                                              "mode": "ro"})

        # the writer: vmctl console on pipes
        con = self.vmctl_process("console", name)
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        ro.read_until(LINUX_BANNER, t(10))

        # one writer at a time: vmctl holds the console
        with self.assertRaises(QMPError) as cm:
            self.console(name, mode="rw")
        self.assertEqual(cm.exception.cls, "Busy")
        # ... but more read-only viewers are fine
        ro2 = self.console(name, mode="ro")
        ro2.read_until(LINUX_BANNER, t(10))

        # what a read-only viewer types goes nowhere
        ro.write(b"echo vmdRO$((2+3))\n")

        self.shell(con, b"echo vmd$((6*7))\n", b"vmd42",
                         t(BOOT_TIMEOUT))
        ro.read_until(b"vmd42", t(10))
        ro2.read_until(b"vmd42", t(10))
        time.sleep(t(1))
        self.assertNotIn(b"vmdRO5", con.out,
                         "a read-only viewer's input reached the guest")
        self.assertNotIn(b"vmdRO5", ro.data)

        # the same bytes reach every viewer: from the banner to the answer
        def segment(data):
            a = data.find(LINUX_BANNER)
            return data[a:data.find(b"vmd42", a) + 5]
        self.assertEqual(segment(ro.data), segment(con.out),
                         "the read-only viewer saw different output")
        self.assertEqual(segment(ro2.data), segment(con.out))

        # scrollback: a viewer attaching after 450 KB of output gets the
        # last 256 KiB of it, exactly as the others saw it
        self.shell(con, b"seq 100000 160000; echo seq-done$((1+1))\n",
                   b"seq-done2", t(120), once=True)
        ro.read_until(b"seq-done2", t(30))
        time.sleep(t(0.5))
        late = self.console(name, mode="ro")
        late.read_until(b"seq-done2", t(10))
        late.read_for(t(0.5))
        ro.read_for(t(0.5))
        self.assertLessEqual(len(late.data), 256 * 1024, "%r...%r / ro tail %r"
                             % (late.data[:30], late.data[-30:],
                                ro.data[-30:]))
        self.assertGreaterEqual(len(late.data), 250 * 1024,
                                "scrollback holds only %d bytes"
                                % len(late.data))
        self.assertTrue(ro.data.endswith(late.data),
                        "scrollback is not the tail of the output")
        self.assertIn(b"159999\r\n160000\r\n", late.data)

        # exit the shell: the guest powers off, vmd says guest-shutdown
        mark = len(c.events)
        con.write(b"exit\n")
        i, ev = c.wait_state(name, "stopped", t(60), since=mark)
        self.assertEqual(ev["data"]["reason"], "guest-shutdown",
                         "transitions: %r" % c.transitions(name, mark))
        self.assertEqual(ev["data"]["old"], "running")
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("stopped", 0))
        self.wait_for(lambda: not pid_alive(pid), t(5), "QEMU gone")

        # every viewer sees the console end; vmctl console then exits
        self.assertTrue(ro.wait_eof(t(10)), "ro viewer not closed")
        rc = con.wait(t(15))
        self.assertIsNotNone(rc, "vmctl console still running after the "
                             "VM stopped")
        self.assertEqual(rc, 1, "vmctl console: stderr %r" % con.err)
        self.assertIn(b"the VM stopped", con.err)

    def test_second_port_and_acpi_stop(self):
        c = self.client()
        name = "linux-acpi"
        self.boot(c, name, serial=[{"type": "console"}, {"type": "console"}])
        con = self.console(name, mode="ro")
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))

        # port 1 is the guest's ttyS1, where its init echoes what it gets
        p1 = self.console(name, port=1)
        self.assertEqual(p1.reply["return"], {"vm": name, "port": 1,
                                              "mode": "rw"})
        # the echo starts with the shell, just after the banner
        vmdtest.type_until(p1, b"port-one\n", b"port-one", t(30), per_try=3)
        self.assertNotIn(b"port-one", con.data)
        self.assertCmdError(c, "console-attach", {"vm": name, "port": 2},
                            "InvalidArgument", "port")
        # give the kernel's ACPI and the guest's init a moment past the banner
        time.sleep(t(1))

        timeout = 20
        mark = len(c.events)
        t0 = time.monotonic()
        r = c.command("vm-stop", {"vm": name, "timeout": timeout},
                      timeout=t(timeout + 30))
        elapsed = time.monotonic() - t0
        self.assertEqual(r["state"], "stopped")
        c.wait_state(name, "stopped", t(5), since=mark)
        self.assertEqual(c.transitions(name, mark),
                         [("running", "stopping", "stop"),
                          ("stopping", "stopped", "stop")])
        self.assertTrue(con.wait_eof(t(10)), "console not closed")
        if guest_handles_acpi(con.data):
            self.assertFalse(r["forced"], "the guest handles the ACPI power "
                             "button but vmd had to kill it (%.1f s)"
                             % elapsed)
            self.assertLess(elapsed, timeout)
        elif not r["forced"]:
            self.assertLess(elapsed, timeout)
        else:
            # the documented fallback: SIGKILL once the timeout has passed
            self.assertGreaterEqual(elapsed, timeout - 0.5)
            self.assertLess(elapsed, timeout + t(10))
        self.assertEqual(c.command("vm-show", {"vm": name})["state"],
                         "stopped")


if __name__ == "__main__":
    vmdtest.main()
