"""Shared harness for vmd's end-to-end tests: start a real vmd in a scratch
directory, talk to it over its socket the way QMP clients do, run vmctl,
attach to guest consoles, and check replies against schemas/.

Every wait here has a deadline, so a broken daemon fails a test instead of
hanging `make check`.  Every vmd (and every QEMU it left behind) is killed
when the test ends; its log is printed when the test failed.

Environment: VMD_BUILDDIR (vmd, vmctl, tests/guests/*), VMD_SRCDIR (schemas/,
docs/), VMD_TEST_TIMEOUT_SCALE (multiply every deadline, for slow hosts).
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("VMD_SRCDIR")
                         or os.path.join(HERE, "..", ".."))
BUILDDIR = os.path.abspath(os.environ.get("VMD_BUILDDIR") or os.getcwd())
VMD = os.path.join(BUILDDIR, "vmd")
VMCTL = os.path.join(BUILDDIR, "vmctl")
BOOTSECTOR = os.path.join(BUILDDIR, "tests", "guests", "bootsector.img")
INITRAMFS = os.path.join(BUILDDIR, "tests", "guests", "initramfs.cpio.gz")
# Every vmd of a test run shares one probe verdict: the first vmd probes
# (about 1.6 s here, most of it a KVM attempt that burns CPU), the rest
# read the cache, as a restarted vmd on one host does.
PROBE_CACHE = os.path.join(BUILDDIR, "tests", "probe-cache.json")

SCALE = float(os.environ.get("VMD_TEST_TIMEOUT_SCALE") or "1")
# Upper bound for one test method, whatever it waits for.
TEST_LIMIT = int(600 * SCALE)

BOOT_BANNER = b"VMD-BOOT-OK\r\n"
LINUX_BANNER = b"VMD-GUEST-READY"


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
            if isinstance(msg, dict) and "event" in msg:
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
                if isinstance(obj, dict) and "event" in obj:
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
                if isinstance(obj, dict) and "event" in obj:
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

class Console:
    """A console-attach connection: JSON up to the reply, raw bytes after."""

    def __init__(self, path, vm, mode=None, port=None, timeout=None):
        self.client = Client(path, timeout=timeout)
        args = {"vm": vm}
        if mode is not None:
            args["mode"] = mode
        if port is not None:
            args["port"] = port
        self.reply = self.client.execute("console-attach", args, timeout)
        if "error" in self.reply:
            self.client.close()
            raise QMPError("console-attach", self.reply)
        self.sock = self.client.sock
        # Whatever followed the reply line is console output; the newline
        # ending the reply is not (it may come in the next read).
        self.data = b""
        self._reply_nl = True
        self.eof = False
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

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(t(10))
        self.sock.sendall(data)

    def _read(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.eof:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
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
        while True:
            if isinstance(pattern, bytes):
                i = self.data.find(pattern, start)
                if i >= 0:
                    return i + len(pattern)
            else:
                m = pattern.search(self.data, start)
                if m:
                    return m.end()
            if not self._read(deadline):
                if self.eof and time.monotonic() < deadline:
                    raise AssertionError(
                        "console closed before %r; got %r"
                        % (pattern, self.data[start:][-2000:]))
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        "%r not on the console within the deadline; got %r"
                        % (pattern, self.data[start:][-2000:]))

    def read_for(self, duration):
        """Everything that arrives within `duration` seconds."""
        start = len(self.data)
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline and not self.eof:
            self._read(deadline)
        return self.data[start:]

    def wait_eof(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._read(deadline)
        return self.eof


# ---------------------------------------------------------------------------
# The daemon

def _proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


class Vmd:
    """One vmd process on a scratch directory; restartable on the same
    state directory."""

    def __init__(self, tmp, jsonrpc=False, qemu=None, extra_args=()):
        self.tmp = tmp
        self.state_dir = os.path.join(tmp, "state")
        self.run_dir = os.path.join(tmp, "run")
        self.socket = os.path.join(tmp, "vmd.sock")
        self.rpc_socket = os.path.join(tmp, "rpc.sock") if jsonrpc else None
        self.log_path = os.path.join(tmp, "vmd.log")
        self.qemu = qemu
        self.extra_args = list(extra_args)
        self.proc = None
        self.starts = 0
        self.known_pids = set()

    def argv(self):
        argv = [VMD, "--state-dir", self.state_dir, "--run-dir", self.run_dir,
                "--socket", self.socket, "--log-level", "debug",
                "--probe-cache", PROBE_CACHE]
        if self.rpc_socket:
            argv += ["--jsonrpc-socket", self.rpc_socket]
        if self.qemu:
            argv += ["--qemu", self.qemu]
        return argv + self.extra_args

    def start(self, timeout=None):
        """Start vmd and wait until its socket accepts connections."""
        if not os.access(VMD, os.X_OK):
            raise AssertionError("vmd not built: %s (VMD_BUILDDIR=%s)"
                                 % (VMD, BUILDDIR))
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(("\n==== vmd start #%d: %s\n"
                       % (self.starts, " ".join(self.argv()))).encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + (t(60) if timeout is None else timeout)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("vmd exited with %s before it was ready"
                                     % self.proc.returncode)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                return
            except OSError:
                pass
            finally:
                s.close()
            if time.monotonic() > deadline:
                raise AssertionError("vmd socket %s not accepting after the "
                                     "deadline" % self.socket)
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.remember_children()
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Exit status of vmd, or None if it did not exit in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Signal vmd and wait for it; SIGKILL if it takes too long.
        Returns its exit status (negative: killed by that signal)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.send_signal(sig)
        rc = self.wait(t(15) if timeout is None else timeout)
        if rc is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(t(10))
            raise AssertionError("vmd did not exit within the deadline after "
                                 "signal %d" % sig)
        return rc

    def remember_children(self):
        """Note every process that is vmd's child or runs from our scratch
        directory, so cleanup can kill it after vmd is gone."""
        vmd_pid = self.pid
        for pid in _all_pids():
            if pid == os.getpid():
                continue
            if (vmd_pid and _proc_ppid(pid) == vmd_pid) or \
                    self.tmp in _proc_cmdline(pid):
                self.known_pids.add(pid)

    def vm_pids(self):
        """Pids vm-list reports, when vmd answers."""
        pids = set()
        try:
            c = Client(self.socket, timeout=3)
            try:
                for vm in c.command("vm-list", timeout=3):
                    if vm.get("pid"):
                        pids.add(vm["pid"])
            finally:
                c.close()
        except Exception:
            pass
        return pids

    def cleanup(self):
        """Kill vmd and every QEMU it started; bounded."""
        candidates = set()
        if self.alive():
            candidates |= self.vm_pids()
        self.remember_children()
        self.exit_status = None
        if self.alive():
            # SIGTERM first: a clean exit lets LeakSanitizer speak in the
            # sanitizer build; SIGKILL only if vmd does not go.
            self.proc.terminate()
            try:
                self.exit_status = self.proc.wait(t(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(t(10))
                except subprocess.TimeoutExpired:
                    pass
        # Only kill what is provably ours: vmd's children seen earlier and
        # anything whose command line names our scratch directory.
        self.remember_children()
        for pid in candidates:
            if self.tmp in _proc_cmdline(pid):
                self.known_pids.add(pid)
        for pid in self.known_pids:
            if pid_alive(pid) and (self.tmp in _proc_cmdline(pid)
                                   or "qemu" in _proc_cmdline(pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        deadline = time.monotonic() + t(10)
        while any(pid_alive(p) for p in self.known_pids) and \
                time.monotonic() < deadline:
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return "(no vmd log)"


# ---------------------------------------------------------------------------
# vmctl

def run_vmctl(sock, args, input=None, timeout=None, json_out=False):
    """Run vmctl; returns (rc, stdout, stderr) as text."""
    argv = [VMCTL]
    if sock is not None:
        argv += ["-s", sock]
    if json_out:
        argv.append("--json")
    argv += list(args)
    try:
        p = subprocess.run(argv, input=input, capture_output=True,
                           timeout=t(60) if timeout is None else timeout,
                           text=True)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("vmctl %s did not finish in time; stdout %r "
                             "stderr %r" % (" ".join(args), e.stdout, e.stderr))
    return p.returncode, p.stdout, p.stderr


class VmctlProcess:
    """A long-running vmctl (console, events) with its stdin and stdout on
    pipes; a thread collects its output so every read has a deadline."""

    def __init__(self, sock, args):
        import threading
        self.argv = [VMCTL, "-s", sock] + list(args)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.threads = [threading.Thread(target=self._pump, args=(f, k),
                                         daemon=True)
                        for f, k in ((self.proc.stdout, "out"),
                                     (self.proc.stderr, "err"))]
        for th in self.threads:
            th.start()

    def _pump(self, f, key):
        while True:
            chunk = os.read(f.fileno(), 1 << 16)
            with self.cond:
                if chunk:
                    setattr(self, key, getattr(self, key) + chunk)
                else:
                    setattr(self, key + "_eof", True)
                self.cond.notify_all()
            if not chunk:
                return

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def read_until(self, pattern, timeout, start=0):
        """Offset just past pattern in stdout[start:]; AssertionError with
        what was printed when it does not come in time."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.out.find(pattern, start)
                if i >= 0:
                    return i + len(pattern)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or getattr(self, "out_eof", False):
                    raise AssertionError(
                        "%r not in the output of %s; stdout %r stderr %r"
                        % (pattern, " ".join(self.argv[3:]),
                           self.out[start:][-2000:], self.err[-2000:]))
                self.cond.wait(remaining)

    def wait(self, timeout):
        """Exit status, or None if still running after timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for th in self.threads:
            th.join(t(5))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(t(10))
        self.close_stdin()
        for th in self.threads:
            th.join(t(5))
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


# ---------------------------------------------------------------------------
# Guests

def newest_kernel():
    """The newest /boot/vmlinuz-* by version number, or None."""
    def key(path):
        return [int(x) if x.isdigit() else x
                for x in re.split(r"(\d+)", os.path.basename(path))]
    kernels = sorted(glob.glob("/boot/vmlinuz-*"), key=key)
    return kernels[-1] if kernels else None


_disk_dir = None
_disk_count = 0


def _remove_disk_dir():
    if _disk_dir:
        shutil.rmtree(_disk_dir, ignore_errors=True)


def bootsector_disk():
    """A private copy of the boot-sector image.  QEMU takes a write lock on
    a writable image, so two guests, or two test files that make runs at
    once, must never share one."""
    global _disk_dir, _disk_count
    if _disk_dir is None:
        import atexit
        _disk_dir = tempfile.mkdtemp(prefix="vmd-e2e-disks-")
        atexit.register(_remove_disk_dir)
    _disk_count += 1
    path = os.path.join(_disk_dir, "bootsector-%d.img" % _disk_count)
    shutil.copyfile(BOOTSECTOR, path)
    return path


def bootsector_at(path, name, **extra):
    """A copy of the boot-sector image at path, and a config booting it
    from IDE (for tests that need to choose, or later remove, the file)."""
    shutil.copyfile(BOOTSECTOR, path)
    return bootsector_config(name, disks=[{"path": path, "format": "raw",
                                           "bus": "ide"}], **extra)


def bootsector_config(name, accel="tcg", **extra):
    cfg = {"name": name, "accel": accel, "memory_mib": 32,
           "disks": [{"path": bootsector_disk(), "format": "raw",
                      "bus": "ide"}]}
    cfg.update(extra)
    return cfg


def linux_config(name, accel="tcg", **extra):
    kernel = newest_kernel()
    if kernel is None:
        raise AssertionError("no /boot/vmlinuz-* to boot the Linux guest")
    cfg = {"name": name, "accel": accel, "memory_mib": 256,
           "boot": {"kernel": kernel, "initrd": INITRAMFS,
                    "cmdline": "console=ttyS0 quiet panic=-1"}}
    cfg.update(extra)
    return cfg


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


# ---------------------------------------------------------------------------
# Test base

def _on_alarm(signum, frame):
    raise TimeoutError("test exceeded its overall limit of %d s" % TEST_LIMIT)


class VmdTestCase(unittest.TestCase):
    """Starts a vmd per test in a fresh scratch directory; kills it and its
    guests at the end; prints the log when the test failed."""

    jsonrpc = False       # also open --jsonrpc-socket
    start_vmd = True

    def setUp(self):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TEST_LIMIT)
        self.tmp = tempfile.mkdtemp(prefix="vmd-e2e-")
        self._clients = []
        self.vmd = Vmd(self.tmp, jsonrpc=self.jsonrpc)
        self.addCleanup(self._cleanup)
        if self.start_vmd:
            self.vmd.start()

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None or getattr(outcome, "success", True):
            return False
        skipped = getattr(outcome.result, "skipped", [])
        return not any(test is self for test, _ in skipped)

    def _cleanup(self):
        signal.alarm(0)
        for c in self._clients:
            c.close()
        self.vmd.cleanup()
        self._check_sanitizers()
        if self._failed() or os.environ.get("VMD_TEST_VERBOSE"):
            sys.stderr.write("\n---- vmd log (%s) ----\n%s\n---- end of vmd "
                             "log ----\n" % (self.vmd.log_path,
                                              self.vmd.log()[-30000:]))
            sys.stderr.write("scratch directory kept: %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _check_sanitizers(self):
        """In the --enable-sanitizers build, any ASan, UBSan or LSan report
        from vmd fails the test, as does a SIGTERM that did not end vmd
        with status 0."""
        log = self.vmd.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:"):
            if marker in log:
                i = log.index(marker)
                raise AssertionError("vmd reported %s:\n%s"
                                     % (marker, log[max(0, i - 200):i + 4000]))
        status = getattr(self.vmd, "exit_status", None)
        if status not in (None, 0):
            raise AssertionError("vmd exited with status %s on SIGTERM"
                                 % status)

    # -- connections --------------------------------------------------------
    def client(self, **kw):
        c = Client(self.vmd.socket, **kw)
        self._clients.append(c)
        return c

    def console(self, vm, mode=None, port=None):
        con = Console(self.vmd.socket, vm, mode, port)
        self._clients.append(con.client)
        return con

    def vmctl(self, *args, input=None, timeout=None, json_out=False):
        return run_vmctl(self.vmd.socket, args, input, timeout, json_out)

    def vmctl_process(self, *args):
        p = VmctlProcess(self.vmd.socket, args)
        self.addCleanup(p.kill)
        return p

    # -- assertions ---------------------------------------------------------
    def assertError(self, err, cls, mentions=()):
        """err: an "error" object; checks class and that desc names each
        of `mentions`."""
        self.assertIsInstance(err, dict)
        self.assertEqual(err.get("class"), cls, "error: %r" % (err,))
        desc = err.get("desc")
        self.assertIsInstance(desc, str, "error without desc: %r" % (err,))
        self.assertTrue(desc.strip(), "empty desc: %r" % (err,))
        for word in ([mentions] if isinstance(mentions, str) else mentions):
            self.assertIn(word, desc, "desc does not name %r: %r"
                          % (word, err))

    def assertCmdError(self, client, cmd, args, cls, mentions=()):
        err = client.error(cmd, args)
        self.assertError(err, cls, mentions)
        return err

    def host(self, client=None):
        c = client or self.client()
        return c.command("query-host", timeout=t(120))

    def wait_for(self, pred, timeout, what, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s" % what)
            time.sleep(interval)

    def vm_state(self, client, vm):
        return client.command("vm-show", {"vm": vm})["state"]


def assert_subset(test, given, shown, where="config"):
    """Everything in `given` is in `shown` with the same value; `shown` may
    have more members (defaults filled in).  Lists must match item by item."""
    if isinstance(given, dict):
        test.assertIsInstance(shown, dict, where)
        for k, v in given.items():
            test.assertIn(k, shown, "%s: %s missing" % (where, k))
            assert_subset(test, v, shown[k], "%s.%s" % (where, k))
    elif isinstance(given, list):
        test.assertIsInstance(shown, list, where)
        test.assertEqual(len(given), len(shown), where)
        for i, (a, b) in enumerate(zip(given, shown)):
            assert_subset(test, a, b, "%s[%d]" % (where, i))
    else:
        test.assertEqual(given, shown, where)


def require_guests(*paths):
    for p in paths:
        if not os.path.exists(p):
            raise AssertionError("test guest missing: %s (make %s)"
                                 % (p, os.path.relpath(p, BUILDDIR)))


def main():
    """Run the module's tests; exit status is the verdict."""
    missing = [p for p in (VMD, VMCTL) if not os.access(p, os.X_OK)]
    if missing:
        sys.stderr.write("e2e: not built: %s (VMD_BUILDDIR=%s)\n"
                         % (", ".join(missing), BUILDDIR))
        sys.exit(99)  # automake: hard error, never a silent skip
    unittest.main(verbosity=2)
