"""End-to-end: templates and clones, with the real qemu-img and a guest.

A VM whose disk is a volume (the boot-sector image imported) becomes a
template: its base is read-only (0444) and the template cannot start or
change its disks.  A linked clone is a qcow2 overlay on the base; it boots
and prints the banner, with a new uuid and new MACs.  A full clone is an
independent copy.  Each refusal names what is at fault; a clone that fails
half-way (a full pool) leaves no file, row or VM; a linked clone of a
20 GiB base replies in constant time."""

import json
import os
import re
import stat
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdpool  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, t  # noqa: E402

MiB = 1 << 20
NICS = [{"type": "user"}, {"type": "user", "model": "e1000"}]


def qemu_img_info(path):
    return json.loads(subprocess.check_output(
        ["qemu-img", "info", "--output=json", "-U", path]))


class TemplateCase(vmdtest.VmdTestCase):

    def pool_files(self, d=None):
        return sorted(os.listdir(d or os.path.join(self.vmd.state_dir,
                                                   "volumes")))

    def data(self, name, mib):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(os.urandom(mib * MiB))
        os.chmod(self.tmp, 0o711)
        os.chmod(path, 0o644)
        return path

    def two_disk_template(self, c, mib0, mib1, pool=None):
        """tpl, of volumes d0 and d1 holding mib0 and mib1 MiB of data."""
        for name, mib in (("d0", mib0), ("d1", mib1)):
            args = {"name": name, "format": "raw",
                    "file": self.data(name, mib)}
            if pool:
                args["pool"] = pool
            c.command("volume-import", args, timeout=t(60))
        c.command("vm-define", {"config": vmdtest.bootsector_config(
            "tpl", disks=[{"volume": "d0"}, {"volume": "d1"}])})
        c.command("vm-template", {"vm": "tpl"})

    def make_template(self, c, name="tpl", base="base", pool=None):
        args = {"name": base, "file": BOOTSECTOR, "format": "raw"}
        if pool:
            args["pool"] = pool
        c.command("volume-import", args, timeout=t(60))
        c.command("vm-define", {"config": vmdtest.bootsector_config(
            name, disks=[{"volume": base, "bus": "ide"}], nics=NICS)})
        return c.command("vm-template", {"vm": name})


class TemplateTest(TemplateCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()

    def test_linked_clone_boots(self):
        c = self.c
        r = self.make_template(c)
        self.assertEqual(r["bases"], ["base"])
        base = c.command("volume-show", {"volume": "base"})
        self.assertTrue(base["readonly"])
        self.assertEqual(stat.S_IMODE(os.stat(base["path"]).st_mode), 0o444)
        tpl = c.command("vm-show", {"vm": "tpl"})
        self.assertTrue(tpl["template"])
        self.assertEqual({v["name"]: v["template"]
                          for v in c.command("vm-list")}, {"tpl": True})

        r = c.command("vm-clone", {"vm": "tpl", "name": "web1"})
        self.assertEqual(r["volumes"], ["web1-disk0"])
        clone = c.command("vm-show", {"vm": "web1"})
        self.assertFalse(clone["template"])
        self.assertNotEqual(clone["uuid"], tpl["uuid"])
        self.assertEqual(clone["uuid"], r["uuid"])
        self.assertEqual(clone["config"]["disks"][0]["volume"], "web1-disk0")
        old = [n["mac"] for n in tpl["config"]["nics"]]
        new = [n["mac"] for n in clone["config"]["nics"]]
        self.assertEqual(len(new), 2)
        self.assertEqual(set(old) & set(new), set())
        for m in new:  # locally administered, unicast
            self.assertEqual(int(m.split(":")[0], 16) & 3, 2, m)
        self.assertEqual([n["model"] for n in clone["config"]["nics"]],
                         [n["model"] for n in tpl["config"]["nics"]])

        vol = c.command("volume-show", {"volume": "web1-disk0"})
        self.assertEqual((vol["backing"], vol["format"]), ("base", "qcow2"))
        info = qemu_img_info(vol["path"])
        self.assertEqual((info["format"], info["backing-filename"],
                          info["backing-filename-format"]),
                         ("qcow2", base["path"], "raw"))
        self.assertEqual(info["virtual-size"], base["size"])

        c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        self.console("web1").read_until(BOOT_BANNER, t(60))
        self.assertEqual(c.command("volume-show", {"volume": "base"})
                         ["clones"], ["web1-disk0"])
        # the template stays one across a restart of vmd
        c.command("vm-kill", {"vm": "web1"}, timeout=t(30))
        self.vmd.stop()
        self.vmd.start()
        c = self.client()
        self.assertTrue(c.command("vm-show", {"vm": "tpl"})["template"])
        self.assertCmdError(c, "vm-start", {"vm": "tpl"}, "InvalidState",
                            ["tpl", "template"])

    def test_full_clone_is_a_copy(self):
        c = self.c
        self.make_template(c)
        watcher = self.client()
        r = c.command("vm-clone", {"vm": "tpl", "name": "copy",
                                   "mode": "full"}, timeout=t(60))
        vol = c.command("volume-show", {"volume": r["volumes"][0]})
        self.assertEqual((vol["backing"], vol["format"]), (None, "raw"))
        self.assertNotIn("backing-filename", qemu_img_info(vol["path"]))
        subprocess.check_call(["qemu-img", "compare", "-q", "-f", "raw", "-F",
                               "raw", BOOTSECTOR, vol["path"]])
        watcher.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS" and
                           e["data"]["volume"] == "copy-disk0" and
                           e["data"]["kind"] == "clone", t(10))
        c.command("vm-start", {"vm": "copy"}, timeout=t(60))
        self.console("copy").read_until(BOOT_BANNER, t(60))
        # a full clone is no user of the template: it may go
        c.command("vm-kill", {"vm": "copy"}, timeout=t(30))
        c.command("vm-undefine", {"vm": "tpl"})

    def test_refusals(self):
        c = self.c
        # a disk given by path: import it as a volume first
        c.command("vm-define", {"config": vmdtest.bootsector_config("bypath")})
        self.assertCmdError(c, "vm-template", {"vm": "bypath"},
                            "InvalidArgument",
                            ["disks[0].path", "volume-import"])
        self.assertFalse(c.command("vm-show", {"vm": "bypath"})["template"])
        self.assertCmdError(c, "vm-clone", {"vm": "bypath", "name": "x"},
                            "InvalidState", ["bypath", "not a template"])
        self.make_template(c)
        self.assertCmdError(c, "vm-start", {"vm": "tpl"}, "InvalidState",
                            ["tpl", "template"])
        cfg = c.command("vm-show", {"vm": "tpl"})["config"]
        cfg["disks"][0]["bus"] = "virtio"
        self.assertCmdError(c, "vm-update", {"vm": "tpl", "config": cfg},
                            "InvalidState", ["disks", "template"])
        cfg["disks"][0]["bus"] = "ide"
        cfg["memory_mib"] = 48  # what does not touch the disks may change
        c.command("vm-update", {"vm": "tpl", "config": cfg})
        c.command("vm-clone", {"vm": "tpl", "name": "web1"})
        c.command("vm-clone", {"vm": "tpl", "name": "web2"})
        for name in ("web1", "tpl"):
            self.assertCmdError(c, "vm-clone", {"vm": "tpl", "name": name},
                                "VmExists", name)
        self.assertCmdError(c, "vm-clone", {"vm": "nosuch", "name": "x"},
                            "VmNotFound", "nosuch")
        self.assertCmdError(c, "vm-undefine", {"vm": "tpl"}, "InvalidState",
                            ["tpl", "web1, web2"])
        # a volume of that name already: the clone is refused whole
        c.command("volume-create", {"name": "web3-disk0", "size": "1M"})
        self.assertCmdError(c, "vm-clone", {"vm": "tpl", "name": "web3"},
                            "VolumeExists", "web3-disk0")
        self.assertNotIn("web3", [v["name"] for v in c.command("vm-list")])
        # a running VM cannot become a template
        c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        self.assertCmdError(c, "vm-template", {"vm": "web1"}, "InvalidState",
                            ["web1", "running"])
        c.command("vm-kill", {"vm": "web1"}, timeout=t(30))
        c.command("vm-undefine", {"vm": "web1"})
        self.assertCmdError(c, "vm-undefine", {"vm": "tpl"}, "InvalidState",
                            ["tpl", "web2"])
        c.command("vm-undefine", {"vm": "web2"})
        c.command("vm-undefine", {"vm": "tpl"})
        # the clones' volumes stay, and still stand on the base
        self.assertCmdError(c, "volume-delete", {"volume": "base"},
                            "InvalidState", ["web1-disk0", "web2-disk0"])
        left = {v["name"]: v for v in c.command("volume-list")}
        self.assertEqual(sorted(left), ["base", "web1-disk0", "web2-disk0",
                                        "web3-disk0"])
        # ... used by nobody now: volume-delete removes them, then the base
        for name in ("web1-disk0", "web2-disk0", "base"):
            self.assertEqual(c.command("volume-show",
                                       {"volume": name})["used_by"], [])
            c.command("volume-delete", {"volume": name})
            self.assertFalse(os.path.exists(left[name]["path"]), name)
        self.assertEqual(self.pool_files(), ["web3-disk0.qcow2"])

    def test_autostart_refused_restart_policy_inherited(self):
        """A template never starts, so it cannot autostart (vmd would log a
        refused start at each of its starts); its restart_policy is what
        its clones get."""
        c = self.c
        c.command("volume-import", {"name": "base", "file": BOOTSECTOR,
                                    "format": "raw"}, timeout=t(60))
        c.command("vm-define", {"config": vmdtest.bootsector_config(
            "tpl", disks=[{"volume": "base", "bus": "ide"}], autostart=True,
            restart_policy="always")})
        self.assertCmdError(c, "vm-template", {"vm": "tpl"},
                            "InvalidArgument",
                            ["config.autostart", "tpl", "vm-update"])
        self.assertFalse(c.command("vm-show", {"vm": "tpl"})["template"])
        self.assertFalse(c.command("volume-show",
                                   {"volume": "base"})["readonly"])
        cfg = c.command("vm-show", {"vm": "tpl"})["config"]
        cfg["autostart"] = False
        c.command("vm-update", {"vm": "tpl", "config": cfg})
        c.command("vm-template", {"vm": "tpl"})
        cfg["autostart"] = True
        self.assertCmdError(c, "vm-update", {"vm": "tpl", "config": cfg},
                            "InvalidArgument", ["config.autostart", "template"])
        c.command("vm-clone", {"vm": "tpl", "name": "web1"})
        clone = c.command("vm-show", {"vm": "web1"})["config"]
        self.assertEqual((clone["autostart"], clone["restart_policy"]),
                         (False, "always"))

    def test_base_removed_behind_vmds_back(self):
        c = self.c
        self.make_template(c)
        c.command("vm-clone", {"vm": "tpl", "name": "before"})
        path = c.command("volume-show", {"volume": "base"})["path"]
        os.rename(path, path + ".away")
        self.assertCmdError(c, "vm-clone", {"vm": "tpl", "name": "after"},
                            "VolumeNotFound", ["base", path, "missing"])
        self.assertCmdError(c, "vm-start", {"vm": "before"},
                            "VolumeNotFound", ["base", path])
        self.assertEqual(self.pool_files(), ["base.raw.away",
                                             "before-disk0.qcow2"])
        self.assertEqual(sorted(v["name"] for v in c.command("vm-list")),
                         ["before", "tpl"])

    def vmctl_ok(self, *args):
        rc, out, err = self.vmctl(*args)
        self.assertEqual(rc, 0, err)
        return out

    def test_vmctl(self):
        c = self.c
        c.command("volume-import", {"name": "base", "file": BOOTSECTOR,
                                    "format": "raw"}, timeout=t(60))
        c.command("vm-define", {"config": vmdtest.bootsector_config(
            "tpl", disks=[{"volume": "base", "bus": "ide"}])})
        self.assertIn("read-only bases: base", self.vmctl_ok("template", "tpl"))
        self.assertIn("web1-disk0", self.vmctl_ok("clone", "tpl", "web1"))
        self.assertIn("full copies", self.vmctl_ok("clone", "tpl", "web2",
                                                   "--full"))
        self.assertIsNone(c.command("volume-show",
                                    {"volume": "web2-disk0"})["backing"])
        rows = {line.split()[0]: line.split()[1]
                for line in self.vmctl_ok("list").splitlines()[1:]}
        self.assertEqual(rows, {"tpl": "template", "web1": "stopped",
                                "web2": "stopped"})
        self.assertIn("template", self.vmctl_ok("show", "tpl"))
        rc, _, err = self.vmctl("start", "tpl")
        self.assertEqual(rc, 1)
        self.assertIn("template", err)
        self.assertIn("--full", self.vmctl_ok("help", "clone"))

    def test_vmctl_full_clone_progress_bar(self):
        """On a terminal, a bar per disk of the clone, as for an import."""
        self.two_disk_template(self.c, 24, 8)
        rc, out, tty = vmdtest.run_vmctl_tty(
            self.vmd.socket, ["clone", "tpl", "web", "--full"], t(120))
        self.assertEqual(rc, 0, tty)
        self.assertIn("cloned tpl as web (full copies", out)
        self.assertEqual(sorted(set(re.findall(rb"\r(\S+) \[", tty))),
                         [b"web-disk0", b"web-disk1"], tty)
        self.assertRegex(tty, rb"100% 24\.0M/24\.0M\r?\n\rweb-disk1 \[")
        self.assertIn(b"100% 8.0M/8.0M", tty)
        # not on a terminal: no bar, the same result
        rc, out, err = self.vmctl("clone", "tpl", "web2", "--full")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("cloned tpl as web2 (full copies", out)


class ClonePoolFullTest(TemplateCase, vmdpool.SmallPoolCase):
    """A pool on a 16 MiB tmpfs: a template of two disks (2 and 7 MiB of
    data); the full copy of the first fits, the second does not."""

    def test_failed_step_leaves_nothing(self):
        c = self.client()
        self.two_disk_template(c, 2, 7, pool="small")
        before = (self.pool_files(self.small), c.command("volume-list"))
        err = c.error("vm-clone", {"vm": "tpl", "name": "big",
                                   "mode": "full"}, timeout=t(120))
        self.assertError(err, "GenericError", ["big-disk1", "full"])
        self.assertEqual((self.pool_files(self.small),
                          c.command("volume-list")), before)
        self.assertEqual([v["name"] for v in c.command("vm-list")], ["tpl"])
        # the same name is free again, and a linked clone fits
        r = c.command("vm-clone", {"vm": "tpl", "name": "big"})
        self.assertEqual(r["volumes"], ["big-disk0", "big-disk1"])


class LinkedCloneTimeTest(TemplateCase):

    def test_constant_time_with_a_20g_base(self):
        c = self.client()
        v = c.command("volume-create", {"name": "big", "size": "20G",
                                        "format": "raw"})
        self.assertEqual(v["size"], 20 << 30)
        c.command("vm-define", {"config": {"name": "tpl", "memory_mib": 32,
                                           "disks": [{"volume": "big"}]}})
        c.command("vm-template", {"vm": "tpl"})
        times = []
        for i in range(20):
            start = time.perf_counter()
            c.command("vm-clone", {"vm": "tpl", "name": "c%02d" % i})
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        sys.stderr.write("\nlinked clone of a 20 GiB base: median %.1f ms, "
                         "min %.1f ms, max %.1f ms\n"
                         % (median * 1e3, min(times) * 1e3, max(times) * 1e3))
        self.assertLess(median, 0.1)
        self.assertEqual(len(c.command("volume-show", {"volume": "big"})
                             ["clones"]), 20)


if __name__ == "__main__":
    vmdtest.main()
