"""End-to-end: vm-monitor and vmd's QMP session with each QEMU.

Who may send what: root (and vmd's own user) anything; members of
vmd-admin only query-* and a short list of harmless commands, so that no
admin can make QEMU read or write host files (drive-backup, migrate,
dump-guest-memory...).  And the session itself: a reply far above the
1 MiB cap on clients' requests does not end it, and a lost session is
re-established, so stops stay clean and guest power-offs are seen."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_access  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402

POWEROFF_KEY = b"\x1f"   # the boot-sector guest powers off on this byte


class MonitorAccessTest(test_access.GuardedVmTest):
    """vmdt-admin (group vmd-admin, not root) through vmctl and setpriv."""

    def test_admin_limited_root_not(self):
        c = self.c
        c.command("vm-start", {"vm": "guarded"}, timeout=t(60))
        self.console("guarded").read_until(BOOT_BANNER, t(30))
        scratch = os.path.join(self.tmp, "backup")
        os.mkdir(scratch)
        vmdtest.for_qemu(scratch)   # QEMU, as nobody, writes the copy
        target = os.path.join(scratch, "copy.img")
        backup = '{"device":"disk0","target":"%s","sync":"full"}' % target
        for cmd, args in (("drive-backup", backup),
                          ("human-monitor-command",
                           '{"command-line":"info version"}'),
                          ("dump-guest-memory",
                           '{"paging":false,"protocol":"file:%s/m"}' % scratch),
                          ("migrate", '{"uri":"exec:true"}'),
                          ("add-fd", "{}")):
            rc, out, err = self.as_user("vmdt-admin", "monitor", "guarded",
                                        cmd, args)
            self.assertEqual(rc, 1, (cmd, out, err))
            self.assertIn("PermissionDenied", err)
            self.assertIn('"%s"' % cmd, err)
            self.assertIn("only root", err)
        self.assertEqual(os.listdir(scratch), [])
        rc, out, err = self.as_user("vmdt-admin", "monitor", "guarded",
                                    "query-status")
        self.assertEqual(rc, 0, err)
        self.assertIn("running", out)
        # root may, into a file the QEMU user can write
        c.command("vm-monitor", {"vm": "guarded", "command": "drive-backup",
                                 "arguments": {"device": "disk0",
                                               "target": target,
                                               "sync": "full"}})
        self.wait_for(lambda: not c.command("vm-monitor", {
            "vm": "guarded", "command": "query-block-jobs"}), t(30),
            "the backup job to end")
        with open(target, "rb") as f, open(BOOTSECTOR, "rb") as g:
            self.assertEqual(f.read(512), g.read(512))


class QmpSessionTest(vmdtest.VmdTestCase):
    start_vmd = False

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)

    def boot(self, name):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config(name)})
        c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))
        return c, con

    def status(self, c, name):
        return c.command("vm-monitor", {"vm": name, "command": "query-status"},
                         timeout=t(30))["status"]

    def power_off_is_seen(self, c, con, name):
        """The guest powers off; vmd hears QEMU's SHUTDOWN over QMP."""
        con.write(POWEROFF_KEY)
        self.wait_for(lambda: self.vm_state(c, name) == "stopped", t(30),
                      "the guest's power-off to be seen")
        self.assertEqual(c.command("vm-show", {"vm": name})["pid"], 0)

    def test_reply_over_one_mib(self):
        """A 2 MB reply reaches the caller and the session lives on: later
        calls work and vm-stop is an ACPI power-down, not a kill."""
        self.vmd.start()
        c, _ = self.boot("big")
        out = c.command("vm-monitor", {
            "vm": "big", "command": "human-monitor-command",
            "arguments": {"command-line": "x /262144xb 0"}}, timeout=t(60))
        self.assertGreater(len(out), 1 << 20)
        self.assertEqual(self.status(c, "big"), "running")
        # a stop still goes through QMP as an ACPI power-down (QEMU's
        # POWERDOWN event), which the boot sector ignores until the
        # timeout; without QMP vmd would kill at once
        t0 = time.monotonic()
        r = c.command("vm-stop", {"vm": "big", "timeout": 1}, timeout=t(30))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertTrue(r["forced"])
        log = self.vmd.log()
        self.assertIn("QEMU event POWERDOWN", log)
        self.assertNotIn("system_powerdown failed", log)
        self.assertNotIn("exceeds", log)
        self.assertNotIn("re-established", log)

    def test_lost_session_is_reestablished(self):
        """With the reply cap lowered (a test hook), query-qmp-schema
        breaks the session: the call says why, the loss is logged, and the
        session comes back: later calls, stops and power-offs work."""
        os.environ["VMD_TEST_QMP_MAX_REPLY"] = "65536"
        try:
            self.vmd.start()
        finally:
            del os.environ["VMD_TEST_QMP_MAX_REPLY"]
        c, con = self.boot("lose")
        err = c.error("vm-monitor", {"vm": "lose",
                                     "command": "query-qmp-schema"},
                      timeout=t(60))
        self.assertError(err, "GenericError",
                         ["session lost", "exceeds 65536 bytes", "reconnects"])
        deadline = time.monotonic() + t(10)
        while True:
            r = c.execute("vm-monitor", {"vm": "lose",
                                         "command": "query-status"},
                          timeout=t(30))
            if "return" in r or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(r.get("return", {}).get("status"), "running", r)
        log = self.vmd.log()
        self.assertIn("lost: bad message from peer: message exceeds 65536", log)
        self.assertIn("re-established", log)
        self.power_off_is_seen(c, con, "lose")


if __name__ == "__main__":
    vmdtest.main()
