"""Shared harness for vmd's end-to-end tests: start a real vmd in a scratch
directory, talk to it over its socket the way QMP clients do, run vmctl,
attach to guest consoles, and check replies against schemas/.

Every wait here has a deadline, so a broken daemon fails a test instead of
hanging `make check`.  Every vmd (and every QEMU it left behind) is killed
when the test ends; its log is printed when the test failed.

Environment: VMD_BUILDDIR (vmd, vmctl, tests/guests/*), VMD_SRCDIR (schemas/,
docs/), VMD_TEST_TIMEOUT_SCALE (multiply every deadline, for slow hosts).

The protocol side (Client, Console, TcpConsole, console_read_all, Schemas)
is in vmdproto.py; every name of it can be imported from here too.
"""

import fcntl
import glob
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from vmdproto import (AUTO_ID, HERE, SCALE, SRCDIR, Client,  # noqa: F401
                      ConnectionClosed, Console, ProtocolError, QMPError,
                      Schemas, Stream, TcpConsole, console_read_all, pump, t)

BUILDDIR = os.path.abspath(os.environ.get("VMD_BUILDDIR") or os.getcwd())
VMD = os.path.join(BUILDDIR, "vmd")
VMCTL = os.path.join(BUILDDIR, "vmctl")
BOOTSECTOR = os.path.join(BUILDDIR, "tests", "guests", "bootsector.img")
INITRAMFS = os.path.join(BUILDDIR, "tests", "guests", "initramfs.cpio.gz")
# Every vmd of a test run shares one probe verdict: the first vmd probes
# (about 1.6 s here, most of it a KVM attempt that burns CPU), the rest
# read the cache, as a restarted vmd on one host does.
PROBE_CACHE = os.path.join(BUILDDIR, "tests", "probe-cache.json")

# Upper bound for one test method, whatever it waits for.
TEST_LIMIT = int(600 * SCALE)

BOOT_BANNER = b"VMD-BOOT-OK\r\n"
LINUX_BANNER = b"VMD-GUEST-READY"


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


def run_vmctl_tty(sock, args, timeout):
    """Run vmctl with its stderr on a terminal (a pty, read by a thread
    as it comes); returns (rc, stdout as text, what the terminal got)."""
    import pty
    master, slave = pty.openpty()
    tty = []

    def pump():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not chunk:
                return
            tty.append(chunk)
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    p = subprocess.Popen([VMCTL, "-s", sock] + list(args),
                         stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out = p.communicate(timeout=timeout)[0]
    reader.join(timeout)
    os.close(master)
    return p.returncode, out, b"".join(tty)


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


QEMU_USER = "nobody"   # vmd's default --qemu-user when it runs as root


def for_qemu(path):
    """Give path to the user QEMU runs as: vmd opens a VM's files with that
    user's rights, so a writable disk must be writable for it."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam(QEMU_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def bootsector_disk():
    """A private copy of the boot-sector image.  QEMU takes a write lock on
    a writable image, so two guests, or two test files that make runs at
    once, must never share one."""
    global _disk_dir, _disk_count
    if _disk_dir is None:
        import atexit
        _disk_dir = tempfile.mkdtemp(prefix="vmd-e2e-disks-")
        os.chmod(_disk_dir, 0o711)  # the QEMU user opens the images
        atexit.register(_remove_disk_dir)
    _disk_count += 1
    path = os.path.join(_disk_dir, "bootsector-%d.img" % _disk_count)
    shutil.copyfile(BOOTSECTOR, path)
    return for_qemu(path)


def type_until(con, text, expect, timeout, per_try=15):
    """Write text to con until expect shows up after it: a guest reads its
    terminal only once its shell (or echo loop) runs, so early keystrokes
    may be lost.  Returns the offset read_until returns."""
    start = len(con.data if hasattr(con, "data") else con.out)
    deadline = time.monotonic() + timeout
    while True:
        con.write(text)
        try:
            return con.read_until(expect, min(t(per_try), max(
                1, deadline - time.monotonic())), start)
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


def bootsector_at(path, name, **extra):
    """A copy of the boot-sector image at path, and a config booting it
    from IDE (for tests that need to choose, or later remove, the file)."""
    shutil.copyfile(BOOTSECTOR, path)
    for_qemu(path)
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
# Test base

def check_sanitizer_log(who, log):
    """AssertionError if log holds an ASan, UBSan or LSan report."""
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:"):
        if marker in log:
            i = log.index(marker)
            raise AssertionError("%s reported %s:\n%s"
                                 % (who, marker, log[max(0, i - 200):i + 4000]))


_live = []   # the Vmd of the running test, for _on_term


def _on_term(signum, frame):
    """Killed from outside (a file over its time limit in .ci/run): leave
    no vmd or guest behind, and say so; the file fails."""
    for v in list(_live):
        v.cleanup()
    sys.stdout.write("vmd-test: terminated by signal %d during a test\n"
                     % signum)
    sys.stdout.flush()
    os._exit(1)


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
        os.chmod(self.tmp, 0o711)  # the QEMU user opens files in it
        self._clients = []
        self.vmd = Vmd(self.tmp, jsonrpc=self.jsonrpc)
        _live.append(self.vmd)
        self.addCleanup(_live.remove, self.vmd)
        self.addCleanup(self._cleanup)
        if self.start_vmd:
            self.vmd.start()

    def _failed(self):
        """Did this test fail so far?  Asked from a cleanup, where
        outcome.success says nothing: Python 3.11 resets it for each
        cleanup, so look at what was reported instead."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        errors = getattr(outcome, "errors", None)  # Python <= 3.10
        if errors is not None:
            return any(exc is not None for test, exc in errors)
        result = outcome.result
        return any(test is self for test, _ in
                   getattr(result, "failures", []) +
                   getattr(result, "errors", []))

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
        logs = [("vmd", self.vmd.log())]
        # the console keepers (keeper/keeper.h) log beside each VM
        for path in glob.glob(os.path.join(self.vmd.run_dir, "vms", "*",
                                           "keeper.log")):
            with open(path, "rb") as f:
                logs.append((path, f.read().decode(errors="replace")))
        for who, log in logs:
            check_sanitizer_log(who, log)
        status = getattr(self.vmd, "exit_status", None)
        if status not in (None, 0):
            raise AssertionError("vmd exited with status %s on SIGTERM"
                                 % status)

    # -- connections --------------------------------------------------------
    def client(self, **kw):
        c = Client(self.vmd.socket, **kw)
        self._clients.append(c)
        return c

    def console(self, vm, mode=None, port=None, force=None):
        con = Console(self.vmd.socket, vm, mode, port, force=force)
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

    def exit_of(self, p, timeout, what):
        """(exit status, output) of p, a process that must end by itself
        within timeout (text mode, stdout piped); killed and failed if
        not: "what" says what it should have done."""
        try:
            out = p.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            out = p.communicate(timeout=t(10))[0]
            self.fail("%s: still running: %s" % (what, out))
        return p.returncode, out

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


def rss(pid):
    """Resident memory of pid in bytes (VmRSS in /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def sanitized():
    """Is the vmd under test an ASan build?  Its quarantine and shadow
    memory make RSS say nothing about what vmd buffers."""
    with open(VMD, "rb") as f:
        return b"__asan_init" in f.read()


def free_tcp_port():
    """A loopback TCP port free right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# Users the access tests act as (through setpriv), with their groups.  They
# are made when missing and never removed: test files run in parallel and
# share them, and one file deleting a user another still uses made both
# flaky.  System users with no home and no login shell.
TEST_USERS = {"vmdt-admin": ["vmd", "vmd-admin"], "vmdt-reader": ["vmd"],
              "vmdt-nobody": [], "vmdt-owner": []}


def _run_quiet(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def ensure_test_users():
    """Make groups vmd and vmd-admin and TEST_USERS, each in exactly its
    groups; a test class calls it from setUpClass.  SkipTest unless root."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root to create users and groups")
    with open("/run/lock/vmdt-users.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # groupadd races its twin
        for g in ("vmd", "vmd-admin"):
            try:
                grp.getgrnam(g)
            except KeyError:
                _run_quiet("groupadd", "--system", g)
        for user, groups in TEST_USERS.items():
            try:
                pwd.getpwnam(user)
                _run_quiet("usermod", "-G", ",".join(groups), user)
            except KeyError:
                _run_quiet("useradd", "--system", "--no-create-home",
                           "--shell", "/usr/sbin/nologin",
                           *(["-G", ",".join(groups)] if groups else []),
                           user)


def require_guests(*paths):
    for p in paths:
        if not os.path.exists(p):
            raise AssertionError("test guest missing: %s (make %s)"
                                 % (p, os.path.relpath(p, BUILDDIR)))


# For scripts run as another user (python3 -c): read_obj(sock, buf) cuts
# the next JSON value out of what vmd sent; returns (value, rest).
PEER_READ_OBJ = r"""
import json, socket, sys, time
dec = json.JSONDecoder()

def read_obj(s, buf):
    while True:
        text = buf.lstrip()
        if text:
            try:
                obj, end = dec.raw_decode(text)
                return obj, text[end:]
            except ValueError:
                pass
        data = s.recv(65536)
        if not data:
            raise EOFError("vmd closed the connection")
        buf += data.decode("utf-8", "replace")
"""


class UsersTestCase(VmdTestCase):
    """A test that acts as TEST_USERS through setpriv (root only)."""

    @classmethod
    def setUpClass(cls):
        ensure_test_users()

    def copy_for_others(self, binary=None):
        """Open the scratch directory to other users and give them a copy
        of vmctl (or binary) there: the build tree may be closed to
        them.  Returns the copy's path."""
        os.chmod(self.tmp, 0o755)   # and the sockets inside
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir, exist_ok=True)
        os.chmod(bindir, 0o755)
        path = shutil.copy(binary or VMCTL, bindir)
        os.chmod(path, 0o755)
        return path


def main():
    """Run the module's tests; exit status is the verdict."""
    missing = [p for p in (VMD, VMCTL) if not os.access(p, os.X_OK)]
    if missing:
        sys.stderr.write("e2e: not built: %s (VMD_BUILDDIR=%s)\n"
                         % (", ".join(missing), BUILDDIR))
        sys.exit(99)  # automake: hard error, never a silent skip
    signal.signal(signal.SIGTERM, _on_term)
    prog = unittest.main(verbosity=2, exit=False)
    sys.exit(report(prog.result))


def report(result):
    """Print each skipped test and the counts for .ci/run ("vmd-test: "
    lines); the exit status for automake: 1 on a failure, 77 (SKIP) when
    every test skipped, else 0.  Counts are of test methods: a subTest
    counts for its test; a failure or skip in setUpClass counts once."""
    def key(test):
        test = getattr(test, "test_case", test)   # a subTest's test
        return test.id(), isinstance(test, unittest.TestCase)
    failed = {key(test) for test, _ in result.failures + result.errors}
    failed |= {key(test) for test in result.unexpectedSuccesses}
    skipped = {}
    for test, reason in result.skipped:
        if key(test) not in failed:
            skipped.setdefault(key(test), reason)
    # testsRun counts the test methods started, not setUpClass
    passed = result.testsRun - sum(1 for k in list(failed) + list(skipped)
                                   if k[1])
    for (name, _), reason in sorted(skipped.items()):
        sys.stdout.write("vmd-test: SKIP %s: %s\n" % (name, reason))
    sys.stdout.write("vmd-test: %d passed, %d failed, %d skipped\n"
                     % (passed, len(failed), len(skipped)))
    sys.stdout.flush()
    if failed:
        return 1
    return 77 if skipped and not passed else 0
