"""End-to-end: what a VM leaves on disk.

- when its QEMU ends, the sockets in its run directory go;
- vm-undefine removes the run directory and keeps the console logs, with a
  note of the VM's name, for --log-retention days;
- "purge": true removes the logs at once;
- at start-up vmd removes expired logs of undefined VMs, never those of a
  defined VM, and none with --log-retention 0."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402

DAY = 86400


class LeftoversTest(vmdtest.VmdTestCase):

    def setUp(self):
        vmdtest.require_guests(BOOTSECTOR)
        super().setUp()
        self.c = self.client()

    def run_once(self, name):
        """Define, boot and kill a VM; its uuid."""
        uuid = self.c.command("vm-define", {"config": bootsector_config(
            name)})["uuid"]
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        self.console(name).read_until(BOOT_BANNER, t(30))
        self.c.command("vm-kill", {"vm": name}, timeout=t(30))
        return uuid

    def run_dir(self, uuid):
        return os.path.join(self.vmd.run_dir, "vms", uuid)

    def logs(self, uuid):
        return os.path.join(self.vmd.state_dir, "logs", uuid)

    def age(self, uuid, days):
        """Make every file of the VM's logs days old."""
        when = time.time() - days * DAY
        for f in os.listdir(self.logs(uuid)):
            os.utime(os.path.join(self.logs(uuid), f), (when, when))

    def test_stop_removes_sockets_undefine_the_run_dir(self):
        uuid = self.run_once("lo1")
        left = os.listdir(self.run_dir(uuid))
        for f in left:
            self.assertFalse(f.endswith((".sock", ".keep")),
                             "stale socket after the stop: %s" % f)
        self.assertIn("qemu.log", left)
        self.c.command("vm-undefine", {"vm": "lo1"})
        self.assertFalse(os.path.exists(self.run_dir(uuid)),
                         "the run directory outlived the VM")
        logs = sorted(os.listdir(self.logs(uuid)))
        self.assertTrue(any(f.startswith("ttyS0.") and f.endswith(".log")
                            for f in logs), logs)
        with open(os.path.join(self.logs(uuid), "undefined")) as f:
            self.assertEqual(f.read(), "lo1\n")

    def test_purge_removes_the_logs(self):
        uuid = self.run_once("lo2")
        self.assertTrue(os.path.isdir(self.logs(uuid)))
        self.c.command("vm-undefine", {"vm": "lo2", "purge": True})
        self.assertFalse(os.path.exists(self.logs(uuid)))
        self.assertFalse(os.path.exists(self.run_dir(uuid)))
        rc, out, err = self.vmctl("list")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("lo2", out)

    def test_purge_is_a_boolean(self):
        self.c.command("vm-define", {"config": bootsector_config("lo3")})
        self.assertCmdError(self.c, "vm-undefine", {"vm": "lo3", "purge": 1},
                            "InvalidArgument", "purge")

    def test_expired_logs_removed_at_start_up(self):
        gone = self.run_once("old-gone")
        kept = self.run_once("old-kept")     # undefined, but recently
        alive = self.run_once("old-alive")   # still defined
        self.c.command("vm-undefine", {"vm": "old-gone"})
        self.c.command("vm-undefine", {"vm": "old-kept"})
        self.age(gone, 31)
        self.age(kept, 29)
        self.age(alive, 400)
        self.vmd.stop()
        self.vmd.start()
        self.assertFalse(os.path.exists(self.logs(gone)),
                         "logs 31 days past undefine not removed")
        self.assertTrue(os.path.isdir(self.logs(kept)))
        self.assertTrue(os.path.isdir(self.logs(alive)),
                        "a defined VM's logs were removed")
        self.assertIn("removed the console logs of undefined VM %s" % gone,
                      self.vmd.log())
        # --log-retention 2 days: the 29-day-old ones go too
        self.vmd.stop()
        self.vmd.extra_args = ["--log-retention", "2"]
        self.vmd.start()
        self.assertFalse(os.path.exists(self.logs(kept)))
        self.assertTrue(os.path.isdir(self.logs(alive)))

    def test_retention_zero_keeps_logs(self):
        uuid = self.run_once("forever")
        self.c.command("vm-undefine", {"vm": "forever"})
        self.age(uuid, 3650)
        self.vmd.stop()
        self.vmd.extra_args = ["--log-retention", "0"]
        self.vmd.start()
        self.assertTrue(os.path.isdir(self.logs(uuid)))

    def test_bad_retention_refused(self):
        self.vmd.stop()
        self.vmd.extra_args = ["--log-retention", "-1"]
        with self.assertRaises(AssertionError):
            self.vmd.start(timeout=t(10))
        self.assertIn("--log-retention: expected a number from 0", self.vmd.log())


if __name__ == "__main__":
    vmdtest.main()
