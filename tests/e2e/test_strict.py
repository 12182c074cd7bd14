"""End-to-end: protocol strictness (issue 9 item 15).

What vmd reads is what was sent: a NUL in a command or member name is not
cut off, a member name given twice is refused (QEMU refuses it too), ids
come back byte for byte, a UTF-8 byte order mark starts a stream, parse
errors say where, and malformed input costs only itself: the requests after
it in the same read are answered.  JSON-RPC 2.0 batches follow the
specification, and the JSON-RPC socket receives events as notifications.

Replies are read as raw lines (vmd sends one message per line), so the
tests see exactly the bytes vmd wrote."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOTSECTOR, ConnectionClosed, bootsector_config, t  # noqa: E402
from vmdproto import Schemas, is_event, members  # noqa: E402


class Raw:
    """One connection, read line by line as bytes."""

    def __init__(self, path, qmp=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(t(10))
        # vmd makes the JSON-RPC socket just after the one Vmd.start waits for
        deadline = time.monotonic() + t(10)
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.buf = b""
        self.events = []
        if qmp:
            self.line()  # greeting
            self.send(b'{"execute":"qmp_capabilities"}\n')
            assert json.loads(self.reply()) == {"return": {}}

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self, timeout=None):
        deadline = time.monotonic() + (t(10) if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from vmd before the deadline "
                                   "(have %r)" % self.buf[:200])
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise ConnectionClosed("vmd closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self, timeout=None):
        """The next line that is not an event, as text."""
        while True:
            text = self.line(timeout).decode("utf-8")
            if is_event(json.loads(text)):
                self.events.append(json.loads(text))
                continue
            return text

    def quiet(self, seconds):
        """Nothing but events arrives for that long."""
        try:
            text = self.reply(seconds)
        except TimeoutError:
            return
        raise AssertionError("unexpected message: %s" % text)


def ids_of(text):
    """Raw texts of the reply's "id" members (one, or none)."""
    return [raw for name, raw in members(text) if name == "id"]


class StrictTest(vmdtest.VmdTestCase):
    jsonrpc = True

    def raw(self, qmp=True):
        c = Raw(self.vmd.socket if qmp else self.vmd.rpc_socket, qmp)
        self.addCleanup(c.close)
        return c

    def qmp_error(self, c, request, cls="GenericError", mentions=()):
        c.send(request)
        reply = json.loads(c.reply())
        self.assertIn("error", reply, "reply to %r: %r" % (request, reply))
        self.assertError(reply["error"], cls, mentions)
        return reply

    def rpc_error(self, c, request, code, mentions=()):
        c.send(request)
        reply = json.loads(c.reply())
        self.assertEqual(reply.get("jsonrpc"), "2.0", reply)
        self.assertEqual(reply.get("error", {}).get("code"), code, reply)
        for m in mentions:
            self.assertIn(m, reply["error"]["message"], reply)
        return reply

    def ping(self, c, id, qmp=True):
        c.send('{"execute":"vm-list","id":%s}' % json.dumps(id) if qmp else
               '{"jsonrpc":"2.0","method":"vm-list","id":%s}' % json.dumps(id))
        reply = json.loads(c.reply())
        self.assertEqual(reply.get("id"), id, reply)
        self.assertIn("return" if qmp else "result", reply)

    # -- NUL and duplicate names -------------------------------------------

    def test_nul_in_names(self):
        """vm-list\\u0000x ran vm-list; a name with \\u0000 was read as
        the part before it."""
        q = self.raw()
        r = self.qmp_error(q, '{"execute":"vm-list\\u0000x","id":1}',
                           mentions=["execute", "NUL"])
        self.assertEqual(r.get("id"), 1)
        self.qmp_error(q, '{"execute\\u0000x":"vm-list","id":2}',
                       mentions=["NUL", "line 2, column 37"])
        self.qmp_error(q, '\n{"execute":"vm-show","arguments":{"vm\\u0000":'
                       '"keep"},"id":3}', mentions=["NUL"])
        self.ping(q, 4)
        j = self.raw(qmp=False)
        r = self.rpc_error(j, '{"jsonrpc":"2.0","method":"vm-list\\u0000",'
                           '"id":5}', -32600, ["NUL"])
        self.assertEqual(r["id"], 5)
        self.rpc_error(j, '{"jsonrpc":"2.0","method":"vm-list","params":'
                       '{"\\u0000":1},"id":6}', -32600, ["NUL"])
        self.ping(j, 7, qmp=False)

    def test_duplicate_members(self):
        """The last of two members with one name won ("execute" twice ran
        the second command); refused now, at any depth."""
        q = self.raw()
        self.qmp_error(q, '{"execute":"no-such","execute":"vm-list","id":1}',
                       mentions=["duplicate member name 'execute'"])
        self.qmp_error(q, '{"execute":"vm-list","arguments":{"a":1,"a":1},'
                       '"id":2}', mentions=["duplicate member name 'a'"])
        self.qmp_error(q, '{"execute":"vm-list","id":1,"\\u0069d":2}',
                       mentions=["duplicate member name 'id'"])
        # refusing one costs nothing else: the next request in the same
        # write is answered
        q.send('{"execute":"vm-list","id":3,"id":4}{"execute":"vm-list",'
               '"id":5}')
        self.assertIn("duplicate", json.loads(q.reply())["error"]["desc"])
        self.assertEqual(json.loads(q.reply())["id"], 5)
        j = self.raw(qmp=False)
        r = self.rpc_error(j, '{"jsonrpc":"2.0","method":"vm-list","method":'
                           '"vm-list","id":6}', -32600, ["duplicate"])
        self.assertIsNone(r["id"])
        self.ping(j, 7, qmp=False)

    # -- ids ------------------------------------------------------------------

    # sent as is, and what the reply must hold byte for byte
    IDS = [("7", "7"), ("7.0", "7.0"), ("1.0", "1.0"), ("1", "1"),
           ("true", "true"), ("false", "false"), ("null", "null"),
           ("-0", "-0"), (str(2 ** 70), str(2 ** 70)),
           ("-" + str(2 ** 70), "-" + str(2 ** 70)), ("1e400", "1e400"),
           ('"\\u00e9"', '"\\u00e9"'), ('"\u00e9"', '"\u00e9"'),
           ('"a\\"b\\\\c\\/d\\n"', '"a\\"b\\\\c\\/d\\n"'), ('""', '""'),
           ('[3]', '[3]'), ('{"a": [1, 2.50]}', '{"a":[1,2.50]}'),
           ('{ "s" : "x  y" }', '{"s":"x  y"}')]

    def check_ids(self, c, template, qmp=True):
        for sent, want in self.IDS:
            for cmd in ("vm-list", "no-such"):
                with self.subTest(id=sent, cmd=cmd):
                    c.send(template % (cmd, sent))
                    self.assertEqual(ids_of(c.reply()), [want])
        c.send(template.replace(',"id":%s', "") % "vm-list")
        if qmp:  # no "id" member at all, not "id": null
            self.assertEqual(ids_of(c.reply()), [], "an id in the reply to "
                             "a request without one")
        else:  # a notification: no reply
            self.ping(c, "after", qmp)

    def test_ids_exact(self):
        """2**70 came back as 18446744073709551615, -0 as 0, "\\u00e9"
        unescaped; now every id is echoed as sent (less whitespace outside
        strings, as replies are one line)."""
        self.check_ids(self.raw(), '{"execute":"%s","id":%s}')
        self.check_ids(self.raw(), '{"jsonrpc":"2.0","method":"%s","id":%s}',
                       qmp=False)
        j = self.raw(qmp=False)
        for sent, want in self.IDS:
            j.send('{"jsonrpc":"2.0","method":"vm-list","id":%s}' % sent)
            self.assertEqual(ids_of(j.reply()), [want])
        # ids of errors found before the request is understood
        j.send('{"jsonrpc":"2.0","method":5,"id":%s}' % str(2 ** 70))
        self.assertEqual(ids_of(j.reply()), [str(2 ** 70)])

    # -- malformed input ------------------------------------------------------

    def test_resync_after_parse_error(self):
        """Everything after a parse error in the same read was dropped."""
        q = self.raw()
        for junk in ('{"execute": "vm-list",, "id": 0}',
                     'nonsense ',
                     '{"a":, "b": {"c": 1}}',
                     '{"s": "\\x {"}',
                     '}}]]'):
            with self.subTest(junk=junk):
                q.send(junk + '{"execute":"vm-list","id":1}\n'
                       '{"execute":"vm-list","id":2}')
                err = json.loads(q.reply())
                self.assertError(err["error"], "GenericError",
                                 ["JSON parse error at line"])
                self.assertNotIn("id", err)
                self.assertEqual(json.loads(q.reply()).get("id"), 1)
                self.assertEqual(json.loads(q.reply()).get("id"), 2)
                q.quiet(t(0.2))  # one error per broken value, no more
        j = self.raw(qmp=False)
        j.send('{"jsonrpc": "2.0", "method": }{"jsonrpc":"2.0","method":'
               '"vm-list","id":"after"}')
        err = json.loads(j.reply())
        self.assertEqual(err["error"]["code"], -32700, err)
        self.assertEqual(json.loads(j.reply()).get("id"), "after")

    def test_parse_error_position(self):
        """Parse errors said "at byte N" of the value; now line and column
        of the stream."""
        j = self.raw(qmp=False)
        j.send('{"jsonrpc":"2.0","method":"vm-list","id":1}\n'
               '{"jsonrpc":"2.0",\n  "method":,}')
        self.assertEqual(json.loads(j.reply())["id"], 1)
        err = json.loads(j.reply())["error"]
        self.assertIn("line 3, column 12", err["message"], err)
        q = self.raw()  # line 1 was qmp_capabilities
        q.send('\n\n{"execute":"vm-list",\n"id":}')
        err = json.loads(q.reply())["error"]
        self.assertIn("line 5, column 6", err["desc"], err)

    def test_bom(self):
        """A UTF-8 byte order mark at the start of the stream is allowed
        (RFC 8259 8.1); it was a parse error.  Elsewhere it still is."""
        c = self.raw(qmp=False)
        c.send(b'\xef\xbb\xbf{"jsonrpc":"2.0","method":"vm-list","id":1}')
        self.assertEqual(json.loads(c.reply()).get("result"), [])
        c.send(b'\xef\xbb\xbf{"jsonrpc":"2.0","method":"vm-list","id":2}')
        self.assertEqual(json.loads(c.reply())["error"]["code"], -32700)
        self.assertEqual(json.loads(c.reply())["id"], 2)  # resynchronised
        q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(q.close)
        q.connect(self.vmd.socket)
        c = Raw.__new__(Raw)
        c.sock, c.buf, c.events = q, b"", []
        c.line()
        c.send(b'\xef\xbb\xbf{"execute":"qmp_capabilities","id":1}')
        self.assertEqual(json.loads(c.reply()), {"return": {}, "id": 1})

    # -- JSON-RPC batches -----------------------------------------------------

    def batch(self, c, calls):
        c.send(json.dumps(calls) if not isinstance(calls, str) else calls)
        return json.loads(c.reply())

    def test_batch(self):
        """A batch was answered with one QMP-shaped error."""
        j = self.raw(qmp=False)
        # the example of the JSON-RPC 2.0 specification, section 7
        replies = self.batch(j, '[{"jsonrpc":"2.0","method":"vm-list","id":"1"},'
                             '{"jsonrpc":"2.0","method":"vm-list"},'
                             '{"jsonrpc":"2.0","method":"vm-show","params":'
                             '{"vm":"none"},"id":"2"},'
                             '{"foo":"boo"},'
                             '{"jsonrpc":"2.0","method":"no-such","id":"5"},'
                             '{"jsonrpc":"2.0","method":"vm-list","id":'
                             + str(2 ** 70) + '}, 1]')
        self.assertIsInstance(replies, list, replies)
        by_id = {json.dumps(r.get("id")): r for r in replies}
        self.assertEqual(len(replies), 6, replies)  # the notification: none
        self.assertEqual(by_id['"1"']["result"], [])
        self.assertEqual(by_id['"2"']["error"]["code"], -32001)
        self.assertEqual(by_id['"5"']["error"]["code"], -32601)
        self.assertEqual(by_id[str(2 ** 70)]["result"], [])
        invalid = [r for r in replies if r["id"] is None]
        self.assertEqual(len(invalid), 2, replies)  # {"foo"} and 1
        for r in replies:
            self.assertEqual(r["jsonrpc"], "2.0", r)
        for r in invalid:
            self.assertEqual(r["error"]["code"], -32600, r)
        # the exact id text inside a batch too
        j.send('[{"jsonrpc":"2.0","method":"vm-list","id":-0}]')
        line = j.reply()
        self.assertTrue(line.endswith(',"id":-0}]'), line)
        # empty: one error, not an array
        r = self.batch(j, "[]")
        self.assertEqual(r["error"]["code"], -32600, r)
        self.assertIsNone(r["id"])
        # only notifications: no reply at all
        j.send('[{"jsonrpc":"2.0","method":"vm-list"},'
               '{"jsonrpc":"2.0","method":"no-such"}]')
        self.ping(j, "after-notifications", qmp=False)
        # bounded
        r = self.batch(j, [{"jsonrpc": "2.0", "method": "vm-list", "id": i}
                           for i in range(101)])
        self.assertEqual(r["error"]["code"], -32600, r)
        self.assertIn("at most 100", r["error"]["message"])
        replies = self.batch(j, [{"jsonrpc": "2.0", "method": "vm-list",
                                  "id": i} for i in range(100)])
        self.assertEqual(sorted(r["id"] for r in replies), list(range(100)))
        # calls run in order: a define is seen by the show after it
        cfg = bootsector_config("in-batch")
        replies = self.batch(j, [
            {"jsonrpc": "2.0", "method": "vm-define", "params":
             {"config": cfg}, "id": "d"},
            {"jsonrpc": "2.0", "method": "vm-show", "params":
             {"vm": "in-batch"}, "id": "s"},
            {"jsonrpc": "2.0", "method": "console-attach", "params":
             {"vm": "in-batch"}, "id": "c"}])
        by_id = {r["id"]: r for r in replies}
        self.assertIn("result", by_id["d"], replies)
        self.assertEqual(by_id["s"]["result"]["config"]["name"], "in-batch")
        self.assertEqual(by_id["c"]["error"]["code"], -32600, replies)
        self.ping(j, "end", qmp=False)

    def test_batch_on_qmp_socket(self):
        """QMP has no arrays: refused clearly; a JSON-RPC batch is served."""
        q = self.raw()
        self.qmp_error(q, '[{"execute":"vm-list","id":1}]',
                       mentions=["QMP input must be a JSON object"])
        self.qmp_error(q, '[]', mentions=["QMP input must be a JSON object"])
        replies = self.batch(q, [{"jsonrpc": "2.0", "method": "vm-list",
                                  "id": 1}])
        self.assertEqual(replies, [{"jsonrpc": "2.0", "result": [], "id": 1}])
        self.ping(q, 2)

    # -- events on the JSON-RPC socket ----------------------------------------

    def test_jsonrpc_events(self):
        """JSON-RPC listeners got no events; now notifications.  Also a
        batch whose call ends later (vm-start), and a client that leaves in
        the middle of a batch."""
        vmdtest.require_guests(BOOTSECTOR)
        j = self.raw(qmp=False)
        q = self.raw()
        self.client().command("vm-define", {"config": bootsector_config("ev")})
        j.send('[{"jsonrpc":"2.0","method":"vm-start","params":{"vm":"ev"},'
               '"id":"start"},{"jsonrpc":"2.0","method":"vm-show","params":'
               '{"vm":"ev"},"id":"show"}]'
               '{"jsonrpc":"2.0","method":"vm-list","id":"next"}')
        batch = json.loads(j.reply(t(60)))
        replies = {r["id"]: r for r in batch}
        self.assertEqual(len(batch), 2, batch)
        self.assertIn("result", replies["start"], replies)
        self.assertEqual(replies["show"]["result"]["state"], "running",
                         replies)
        # the request after the batch waited for it
        self.assertEqual(json.loads(j.reply())["id"], "next")
        k = Raw(self.vmd.rpc_socket, qmp=False)
        k.send('[{"jsonrpc":"2.0","method":"vm-kill","params":{"vm":"ev"},'
               '"id":1},{"jsonrpc":"2.0","method":"vm-list","id":2}]')
        k.close()
        schemas = Schemas()
        for conn, shape in ((j, "jsonrpc"), (q, "qmp")):
            deadline = time.monotonic() + t(30)
            seen = []
            while "stopped" not in seen or "running" not in seen:
                self.assertLess(time.monotonic(), deadline, seen)
                msg = (conn.events.pop(0) if conn.events else
                       json.loads(conn.line(t(30))))
                if shape == "qmp":
                    ev = msg
                    self.assertIn("event", msg)
                else:
                    self.assertEqual(set(msg), {"jsonrpc", "method", "params"},
                                     msg)
                    self.assertEqual(msg["jsonrpc"], "2.0")
                    ev = {"event": msg["method"], **msg["params"]}
                schemas.check_event(ev)
                if ev["event"] == "VM_STATE" and ev["data"]["vm"] == "ev":
                    seen.append(ev["data"]["new"])
        # and requests still work between notifications
        self.ping(j, "after-events", qmp=False)


if __name__ == "__main__":
    vmdtest.main()
