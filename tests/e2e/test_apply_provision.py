"""End-to-end: spec-apply with volumes and VMs made from a template.

The template is made in the test (the boot-sector image imported as a
volume, a VM on it, vm-template).  A spec of VMs "from_template" with
cloud_init blocks makes linked clones (qcow2 overlays on the base, new
uuid and MACs) and its volumes; applied again it has nothing to do; a
changed hostname is an update; an existing volume is never changed
(differs); prune removes a clone.  A bad entry (unknown template, a VM
that is no template, a missing volume, a name twice, a cycle, a volume
name taken, a pool too small) changes neither the store nor the pool's
files; a qemu-img that fails half-way leaves no file; a second apply
while one makes its files is Busy; --dry-run makes no file.  qemu-img is
a wrapper beside --qemu that fails or sleeps for volumes so named."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, t  # noqa: E402

LABEL = "apply=prov"
WRAPPER = """#!/bin/sh
for a; do
  case "$a" in
    *fail*.part) echo "qemu-img: refused by the test" >&2; exit 1 ;;
    *slow*.part) sleep 2 ;;
  esac
done
exec %s "$@"
"""


def clone(name, host=None, **extra):
    e = {"name": name, "from_template": "tpl"}
    if host:
        e["cloud_init"] = {"hostname": host,
                           "users": [{"name": "ops", "ssh_authorized_keys": [
                               "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0"
                               "ZXN0a2V5Zm9ydm1kYXBwbHl0ZXN0aW5nMTIz "
                               "ops@test"]}]}
    e.update(extra)
    return e


def spec(*vms, volumes=None):
    s = {"label": LABEL, "vms": list(vms)}
    if volumes is not None:
        s["volumes"] = volumes
    return s


class ProvisionCase(vmdtest.VmdTestCase):

    start_vmd = False

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        bindir = os.path.join(self.tmp, "qemu-bin")
        os.mkdir(bindir)
        os.symlink(shutil.which("qemu-system-x86_64"),
                   os.path.join(bindir, "qemu-system-x86_64"))
        wrapper = os.path.join(bindir, "qemu-img")
        with open(wrapper, "w") as f:
            f.write(WRAPPER % shutil.which("qemu-img"))
        os.chmod(wrapper, 0o755)
        self.vmd.qemu = os.path.join(bindir, "qemu-system-x86_64")
        self.vmd.start()
        self.c = self.client()
        c = self.c
        c.command("volume-import", {"name": "base", "file": BOOTSECTOR,
                                    "format": "raw"}, timeout=t(60))
        c.command("vm-define", {"config": vmdtest.bootsector_config(
            "tpl", disks=[{"volume": "base", "bus": "ide"}],
            nics=[{"type": "user"}])})
        c.command("vm-template", {"vm": "tpl"})

    def pool(self):
        return sorted(os.listdir(os.path.join(self.vmd.state_dir, "volumes")))

    def state(self):
        """The definitions and volume rows as stored, and the pool's files."""
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        try:
            return (db.execute("SELECT uuid, name, config, updated FROM vms "
                               "ORDER BY name").fetchall(),
                    db.execute("SELECT * FROM volumes ORDER BY name")
                    .fetchall(), self.pool())
        finally:
            db.close()

    def apply(self, s, **args):
        args["spec"] = s
        return self.c.command("spec-apply", args, timeout=t(60))

    def refused(self, s, cls, mentions=(), **args):
        args["spec"] = s
        before = self.state()
        err = self.assertCmdError(self.c, "spec-apply", args, cls, mentions)
        self.assertEqual(self.state(), before, "a refused apply changed "
                         "the store or the pool")
        return err


def verbs(ret):
    return [(a["vm"], a["action"]) for a in ret["actions"]]


class ProvisionTest(ProvisionCase):

    def test_clones_from_a_template(self):
        c = self.c
        tpl = c.command("vm-show", {"vm": "tpl"})
        s = spec(clone("w1", "web-one"), clone("w2", "web-two"),
                 clone("w3", "web-three", memory_mib=48),
                 volumes=[{"name": "data1", "size": "1M"}])
        before = self.state()
        dry = self.apply(s, dry_run=True)
        self.assertEqual(verbs(dry), [("w1", "create"), ("w2", "create"),
                                      ("w3", "create")])
        self.assertTrue(dry["changed"])
        self.assertEqual(self.state(), before, "a dry run made something")

        ret = self.apply(s)
        self.assertEqual(verbs(ret), verbs(dry))
        self.assertEqual(ret["volumes"], [{"volume": "data1",
                                           "action": "create", "changes": []}])
        base = c.command("volume-show", {"volume": "base"})
        macs = set()
        for i, name in enumerate(("w1", "w2", "w3")):
            vm = c.command("vm-show", {"vm": name})
            cfg = vm["config"]
            self.assertEqual(vm["uuid"], ret["actions"][i]["uuid"])
            self.assertNotEqual(vm["uuid"], tpl["uuid"])
            self.assertEqual(cfg["disks"], [dict(tpl["config"]["disks"][0],
                                                 volume=name + "-disk0")])
            self.assertEqual(cfg["labels"], {"apply": "prov"})
            self.assertEqual(cfg["memory_mib"], 48 if name == "w3" else 32)
            self.assertEqual(cfg["cloud_init"]["hostname"],
                             s["vms"][i]["cloud_init"]["hostname"])
            macs.add(cfg["nics"][0]["mac"])
            vol = c.command("volume-show", {"volume": name + "-disk0"})
            self.assertEqual((vol["backing"], vol["format"]), ("base", "qcow2"))
            info = json.loads(subprocess.check_output(
                ["qemu-img", "info", "--output=json", "-U", vol["path"]]))
            self.assertEqual((info["backing-filename"], info["virtual-size"]),
                             (base["path"], base["size"]))
        self.assertEqual(len(macs | {tpl["config"]["nics"][0]["mac"]}), 4)
        self.assertEqual(c.command("volume-show", {"volume": "data1"})["size"],
                         1 << 20)
        self.assertEqual(self.pool(), ["base.raw", "data1.qcow2",
                                       "w1-disk0.qcow2", "w2-disk0.qcow2",
                                       "w3-disk0.qcow2"])

        # again: nothing to do, nothing written
        made = self.state()
        again = self.apply(s)
        self.assertFalse(again["changed"])
        self.assertEqual(set(a for _, a in verbs(again)), {"unchanged"})
        self.assertEqual(again["volumes"][0]["action"], "unchanged")
        self.assertEqual(self.state(), made)

        # a new hostname for w2 is an update of w2 alone; a volume whose
        # size differs is left as it is
        s["vms"][1]["cloud_init"]["hostname"] = "web-2"
        s["volumes"][0]["size"] = "2M"
        ret = self.apply(s)
        self.assertEqual(verbs(ret), [("w1", "unchanged"), ("w2", "update"),
                                      ("w3", "unchanged")])
        self.assertEqual(ret["actions"][1]["changes"],
                         [{"member": "cloud_init", "restart": True}])
        self.assertEqual(ret["volumes"], [{"volume": "data1", "action":
                                           "differs", "changes": ["size"]}])
        self.assertEqual(c.command("vm-show", {"vm": "w2"})["config"]
                         ["cloud_init"]["hostname"], "web-2")
        self.assertEqual(c.command("volume-show", {"volume": "data1"})["size"],
                         1 << 20)

        # a clone boots from its overlay
        c.command("vm-start", {"vm": "w1"}, timeout=t(60))
        self.console("w1").read_until(BOOT_BANNER, t(60))
        c.command("vm-kill", {"vm": "w1"}, timeout=t(30))

        # prune: w3 goes, its overlay stays (as after vm-undefine)
        ret = self.apply(spec(*s["vms"][:2]), prune=True)
        self.assertEqual(verbs(ret)[-1], ("w3", "delete"))
        self.assertEqual(sorted(v["name"] for v in c.command("vm-list")),
                         ["tpl", "w1", "w2"])
        self.assertIn("w3-disk0.qcow2", self.pool())
        # the template cannot be pruned while clones use it
        c.command("vm-update", {"vm": "tpl", "config": dict(
            c.command("vm-show", {"vm": "tpl"})["config"],
            labels={"apply": "prov"})})
        self.refused(spec(*s["vms"][:2]), "InvalidState",
                     ["prune", "tpl", "w1"], prune=True)

    def test_bad_entries_change_nothing(self):
        c = self.c
        c.command("vm-define", {"config": vmdtest.bootsector_config("plain")})
        good = [clone("g1", "g-one"), clone("g2")]
        self.refused(spec(*good, clone("g3", from_template="nosuch")),
                     "VmNotFound", ["spec.vms[2].from_template", "nosuch"])
        self.refused(spec(*good, clone("g3", from_template="plain")),
                     "InvalidState", ["spec.vms[2].from_template", "plain",
                                      "not a template"])
        self.refused(spec(*good, vmdtest.bootsector_config(
            "g3", disks=[{"volume": "nosuch-vol"}])), "VolumeNotFound",
            ["spec.vms[2]", "nosuch-vol"])
        self.refused(spec(*good, clone("g1")), "InvalidArgument",
                     ["spec.vms[2].name", "g1", "spec.vms[0]"])
        self.refused(spec(*good, clone("a", from_template="b"),
                          clone("b", from_template="a")),
                     "InvalidArgument", ["a -> b -> a"])
        self.refused(spec(*good, volumes=[{"name": "v"}, {"name": "v",
                                                           "size": 1}]),
                     "InvalidArgument", ["spec.volumes[0].size"])
        self.refused(spec(*good, volumes=[{"name": "v", "size": 1},
                                          {"name": "v", "size": 1}]),
                     "InvalidArgument", ["spec.volumes[1].name", "v"])
        self.refused(spec(*good, volumes=[{"name": "g2-disk0", "size": 1}]),
                     "VolumeExists", ["g2-disk0", "twice"])
        self.refused(spec(*good, volumes=[{"name": "huge", "size": "1000T"}]),
                     "InvalidArgument", ["pool 'default'", "free"])
        self.refused(spec(*good, volumes=[{"name": "v", "size": 1,
                                           "pool": "nosuch"}]),
                     "InvalidArgument", ["spec.volumes[0]", "nosuch"])
        # a file in the pool that is no volume takes the clone's name
        stray = os.path.join(self.vmd.state_dir, "volumes", "g2-disk0.qcow2")
        open(stray, "w").close()
        self.refused(spec(*good), "VolumeExists", ["g2-disk0", stray])
        os.unlink(stray)
        # and nothing half-done afterwards: the good spec applies whole
        self.assertEqual(verbs(self.apply(spec(*good))),
                         [("g1", "create"), ("g2", "create")])

    def test_failed_file_removes_those_made(self):
        before = self.state()
        err = self.assertCmdError(
            self.c, "spec-apply", {"spec": spec(
                clone("f1", "one"), clone("f2"), clone("x-fail"),
                volumes=[{"name": "d1", "size": "1M"}])},
            "GenericError", ["x-fail-disk0", "refused by the test"])
        self.assertEqual(self.state(), before)

    def test_second_apply_is_busy(self):
        c2 = self.client()
        rid = self.c.next_id
        self.c.next_id += 1
        self.c.send({"execute": "spec-apply", "id": rid, "arguments": {
            "spec": spec(clone("slow1"))}})
        self.wait_for(lambda: any(j["volume"] == "slow1-disk0"
                                  for j in c2.command("job-list")), t(10),
                      "the slow overlay's job")
        before = self.state()
        self.assertCmdError(c2, "spec-apply", {"spec": spec(clone("s2"))},
                            "Busy", ["another spec-apply"])
        self.assertEqual(self.state(), before)
        reply = self.c.recv_reply(t(30), rid, match_id=True)
        self.assertEqual(verbs(reply["return"]), [("slow1", "create")])
        self.assertEqual(verbs(self.apply(spec(clone("slow1"), clone("s2")))),
                         [("slow1", "unchanged"), ("s2", "create")])


class VmctlProvisionTest(ProvisionCase):

    def test_exit_codes(self):
        path = os.path.join(self.vmd.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(spec(clone("v1", "vee-one"),
                           volumes=[{"name": "vd", "size": "1M"}]), f)
        pool = self.pool()
        rc, out, err = self.vmctl("apply", "-f", path, "--dry-run")
        self.assertEqual(rc, 2, err)
        self.assertIn("plan: 1 to create", out)
        self.assertIn("volumes: 1 to create, 0 differ", out)
        self.assertEqual(self.pool(), pool, "--dry-run made a file")
        rc, out, err = self.vmctl("apply", "-f", path)
        self.assertEqual(rc, 2, err)
        rows = [line.split() for line in out.splitlines()]
        self.assertIn(["ACTION", "VOLUME", "DIFFERS"], rows)
        self.assertIn(["create", "vd", "-"], rows)
        rc, out, err = self.vmctl("apply", "-f", path)
        self.assertEqual(rc, 0, err)
        self.assertIn(["unchanged", "v1", "-", "-"],
                      [line.split() for line in out.splitlines()])
        with open(path, "w") as f:
            json.dump(spec(clone("v2", from_template="nosuch")), f)
        rc, out, err = self.vmctl("apply", "-f", path)
        self.assertEqual(rc, 1)
        self.assertIn("VmNotFound", err)


if __name__ == "__main__":
    vmdtest.main()
