"""End-to-end: what a definition must satisfy and how a change reaches a
running guest.

- vm-update of a running VM changes its definition, not the QEMU running:
  the consoles it was started with stay attachable, vm-show and vm-list
  say the change is pending (also after vmd restarted and re-adopted it),
  and the next start applies it.  Members that apply at once do not make
  a change pending.
- cpus is checked against the machine type (pc: 255, q35: 288, ...).
- NICs get a stable MAC when none is given, kept across updates and vmd
  restarts; a MAC is refused when another NIC (of this or another VM) has
  it, and multicast or all-zero MACs are refused."""

import json
import os
import re
import signal
import socket
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, QMPError, bootsector_config,
                     t)  # noqa: E402

MAC_RE = re.compile(r"^52:54:00(:[0-9a-f]{2}){3}$")


class PendingTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)

    def listed(self, c, name):
        return [v for v in c.command("vm-list") if v["name"] == name][0]

    def restart_vmd(self):
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        self.vmd.start()
        return self.client()

    def test_update_of_running_vm_is_pending(self):
        c = self.client()
        name = "pend"
        cfg = bootsector_config(name, cpus=1)
        c.command("vm-define", {"config": cfg})
        show = c.command("vm-show", {"vm": name})
        self.assertFalse(show["pending"])
        self.assertNotIn("running_config", show)
        c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.console(name, mode="ro")
        con.read_until(BOOT_BANNER, t(30))
        con.close()
        show = c.command("vm-show", {"vm": name})
        self.assertFalse(show["pending"])
        self.assertNotIn("pending_changes", show)
        self.assertEqual(show["running_config"], show["config"])
        self.assertFalse(self.listed(c, name)["pending"])

        # members that apply at once leave nothing pending
        cfg.update(labels={"owner": "bob"}, restart_policy="on-failure",
                   autostart=True)
        c.command("vm-update", {"vm": name, "config": cfg})
        show = c.command("vm-show", {"vm": name})
        self.assertFalse(show["pending"], show)
        self.assertEqual(self.listed(c, name)["labels"], {"owner": "bob"})

        # no serial ports and two CPUs: for the next start only
        cfg.update(serial=[], cpus=2)
        c.command("vm-update", {"vm": name, "config": cfg})
        # the guest's console is still there, keyboard included
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(10))
        con.write(b"still")
        con.read_until(b"still", t(10))
        con.close()
        show = c.command("vm-show", {"vm": name})
        self.assertEqual(len(show["ports"]), 1, "the running port is shown")
        self.assertTrue(show["pending"], show)
        self.assertEqual(show["pending_changes"], ["cpus", "serial"])
        self.assertEqual(show["config"]["serial"], [])
        # the default it was defined without: one console port
        self.assertEqual([p["type"] for p in show["running_config"]["serial"]],
                         ["console"])
        summary = self.listed(c, name)
        self.assertTrue(summary["pending"])
        self.assertEqual(summary["cpus"], 1, "what the guest runs with")

        # a later vmd re-adopts it with the config it runs with
        c = self.restart_vmd()
        show = c.command("vm-show", {"vm": name})
        self.assertEqual(show["state"], "running")
        self.assertTrue(show["pending"], show)
        self.assertEqual(show["pending_changes"], ["cpus", "serial"])
        self.assertTrue(self.listed(c, name)["pending"])
        con = self.console(name)
        con.write(b"again")
        con.read_until(b"again", t(10))
        con.close()

        # the next start applies it
        c.command("vm-stop", {"vm": name, "timeout": 0}, timeout=t(30))
        show = c.command("vm-show", {"vm": name})
        self.assertFalse(show["pending"])
        self.assertNotIn("running_config", show)
        c.command("vm-start", {"vm": name}, timeout=t(60))
        show = c.command("vm-show", {"vm": name})
        self.assertFalse(show["pending"], show)
        self.assertEqual(show["running_config"]["serial"], [])
        self.assertEqual(show.get("ports", []), [])
        self.assertEqual(self.listed(c, name)["cpus"], 2)
        with self.assertRaises(QMPError):
            self.console(name)
        c.command("vm-kill", {"vm": name}, timeout=t(30))

    def test_update_keeps_tcp_port(self):
        """A tcp port of the running guest stays open after an update that
        drops it, and closes with the QEMU it belongs to."""
        c = self.client()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        cfg = bootsector_config("tcp", serial=[{"type": "tcp", "port": port}])
        c.command("vm-define", {"config": cfg})
        c.command("vm-start", {"vm": "tcp"}, timeout=t(60))
        cfg["serial"] = [{"type": "console"}]
        c.command("vm-update", {"vm": "tcp", "config": cfg})
        socket.create_connection(("127.0.0.1", port), t(10)).close()
        show = c.command("vm-show", {"vm": "tcp"})
        self.assertEqual(show["ports"][0]["type"], "tcp")
        self.assertEqual(show["pending_changes"], ["serial"])
        c.command("vm-kill", {"vm": "tcp"}, timeout=t(30))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), t(10)).close()


class CpusTest(vmdtest.VmdTestCase):

    def define(self, c, name, **kw):
        return c.execute("vm-define", {"config": dict(
            {"name": name, "memory_mib": 32}, **kw)})

    def test_cpus_per_machine(self):
        c = self.client()
        for kw, limit in (({"cpus": 256}, "255"),
                          ({"cpus": 256, "machine": "pc-i440fx-7.2"}, "255"),
                          ({"cpus": 256, "arch": "i386"}, "255"),
                          ({"cpus": 2, "machine": "isapc"}, "1"),
                          ({"cpus": 9, "arch": "aarch64"}, "8")):
            reply = self.define(c, "too-many", **kw)
            self.assertIn("error", reply, kw)
            self.assertError(reply["error"], "InvalidArgument",
                             ["cpus", "at most %s" % limit])
        for kw in ({"cpus": 255}, {"cpus": 288, "machine": "q35"},
                   {"cpus": 288, "machine": "pc-q35-7.2"},
                   {"cpus": 8, "arch": "aarch64"},
                   {"cpus": 288, "arch": "riscv64"},
                   {"cpus": 288, "machine": "some-future-type"}):
            name = "ok-%d" % len(c.command("vm-list"))
            reply = self.define(c, name, **kw)
            self.assertIn("return", reply, (kw, reply))
        reply = self.define(c, "over-schema", cpus=289, machine="q35")
        self.assertError(reply["error"], "InvalidArgument", "cpus")
        # vm-update is held to the same rule
        reply = c.execute("vm-update", {"vm": "ok-0", "config": {
            "name": "ok-0", "cpus": 256}})
        self.assertError(reply["error"], "InvalidArgument", "at most 255")
        self.assertEqual(c.command("vm-show", {"vm": "ok-0"})["config"]
                         ["cpus"], 255)


def derived_mac(uuid, nic, attempt):
    """daemon/mac.c's mac_derive, written again: FNV-1a 64 of the uuid and
    "/nicN/A", folded to 24 bits under 52:54:00."""
    h = 1469598103934665603
    for b in (uuid + "/nic%d/%d" % (nic, attempt)).encode():
        h = ((h ^ b) * 1099511628211) & (2 ** 64 - 1)
    v = 0x525400000000 | ((h ^ (h >> 24) ^ (h >> 48)) & 0xffffff)
    return ":".join("%02x" % ((v >> s) & 255) for s in range(40, -1, -8))


class MacTest(vmdtest.VmdTestCase):

    def macs(self, c, name):
        return [n.get("mac") for n in
                c.command("vm-show", {"vm": name})["config"]["nics"]]

    def test_assigned_stable_and_unique(self):
        c = self.client()
        nics = [{"type": "user"}, {"type": "user", "model": "e1000"}]
        c.command("vm-define", {"config": {"name": "a", "nics": nics}})
        a = self.macs(c, "a")
        for m in a:
            self.assertRegex(m, MAC_RE)
        self.assertNotEqual(a[0], a[1])
        c.command("vm-define", {"config": {"name": "b", "nics": nics}})
        b = self.macs(c, "b")
        self.assertFalse(set(a) & set(b), (a, b))

        # the whole config again, without MACs: the NICs keep theirs
        c.command("vm-update", {"vm": "a", "config": {
            "name": "a", "nics": nics + [{"type": "user"}]}})
        a3 = self.macs(c, "a")
        self.assertEqual(a3[:2], a)
        self.assertRegex(a3[2], MAC_RE)
        self.assertNotIn(a3[2], a + b)

        # and across restarts of vmd
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        self.vmd.start()
        c = self.client()
        self.assertEqual(self.macs(c, "a"), a3)
        self.assertEqual(self.macs(c, "b"), b)

    def test_derived_mac_taken(self):
        """The derived MAC is another VM's already: the next is taken."""
        c = self.client()
        uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
        first = derived_mac(uuid, 0, 0)
        c.command("vm-define", {"config": {"name": "x", "nics": [
            {"type": "user", "mac": first}]}})
        c.command("vm-define", {"config": {"name": "y", "uuid": uuid,
                                           "nics": [{"type": "user"}]}})
        self.assertEqual(self.macs(c, "y"), [derived_mac(uuid, 0, 1)])
        c.command("vm-undefine", {"vm": "x"})
        c.command("vm-define", {"config": {"name": "z", "uuid": uuid[:-1] + "f",
                                           "nics": [{"type": "user"}]}})
        self.assertEqual(self.macs(c, "z"),
                         [derived_mac(uuid[:-1] + "f", 0, 0)])

    def test_duplicates_refused(self):
        c = self.client()
        c.command("vm-define", {"config": {"name": "a", "nics": [
            {"type": "user"}, {"type": "user", "mac": "52:54:00:00:00:07"}]}})
        a = self.macs(c, "a")
        # another VM's MAC, named with its owner
        for mac in a:
            reply = c.execute("vm-define", {"config": {"name": "b", "nics": [
                {"type": "user", "mac": mac}]}})
            self.assertError(reply["error"], "InvalidArgument",
                             [mac, "'a'", "nics[%d]" % a.index(mac)])
        # twice in one VM
        reply = c.execute("vm-define", {"config": {"name": "b", "nics": [
            {"type": "user", "mac": "52:54:00:00:00:08"},
            {"type": "user", "mac": "52:54:00:00:00:08"}]}})
        self.assertError(reply["error"], "InvalidArgument",
                         ["nics[1]", "nics[0]", "52:54:00:00:00:08"])
        # not a NIC's address
        for mac in ("01:00:5e:00:00:01", "00:00:00:00:00:00",
                    "ff:ff:ff:ff:ff:ff", "33:33:00:00:00:01"):
            reply = c.execute("vm-define", {"config": {"name": "b", "nics": [
                {"type": "user", "mac": mac}]}})
            self.assertError(reply["error"], "InvalidArgument", mac)
        self.assertEqual([v["name"] for v in c.command("vm-list")], ["a"])
        # an update may not take another VM's either; its own it keeps
        c.command("vm-define", {"config": {"name": "b", "nics": [
            {"type": "user"}]}})
        reply = c.execute("vm-update", {"vm": "b", "config": {
            "name": "b", "nics": [{"type": "user", "mac": a[1]}]}})
        self.assertError(reply["error"], "InvalidArgument", [a[1], "'a'"])
        c.command("vm-update", {"vm": "a", "config": {"name": "a", "nics": [
            {"type": "user", "mac": a[1]}, {"type": "user", "mac": a[0]}]}})
        self.assertEqual(self.macs(c, "a"), [a[1], a[0]])
        # an undefined VM's MACs are free again
        c.command("vm-undefine", {"vm": "a"})
        c.command("vm-update", {"vm": "b", "config": {
            "name": "b", "nics": [{"type": "user", "mac": a[1]}]}})

    def test_older_definitions_get_macs(self):
        """A definition stored without MACs (by an older vmd) gets them
        when vmd starts, the same ones at every later start."""
        c = self.client()
        c.command("vm-define", {"config": {"name": "old", "nics": [
            {"type": "user"}]}})
        uuid = c.command("vm-show", {"vm": "old"})["uuid"]
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        db.execute("UPDATE vms SET config = ? WHERE uuid = ?",
                   ('{"name": "old", "uuid": "%s", "nics": [{"type": "user"}]}'
                    % uuid, uuid))
        db.commit()
        db.close()
        self.vmd.start()
        mac = self.macs(self.client(), "old")[0]
        self.assertRegex(mac, MAC_RE)
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        self.vmd.start()
        self.assertEqual(self.macs(self.client(), "old"), [mac])


class DefaultsTest(vmdtest.VmdTestCase):
    """Defaults are declared once, in vm-config.json: vmd fills them into
    the definition it stores and shows, also into one stored by an older
    vmd without them."""

    def port_defaults(self, port):
        """port with the defaults the Serial schema gives its type: those
        of each branch whose "if" the port matches."""
        schemas = vmdtest.Schemas()
        serial = schemas.vm_config["$defs"]["Serial"]
        port = dict(port)
        for branch in serial.get("allOf", []):
            if schemas.jsonschema.Draft202012Validator(
                    branch["if"]).is_valid(port):
                for key, prop in branch["then"]["properties"].items():
                    port.setdefault(key, prop["default"])
        return port

    def expected(self, name, uuid):
        """A minimal config with every default vm-config.json gives (the
        default serial port with the console defaults), from the schema."""
        schema = vmdtest.Schemas().vm_config
        want = {"name": name, "uuid": uuid}
        for key, prop in schema["properties"].items():
            if "default" in prop:
                want[key] = prop["default"]
        want["serial"] = [self.port_defaults(want["serial"][0])]
        return want

    def test_serial_defaults_per_type(self):
        """Each port gets its own type's defaults, none of another's."""
        c = self.client()
        serial = [{"type": "console"}, {"type": "host", "path": "/dev/ttyS3"},
                  {"type": "tcp", "port": 4555}]
        c.command("vm-define", {"config": {"name": "ports", "serial": serial}})
        shown = c.command("vm-show", {"vm": "ports"})["config"]["serial"]
        self.assertEqual([set(p) for p in shown], [
            {"type", "scrollback_kib", "log_kib", "log_count"},
            {"type", "path", "baud", "data_bits", "parity", "stop_bits", "flow"},
            {"type", "port", "auth", "scrollback_kib", "log_kib", "log_count"}])
        self.assertEqual(shown, [self.port_defaults(p) for p in serial])
        self.assertEqual((shown[0]["scrollback_kib"], shown[1]["baud"],
                          shown[2]["auth"]), (256, 115200, "secret"))

    def test_minimal_config_shows_every_default(self):
        c = self.client()
        uuid = c.command("vm-define", {"config": {"name": "mini"}})["uuid"]
        show = c.command("vm-show", {"vm": "mini"})
        self.assertEqual(show["config"], self.expected("mini", uuid))
        rc, out, err = self.vmctl("show", "mini", json_out=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["config"], show["config"])

    def test_stored_without_defaults_filled_at_load(self):
        c = self.client()
        uuid = c.command("vm-define", {"config": {"name": "old"}})["uuid"]
        c.close()
        self.assertEqual(self.vmd.stop(signal.SIGTERM), 0)
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        db.execute("UPDATE vms SET config = ? WHERE uuid = ?",
                   ('{"name": "old", "uuid": "%s"}' % uuid, uuid))
        db.commit()
        db.close()
        self.vmd.start()
        c = self.client()
        self.assertEqual(c.command("vm-show", {"vm": "old"})["config"],
                         self.expected("old", uuid))


if __name__ == "__main__":
    vmdtest.main()
