"""End-to-end: the daemon says what schemas/protocol.json says.

Every command in the schema is called at least once with success and once
with an error; every reply is checked against the command's "returns"
schema or its list of error classes, and every VM_STATE event against the
event's "data" schema.  query-commands, query-events and query-schema must
match the schema files; vmctl's command table and the documentation must
name only commands that exist (and name them all)."""

import base64
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdpool  # noqa: E402
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, Console, Schemas,
                     bootsector_config, linux_config, t)  # noqa: E402

ERROR_KEYS = {"class", "desc"}


class Recorder:
    """Runs commands on a client, checks each reply against the schema
    right away, and remembers which commands succeeded and failed."""

    def __init__(self, test, schemas):
        self.test = test
        self.s = schemas
        self.ok = set()
        self.failed = set()
        self.replies = 0

    def check_error(self, cmd, err, extra=()):
        self.test.assertEqual(set(err), ERROR_KEYS, "%s: error %r" % (cmd, err))
        self.test.assertIsInstance(err["desc"], str)
        self.test.assertTrue(err["desc"], "%s: empty desc" % cmd)
        allowed = set(self.s.errors_of(cmd) or []) | set(extra)
        self.test.assertIn(err["class"], allowed,
                           "%s returned %s, not among the schema's errors %s"
                           % (cmd, err["class"], sorted(allowed)))
        self.test.assertIn(err["class"], self.s.protocol["errors"])

    def call(self, c, cmd, args=None, ok=True, cls=None, extra=(),
             timeout=None):
        """ok: expect a return (validated) or an error (class cls when
        given, and listed in the schema unless in extra)."""
        reply = c.execute(cmd, args, timeout)
        self.replies += 1
        if ok:
            self.test.assertIn("return", reply, "%s %s: %r"
                               % (cmd, json.dumps(args), reply))
            self.test.assertEqual(set(reply) - {"return", "id"}, set())
            self.s.check_return(cmd, reply["return"])
            self.ok.add(cmd)
            return reply["return"]
        self.test.assertIn("error", reply, "%s %s: expected an error, got %r"
                           % (cmd, json.dumps(args), reply))
        self.test.assertEqual(set(reply) - {"error", "id"}, set())
        err = reply["error"]
        if cls is not None:
            self.test.assertEqual(err.get("class"), cls, "%s %s: %r"
                                  % (cmd, json.dumps(args), err))
        self.check_error(cmd, err, extra)
        self.failed.add(cmd)
        return err


class ConformanceTest(vmdtest.VmdTestCase):

    start_vmd = False

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.s = Schemas()
        # an import into volume conf-hold never ends by itself: a job to
        # cancel for sure (a real one here ends in a fraction of a second)
        vmdpool.hold_qemu_img(self, "*/.conf-hold.*")
        self.vmd.start()

    def check_events(self, c):
        for ev in c.events:
            self.assertEqual(set(ev), {"event", "data", "timestamp"}, ev)
            ts = ev["timestamp"]
            self.assertEqual(set(ts), {"seconds", "microseconds"})
            self.assertIsInstance(ts["seconds"], int)
            self.assertTrue(0 <= ts["microseconds"] < 1000000)
            self.s.check_event(ev)

    def test_greeting(self):
        c = self.client(negotiate=False)
        g = c.greeting
        self.assertEqual(set(g), {"QMP"})
        self.assertEqual(set(g["QMP"]), {"version", "capabilities"})
        self.assertEqual(g["QMP"]["capabilities"], [])
        v = g["QMP"]["version"]
        self.assertEqual(set(v), {"qemu", "package"})
        self.assertEqual(set(v["qemu"]), {"major", "minor", "micro"})
        self.assertTrue(all(isinstance(x, int) for x in v["qemu"].values()))
        self.assertRegex(v["package"], r"^vmd \d+\.\d+\.\d+")
        self.assertEqual(c.command("qmp_capabilities"), {})
        host = c.command("query-host", timeout=t(120))
        self.assertEqual(v["package"], "vmd " + host["version"])
        self.assertEqual("%d.%d.%d" % (v["qemu"]["major"], v["qemu"]["minor"],
                                       v["qemu"]["micro"]), host["version"])

    def test_every_command(self):
        s = self.s
        rec = Recorder(self, s)
        # before negotiation
        pre = self.client(negotiate=False)
        rec.call(pre, "vm-list", ok=False, cls="CommandNotFound",
                 extra=["CommandNotFound"])
        rec.call(pre, "qmp_capabilities", {"bogus": 1}, ok=False,
                 cls="InvalidArgument")
        rec.call(pre, "qmp_capabilities", {})
        c = self.client()

        # introspection and the host, and their argument errors
        for cmd in ("query-host", "query-commands", "query-events",
                    "query-schema", "vm-list"):
            rec.call(c, cmd, timeout=t(120))
            rec.call(c, cmd, {"bogus": 1}, ok=False, cls="InvalidArgument")
        host = c.command("query-host", timeout=t(120))

        # define, update
        a = rec.call(c, "vm-define", {"config": bootsector_config("conf-a")})
        full = dict(linux_config("conf-b") if os.path.exists(
            vmdtest.INITRAMFS) else bootsector_config("conf-b"),
            cpus=2, machine="pc", arch="x86_64", autostart=False,
            nics=[{"type": "user", "model": "e1000",
                   "mac": "52:54:00:aa:bb:cc"}],
            serial=[{"type": "console"}, {"type": "console"}],
            display="none", labels={"owner": "bob", "plan": "m"})
        b = rec.call(c, "vm-define", {"config": full})
        rec.call(c, "vm-define", {"config": bootsector_config("conf-a")},
                 ok=False, cls="VmExists")
        rec.call(c, "vm-define", {"config": {"name": "bad name"}}, ok=False,
                 cls="InvalidArgument")
        cfg = c.command("vm-show", {"vm": "conf-b"})["config"]
        cfg["labels"] = {"owner": "carol"}
        rec.call(c, "vm-update", {"vm": "conf-b", "config": cfg})
        self.assertEqual(c.command("vm-show", {"vm": b["uuid"]})["config"]
                         ["labels"], {"owner": "carol"})
        rec.call(c, "vm-update", {"vm": "nosuch", "config": cfg}, ok=False,
                 cls="VmNotFound")
        rec.call(c, "vm-update", {"vm": "conf-b",
                                  "config": dict(cfg, name="conf-a")},
                 ok=False, cls="VmExists")
        rec.call(c, "vm-update", {"vm": "conf-b", "config": dict(
            cfg, uuid="12345678-1234-4234-8234-123456789abc")}, ok=False,
            cls="InvalidArgument")
        rec.call(c, "vm-show", {"vm": "conf-a"})
        rec.call(c, "vm-show", {"vm": a["uuid"]})
        rec.call(c, "vm-show", {"vm": "nosuch"}, ok=False, cls="VmNotFound")

        # start and its errors
        rec.call(c, "vm-start", {"vm": "nosuch"}, ok=False, cls="VmNotFound")
        disk = os.path.join(self.tmp, "vanish.img")
        c.command("vm-define", {"config": vmdtest.bootsector_at(
            disk, "conf-vanish")})
        os.unlink(disk)
        rec.call(c, "vm-start", {"vm": "conf-vanish"}, ok=False,
                 cls="InvalidArgument")
        c.command("vm-define", {"config": bootsector_config(
            "conf-badmachine", machine="no-such-machine")})
        err = rec.call(c, "vm-start", {"vm": "conf-badmachine"}, ok=False,
                       cls="EmulatorFailed", timeout=t(60))
        self.assertIn("machine", err["desc"])
        self.assertEqual(c.command("vm-show", {"vm": "conf-badmachine"})
                         ["state"], "stopped")
        if not host["accel"]["kvm_usable"]:
            c.command("vm-define", {"config": bootsector_config(
                "conf-kvm", accel="kvm")})
            rec.call(c, "vm-start", {"vm": "conf-kvm"}, ok=False,
                     cls="Unsupported")
        for cmd in ("vm-stop", "vm-kill", "vm-reset", "vm-pause", "vm-resume",
                    "console-attach"):
            rec.call(c, cmd, {"vm": "conf-a"}, ok=False, cls="InvalidState")
            rec.call(c, cmd, {"vm": "nosuch"}, ok=False, cls="VmNotFound")
        rec.call(c, "vm-monitor", {"vm": "conf-a", "command": "query-status"},
                 ok=False, cls="InvalidState")
        rec.call(c, "vm-monitor", {"vm": "nosuch", "command": "query-status"},
                 ok=False, cls="VmNotFound")

        r = rec.call(c, "vm-start", {"vm": "conf-a"}, timeout=t(60))
        self.assertEqual(r["name"], "conf-a")
        rec.call(c, "vm-start", {"vm": "conf-a"}, ok=False, cls="InvalidState")
        rec.call(c, "vm-undefine", {"vm": "conf-a"}, ok=False,
                 cls="InvalidState")
        rec.call(c, "vm-show", {"vm": "conf-a"})
        rec.call(c, "vm-list")

        # console-attach: its reply is JSON, the rest raw bytes
        con = Console(self.vmd.socket, "conf-a")
        self._clients.append(con.client)
        s.check_return("console-attach", con.reply["return"])
        rec.ok.add("console-attach")
        con.read_until(BOOT_BANNER, t(30))
        rec.call(c, "console-attach", {"vm": "conf-a"}, ok=False, cls="Busy")
        rec.call(c, "console-attach", {"vm": "conf-a", "port": 2}, ok=False,
                 cls="InvalidArgument")
        ro = Console(self.vmd.socket, "conf-a", mode="ro", port=0)
        self._clients.append(ro.client)
        s.check_return("console-attach", ro.reply["return"])

        # console-read: the persistent log has what the console showed
        log = rec.call(c, "console-read", {"vm": "conf-a", "offset": 0})
        self.assertIn(BOOT_BANNER, base64.b64decode(log["data"]))
        rec.call(c, "console-read", {"vm": "conf-a", "port": 3}, ok=False,
                 cls="InvalidArgument")
        rec.call(c, "console-read", {"vm": "nosuch"}, ok=False,
                 cls="VmNotFound")

        # pause, resume, reset, monitor
        rec.call(c, "vm-pause", {"vm": "conf-a"})
        rec.call(c, "vm-pause", {"vm": "conf-a"}, ok=False, cls="InvalidState")
        rec.call(c, "vm-show", {"vm": "conf-a"})
        rec.call(c, "vm-monitor", {"vm": "conf-a", "command": "query-status"})
        rec.call(c, "vm-resume", {"vm": "conf-a"})
        rec.call(c, "vm-resume", {"vm": "conf-a"}, ok=False, cls="InvalidState")
        rec.call(c, "vm-reset", {"vm": "conf-a"})
        rec.call(c, "vm-monitor", {"vm": "conf-a", "command": "query-status",
                                   "arguments": {}})
        rec.call(c, "vm-monitor", {"vm": "conf-a",
                                   "command": "human-monitor-command",
                                   "arguments": {"command-line":
                                                 "info version"}})
        rec.call(c, "vm-monitor", {"vm": "conf-a", "command": "no-such-qmp"},
                 ok=False)

        # stop (forced after 1 s), kill, undefine
        r = rec.call(c, "vm-stop", {"vm": "conf-a", "timeout": 1},
                     timeout=t(30))
        self.assertTrue(r["forced"])
        rec.call(c, "vm-stop", {"vm": "conf-a"}, ok=False, cls="InvalidState")
        rec.call(c, "vm-start", {"vm": "conf-a"}, timeout=t(60))
        r = rec.call(c, "vm-stop", {"vm": "conf-a", "timeout": 0},
                     timeout=t(30))
        self.assertTrue(r["forced"])
        rec.call(c, "vm-start", {"vm": "conf-a"}, timeout=t(60))
        rec.call(c, "vm-kill", {"vm": "conf-a"}, timeout=t(30))
        rec.call(c, "vm-kill", {"vm": "conf-a"}, ok=False, cls="InvalidState")
        rec.call(c, "vm-undefine", {"vm": "conf-a"})
        rec.call(c, "vm-undefine", {"vm": "conf-a"}, ok=False, cls="VmNotFound")
        rec.call(c, "vm-list")

        # spec-apply: a plan, and a spec naming a VM that is not its own
        spec = {"label": "conf=1", "vms": [{"name": "conf-s"}]}
        r = rec.call(c, "spec-apply", {"spec": spec, "dry_run": True})
        self.assertEqual(r["actions"][0]["action"], "create")
        spec["vms"].append({"name": "conf-b"})
        rec.call(c, "spec-apply", {"spec": spec}, ok=False, cls="VmExists")

        # JSON-RPC replies carry the same values
        r = c.rpc("vm-show", {"vm": "conf-b"})
        self.assertEqual(r.get("jsonrpc"), "2.0")
        s.check_return("vm-show", r["result"])

        self.volumes(rec, c)
        self.templates(rec, c)
        self.libvirt(rec, c)
        self.tokens(rec, c)
        self.usage(rec, c)

        # any command the schema has and this test does not know yet
        for cmd in s.commands():
            if cmd not in rec.ok:
                reply = c.execute(cmd, {})
                if "return" in reply:
                    s.check_return(cmd, reply["return"])
                    rec.ok.add(cmd)
                else:
                    rec.check_error(cmd, reply["error"])
                    rec.failed.add(cmd)
            if cmd not in rec.failed:
                rec.call(c, cmd, {"bogus-member": 1}, ok=False,
                         cls="InvalidArgument")
        self.assertEqual(sorted(set(s.commands()) - rec.ok), [],
                         "commands never exercised with success")
        self.assertEqual(sorted(set(s.commands()) - rec.failed), [],
                         "commands never exercised with an error")

        # every event seen on both sessions
        for pair in (("stopped", "starting"), ("starting", "running"),
                     ("running", "paused"), ("paused", "running"),
                     ("running", "stopping"), ("stopping", "stopped"),
                     ("running", "stopped"), ("starting", "stopped")):
            c.wait_event(lambda e, p=pair: e.get("event") == "VM_STATE" and
                         (e["data"]["old"], e["data"]["new"]) == p, t(10))
        self.check_events(c)
        pre.wait_event(lambda e: e.get("event") == "VM_STATE", t(10))
        self.check_events(pre)

    def volumes(self, rec, c):
        """Each volume command and job command once with success, once
        with an error; a job held until it is cancelled."""
        img = os.path.join(self.tmp, "import.raw")
        with open(img, "wb") as f:
            for i in range(16):
                f.write(b"%08d" % i + b"\xa5" * ((1 << 20) - 8))
        os.chmod(img, 0o644)
        rec.call(c, "volume-create", {"name": "conf-v", "size": "1M"})
        rec.call(c, "volume-create", {"name": "conf-v", "size": "1M"},
                 ok=False, cls="VolumeExists")
        rec.call(c, "volume-list")
        rec.call(c, "volume-show", {"volume": "conf-v"})
        rec.call(c, "volume-show", {"volume": "nosuch"}, ok=False,
                 cls="VolumeNotFound")
        rec.call(c, "volume-resize", {"volume": "conf-v", "size": "2M"})
        rec.call(c, "volume-resize", {"volume": "conf-v", "size": 1},
                 ok=False, cls="InvalidArgument")
        other = self.client()
        other.send({"execute": "volume-import", "id": "imp",
                    "arguments": {"name": "conf-hold", "file": img}})
        c.wait_event(lambda e: e.get("event") == "VOLUME_PROGRESS" and
                     e["data"]["volume"] == "conf-hold" and
                     e["data"]["done"] > 0, t(30))
        job = rec.call(c, "job-list")
        self.assertEqual([j["volume"] for j in job], ["conf-hold"])
        rec.call(c, "job-cancel", {"job": job[0]["job"]})
        self.assertError(other.recv_reply(t(30), "imp", match_id=True)
                         .get("error"), "GenericError", "cancelled")
        rec.call(c, "job-cancel", {"job": job[0]["job"]}, ok=False,
                 cls="InvalidArgument")
        rec.call(c, "volume-import", {"name": "conf-i", "file": img},
                 timeout=t(120))
        rec.call(c, "volume-import", {"name": "conf-i", "file": img},
                 ok=False, cls="VolumeExists")
        rec.call(c, "volume-clone", {"source": "conf-i", "name": "conf-c",
                                     "mode": "full"}, timeout=t(120))
        rec.call(c, "volume-clone", {"source": "nosuch", "name": "x"},
                 ok=False, cls="VolumeNotFound")
        rec.call(c, "volume-delete", {"volume": "conf-c"})
        rec.call(c, "volume-delete", {"volume": "conf-c"}, ok=False,
                 cls="VolumeNotFound")

    def tokens(self, rec, c):
        """token-create and token-revoke once with success, once refused."""
        made = rec.call(c, "token-create", {"label": "conf", "scope": [
            {"vm": "conf-b", "allow": ["show"]}], "expires_in": 60})
        rec.call(c, "token-create", {"label": "conf", "scope": [
            {"vm": "nosuch", "allow": ["show"]}]}, ok=False, cls="VmNotFound")
        rec.call(c, "token-revoke", {"id": made["id"]})
        rec.call(c, "token-revoke", {"id": "0123456789abcdef"}, ok=False,
                 cls="InvalidArgument")

    def usage(self, rec, c):
        """usage-report, plans and invoice once with success, once refused."""
        rec.call(c, "usage-report", {"vms": ["conf-b"], "from": "2026-12",
                                     "to": "2027-01", "granularity": "day"})
        rec.call(c, "usage-report", {"from": "2026-12", "to": "2026-11"},
                 ok=False, cls="InvalidArgument")
        rec.call(c, "plan-define", {"name": "conf-p", "currency": "EUR"})
        rec.call(c, "plan-list")
        rec.call(c, "invoice", {"customer": "conf", "month": "2026-12"})
        rec.call(c, "invoice", {"customer": "conf", "month": "2026-13"},
                 ok=False, cls="InvalidArgument")
        rec.call(c, "plan-delete", {"name": "conf-p"})
        rec.call(c, "plan-delete", {"name": "conf-p"}, ok=False,
                 cls="InvalidArgument")

    def templates(self, rec, c):
        """vm-template and vm-clone once with success, once refused."""
        rec.call(c, "vm-define", {"config": {"name": "conf-t", "memory_mib": 32,
                                             "disks": [{"volume": "conf-v"}]}})
        rec.call(c, "vm-clone", {"vm": "conf-t", "name": "conf-n"}, ok=False,
                 cls="InvalidState")
        rec.call(c, "vm-template", {"vm": "conf-t"})
        rec.call(c, "vm-template", {"vm": "nosuch"}, ok=False,
                 cls="VmNotFound")
        rec.call(c, "vm-clone", {"vm": "conf-t", "name": "conf-n"})
        rec.call(c, "vm-clone", {"vm": "conf-t", "name": "conf-n"}, ok=False,
                 cls="VmExists")
        rec.call(c, "vm-list")
        rec.call(c, "vm-show", {"vm": "conf-t"})

    def libvirt(self, rec, c):
        """vm-export-libvirt and vm-import-libvirt: a round trip, and a
        refusal of each."""
        x = rec.call(c, "vm-export-libvirt", {"vm": "conf-t"})["xml"]
        rec.call(c, "vm-export-libvirt", {"vm": "nosuch"}, ok=False,
                 cls="VmNotFound")
        rec.call(c, "vm-import-libvirt", {"xml": x, "name": "conf-lv",
                                          "define": False})
        rec.call(c, "vm-import-libvirt", {"xml": "<domain>"}, ok=False,
                 cls="InvalidArgument")

    def test_crash_event(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("conf-crash")})
        pid = c.command("vm-start", {"vm": "conf-crash"}, timeout=t(60))["pid"]
        os.kill(pid, 9)
        c.wait_state("conf-crash", "crashed", t(10))
        self.check_events(c)
        self.s.check_return("vm-show", c.command("vm-show",
                                                 {"vm": "conf-crash"}))
        self.s.check_return("vm-list", c.command("vm-list"))

    def test_query_commands_and_events(self):
        c = self.client()
        cmds = c.command("query-commands")
        names = [x["name"] for x in cmds]
        self.assertEqual(len(names), len(set(names)), "duplicates: %r" % names)
        self.assertEqual(sorted(names), sorted(self.s.commands()))
        evs = [x["name"] for x in c.command("query-events")]
        self.assertEqual(sorted(evs), sorted(self.s.events()))

    def test_query_schema(self):
        c = self.client()
        got = c.command("query-schema")
        self.assertEqual(set(got), {"protocol", "vm-config"})
        self.assertEqual(got["protocol"], self.s.protocol,
                         "query-schema protocol differs from "
                         "schemas/protocol.json")
        self.assertEqual(got["vm-config"], self.s.vm_config,
                         "query-schema vm-config differs from "
                         "schemas/vm-config.json")

    def test_schema_examples(self):
        """The schema's own examples obey it (keeps the docs honest)."""
        for cmd, spec in self.s.commands().items():
            ex = spec.get("example")
            if not ex:
                continue
            if "arguments" in ex:
                self.s.check_args(cmd, ex["arguments"])
            if "return" in ex:
                self.s.check_return(cmd, ex["return"])
        for name, spec in self.s.events().items():
            if "example" in spec:
                self.s.check(spec["data"], spec["example"], name + " example")

    def test_vmctl_command_table(self):
        rc, out, err = self.vmctl("help", "--commands")
        self.assertEqual(rc, 0, err)
        mapping = {}
        for line in out.splitlines():
            parts = line.split()
            self.assertEqual(len(parts), 2, "bad line %r" % line)
            mapping[parts[0]] = parts[1]
        self.assertTrue(mapping)
        for cli, proto in mapping.items():
            if proto != "-":
                self.assertIn(proto, self.s.commands(),
                              "vmctl %s calls %s, not in the schema"
                              % (cli, proto))
        # every vmctl command is in its help and usage
        rc, out, err = self.vmctl("help")
        self.assertEqual(rc, 0, err)
        for cli in mapping:
            self.assertRegex(out, r"\b%s\b" % re.escape(cli))

    def test_docs_current(self):
        gen = os.path.join(vmdtest.SRCDIR, "docs", "gen_protocol.py")
        self.assertTrue(os.path.exists(gen), "%s missing" % gen)
        p = subprocess.run(["/usr/bin/python3", gen, "--check"],
                           capture_output=True, text=True, timeout=t(60),
                           cwd=vmdtest.SRCDIR)
        self.assertEqual(p.returncode, 0, "docs/protocol.md is stale: %s %s"
                         % (p.stdout, p.stderr))
        text = ""
        for doc in ("vmctl.1", "protocol.md"):
            path = os.path.join(vmdtest.SRCDIR, "docs", doc)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    # roff escapes hyphens: "vm\-start"
                    text += f.read().replace("\\-", "-") + "\n"
        self.assertTrue(text, "no docs/vmctl.1 or docs/protocol.md")
        for cmd in self.s.commands():
            self.assertIn(cmd, text, "command %s is not documented" % cmd)
        for ev in self.s.events():
            self.assertIn(ev, text, "event %s is not documented" % ev)


if __name__ == "__main__":
    vmdtest.main()
