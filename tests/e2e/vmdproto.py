"""The protocol side of vmd's end-to-end harness: a client for vmd's socket
that speaks QMP (and JSON-RPC 2.0) with a deadline on every wait, console
viewers (console-attach on the socket, or a tcp serial port), console-read
of the persistent log, and the schemas/ validators.

vmdtest imports every name from here, so tests keep importing from vmdtest.
"""

import base64
import json
import os
import selectors
import socket
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("VMD_SRCDIR")
                         or os.path.join(HERE, "..", ".."))
SCALE = float(os.environ.get("VMD_TEST_TIMEOUT_SCALE") or "1")


def t(seconds):
    """A deadline length in seconds, scaled for slow hosts."""
    return seconds * SCALE


class ProtocolError(Exception):
    """The daemon broke the framing: bad JSON, unexpected EOF, no reply."""


class ConnectionClosed(ProtocolError):
    """The daemon closed the connection."""


class QMPError(Exception):
    """A command came back with an error reply."""

    def __init__(self, cmd, reply):
        self.cmd = cmd
        self.reply = reply
        err = reply.get("error", {})
        self.cls = err.get("class")
        self.desc = err.get("desc", err.get("message"))
        super().__init__("%s: %s: %s" % (cmd, self.cls, self.desc))



def is_event(msg):
    """A QMP event, or a JSON-RPC notification (how the JSON-RPC socket
    sends events): a message no request asked for."""
    return isinstance(msg, dict) and ("event" in msg or (
        msg.get("jsonrpc") == "2.0" and "method" in msg and "id" not in msg))


def members(text):
    """[(name, raw JSON text of the value)] of the top-level object in text,
    in order, duplicates kept: to compare what vmd echoed byte for byte."""
    dec = json.JSONDecoder()

    def skip(i):
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i
    i = skip(0)
    if text[i:i + 1] != "{":
        raise ProtocolError("not an object: %r" % text[:200])
    i = skip(i + 1)
    out = []
    while text[i] != "}":
        name, i = dec.raw_decode(text, i)
        i = skip(i)
        if text[i] != ":":
            raise ProtocolError("bad object: %r" % text[:200])
        i = skip(i + 1)
        _, end = dec.raw_decode(text, i)
        out.append((name, text[i:end]))
        i = skip(end)
        if text[i] == ",":
            i = skip(i + 1)
    return out


# ---------------------------------------------------------------------------
# Raw protocol client

AUTO_ID = object()  # "number the request myself"


class Client:
    """One connection to vmd's socket, speaking QMP (or JSON-RPC).

    Input from vmd is a stream of JSON values; they are cut out of a buffer
    with raw_decode, so objects sent back to back (with or without newlines)
    are read correctly.  Events that arrive while waiting for a reply are
    kept in self.events, in arrival order."""

    def __init__(self, path, greeting=True, negotiate=True, timeout=None):
        self.path = path
        self.buf = b""
        self.events = []
        self.event_times = []   # time.monotonic() of each event's arrival
        self.greeting = None
        self.next_id = 1
        self.eof = False
        self.decoder = json.JSONDecoder()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(t(10) if timeout is None else timeout)
        self.sock.connect(path)
        if greeting:
            self.greeting = self.recv(t(10) if timeout is None else timeout)
            if "QMP" not in self.greeting:
                raise ProtocolError("no QMP greeting: %r" % (self.greeting,))
        if negotiate:
            self.command("qmp_capabilities")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- bytes ------------------------------------------------------------
    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(t(10))
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj))

    def _fill(self, deadline):
        """Read more bytes into the buffer; raises TimeoutError at the
        deadline, ConnectionClosed at EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from vmd before the deadline")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("no data from vmd before the deadline")
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise ConnectionClosed("vmd closed the connection")
        self.buf += data

    def _parse_one(self):
        """Cut one JSON value off the front of the buffer, or None when the
        buffer does not hold a complete one yet."""
        stripped = self.buf.lstrip(b" \t\r\n")
        if not stripped:
            self.buf = b""
            return None
        text = stripped.decode("utf-8", "surrogateescape")
        try:
            obj, end = self.decoder.raw_decode(text)
        except json.JSONDecodeError as e:
            # vmd ends every message with a newline and JSON strings cannot
            # hold a raw one: a newline in the buffer means the value is
            # complete, and so malformed.
            if "\n" in text:
                raise ProtocolError("vmd sent malformed JSON (%s): %r"
                                    % (e, text[:400]))
            return None
        used = len(text[:end].encode("utf-8", "surrogateescape"))
        self.buf = stripped[used:]
        return obj

    def recv(self, timeout=None):
        """The next message of any kind (reply, event, greeting)."""
        deadline = time.monotonic() + (t(10) if timeout is None else timeout)
        while True:
            obj = self._parse_one()
            if obj is not None:
                return obj
            self._fill(deadline)

    def recv_reply(self, timeout=None, want_id=None, match_id=False):
        """The next reply, keeping events that come before it."""
        deadline = time.monotonic() + (t(30) if timeout is None else timeout)
        while True:
            remaining = max(0.001, deadline - time.monotonic())
            msg = self.recv(remaining)
            if is_event(msg):
                self._add_event(msg)
                continue
            if match_id and (not isinstance(msg, dict)
                             or msg.get("id") != want_id):
                raise ProtocolError("reply with unexpected id (want %r): %r"
                                    % (want_id, msg))
            return msg

    def request(self, obj, timeout=None):
        """Send one request object, return its reply (checked by id when
        the request has one)."""
        self.send(obj)
        has_id = "id" in obj
        return self.recv_reply(timeout, obj.get("id"), match_id=has_id)

    # -- QMP --------------------------------------------------------------
    def execute(self, cmd, args=None, timeout=None, id=AUTO_ID):
        """Full reply dict of one QMP command (id: any JSON value, None
        included; by default a fresh number)."""
        if id is AUTO_ID:
            id = self.next_id
            self.next_id += 1
        req = {"execute": cmd, "id": id}
        if args is not None:
            req["arguments"] = args
        return self.request(req, timeout)

    def command(self, cmd, args=None, timeout=None):
        """The "return" of a command; QMPError for an error reply."""
        reply = self.execute(cmd, args, timeout)
        if "error" in reply:
            raise QMPError(cmd, reply)
        if "return" not in reply:
            raise ProtocolError("%s: reply has neither return nor error: %r"
                                % (cmd, reply))
        return reply["return"]

    def error(self, cmd, args=None, timeout=None):
        """The error object of a command expected to fail."""
        reply = self.execute(cmd, args, timeout)
        if "error" not in reply:
            raise AssertionError("%s %s: expected an error, got %r"
                                 % (cmd, json.dumps(args), reply))
        return reply["error"]

    # -- JSON-RPC 2.0 -----------------------------------------------------
    def rpc(self, method, params=None, id=AUTO_ID, timeout=None):
        if id is AUTO_ID:
            id = self.next_id
            self.next_id += 1
        req = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            req["params"] = params
        return self.request(req, timeout)

    # -- events -----------------------------------------------------------
    def _add_event(self, ev):
        self.events.append(ev)
        self.event_times.append(time.monotonic())

    def drain(self, duration):
        """Collect events for `duration` seconds (replies are unexpected)."""
        deadline = time.monotonic() + duration
        while True:
            obj = self._parse_one()
            if obj is not None:
                if is_event(obj):
                    self._add_event(obj)
                    continue
                raise ProtocolError("unexpected message: %r" % (obj,))
            if time.monotonic() >= deadline:
                return
            try:
                self._fill(deadline)
            except TimeoutError:
                return

    def wait_event(self, pred, timeout=None, since=0):
        """First event in self.events[since:] for which pred(event) holds,
        reading more as needed.  Returns (index, event)."""
        deadline = time.monotonic() + (t(30) if timeout is None else timeout)
        i = since
        while True:
            while i < len(self.events):
                if pred(self.events[i]):
                    return i, self.events[i]
                i += 1
            obj = self._parse_one()
            if obj is not None:
                if is_event(obj):
                    self._add_event(obj)
                    continue
                raise ProtocolError("unexpected message while waiting for "
                                    "an event: %r" % (obj,))
            try:
                self._fill(deadline)
            except TimeoutError:
                raise AssertionError(
                    "event not seen before the deadline; events so far: %s"
                    % json.dumps(self.events[since:])) from None

    def wait_state(self, vm, new, timeout=None, since=0):
        """Wait for VM_STATE of vm with data.new == new. Returns (i, ev)."""
        return self.wait_event(
            lambda e: e.get("event") == "VM_STATE"
            and e.get("data", {}).get("vm") == vm
            and e["data"].get("new") == new, timeout, since)

    def transitions(self, vm, since=0):
        """[(old, new, reason)] of the VM_STATE events seen for vm."""
        return [(e["data"].get("old"), e["data"].get("new"),
                 e["data"].get("reason"))
                for e in self.events[since:]
                if e.get("event") == "VM_STATE"
                and e.get("data", {}).get("vm") == vm]


# ---------------------------------------------------------------------------
# Consoles

class Stream:
    """Raw console bytes on a socket, every wait with a deadline.  What
    arrived is in self.data (a bytearray: 8 MiB come in thousands of small
    reads, and appending to bytes would copy it all each time)."""

    def __init__(self, sock):
        self.sock = sock
        self.data = bytearray()
        self.eof = False
        self._found = {}   # pattern: where find() saw it
        self._scanned = {}  # pattern: where find() goes on looking

    def fileno(self):
        return self.sock.fileno()

    def _take(self, chunk):
        self.data += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(t(10))
        self.sock.sendall(data)

    def find(self, pattern):
        """Offset of the first pattern (bytes) in data, or -1.  Each call
        looks only at what arrived since the last one, so waiting for a
        marker at the end of megabytes stays cheap."""
        hit = self._found.get(pattern)
        if hit is not None:
            return hit
        i = self.data.find(pattern, self._scanned.get(pattern, 0))
        if i >= 0:
            self._found[pattern] = i
        else:
            self._scanned[pattern] = max(0, len(self.data) - len(pattern) + 1)
        return i

    def read_some(self, timeout=0):
        """One read of what is there (waiting at most timeout); False when
        nothing came (timeout or EOF)."""
        return self._read(time.monotonic() + timeout, block=timeout > 0)

    def _read(self, deadline, block=True):
        remaining = deadline - time.monotonic()
        if (block and remaining <= 0) or self.eof:
            return False
        self.sock.settimeout(max(remaining, 0) if block else 0)
        try:
            chunk = self.sock.recv(1 << 18)
        except (socket.timeout, BlockingIOError):
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self._take(chunk)
        return True

    def read_until(self, pattern, timeout=None, start=0):
        """Read until pattern (bytes, or compiled bytes regex) appears in
        self.data[start:]; returns the offset just past the match."""
        deadline = time.monotonic() + (t(30) if timeout is None else timeout)
        at = start  # where a bytes pattern may still begin
        while True:
            if isinstance(pattern, (bytes, bytearray)):
                i = self.data.find(pattern, at)
                if i >= 0:
                    return i + len(pattern)
                at = max(start, len(self.data) - len(pattern) + 1)
            else:
                m = pattern.search(self.data, start)
                if m:
                    return m.end()
            if not self._read(deadline):
                if self.eof and time.monotonic() < deadline:
                    raise AssertionError(
                        "console closed before %r; got %r"
                        % (pattern, bytes(self.data[start:][-2000:])))
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        "%r not on the console within the deadline; got %r"
                        % (pattern, bytes(self.data[start:][-2000:])))

    def read_for(self, duration):
        """Everything that arrives within `duration` seconds."""
        start = len(self.data)
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline and not self.eof:
            self._read(deadline)
        return bytes(self.data[start:])

    def wait_eof(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline)
        return self.eof


class Console(Stream):
    """A console-attach connection: JSON up to the reply, raw bytes after."""

    def __init__(self, path, vm, mode=None, port=None, timeout=None,
                 force=None):
        self.client = Client(path, timeout=timeout)
        args = {"vm": vm}
        if mode is not None:
            args["mode"] = mode
        if port is not None:
            args["port"] = port
        if force is not None:
            args["force"] = force
        self.reply = self.client.execute("console-attach", args, timeout)
        if "error" in self.reply:
            self.client.close()
            raise QMPError("console-attach", self.reply)
        super().__init__(self.client.sock)
        # Whatever followed the reply line is console output; the newline
        # ending the reply is not (it may come in the next read).
        self._reply_nl = True
        self._take(self.client.buf)
        self.client.buf = b""

    def _take(self, chunk):
        if self._reply_nl and chunk:
            self._reply_nl = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        self.data += chunk

    def close(self):
        self.client.close()


class TcpConsole(Stream):
    """A raw TCP client of a tcp serial port (vmd listens on loopback)."""

    def __init__(self, port, host="127.0.0.1", timeout=None, secret=None):
        sock = socket.create_connection((host, port),
                                        t(10) if timeout is None else timeout)
        if secret is not None:  # the port's secret (vm-show, as an admin)
            sock.sendall(secret.encode() + b"\n")
        super().__init__(sock)


def pump(streams, until, timeout, what="the consoles"):
    """Read every stream as data comes (one thread, select) until until()
    holds; AssertionError at the deadline.  Streams that reach EOF are
    left out; the caller checks .eof where that matters."""
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    try:
        for s in streams:
            if not s.eof:
                sel.register(s.sock, selectors.EVENT_READ, s)
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    "timed out reading %s; they hold %s bytes" %
                    (what, [len(s.data) for s in streams]))
            for key, _ in sel.select(min(remaining, 1.0)):
                s = key.data
                s.read_some()
                if s.eof:
                    sel.unregister(key.fileobj)
    finally:
        sel.close()


# ---------------------------------------------------------------------------
# The persistent console log

def console_read_all(client, vm, port=None, offset=0, max_bytes=1 << 19,
                     timeout=None):
    """Every byte console-read returns from offset to the log's end, one
    max_bytes piece at a time, checking that the pieces are contiguous.
    Returns (data, offset of data[0], the last reply)."""
    args = {"vm": vm, "offset": offset, "max_bytes": max_bytes}
    if port is not None:
        args["port"] = port
    out = bytearray()
    first = None
    while True:
        r = client.command("console-read", args, timeout)
        chunk = base64.b64decode(r["data"], validate=True)
        if first is None:
            first = r["offset"]
            if r["offset"] != max(args["offset"], r["start"]):
                raise AssertionError("console-read from %d began at %d "
                                     "(start %d): %r" % (
                                         args["offset"], r["offset"],
                                         r["start"], _short(r)))
        elif r["offset"] != args["offset"]:
            raise AssertionError("console-read from %d began at %d: %r"
                                 % (args["offset"], r["offset"], _short(r)))
        if r["next"] != r["offset"] + len(chunk):
            raise AssertionError("console-read: next %d is not offset %d + "
                                 "%d bytes" % (r["next"], r["offset"],
                                               len(chunk)))
        out += chunk
        if not chunk or r["next"] >= r["end"]:
            return bytes(out), first, r
        args["offset"] = r["next"]


def _short(reply):
    r = dict(reply)
    if len(r.get("data", "")) > 80:
        r["data"] = r["data"][:80] + "..."
    return r


# ---------------------------------------------------------------------------
# Schemas

class Schemas:
    """schemas/protocol.json and vm-config.json, with validators that
    resolve "$ref": "vm-config.json" (and refs inside protocol.json)."""

    def __init__(self, srcdir=SRCDIR):
        with open(os.path.join(srcdir, "schemas", "protocol.json")) as f:
            self.protocol = json.load(f)
        with open(os.path.join(srcdir, "schemas", "vm-config.json")) as f:
            self.vm_config = json.load(f)
        import jsonschema
        self.jsonschema = jsonschema
        self._make_resolver()

    def _make_resolver(self):
        from urllib.parse import urljoin
        js = self.jsonschema
        base = self.protocol.get("$id", "")
        store = {}
        for name in ("vm-config.json", "./vm-config.json"):
            store[name] = self.vm_config
            if base:
                store[urljoin(base, name)] = self.vm_config
        if self.vm_config.get("$id"):
            store[self.vm_config["$id"]] = self.vm_config
        for name in ("protocol.json",):
            store[name] = self.protocol
            if base:
                store[base] = self.protocol
        self.store = store
        self.base = base
        self.resolver = js.RefResolver(base_uri=base, referrer=self.protocol,
                                       store=store)

    def validator(self, schema):
        js = self.jsonschema
        return js.Draft202012Validator(schema, resolver=self.resolver,
                                       format_checker=js.FormatChecker())

    def check(self, schema, instance, what):
        """Raise AssertionError listing every violation."""
        errors = sorted(self.validator(schema).iter_errors(instance),
                        key=lambda e: list(e.path))
        if errors:
            raise AssertionError(
                "%s does not match the schema:\n  %s\ninstance: %s"
                % (what, "\n  ".join("%s: %s" % ("/".join(map(str, e.path)),
                                                 e.message)
                                     for e in errors[:10]),
                   json.dumps(instance)[:2000]))

    def commands(self):
        return self.protocol["commands"]

    def events(self):
        return self.protocol["events"]

    def check_return(self, cmd, value):
        spec = self.commands()[cmd]
        if "returns" in spec:
            self.check(spec["returns"], value, "%s return" % cmd)

    def check_args(self, cmd, args):
        spec = self.commands()[cmd]
        schema = spec.get("arguments", spec.get("args"))
        if schema is not None:
            self.check(schema, args, "%s arguments" % cmd)

    def check_event(self, event):
        name = event.get("event")
        if name not in self.events():
            raise AssertionError("event %r is not in the schema" % name)
        spec = self.events()[name]
        if "data" in spec:
            self.check(spec["data"], event.get("data"), "%s data" % name)

    def errors_of(self, cmd):
        """Error classes the schema lists for cmd (None if it lists none)."""
        return self.commands()[cmd].get("errors")


