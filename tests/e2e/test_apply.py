"""End-to-end: spec-apply and `vmctl apply -f`.

- a spec creates what is missing; applied again it has nothing to do and
  the store is byte for byte the same;
- a change of memory is an update that needs a restart of a running VM; a
  change of labels needs none;
- dry_run changes nothing; prune removes only the VMs with the spec's
  label that the spec no longer lists, and refuses (InvalidState) to
  remove a running one;
- a bad entry anywhere, a name given twice, a name taken by a VM without
  the label, a cycle of templates: refused, the store unchanged;
- a hostile spec (beyond maxItems, huge strings) is refused cleanly;
- vmctl apply: a table or JSON, exit 0 (nothing to do), 2 (changes made or
  planned), 1 (error), -f - reads stdin."""

import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR,  # noqa: E402
                     bootsector_config, t)

LABEL = "apply=test"


def spec(*vms, label=LABEL, **extra):
    s = {"label": label, "vms": list(vms)}
    s.update(extra)
    return s


def small(name, **extra):
    cfg = {"name": name, "memory_mib": 32}
    cfg.update(extra)
    return cfg


def verbs(ret):
    return [(a["vm"], a["action"]) for a in ret["actions"]]


class ApplyTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        self.c = self.client()

    def apply(self, s, **args):
        args["spec"] = s
        return self.c.command("spec-apply", args)

    def refused(self, s, cls, mentions=(), **args):
        args["spec"] = s
        before = self.dump()
        err = self.assertCmdError(self.c, "spec-apply", args, cls, mentions)
        self.assertEqual(self.dump(), before, "a refused apply changed the store")
        return err

    def dump(self):
        """Every definition in the store, as stored."""
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        try:
            return db.execute("SELECT uuid, name, config, created, updated "
                              "FROM vms ORDER BY name").fetchall()
        finally:
            db.close()

    def names(self):
        return sorted(v["name"] for v in self.c.command("vm-list"))

    def test_create_then_reapply_is_idempotent(self):
        s = spec(small("a1", nics=[{"type": "user"}]), small("a2", cpus=2))
        ret = self.apply(s)
        self.assertEqual(verbs(ret), [("a1", "create"), ("a2", "create")])
        self.assertTrue(ret["changed"])
        self.assertFalse(ret["dry_run"])
        self.assertEqual(self.names(), ["a1", "a2"])
        shown = self.c.command("vm-show", {"vm": "a1"})
        self.assertEqual(shown["config"]["labels"], {"apply": "test"})
        self.assertEqual(shown["uuid"], ret["actions"][0]["uuid"])
        before = self.dump()
        again = self.apply(s)
        self.assertFalse(again["changed"])
        self.assertEqual(verbs(again), [("a1", "unchanged"), ("a2", "unchanged")])
        self.assertEqual(self.dump(), before, "a second apply changed the store")

    def test_labels_change_needs_no_restart(self):
        self.apply(spec(small("l1")))
        ret = self.apply(spec(small("l1", labels={"tier": "web"})))
        act = ret["actions"][0]
        self.assertEqual(act["action"], "update")
        self.assertEqual(act["changes"], [{"member": "labels", "restart": False}])
        self.assertFalse(act["restart"])
        self.assertEqual(self.c.command("vm-show", {"vm": "l1"})["config"]
                         ["labels"], {"apply": "test", "tier": "web"})

    def test_memory_of_a_running_vm_needs_a_restart(self):
        vmdtest.require_guests(BOOTSECTOR)
        r1 = bootsector_config("r1")
        self.apply(spec(r1))
        self.c.command("vm-start", {"vm": "r1"}, timeout=t(60))
        self.console("r1").read_until(BOOT_BANNER, t(30))
        ret = self.apply(spec(dict(r1, memory_mib=48)),
                         dry_run=True)
        act = ret["actions"][0]
        self.assertEqual((act["action"], act["restart"]), ("update", True))
        self.assertEqual(act["changes"], [{"member": "memory_mib", "restart": True}])
        self.assertEqual(self.c.command("vm-show", {"vm": "r1"})["config"]
                         ["memory_mib"], 32, "a dry run changed the VM")
        self.apply(spec(dict(r1, memory_mib=48)))
        shown = self.c.command("vm-show", {"vm": "r1"})
        self.assertEqual(shown["config"]["memory_mib"], 48)
        self.assertEqual(shown["running_config"]["memory_mib"], 32)
        self.assertEqual(shown["pending_changes"], ["memory_mib"])
        # prune may not take a running VM away: the whole apply is refused
        self.refused(spec(small("other")), "InvalidState", ["r1", "running"],
                     prune=True)
        self.c.command("vm-kill", {"vm": "r1"}, timeout=t(30))
        ret = self.apply(spec(dict(r1, memory_mib=48)))
        self.assertEqual(verbs(ret), [("r1", "unchanged")])

    def test_dry_run_changes_nothing(self):
        self.apply(spec(small("d1"), small("d2")))
        before = self.dump()
        ret = self.apply(spec(small("d1", cpus=2), small("d3")), dry_run=True,
                         prune=True)
        self.assertTrue(ret["dry_run"])
        self.assertTrue(ret["changed"])
        self.assertEqual(verbs(ret), [("d1", "update"), ("d3", "create"),
                                      ("d2", "delete")])
        self.assertNotIn("uuid", ret["actions"][1], "a dry run made up a uuid")
        self.assertEqual(self.dump(), before)

    def test_prune_removes_only_labelled_vms_not_in_the_spec(self):
        self.c.command("vm-define", {"config": small("mine")})
        self.c.command("vm-define", {"config": small(
            "other-label", labels={"apply": "other"})})
        self.apply(spec(small("p1"), small("p2"), small("p3")))
        ret = self.apply(spec(small("p1"), small("p3")))
        self.assertEqual(verbs(ret), [("p1", "unchanged"), ("p3", "unchanged")])
        self.assertIn("p2", self.names(), "removed without prune")
        ret = self.apply(spec(small("p1"), small("p3")), prune=True)
        self.assertEqual(verbs(ret), [("p1", "unchanged"), ("p3", "unchanged"),
                                      ("p2", "delete")])
        self.assertEqual(self.names(), ["mine", "other-label", "p1", "p3"])

    def test_bad_entry_in_the_middle_changes_nothing(self):
        self.apply(spec(small("b1"), small("b2")))
        good = [small("b1", cpus=2), small("b2"), small("b4")]
        # refused by the schema
        self.refused(spec(good[0], small("b3", memory_mib=1), good[2]),
                     "InvalidArgument", ["spec.vms[1].memory_mib"])
        # refused by what the schema cannot say: a disk that is not there
        self.refused(spec(good[0], small("b3", disks=[{"path": "/nonexistent/x"}]),
                          good[2]), "InvalidArgument",
                     ["spec.vms[1]", "b3", "/nonexistent/x"])
        # the same MAC on two new VMs of the spec
        mac = [{"type": "user", "mac": "52:54:00:12:34:56"}]
        self.refused(spec(small("m1", nics=mac), small("m2", nics=mac)),
                     "InvalidArgument", ["spec.vms[1].nics[0].mac"])
        # and nothing half-done afterwards: the good spec applies whole
        ret = self.apply(spec(*good))
        self.assertEqual(verbs(ret), [("b1", "update"), ("b2", "unchanged"),
                                      ("b4", "create")])

    def test_name_of_a_vm_without_the_label(self):
        self.c.command("vm-define", {"config": small("theirs")})
        self.refused(spec(small("x1"), small("theirs")), "VmExists",
                     ["spec.vms[1]", "theirs", LABEL])
        self.refused(spec(small("x1", labels={"apply": "nope"})),
                     "InvalidArgument", ["spec.vms[0].labels.apply"])

    def test_duplicate_names(self):
        self.refused(spec(small("dup"), small("z"), small("dup")),
                     "InvalidArgument", ["spec.vms[2].name", "dup", "spec.vms[0]"])

    def test_template_cycles(self):
        cyc = spec(small("base"), {"name": "a", "from_template": "b"},
                   {"name": "b", "from_template": "a"})
        self.refused(cyc, "InvalidArgument", ["a -> b -> a", "from_template"])
        self.refused(spec({"name": "s", "from_template": "s"}),
                     "InvalidArgument", ["s -> s"])
        # no cycle: refused because a template must exist before
        # (test_apply_provision.py makes VMs of real ones)
        self.refused(spec(small("base"), {"name": "c", "from_template": "base"}),
                     "VmNotFound", ["spec.vms[1].from_template", "base"])

    def test_hostile_specs(self):
        many = [small("h%d" % i) for i in range(10000)]
        self.refused(spec(*many), "InvalidArgument", ["spec.vms"])
        self.refused(spec(small("h", labels={"k": "x" * 100000})),
                     "InvalidArgument", ["spec.vms[0].labels.k"])
        self.refused(spec(small("h"), label="k=" + "v" * 300000),
                     "InvalidArgument", ["spec.label"])
        self.refused(spec(small("y" * 5000)), "InvalidArgument",
                     ["spec.vms[0].name"])
        # vmd is still well
        self.assertEqual(self.c.command("vm-list"), [])


class VmctlApplyTest(vmdtest.VmdTestCase):

    def write(self, s):
        path = os.path.join(self.vmd.tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(s, f)
        return path

    def test_exit_codes_table_and_json(self):
        path = self.write(spec(small("v1"), small("v2")))
        rc, out, err = self.vmctl("apply", "-f", path, "--dry-run")
        self.assertEqual(rc, 2, err)
        self.assertIn("plan: 2 to create", out)
        self.assertEqual(json.loads(self.vmctl("list", json_out=True)[1]), [])
        rc, out, err = self.vmctl("apply", "-f", path)
        self.assertEqual(rc, 2, err)
        rows = [line.split() for line in out.splitlines()]
        self.assertEqual(rows[0], ["ACTION", "VM", "RESTART", "CHANGES"])
        self.assertEqual(rows[1][:2], ["create", "v1"])
        self.assertIn("applied: 2 created, 0 updated, 0 deleted, 0 unchanged", out)
        rc, out, err = self.vmctl("apply", "-f", path)
        self.assertEqual(rc, 0, err)
        self.assertEqual([r.split()[0] for r in out.splitlines()[1:3]],
                         ["unchanged", "unchanged"])
        # stdin, JSON, a change that applies at once
        text = json.dumps(spec(small("v1", autostart=True), small("v2")))
        rc, out, err = self.vmctl("apply", "-f", "-", "--prune", input=text,
                                  json_out=True)
        self.assertEqual(rc, 2, err)
        ret = json.loads(out)
        self.assertEqual(ret["actions"][0]["changes"],
                         [{"member": "autostart", "restart": False}])
        rc, out, err = self.vmctl("apply", "-f", "-", input=json.dumps(
            spec(small("v1", autostart=True))), json_out=True)
        self.assertEqual(rc, 0, err)
        # errors are 1, never 2 (which means changes)
        rc, out, err = self.vmctl("apply", "-f", self.write(
            spec(small("v1"), small("v1"))))
        self.assertEqual(rc, 1)
        self.assertIn("InvalidArgument", err)
        self.assertIn("spec.vms[1].name", err)
        self.assertEqual(self.vmctl("apply")[0], 1, "usage error")
        self.assertEqual(self.vmctl("apply", "-f", path, "--bogus")[0], 1)
        self.assertEqual(self.vmctl("apply", "-f", "/nonexistent.json")[0], 1)
        rc, _, err = vmdtest.run_vmctl(os.path.join(self.vmd.tmp, "nosock"),
                                       ["apply", "-f", path])
        self.assertEqual(rc, 1, err)


if __name__ == "__main__":
    vmdtest.main()
