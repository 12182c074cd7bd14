"""End-to-end: how vmd answers what it should refuse.

Malformed JSON, unknown commands, commands before negotiation, bad
arguments, unknown or duplicate VMs, invalid names, wrong states, missing
files, oversized messages, clients that vanish mid-message, objects sent
back to back, and JSON-RPC 2.0 on both sockets.  After each test the VMs
defined at its start must still be there, unchanged: refusing a request
never loses anything."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, Client, ConnectionClosed,
                     QMPError, bootsector_config, t)  # noqa: E402
from vmdproto import members  # noqa: E402

MiB = 1024 * 1024


class ErrorsTest(vmdtest.VmdTestCase):
    jsonrpc = True

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        c = self.client()
        self.kept = {}
        for cfg in (bootsector_config("keep-a"),
                    bootsector_config("keep-b", cpus=2,
                                      labels={"owner": "alice",
                                              "plan": "small"})):
            c.command("vm-define", {"config": cfg})
            self.kept[cfg["name"]] = c.command("vm-show",
                                               {"vm": cfg["name"]})["config"]
        self.c = c
        self.addCleanup(self.check_nothing_lost)

    def check_nothing_lost(self):
        """vmd is alive and the VMs defined before the test are intact."""
        self.assertTrue(self.vmd.alive(), "vmd died (exit %s)"
                        % self.vmd.proc.returncode)
        c = Client(self.vmd.socket)
        try:
            names = [v["name"] for v in c.command("vm-list")]
            for name, config in self.kept.items():
                self.assertIn(name, names, "VM %s lost" % name)
                self.assertEqual(c.command("vm-show", {"vm": name})["config"],
                                 config, "VM %s changed" % name)
        finally:
            c.close()

    def ping(self, c, id="ping"):
        """The connection still works: a command answered with its id."""
        reply = c.execute("vm-list", id=id)
        self.assertEqual(reply.get("id"), id)
        self.assertIn("return", reply, reply)

    # -- framing ---------------------------------------------------------

    def test_malformed_json(self):
        c = self.c
        for junk in (b'{"execute": "vm-list",, }\n',
                     b'{"execute" "vm-list"}\n',
                     b'nonsense\n',
                     b'}\n'):
            c.send_raw(junk)
            reply = c.recv_reply(t(10))
            self.assertIn("error", reply, "reply to %r: %r" % (junk, reply))
            self.assertError(reply["error"], "GenericError")
            self.ping(c)  # the next reply is the ping's: one error per junk
        # valid JSON that is not a request
        for junk in (b'[1, 2]\n', b'"vm-list"\n', b'42\n', b'{}\n',
                     b'{"execute": 5}\n', b'{"execute": "vm-list", '
                     b'"arguments": [1]}\n'):
            c.send_raw(junk)
            reply = c.recv_reply(t(10))
            self.assertIn("error", reply, "reply to %r: %r" % (junk, reply))
            self.assertIn(reply["error"]["class"],
                          ("GenericError", "InvalidArgument"), reply)
            self.ping(c)

    def test_back_to_back(self):
        c = self.c
        c.send_raw(b'{"execute":"vm-list","id":1}{"execute":"query-events",'
                   b'"id":2}{"execute":"vm-show","arguments":{"vm":"keep-a"},'
                   b'"id":3}')
        replies = [c.recv_reply(t(10)) for _ in range(3)]
        self.assertEqual([r.get("id") for r in replies], [1, 2, 3])
        self.assertTrue(all("return" in r for r in replies), replies)
        self.assertEqual(replies[2]["return"]["name"], "keep-a")

        # many at once, mixed separators
        reqs = b"".join(b'{"execute":"vm-list","id":%d}%s'
                        % (i, [b"", b"\n", b" ", b"\r\n\t"][i % 4])
                        for i in range(200))
        c.send_raw(reqs)
        ids = [c.recv_reply(t(10)).get("id") for _ in range(200)]
        self.assertEqual(ids, list(range(200)))

        # one object spread over many writes, and over lines
        msg = b'{\n  "execute": "vm-show",\n  "arguments": {"vm": "keep-b"},' \
              b'\n  "id": "split"\n}'
        for i in range(len(msg)):
            c.send_raw(msg[i:i + 1])
            if i % 16 == 0:
                time.sleep(0.001)
        reply = c.recv_reply(t(10))
        self.assertEqual(reply.get("id"), "split")
        self.assertEqual(reply["return"]["name"], "keep-b")

    def test_ids_echoed(self):
        """Each id comes back byte for byte.  Compared as raw text: Python's
        == takes a missing id for None, True for 1 and 7 for 7.0."""
        c = self.c

        def reply_ids(data):
            c.send_raw(data)
            raw = b""
            c.sock.settimeout(t(10))
            while not raw.endswith(b"\n"):
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise ConnectionClosed("vmd closed the connection")
                raw += chunk
            self.assertEqual(raw.count(b"\n"), 1, raw)
            return [v for k, v in members(raw.decode()) if k == "id"]

        for id in ("7", "7.0", "1", "true", "null", "-0", str(2 ** 70),
                   '"\\u00e9"', '"seven"', '{"a":[1,2]}', "[3]", "2.5", "-1"):
            for cmd in ("vm-list", "no-such"):
                with self.subTest(id=id, cmd=cmd):
                    self.assertEqual(reply_ids(('{"execute":"%s","id":%s}'
                                                % (cmd, id)).encode()), [id])
        # no id: no "id" member at all (not "id": null)
        self.assertEqual(reply_ids(b'{"execute":"vm-list"}'), [])
        self.assertEqual(reply_ids(b'{"execute":"no-such"}'), [])

    def test_oversized_message(self):
        # just under the cap is fine
        c = self.c
        pad = "x" * (MiB - 4096)
        reply = c.execute("vm-list", id=pad, timeout=t(30))
        self.assertEqual(reply.get("id"), pad)

        # over it: an error, then the connection is closed
        big = self.client()
        data = json.dumps({"execute": "vm-list",
                           "id": "y" * (MiB + 4096)}).encode()
        try:
            big.send_raw(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # vmd may close before it read everything
        reply = big.recv_reply(t(10))
        self.assertIn("error", reply, "reply to a 1 MiB+ message: %r"
                      % (str(reply)[:300],))
        self.assertError(reply["error"], "GenericError")
        with self.assertRaises(ConnectionClosed):
            while True:
                big.recv(t(10))

        # the cap is per message, not per connection: 1.5 MiB of requests
        many = self.client()
        reqs = [json.dumps({"execute": "vm-list", "id": "%d-%s" % (i, "z" *
                                                                    10000)})
                for i in range(150)]
        sender = threading.Thread(target=lambda: many.send_raw(
            "".join(reqs).encode()), daemon=True)
        sender.start()
        for i in range(150):
            reply = many.recv_reply(t(30))
            self.assertEqual(reply.get("id"), json.loads(reqs[i])["id"])
        sender.join(t(10))
        # and other clients were never disturbed
        self.ping(self.client())

    def test_client_vanishing_mid_message(self):
        # one client leaves half a message and goes
        a = self.client()
        a.send_raw(b'{"execute": "vm-li')
        a.close()
        # another sends half and stays: nobody else waits for it
        b = self.client()
        b.send_raw(b'{"execute": "vm-show", "arguments": {"vm": "ke')
        # one connects and says nothing at all
        silent = self.client(negotiate=False)
        d = self.client()
        self.ping(d)
        # one disconnects right after a request, before its reply
        e = self.client()
        e.send_raw(b'{"execute": "query-host", "id": 1}')
        e.close()
        self.ping(d, "after")
        b.send_raw(b'ep-a"}, "id": "late"}')
        reply = b.recv_reply(t(10))
        self.assertEqual(reply.get("id"), "late")
        self.assertEqual(reply["return"]["name"], "keep-a")
        silent.close()
        self.ping(d, "end")

    # -- negotiation and commands -------------------------------------------

    def test_unknown_command(self):
        err = self.c.error("no-such-command")
        self.assertError(err, "CommandNotFound")
        self.assertEqual(err["desc"],
                         "The command no-such-command has not been found")

    def test_before_negotiation(self):
        c = self.client(negotiate=False)
        self.assertEqual(c.greeting["QMP"]["capabilities"], [])
        # exactly: a known command waits for negotiation, an unknown one is
        # unknown whether or not the session negotiated
        for cmd in ("vm-list", "query-host"):
            self.assertEqual(c.error(cmd), {
                "class": "CommandNotFound", "desc": "Expecting capabilities "
                "negotiation with 'qmp_capabilities'"})
        self.assertEqual(c.error("no-such-command"), {
            "class": "CommandNotFound",
            "desc": "The command no-such-command has not been found"})
        self.assertEqual(c.command("qmp_capabilities"), {})
        self.ping(c)

    def test_second_negotiation(self):
        self.assertEqual(self.c.error("qmp_capabilities"), {
            "class": "CommandNotFound", "desc": "Capabilities negotiation is "
            "already complete, command ignored"})
        self.ping(self.c)

    def test_bad_arguments(self):
        c = self.c
        cases = [
            ("vm-show", {}, "vm"),
            ("vm-show", {"vm": 5}, "vm"),
            ("vm-show", {"vm": None}, "vm"),
            ("vm-show", {"vm": ""}, "vm"),
            ("vm-show", {"vm": "a" * 65}, "vm"),
            ("vm-show", {"vm": "keep-a", "bogus": 1}, "bogus"),
            ("vm-list", {"verbose": True}, "verbose"),
            ("vm-stop", {"vm": "keep-a", "timeout": "10"}, "timeout"),
            ("vm-stop", {"vm": "keep-a", "timeout": -1}, "timeout"),
            ("vm-stop", {"vm": "keep-a", "timeout": 3601}, "timeout"),
            ("vm-stop", {"vm": "keep-a", "timeout": 1.5}, "timeout"),
            ("vm-define", {}, "config"),
            ("vm-define", {"config": "x"}, "config"),
            ("vm-define", {"config": {"memory_mib": 64}}, "name"),
            ("vm-define", {"config": {"name": "x", "frobnicate": 1}},
             "frobnicate"),
            ("vm-define", {"config": {"name": "x", "memory_mib": 8}},
             "memory_mib"),
            ("vm-define", {"config": {"name": "x", "cpus": 0}}, "cpus"),
            ("vm-define", {"config": {"name": "x", "accel": "xen"}}, "accel"),
            ("vm-define", {"config": {"name": "x", "uuid": "nope"}}, "uuid"),
            ("vm-define", {"config": bootsector_config(
                "x", disks=[{"path": BOOTSECTOR, "bus": "scsi"}])}, "bus"),
            ("vm-define", {"config": bootsector_config(
                "x", disks=[{"path": BOOTSECTOR, "cache": "none"}])},
             "cache"),
            ("vm-define", {"config": {"name": "x", "boot": {"initrd":
                                                            BOOTSECTOR}}},
             "kernel"),
            ("vm-define", {"config": {"name": "x", "labels": {"owner9": 5}}},
             "owner9"),
            ("vm-define", {"config": {"name": "x", "nics": [{"type": "tap"}]}},
             "type"),
            ("vm-update", {"vm": "keep-a"}, "config"),
            ("console-attach", {"vm": "keep-a", "mode": "rx"}, "mode"),
            ("console-attach", {"vm": "keep-a", "port": 4}, "port"),
            ("vm-monitor", {"vm": "keep-a"}, "command"),
            ("vm-monitor", {"vm": "keep-a", "command": "query-status",
                            "arguments": []}, "arguments"),
        ]
        for cmd, args, member in cases:
            with self.subTest(cmd=cmd, args=args):
                self.assertCmdError(c, cmd, args, "InvalidArgument", member)
        self.assertCmdError(c, "vm-show", {"vm": "x"}, "VmNotFound")

    def test_nul_and_bad_utf8(self):
        """A NUL inside a string must not cut it short: "keep-a\\0x" is not
        keep-a.  Invalid UTF-8 is a parse error."""
        c = self.c
        for cmd in ("vm-show", "vm-undefine", "vm-start"):
            with self.subTest(cmd=cmd):
                err = c.error(cmd, {"vm": "keep-a\u0000x"})
                self.assertIn(err["class"], ("VmNotFound", "InvalidArgument"),
                              err)
        self.assertEqual(self.vm_state(c, "keep-a"), "stopped")
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "nul", disks=[{"path": BOOTSECTOR + "\u0000.x"}])},
            "InvalidArgument", "path")
        cfg = bootsector_config("nul")
        cfg["name"] = "nul\u0000x"
        self.assertCmdError(c, "vm-define", {"config": cfg},
                            "InvalidArgument", "name")
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "nul", labels={"k": "a\u0000b"})}, "InvalidArgument", "k")
        self.assertCmdError(c, "vm-show", {"vm": "nul"}, "VmNotFound")
        c.send_raw(b'{"execute": "vm-show", "arguments": {"vm": "\xff\xfe"},'
                   b' "id": 1}')
        reply = c.recv_reply(t(10))
        self.assertIn("error", reply)
        self.assertEqual(reply["error"]["class"], "GenericError")
        self.ping(c)
        # what vmd sends is always valid UTF-8 JSON, even when it quotes input
        c.send_raw('{"execute": "vm-show", "arguments": {"vm": "\u00e9\u2603'
                   '\\"\\n\\u0001"}, "id": 2}'.encode())
        raw = b""
        c.sock.settimeout(t(10))
        while not raw.endswith(b"\n"):
            raw += c.sock.recv(4096)
        reply = json.loads(raw.decode("utf-8"))
        self.assertEqual(reply["error"]["class"], "VmNotFound")
        self.assertIn("\u00e9\u2603", reply["error"]["desc"])

    def test_unknown_vm(self):
        c = self.c
        for cmd, extra in (("vm-show", {}), ("vm-start", {}),
                           ("vm-stop", {}), ("vm-stop", {"timeout": 1}),
                           ("vm-kill", {}), ("vm-reset", {}),
                           ("vm-pause", {}), ("vm-resume", {}),
                           ("vm-undefine", {}), ("console-attach", {}),
                           ("vm-monitor", {"command": "query-status"}),
                           ("vm-update", {"config": bootsector_config(
                               "nosuch")})):
            with self.subTest(cmd=cmd):
                args = dict(extra, vm="nosuch")
                self.assertCmdError(c, cmd, args, "VmNotFound", "nosuch")
        uuid = "00000000-0000-4000-8000-000000000000"
        self.assertCmdError(c, "vm-show", {"vm": uuid}, "VmNotFound")

    def test_duplicates(self):
        c = self.c
        self.assertCmdError(c, "vm-define",
                            {"config": bootsector_config("keep-a")},
                            "VmExists", "keep-a")
        uuid_b = self.kept["keep-b"]["uuid"]
        self.assertCmdError(c, "vm-define",
                            {"config": bootsector_config("other",
                                                         uuid=uuid_b)},
                            "VmExists")
        # rename onto another VM's name
        cfg = dict(self.kept["keep-b"], name="keep-a")
        self.assertCmdError(c, "vm-update", {"vm": "keep-b", "config": cfg},
                            "VmExists", "keep-a")
        # the uuid cannot change
        cfg = dict(self.kept["keep-b"],
                   uuid="11111111-2222-4333-8444-555555555555")
        self.assertCmdError(c, "vm-update", {"vm": "keep-b", "config": cfg},
                            "InvalidArgument", "uuid")
        self.assertCmdError(c, "vm-show", {"vm": "other"}, "VmNotFound")

    def test_invalid_names(self):
        c = self.c
        for name in ("", "-dash", ".dot", "_under", "has space", "a/b",
                     "a" * 64, "na\u00efve", "tab\t", "semi;colon", "a,b"):
            with self.subTest(name=name):
                self.assertCmdError(c, "vm-define",
                                    {"config": bootsector_config(name)},
                                    "InvalidArgument", "name")
        for name in ("a", "A.b_c-9", "b" * 63, "9lives"):
            with self.subTest(name=name):
                r = c.command("vm-define", {"config": bootsector_config(name)})
                self.assertEqual(r["name"], name)
                self.assertEqual(c.command("vm-undefine", {"vm": name}), {})

    def test_missing_files(self):
        c = self.c
        missing = "/nonexistent/vmd-e2e/disk.img"
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "nodisk", disks=[{"path": missing}])}, "InvalidArgument", missing)
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "reldisk", disks=[{"path": "disk.img"}])}, "InvalidArgument",
            "path")
        kernel = "/nonexistent/vmd-e2e/vmlinuz"
        self.assertCmdError(c, "vm-define", {"config": {
            "name": "nokernel", "boot": {"kernel": kernel}}},
            "InvalidArgument", kernel)
        # right type: a directory is no disk, /dev/null no kernel
        self.assertCmdError(c, "vm-define", {"config": bootsector_config(
            "dirdisk", disks=[{"path": self.tmp}])}, "InvalidArgument",
            [self.tmp, "not a regular file or block device"])
        self.assertCmdError(c, "vm-define", {"config": {
            "name": "devkernel", "boot": {"kernel": "/dev/null"}}},
            "InvalidArgument", ["/dev/null", "not a regular file"])
        for name in ("nodisk", "reldisk", "nokernel", "dirdisk", "devkernel"):
            self.assertCmdError(c, "vm-show", {"vm": name}, "VmNotFound")

        # a disk that vanishes after define: vm-start names it
        disk = os.path.join(self.tmp, "gone.img")
        c.command("vm-define", {"config": vmdtest.bootsector_at(
            disk, "vanishing")})
        os.unlink(disk)
        self.assertCmdError(c, "vm-start", {"vm": "vanishing"},
                            "InvalidArgument", disk)
        self.assertEqual(self.vm_state(c, "vanishing"), "stopped")

    def test_invalid_state(self):
        c = self.c
        idle = self.client(negotiate=False)
        name = "runner"
        c.command("vm-define", {"config": bootsector_config(name)})
        c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertCmdError(c, "vm-start", {"vm": name}, "InvalidState")
        self.assertCmdError(c, "vm-undefine", {"vm": name}, "InvalidState")
        self.assertCmdError(c, "vm-resume", {"vm": name}, "InvalidState")
        for cmd in ("vm-stop", "vm-kill", "vm-pause", "vm-resume", "vm-reset",
                    "console-attach"):
            self.assertCmdError(c, cmd, {"vm": "keep-a"}, "InvalidState")
        self.assertCmdError(c, "vm-monitor", {"vm": "keep-a",
                                              "command": "query-status"},
                            "InvalidState")
        # consoles: no such port, one writer
        self.assertCmdError(c, "console-attach", {"vm": name, "port": 3},
                            "InvalidArgument", "port")
        w = self.console(name)
        w.read_until(BOOT_BANNER, t(30))
        with self.assertRaises(QMPError) as cm:
            self.console(name)
        self.assertEqual(cm.exception.cls, "Busy")
        r = self.console(name, mode="ro")
        r.read_until(BOOT_BANNER, t(10))
        # the writer leaves: another may write
        w.close()
        w2 = self.wait_for(lambda: self._try_console(name), t(5),
                           "a writer after the first left")
        w2.write(b"ok")
        w2.read_until(b"ok", t(10))
        # QEMU's own errors come through vm-monitor
        err = c.error("vm-monitor", {"vm": name, "command": "no-such-qmp"})
        self.assertIn(err["class"], ("CommandNotFound", "GenericError"))
        self.assertIn("no-such-qmp", err["desc"])
        c.command("vm-kill", {"vm": name})
        # a session that did not negotiate saw none of this
        idle.drain(t(0.3))
        self.assertEqual(idle.events, [])
        self.assertEqual(c.command("vm-undefine", {"vm": name}), {})

    def _try_console(self, name):
        try:
            return self.console(name)
        except QMPError as e:
            if e.cls != "Busy":
                raise
            return None

    # -- JSON-RPC 2.0 ---------------------------------------------------------

    def check_rpc_error(self, reply, code, cls=None, id=None):
        self.assertEqual(reply.get("jsonrpc"), "2.0", reply)
        self.assertNotIn("result", reply, reply)
        self.assertEqual(reply.get("id", "absent"), id, reply)
        err = reply.get("error")
        self.assertIsInstance(err, dict, reply)
        self.assertEqual(err.get("code"), code, reply)
        self.assertIsInstance(err.get("message"), str, reply)
        if cls is not None:
            self.assertEqual(err.get("data", {}).get("class"), cls, reply)

    def rpc_checks(self, c):
        r = c.rpc("vm-list", id=41)
        self.assertEqual(r.get("jsonrpc"), "2.0", r)
        self.assertEqual(r.get("id"), 41)
        self.assertNotIn("return", r)
        self.assertNotIn("error", r)
        names = [v["name"] for v in r["result"]]
        self.assertIn("keep-a", names)
        r = c.rpc("vm-show", {"vm": "keep-b"}, id="str-id")
        self.assertEqual(r.get("id"), "str-id")
        self.assertEqual(r["result"]["config"], self.kept["keep-b"])
        r = c.rpc("vm-list", {}, id=0)
        self.assertEqual(r.get("id"), 0)
        self.assertIn("result", r)
        # a notification (no id) is not answered: the next reply is the
        # next request's
        c.send({"jsonrpc": "2.0", "method": "vm-list"})
        r = c.rpc("vm-list", id="after-notification")
        self.assertIn("result", r)
        self.check_rpc_error(c.rpc("no-such-method", id="u"), -32601,
                             "CommandNotFound", "u")
        self.check_rpc_error(c.rpc("vm-show", {"vm": 5}, id=2), -32602,
                             "InvalidArgument", 2)
        self.check_rpc_error(c.rpc("vm-show", {"bogus": 1}, id=3), -32602,
                             "InvalidArgument", 3)
        self.check_rpc_error(c.rpc("vm-show", {"vm": "nosuch"}, id=4), -32001,
                             "VmNotFound", 4)
        self.check_rpc_error(c.rpc("vm-define", {"config": bootsector_config(
            "keep-a")}, id=5), -32002, "VmExists", 5)
        # invalid requests: no method, method not a string
        for req, id in (({"jsonrpc": "2.0", "id": 6}, 6),
                        ({"jsonrpc": "2.0", "method": 7, "id": 7}, 7),
                        ({"jsonrpc": "2.0", "method": "vm-list",
                          "params": "x", "id": 8}, 8)):
            reply = c.request(req, t(10))
            self.assertIn(reply["error"]["code"], (-32600, -32602), reply)
            self.assertEqual(reply.get("id"), id)

    def test_jsonrpc_on_main_socket(self):
        c = self.client()
        self.rpc_checks(c)
        # QMP still works on the same connection
        self.ping(c)

    def test_jsonrpc_listener(self):
        self.assertTrue(os.path.exists(self.vmd.rpc_socket),
                        "--jsonrpc-socket %s not created" % self.vmd.rpc_socket)
        c = Client(self.vmd.rpc_socket, greeting=False, negotiate=False)
        self._clients.append(c)
        # no greeting: nothing arrives until we ask
        with self.assertRaises(TimeoutError):
            c.recv(t(0.5))
        self.rpc_checks(c)
        # parse error: id null, and the connection stays usable
        c.send_raw(b'{"jsonrpc": "2.0", "method": }\n')
        self.check_rpc_error(c.recv_reply(t(10)), -32700, None, None)
        r = c.rpc("query-host", id=99, timeout=t(120))
        self.assertEqual(r["id"], 99)
        self.assertIn(r["result"]["accel"]["verdict"], ("kvm", "tcg"))
        # back to back, no separator
        c.send_raw(b'{"jsonrpc":"2.0","method":"vm-list","id":"a"}'
                   b'{"jsonrpc":"2.0","method":"vm-list","id":"b"}')
        self.assertEqual([c.recv_reply(t(10)).get("id") for _ in range(2)],
                         ["a", "b"])

    def test_jsonrpc_before_negotiation(self):
        # Before negotiation, on the QMP socket, a JSON-RPC request is
        # refused the QMP way or answered; either way no crash, then QMP.
        c = self.client(negotiate=False)
        reply = c.request({"jsonrpc": "2.0", "method": "vm-list", "id": 1},
                          t(10))
        self.assertEqual(reply.get("id"), 1)
        self.assertEqual(c.command("qmp_capabilities"), {})
        self.ping(c)


if __name__ == "__main__":
    vmdtest.main()
