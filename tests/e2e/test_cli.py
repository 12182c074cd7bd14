"""End-to-end: vmctl against a real vmd.

The list table lines up and --json parses to what the protocol says; show,
define (from a file and from stdin), update and the power commands work;
exit status 1 (vmd said no), 2 (usage) and 3 (no vmd) come with the
documented messages; host names the accelerator verdict and why; events
and console work as long-running commands."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, bootsector_config, pid_alive,
                     t)  # noqa: E402


def column_starts(header):
    return [m.start() for m in re.finditer(r"\S+", header)]


class CliTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()

    def ok(self, *args, **kw):
        rc, out, err = self.vmctl(*args, **kw)
        self.assertEqual(rc, 0, "vmctl %s: rc %d, stderr %r"
                         % (" ".join(args), rc, err))
        return out

    def write_config(self, cfg, name="vm.json"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        return path

    # -- list, show, define, update -----------------------------------------

    def test_list_table_and_json(self):
        for cfg in (bootsector_config("a", cpus=2),
                    bootsector_config("a-much-longer-name-for-the-table",
                                      memory_mib=2048, autostart=True),
                    bootsector_config("mid_name", accel="auto",
                                      memory_mib=100)):
            self.c.command("vm-define", {"config": cfg})
        self.c.command("vm-start", {"vm": "mid_name"}, timeout=t(60))
        out = self.ok("list")
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out)
        header = lines[0]
        self.assertEqual(header.split(), ["NAME", "STATE", "PID", "CPUS",
                                          "MEMORY", "ACCEL", "AUTOSTART"])
        starts = column_starts(header)
        for line in lines[1:]:
            self.assertEqual(column_starts(line), starts,
                             "columns do not line up:\n%s" % out)
        rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
        self.assertEqual([ln.split()[0] for ln in lines[1:]],
                         ["a", "a-much-longer-name-for-the-table", "mid_name"])
        self.assertEqual(rows["a"][1], "stopped")
        self.assertEqual(rows["a"][3], "2")
        self.assertEqual(rows["mid_name"][1], "running")
        pid = self.c.command("vm-show", {"vm": "mid_name"})["pid"]
        self.assertEqual(rows["mid_name"][2], str(pid))
        self.assertEqual(rows["a-much-longer-name-for-the-table"][4], "2G")
        self.assertEqual(rows["a-much-longer-name-for-the-table"][6], "yes")

        # --json: exactly vm-list's return
        listed = json.loads(self.ok("list", json_out=True))
        self.assertEqual(listed, self.c.command("vm-list"))

        # an empty list is just the header
        self.c.command("vm-kill", {"vm": "mid_name"})
        for vm in listed:
            self.c.command("vm-undefine", {"vm": vm["name"]})
        self.assertEqual(self.ok("list").split(), header.split())
        self.assertEqual(json.loads(self.ok("list", json_out=True)), [])

    def test_show(self):
        cfg = bootsector_config("shown", labels={"owner": "alice"})
        r = self.c.command("vm-define", {"config": cfg})
        out = self.ok("show", "shown")
        self.assertRegex(out, r"(?m)^name:\s+shown$")
        self.assertRegex(out, r"(?m)^uuid:\s+%s$" % r["uuid"])
        self.assertRegex(out, r"(?m)^state:\s+stopped$")
        self.assertIn("alice", out)
        self.assertIn(cfg["disks"][0]["path"], out)
        # by uuid, and --json is vm-show's return
        shown = json.loads(self.ok("show", r["uuid"], json_out=True))
        self.assertEqual(shown, self.c.command("vm-show", {"vm": "shown"}))

    def test_define_from_file_and_stdin(self):
        cfg = bootsector_config("from-file")
        path = self.write_config(cfg)
        out = self.ok("define", path)
        self.assertRegex(out, r"defined from-file \([0-9a-f-]{36}\)")
        vmdtest.assert_subset(self, cfg["disks"], self.c.command(
            "vm-show", {"vm": "from-file"})["config"]["disks"])

        cfg = bootsector_config("from-stdin", labels={"via": "stdin"})
        out = self.ok("define", "-", input=json.dumps(cfg))
        self.assertIn("defined from-stdin", out)
        show = self.c.command("vm-show", {"vm": "from-stdin"})
        self.assertEqual(show["config"]["labels"], {"via": "stdin"})

        out = self.ok("define", "-", input=json.dumps(
            bootsector_config("json-out")), json_out=True)
        r = json.loads(out)
        self.assertEqual(r["name"], "json-out")

        # update from a file, then from stdin
        cfg = dict(show["config"], cpus=4)
        out = self.ok("update", "from-stdin", self.write_config(cfg, "u.json"))
        self.assertIn("updated from-stdin", out)
        self.assertEqual(self.c.command("vm-show", {"vm": "from-stdin"})
                         ["config"]["cpus"], 4)
        cfg["labels"] = {"via": "update"}
        self.ok("update", "from-stdin", "-", input=json.dumps(cfg))
        self.assertEqual(self.c.command("vm-show", {"vm": "from-stdin"})
                         ["config"]["labels"], {"via": "update"})

        # bad input files are usage or protocol errors, named
        rc, out, err = self.vmctl("define", "-", input="{not json")
        self.assertIn(rc, (1, 2), err)
        self.assertIn("JSON", err)
        missing = os.path.join(self.tmp, "missing.json")
        rc, out, err = self.vmctl("define", missing)
        self.assertIn(rc, (1, 2), err)
        self.assertIn(missing, err)
        rc, out, err = self.vmctl("define", self.write_config(
            bootsector_config("from-file"), "dup.json"))
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^vmctl: define \S+: VmExists: .*from-file")

    # -- power commands through the CLI -------------------------------------

    def test_power_commands(self):
        self.c.command("vm-define", {"config": bootsector_config("p")})
        out = self.ok("start", "p")
        m = re.search(r"started p \(pid (\d+), tcg\)", out)
        self.assertTrue(m, out)
        pid = int(m.group(1))
        self.assertTrue(pid_alive(pid))
        self.ok("pause", "p")
        self.assertEqual(self.vm_state(self.c, "p"), "paused")
        st = json.loads(self.ok("monitor", "p", "query-status",
                                json_out=True))
        self.assertEqual(st["status"], "paused")
        self.ok("resume", "p")
        self.assertEqual(self.vm_state(self.c, "p"), "running")
        self.ok("reset", "p")
        out = self.ok("monitor", "p", "human-monitor-command",
                      '{"command-line": "info status"}', json_out=True)
        self.assertIn("running", out)
        out = self.ok("stop", "p", "-t", "1")
        self.assertIn("stopped p (forced)", out)
        self.assertEqual(self.vm_state(self.c, "p"), "stopped")
        self.ok("start", "p")
        self.assertIn("killed p", self.ok("kill", "p"))
        self.assertEqual(self.vm_state(self.c, "p"), "stopped")
        self.assertIn("undefined p", self.ok("undefine", "p"))
        self.assertCmdError(self.c, "vm-show", {"vm": "p"}, "VmNotFound")

    # -- exit statuses ------------------------------------------------------

    def test_exit_status_protocol_error(self):
        rc, out, err = self.vmctl("start", "nosuch")
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r"^vmctl: start nosuch: VmNotFound: .*nosuch")
        rc, out, err = self.vmctl("start", "nosuch", json_out=True)
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(out)["error"]["class"], "VmNotFound")
        self.c.command("vm-define", {"config": bootsector_config("x")})
        rc, out, err = self.vmctl("stop", "x")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^vmctl: stop x: InvalidState: ")
        rc, out, err = self.vmctl("monitor", "x", "query-status")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^vmctl: monitor x: InvalidState: ")

    def test_exit_status_usage(self):
        for args, words in ((["frobnicate"], "unknown command"),
                            ([], "missing command"),
                            (["start"], "missing argument"),
                            (["start", "a", "b"], "too many"),
                            (["stop", "x", "-t", "soon"], "timeout"),
                            (["stop", "x", "-t", "3601"], "timeout"),
                            (["list", "--bogus"], "--bogus"),
                            (["console", "x", "--port", "9"], "port"),
                            (["monitor", "x", "query-status", "[1]"],
                             "JSON"),
                            (["monitor", "x", "query-status", "{bad"],
                             "JSON")):
            with self.subTest(args=args):
                rc, out, err = self.vmctl(*args)
                self.assertEqual(rc, 2, "vmctl %s: %r" % (args, err))
                self.assertIn(words, err)
                self.assertIn("usage: vmctl", err)
        # help is not an error
        self.assertIn("usage: vmctl", self.ok("help"))

    def test_exit_status_cannot_connect(self):
        path = os.path.join(self.tmp, "nobody-here.sock")
        for args in (["list"], ["host"], ["start", "x"]):
            rc, out, err = vmdtest.run_vmctl(path, args)
            self.assertEqual(rc, 3, err)
            self.assertRegex(err, r"^vmctl: cannot connect to %s: "
                             % re.escape(path))
        # a socket nobody listens on any more
        self.vmd.stop()
        rc, out, err = self.vmctl("list")
        self.assertEqual(rc, 3, err)
        self.assertIn("cannot connect", err)

    def test_host(self):
        host = self.c.command("query-host", timeout=t(120))
        out = self.ok("host", timeout=t(120))
        verdict = host["accel"]["verdict"]
        self.assertRegex(out, r"(?m)^accel:\s+%s$" % verdict)
        self.assertIn(host["accel"]["reason"], out)
        self.assertIn(host["qemu"]["version"], out)
        self.assertRegex(out, r"kvm usable:\s+%s"
                         % ("yes" if host["accel"]["kvm_usable"] else "no"))
        self.assertEqual(json.loads(self.ok("host", json_out=True))["accel"]
                         ["verdict"], verdict)

    def test_probe_fresh(self):
        """A vmd with no cached verdict probes the host itself, and its
        verdict agrees with the facts it reports."""
        cache = os.path.join(self.tmp, "fresh-probe.json")
        tmp = os.path.join(self.tmp, "fresh")
        os.mkdir(tmp)
        other = vmdtest.Vmd(tmp, extra_args=["--probe-cache", cache])
        try:
            other.start()
            c = vmdtest.Client(other.socket)
            a = c.command("query-host", timeout=t(120))["accel"]
            c.close()
        finally:
            other.cleanup()
        self.assertTrue(os.path.exists(cache), "verdict not cached")
        self.assertEqual(a["kvm_usable"], a["verdict"] == "kvm", a)
        self.assertGreater(a["tcg_boot_ms"], 0, a)
        self.assertIn("KVM", a["reason"])
        if not a["dev_kvm"]:
            self.assertEqual(a["verdict"], "tcg", a)
        if a["kvm_module"] == "kvm_pvm":
            # the nested software KVM of CI: seconds per boot sector
            self.assertEqual(a["verdict"], "tcg", a)
        if a["verdict"] == "kvm":
            self.assertGreaterEqual(a["kvm_boot_ms"], 0, a)

    # -- long-running commands ---------------------------------------------

    def test_events(self):
        self.c.command("vm-define", {"config": bootsector_config("ev")})
        ev = self.vmctl_process("events", "--count", "3", "--timeout", "60")
        self.c.command("vm-start", {"vm": "ev"}, timeout=t(60))
        # vmctl subscribes when it connects, which may be after the start:
        # pause and resume until it has seen three events.
        deadline = time.monotonic() + t(30)
        while ev.wait(0.2) is None and time.monotonic() < deadline:
            self.c.command("vm-pause", {"vm": "ev"})
            self.c.command("vm-resume", {"vm": "ev"})
        rc = ev.wait(t(5))
        self.assertEqual(rc, 0, "vmctl events: %r" % ev.err)
        lines = ev.out.decode().splitlines()
        self.assertEqual(len(lines), 3, lines)
        schemas = vmdtest.Schemas()
        for line in lines:
            e = json.loads(line)
            self.assertEqual(e["event"], "VM_STATE")
            schemas.check_event(e)
        # --timeout with nothing happening ends in time
        ev = self.vmctl_process("events", "--count", "1", "--timeout", "1")
        rc = ev.wait(t(10))
        self.assertIsNotNone(rc, "vmctl events --timeout 1 still running")
        self.assertEqual(rc, 1)
        self.assertIn("timed out", ev.err.decode())

    def test_console(self):
        self.c.command("vm-define", {"config": bootsector_config("con")})
        self.c.command("vm-start", {"vm": "con"}, timeout=t(60))
        con = self.vmctl_process("console", "con")
        pos = con.read_until(BOOT_BANNER, t(30))
        con.write(b"typed through vmctl")
        con.read_until(b"typed through vmctl", t(10), pos)
        ro = self.vmctl_process("console", "--ro", "con")
        ro.read_until(b"typed through vmctl", t(10))
        # the VM goes away: both consoles end by themselves, and say so
        self.c.command("vm-kill", {"vm": "con"})
        for p in (con, ro):
            self.assertEqual(p.wait(t(10)), 1, p.err)
            self.assertIn(b"vmctl: console con: the VM stopped", p.err)
        # not running: an error, exit 1
        rc, out, err = self.vmctl("console", "con")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^vmctl: console con: InvalidState: ")


if __name__ == "__main__":
    vmdtest.main()
