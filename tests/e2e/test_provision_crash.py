"""End-to-end: provisioning under races and crashes.

A vm-clone holds its new volumes' names from its plan to its end: no
other command makes a volume of that name between two of its jobs.  vmd
killed with SIGKILL in the middle of a job leaves no file behind once it
has started again: a job's temporary file (.NAME.FMT.part) is removed at
start and the log says so, the files of an unfinished clone stay
temporary until its rows are stored, and a temporary file whose row was
stored is put in place.  A pool others may write is refused at start."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdpool  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402

MiB = 1 << 20


class HeldCloneCase(vmdtest.VmdTestCase):
    """vmd whose qemu-img convert never ends for outputs matching held."""

    start_vmd = False
    held = "*c1-disk0*"

    def setUp(self):
        super().setUp()
        vmdpool.hold_qemu_img(self, self.held)
        self.vmd.start()
        self.c = self.client()
        os.chmod(self.tmp, 0o711)
        for name in ("d0", "d1"):
            path = os.path.join(self.tmp, name)
            with open(path, "wb") as f:
                f.write(os.urandom(MiB))
            os.chmod(path, 0o644)
            self.c.command("volume-import", {"name": name, "format": "raw",
                                             "file": path}, timeout=t(60))
        self.c.command("vm-define", {"config": vmdtest.bootsector_config(
            "tpl", disks=[{"volume": "d0"}, {"volume": "d1"}])})
        self.c.command("vm-template", {"vm": "tpl"})

    def pool_files(self):
        return sorted(os.listdir(os.path.join(self.vmd.state_dir, "volumes")))

    def clone_held(self, name, volume):
        """Starts a full vm-clone and waits until volume's copy is held."""
        c = self.client()
        c.send({"execute": "vm-clone", "id": 99, "arguments": {
            "vm": "tpl", "name": name, "mode": "full"}})
        c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS"
                     and e["data"]["volume"] == volume
                     and e["data"]["done"] > 0, t(30))
        return c

    def kill_and_restart(self):
        self.vmd.proc.kill()
        self.vmd.proc.wait(t(10))
        self.vmd.start()
        self.c = self.client()


class CloneNamesHeldTest(HeldCloneCase):

    def test_names_of_a_clone_in_flight_are_taken(self):
        self.clone_held("c1", "c1-disk0")
        for cmd, args in (("volume-create", {"name": "c1-disk1",
                                             "size": MiB}),
                          ("volume-clone", {"source": "d0",
                                            "name": "c1-disk1"})):
            self.assertCmdError(self.c, cmd, args, "VolumeExists",
                                ["c1-disk1", "being made"])
        self.assertEqual([v["name"] for v in self.c.command("volume-list")],
                         ["d0", "d1"])


class SourceReadTest(HeldCloneCase):
    held = "*cp*"

    def test_source_of_a_full_copy_is_busy(self):
        self.c.command("volume-import", {"name": "free", "format": "raw",
                       "file": os.path.join(self.tmp, "d0")}, timeout=t(60))
        c = self.client()
        c.send({"execute": "volume-clone", "id": 5, "arguments": {
            "source": "free", "name": "cp", "mode": "full"}})
        c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS"
                     and e["data"]["done"] > 0, t(30))
        self.assertCmdError(self.c, "volume-delete", {"volume": "free"},
                            "Busy", ["free", "job"])
        self.assertCmdError(self.c, "volume-resize", {"volume": "free",
                            "size": 2 * MiB}, "Busy", ["free", "job"])
        self.assertIn("free.raw", self.pool_files())
        # a VM on it would write under the copy: refused until it ends
        self.c.command("vm-define", {"config": vmdtest.bootsector_config(
            "onfree", disks=[{"volume": "free"}])})
        self.assertCmdError(self.c, "vm-start", {"vm": "onfree"}, "Busy",
                            ["free", "job"])


class KilledCloneTest(HeldCloneCase):
    held = "*c1-disk1*"

    def test_kill_during_clone_leaves_nothing(self):
        self.clone_held("c1", "c1-disk1")
        self.assertIn(".c1-disk1.raw.part", self.pool_files())
        self.kill_and_restart()
        self.assertEqual(self.pool_files(), ["d0.raw", "d1.raw"])
        self.assertIn("removed .c1-disk1.raw.part", self.vmd.log())
        self.assertEqual([v["name"] for v in self.c.command("volume-list")],
                         ["d0", "d1"])
        r = self.c.command("vm-clone", {"vm": "tpl", "name": "c1"})
        self.assertEqual(r["volumes"], ["c1-disk0", "c1-disk1"])

    def test_kill_during_import_leaves_nothing(self):
        path = os.path.join(self.tmp, "d0")
        c = self.client()
        c.send({"execute": "volume-import", "id": 7, "arguments": {
            "name": "c1-disk1", "file": path}})
        c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS"
                     and e["data"]["done"] > 0, t(30))
        self.assertIn(".c1-disk1.qcow2.part", self.pool_files())
        self.kill_and_restart()
        self.assertEqual(self.pool_files(), ["d0.raw", "d1.raw"])
        self.assertIn("removed .c1-disk1.qcow2.part", self.vmd.log())

    def test_stored_part_file_is_put_in_place(self):
        """A crash after the rows were stored, before the rename."""
        d = os.path.join(self.vmd.state_dir, "volumes")
        self.vmd.stop()
        os.rename(os.path.join(d, "d1.raw"), os.path.join(d, ".d1.raw.part"))
        with open(os.path.join(d, ".x.txt.part"), "w") as f:
            f.write("not vmd's")   # no volume's name: left alone
        self.vmd.start()
        self.assertEqual(self.pool_files(), [".x.txt.part", "d0.raw",
                                             "d1.raw"])
        self.assertIn("put .d1.raw.part in place", self.vmd.log())


class PoolModeTest(vmdtest.VmdTestCase):
    """vmd writes into its pools as root: a pool directory another user
    may write (and plant a symlink at a temporary file's name in) is
    refused, as the state directory is."""

    start_vmd = False

    def test_pool_writable_by_others_is_refused(self):
        d = os.path.join(self.tmp, "open")
        os.mkdir(d)
        os.chmod(d, 0o777)
        self.vmd.extra_args = ["--pool", "open=" + d]
        with self.assertRaises(AssertionError):
            self.vmd.start(timeout=t(10))
        self.assertIn(d + " is writable by its group or others",
                      self.vmd.log())
        os.chmod(d, 0o700)
        self.vmd.start()


if __name__ == "__main__":
    vmdtest.main()
