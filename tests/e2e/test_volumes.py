"""End-to-end: volumes, the disk images vmd owns, with the real qemu-img
and a real guest.

Create, list, show, delete; import of a raw file the test writes into
qcow2, checked with `qemu-img compare`; full clones with VOLUME_PROGRESS
events; cancel and a full pool (a small tmpfs pool) leave no partial
file; a linked clone of the boot-sector image boots and prints its
banner; a running guest's disk grows online (QMP query-block); every
refusal names what is at fault; jobs are bounded and only admins cancel."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdpool  # noqa: E402
import vmdtest  # noqa: E402
from vmdproto import ConnectionClosed  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, t  # noqa: E402

MiB = 1 << 20
_data = {}


def data_file(size_mib):
    """A raw file of size_mib MiB that is data throughout (no zero block
    for qemu-img to skip), made once per size for the whole file."""
    if size_mib not in _data:
        d = tempfile.mkdtemp(prefix="vmd-e2e-vol-")
        os.chmod(d, 0o711)
        path = os.path.join(d, "data-%d.raw" % size_mib)
        block = bytes(range(1, 256)) * (MiB // 255 + 1)
        with open(path, "wb") as f:
            for i in range(size_mib):
                f.write(b"%08d" % i + block[8:MiB])
        os.chmod(path, 0o644)
        _data[size_mib] = path
    return _data[size_mib]


def tearDownModule():
    for path in _data.values():
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


class VolumeCase(vmdtest.VmdTestCase):

    def pool_files(self, pool_dir=None):
        d = pool_dir or os.path.join(self.vmd.state_dir, "volumes")
        return sorted(os.listdir(d))

    def start_async(self, c, cmd, args):
        """Send a request without waiting; returns its id."""
        rid = c.next_id
        c.next_id += 1
        c.send({"execute": cmd, "arguments": args, "id": rid})
        return rid

    def progress(self, c, volume, since=0):
        return [e["data"] for e in c.events[since:]
                if e.get("event") == "VOLUME_PROGRESS" and
                e["data"]["volume"] == volume]


class VolumeBasicsTest(VolumeCase):

    def test_create_list_show_delete(self):
        c = self.client()
        v = c.command("volume-create", {"name": "web1-root", "size": "64M"})
        self.assertEqual((v["format"], v["size"], v["pool"], v["backing"]),
                         ("qcow2", 64 * MiB, "default", None))
        pool = os.path.join(self.vmd.state_dir, "volumes")
        self.assertEqual(stat.S_IMODE(os.stat(pool).st_mode), 0o700)
        info = json.loads(subprocess.check_output(
            ["qemu-img", "info", "--output=json", v["path"]]))
        self.assertEqual((info["format"], info["virtual-size"]),
                         ("qcow2", 64 * MiB))
        raw = c.command("volume-create", {"name": "scratch", "size": 1048576,
                                          "format": "raw"})
        self.assertEqual(os.path.getsize(raw["path"]), MiB)
        self.assertEqual([x["name"] for x in c.command("volume-list")],
                         ["scratch", "web1-root"])
        shown = c.command("volume-show", {"volume": "web1-root"})
        self.assertEqual((shown["used_by"], shown["clones"]), ([], []))
        c.command("volume-delete", {"volume": "scratch"})
        self.assertEqual(self.pool_files(), ["web1-root.qcow2"])
        # a restarted vmd still knows it (the store has the row)
        self.vmd.stop()
        self.vmd.start()
        c = self.client()
        self.assertEqual([x["name"] for x in c.command("volume-list")],
                         ["web1-root"])

    def test_chain_depth_is_bounded_at_clone(self):
        """QEMU gets each base as an fd set, at most 7 under a disk: a
        linked clone that would stand on 8 is refused when asked for, not
        at its VM's start; a full copy of the deepest one still works."""
        c = self.client()
        c.command("volume-create", {"name": "l0", "size": "1M"})
        for i in range(1, 8):
            c.command("volume-clone", {"source": "l%d" % (i - 1),
                                       "name": "l%d" % i})
        self.assertCmdError(c, "volume-clone", {"source": "l7", "name": "l8"},
                            "InvalidArgument", ["l7", "7 bases", "full"])
        self.assertNotIn("l8.qcow2", os.listdir(os.path.join(
            self.vmd.state_dir, "volumes")))
        c.command("volume-clone", {"source": "l7", "name": "flat",
                                   "mode": "full"}, timeout=t(60))
        self.assertIsNone(c.command("volume-show",
                                    {"volume": "flat"})["backing"])
        # the same for vm-clone of a template on the deepest one
        c.command("vm-define", {"config": {"name": "deep",
                                           "disks": [{"volume": "l7"}]}})
        c.command("vm-template", {"vm": "deep"})
        self.assertCmdError(c, "vm-clone", {"vm": "deep", "name": "d2"},
                            "InvalidArgument", ["l7", "7 bases", "full"])
        c.command("vm-clone", {"vm": "deep", "name": "d3", "mode": "full"},
                  timeout=t(60))

    def test_refusals(self):
        c = self.client()
        c.command("volume-create", {"name": "a", "size": "1M"})
        self.assertCmdError(c, "volume-create", {"name": "a", "size": "1M"},
                            "VolumeExists", "'a'")
        self.assertCmdError(c, "volume-create", {"name": "b", "size": 0},
                            "InvalidArgument", "size")
        self.assertCmdError(c, "volume-create", {"name": "b", "size": "1000T"},
                            "InvalidArgument", ["size", "free"])
        self.assertCmdError(c, "volume-create", {"name": "b", "size": "12Q"},
                            "InvalidArgument", "size")
        self.assertCmdError(c, "volume-create",
                            {"name": "b", "size": "1M", "pool": "nosuch"},
                            "InvalidArgument", ["pool", "nosuch"])
        self.assertCmdError(c, "volume-create", {"name": "../x", "size": "1M"},
                            "InvalidArgument", "name")
        for cmd, args in (("volume-show", {"volume": "nosuch"}),
                          ("volume-delete", {"volume": "nosuch"}),
                          ("volume-resize", {"volume": "nosuch", "size": 1}),
                          ("volume-clone", {"source": "nosuch", "name": "x"})):
            self.assertCmdError(c, cmd, args, "VolumeNotFound", "nosuch")
        self.assertCmdError(c, "volume-resize", {"volume": "a", "size": 4096},
                            "InvalidArgument", ["size", "shrink"])
        r = c.command("volume-resize", {"volume": "a", "size": "512K",
                                        "shrink": True})
        self.assertEqual(r["size"], 512 * 1024)
        self.assertCmdError(c, "vm-define", {"config": vmdtest.bootsector_config(
            "v", disks=[{"volume": "nosuch"}])}, "VolumeNotFound",
            ["disks[0].volume", "nosuch"])
        self.assertCmdError(c, "vm-define", {"config": vmdtest.bootsector_config(
            "v", disks=[{"volume": "a", "path": "/dev/null"}])},
            "InvalidArgument", "disks")
        c.command("volume-clone", {"source": "a", "name": "a-clone"})
        self.assertCmdError(c, "volume-delete", {"volume": "a"},
                            "InvalidState", ["a-clone", "base"])
        self.assertCmdError(c, "volume-resize", {"volume": "a", "size": "2M"},
                            "InvalidState", "base")

    def test_import_converts(self):
        src = data_file(48)
        c = self.client()
        v = c.command("volume-import", {"name": "imp", "file": src},
                      timeout=t(120))
        self.assertEqual((v["format"], v["size"]), ("qcow2", 48 * MiB))
        subprocess.check_call(["qemu-img", "compare", "-q", "-f", "raw",
                               "-F", "qcow2", src, v["path"]])
        # the file is opened as the QEMU user: what it cannot read, an
        # admin cannot import through vmd
        secret = os.path.join(self.tmp, "secret.raw")
        with open(secret, "wb") as f:
            f.write(b"s" * 4096)
        os.chmod(secret, 0o600)
        self.assertCmdError(c, "volume-import", {"name": "s", "file": secret},
                            "InvalidArgument", [secret, "nobody"])
        self.assertEqual(self.pool_files(), ["imp.qcow2"])

    def test_full_clone_progress(self):
        src = data_file(384)
        c = self.client()
        c.command("volume-import", {"name": "src", "file": src,
                                    "format": "raw"}, timeout=t(120))
        watcher = self.client()
        mark = len(watcher.events)
        v = c.command("volume-clone", {"source": "src", "name": "copy",
                                       "mode": "full", "format": "qcow2"},
                      timeout=t(120))
        self.assertIsNone(v["backing"])
        watcher.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS" and
                           e["data"]["volume"] == "copy" and
                           e["data"]["done"] == e["data"]["total"], t(10),
                           since=mark)
        ev = self.progress(watcher, "copy", mark)
        self.assertGreaterEqual(len(ev), 2, ev)
        self.assertEqual({e["job"] for e in ev}, {ev[0]["job"]})
        self.assertEqual({e["kind"] for e in ev}, {"clone"})
        dones = [e["done"] for e in ev]
        self.assertEqual(dones, sorted(dones))
        self.assertEqual((ev[-1]["done"], ev[-1]["total"]),
                         (384 * MiB, 384 * MiB))
        subprocess.check_call(["qemu-img", "compare", "-q", "-f", "raw",
                               "-F", "qcow2", src, v["path"]])


class FullPoolTest(VolumeCase, vmdpool.SmallPoolCase):
    """A pool on a 16 MiB tmpfs: a 48 MiB import runs out of space."""

    def test_disk_full_removes_the_partial_file(self):
        c = self.client()
        self.assertCmdError(c, "volume-create",
                            {"name": "huge", "size": "64M", "pool": "small",
                             "format": "raw"}, "InvalidArgument",
                            ["size", "small", "free"])
        err = c.error("volume-import", {"name": "big", "file": data_file(48),
                                        "format": "raw", "pool": "small"},
                      timeout=t(120))
        self.assertError(err, "GenericError", ["full", "No space left",
                                               "removed"])
        self.assertEqual(os.listdir(self.small), [])
        self.assertEqual(c.command("volume-list"), [])
        # the pool still serves what fits
        v = c.command("volume-import", {"name": "fits", "file": data_file(8),
                                        "format": "raw", "pool": "small"},
                      timeout=t(60))
        self.assertEqual(os.path.dirname(v["path"]), self.small)


class VolumeGuestTest(VolumeCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()
        self.c.command("volume-import", {"name": "base", "file": BOOTSECTOR,
                                         "format": "raw"})
        self.c.command("volume-clone", {"source": "base", "name": "vm1-root"})
        self.c.command("vm-define", {"config": vmdtest.bootsector_config(
            "vm1", disks=[{"volume": "vm1-root", "bus": "virtio"}])})

    def boot(self, name="vm1"):
        """Start and read the banner: the console keeps every byte from
        the first instruction, so attaching after the start loses none."""
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        self.console(name).read_until(BOOT_BANNER, t(60))

    def test_linked_clone_boots(self):
        base = self.c.command("volume-show", {"volume": "base"})
        self.assertTrue(base["readonly"])
        self.assertEqual(base["clones"], ["vm1-root"])
        self.assertEqual(stat.S_IMODE(os.stat(base["path"]).st_mode), 0o444)
        clone = self.c.command("volume-show", {"volume": "vm1-root"})
        info = json.loads(subprocess.check_output(
            ["qemu-img", "info", "--output=json", "-U", clone["path"]]))
        self.assertEqual((info["backing-filename"],
                          info["backing-filename-format"]),
                         (base["path"], "raw"))
        self.boot()
        pid = self.c.command("vm-show", {"vm": "vm1"})["pid"]
        cmdline = vmdtest._proc_cmdline(pid)
        self.assertIn("backing.file.filename=/dev/fdset/", cmdline)
        self.assertNotIn(base["path"], cmdline)
        self.assertEqual(clone["used_by"], ["vm1"])

    def test_refusals_while_used(self):
        self.assertCmdError(self.c, "volume-delete", {"volume": "vm1-root"},
                            "InvalidState", ["vm1", "definition"])
        self.boot()
        self.assertCmdError(self.c, "volume-delete", {"volume": "vm1-root"},
                            "Busy", ["vm1", "running"])
        self.assertCmdError(self.c, "volume-clone",
                            {"source": "vm1-root", "name": "copy",
                             "mode": "full"}, "Busy", ["vm1", "vm1-root"])
        self.assertCmdError(self.c, "volume-resize",
                            {"volume": "vm1-root", "size": 4096,
                             "shrink": True}, "Busy", "stop")
        self.assertEqual(sorted(self.pool_files()),
                         ["base.raw", "vm1-root.qcow2"])

    def test_base_removed_behind_vmds_back(self):
        path = self.c.command("volume-show", {"volume": "base"})["path"]
        os.rename(path, path + ".away")
        err = self.c.error("vm-start", {"vm": "vm1"}, timeout=t(60))
        self.assertError(err, "VolumeNotFound", ["base", path])
        self.assertEqual(self.vm_state(self.c, "vm1"), "stopped")

    def test_online_grow(self):
        self.boot()
        mark = self.c.command("volume-show", {"volume": "vm1-root"})["size"]
        r = self.c.command("volume-resize", {"volume": "vm1-root",
                                             "size": "8M"})
        self.assertEqual(r["size"], 8 * MiB)
        self.assertGreater(r["size"], mark)
        blocks = self.c.command("vm-monitor", {"vm": "vm1",
                                               "command": "query-block"})
        disk = [b for b in blocks if b["device"] == "disk0"][0]
        self.assertEqual(disk["inserted"]["image"]["virtual-size"], 8 * MiB)
        self.assertEqual(self.c.command("volume-show",
                                        {"volume": "vm1-root"})["size"],
                         8 * MiB)


class VmctlVolumeTest(VolumeCase):

    def test_volume_commands(self):
        import collections
        R = collections.namedtuple("R", "returncode stdout stderr")

        def ok(*a):
            return R(*self.vmctl(*a))
        p = ok("volume", "create", "disk1", "2M", "--format", "raw")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("created disk1 (raw, 2.0M", p.stdout)
        p = ok("volume", "list")
        self.assertEqual(p.stdout.split("\n")[0].split(),
                         ["NAME", "FORMAT", "SIZE", "POOL", "BASE", "READONLY"])
        self.assertEqual(p.stdout.split("\n")[1].split(),
                         ["disk1", "raw", "2.0M", "default", "-", "no"])
        p = ok("--json", "volume", "list")
        self.assertEqual([v["name"] for v in json.loads(p.stdout)], ["disk1"])
        p = ok("volume", "clone", "disk1", "disk2")
        self.assertIn("cloned disk2 (qcow2", p.stdout)
        p = ok("volume", "show", "disk1")
        self.assertIn("clones:", p.stdout)
        self.assertIn("disk2", p.stdout)
        p = ok("volume", "resize", "disk2", "1M")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--shrink", p.stderr)
        p = ok("volume", "resize", "disk2", "1M", "--shrink")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = ok("volume", "delete", "disk1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("InvalidState", p.stderr)
        p = ok("job", "list")
        self.assertEqual(p.stdout.split(), ["ID", "KIND", "VOLUME", "DONE",
                                            "UID"])

    def test_progress_bar_on_a_terminal(self):
        src = data_file(256)
        rc, out, tty = vmdtest.run_vmctl_tty(
            self.vmd.socket, ["volume", "import", "big", src], t(120))
        self.assertEqual(rc, 0, tty)
        self.assertIn("imported big (qcow2, 256.0M", out)
        self.assertIn(b"\rbig [", tty)
        self.assertIn(b"100% 256.0M/256.0M", tty)
        # not on a terminal: no bar, the same result
        rc, out, err = self.vmctl("volume", "import", "big2", src)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("imported big2", out)


class SlowJobsCase(VolumeCase):
    """qemu-img jobs that never end by themselves (vmdpool.hold_qemu_img:
    its convert writes 1 MiB of its output file, says 10 %, and sleeps)."""

    start_vmd = False

    def setUp(self):
        super().setUp()
        vmdpool.hold_qemu_img(self)
        self.vmd.start()


class SlowJobTest(SlowJobsCase):

    def test_cancel_leaves_no_partial_file(self):
        src = data_file(8)
        c, other = self.client(), self.client()
        rid = self.start_async(c, "volume-import", {"name": "big",
                                                    "file": src})
        _, ev = c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS"
                             and e["data"]["done"] > 0, t(30))
        self.assertEqual((ev["data"]["done"], ev["data"]["total"]),
                         (8 * MiB // 10, 8 * MiB))
        self.assertEqual(self.pool_files(), [".big.qcow2.part"])
        jobs = other.command("job-list")
        self.assertEqual([(j["job"], j["volume"]) for j in jobs],
                         [(ev["data"]["job"], "big")])
        other.command("job-cancel", {"job": ev["data"]["job"]})
        reply = c.recv_reply(t(30), rid, match_id=True)
        self.assertError(reply.get("error"), "GenericError", "cancelled")
        self.assertEqual(self.pool_files(), [])
        self.assertEqual(other.command("volume-list"), [])
        self.assertEqual(other.command("job-list"), [])
        self.assertCmdError(other, "job-cancel", {"job": ev["data"]["job"]},
                            "InvalidArgument", "job")

    def test_exit_ends_jobs(self):
        """vmd's exit kills its qemu-img and removes the partial file;
        the command that waited ends (vmd closes its connection)."""
        c = self.client()
        rid = self.start_async(c, "volume-import", {"name": "big",
                                                    "file": data_file(8)})
        c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS" and
                     e["data"]["done"] > 0, t(30))
        pool = os.path.join(self.vmd.state_dir, "volumes")
        self.assertEqual(os.listdir(pool), [".big.qcow2.part"])
        self.vmd.stop()
        self.assertEqual(os.listdir(pool), [])
        with self.assertRaises(ConnectionClosed):
            c.recv_reply(t(10), rid, match_id=True)
        for pid in vmdtest._all_pids():
            self.assertNotIn(pool, vmdtest._proc_cmdline(pid))


class HostileJobsTest(SlowJobsCase, vmdtest.UsersTestCase):

    def test_jobs_are_bounded_and_cancelled_by_admins_only(self):
        src = data_file(8)
        clients = [self.client() for _ in range(5)]
        rids = [self.start_async(cl, "volume-import",
                                 {"name": "v%d" % i, "file": src})
                for i, cl in enumerate(clients[:4])]
        jobs = self.wait_for(lambda: len(clients[4].command("job-list")) == 4
                             and clients[4].command("job-list"), t(10),
                             "4 jobs")
        err = clients[4].error("volume-import", {"name": "v4", "file": src})
        self.assertError(err, "Busy", ["4", "jobs"])
        vmctl = self.copy_for_others()
        p = subprocess.run(
            ["setpriv", "--reuid=vmdt-reader", "--regid=vmdt-reader",
             "--init-groups", vmctl, "-s", self.vmd.socket, "job", "cancel",
             str(jobs[0]["job"])], capture_output=True, text=True,
            timeout=t(30))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("vmd-admin", p.stderr)
        self.assertEqual([j["job"] for j in clients[4].command("job-list")],
                         [j["job"] for j in jobs])
        for j in jobs:
            clients[4].command("job-cancel", {"job": j["job"]})
        for cl, rid in zip(clients, rids):
            reply = cl.recv_reply(t(30), rid, match_id=True)
            self.assertError(reply.get("error"), "GenericError", "cancelled")
        self.assertEqual(self.pool_files(), [])
        self.assertEqual(clients[4].command("job-list"), [])


if __name__ == "__main__":
    vmdtest.main()
