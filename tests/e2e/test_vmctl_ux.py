"""End-to-end: vmctl as a person uses it (issue 9 item 16 and "vmctl, as a
person uses it"; vmctl's half of item 8).

What vmd stores comes back to the terminal escaped (no ESC sequence in a
label reaches stdout raw) while --json stays exact; help is wrapped to the
terminal and explains every option and the TIME format; global options
work after the command; errors name vmctl's flags; connection failures say
what to do; console fails loudly when the VM or vmd goes away; bash
completion comes from the command table; undefine --purge sends purge; a
default socket directory someone else controls is refused."""

import json
import os
import pty
import pwd
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import fcntl
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, VMCTL, bootsector_config,
                     t)  # noqa: E402

# Shown escaped, never raw: ESC (a colour and a title-setting sequence),
# BEL, DEL, the C1 CSI, a bidi override, a zero-width space.
NASTY_KEY = "own\x1b[31mer"
NASTY_VALUE = "x\x1b]0;pwned\x07y\x7f\u009b2J\u202eevil\u200b"


def commands():
    out = subprocess.run([VMCTL, "help", "--commands"], capture_output=True,
                         text=True, timeout=t(30), check=True).stdout
    return [ln.split()[0] for ln in out.splitlines()]


def usage_words(usage):
    """Options and operands of a usage line: "VM [--port N]" -> VM,
    --port (N is the option's value)."""
    words, value = [], False
    for tok in re.sub(r"[\[\]]", " ", usage).split()[3:]:
        if tok.startswith("-"):
            words.append(tok)
            value = True
        elif not value:
            words.append(tok)
        else:
            value = False
    return words


def vmctl_env(**env):
    e = dict(os.environ)
    e.pop("COLUMNS", None)
    e.update(env)
    return e


def run(argv, env=None, input=None):
    p = subprocess.run(argv, capture_output=True, timeout=t(60), env=env,
                       input=input)
    return p.returncode, p.stdout, p.stderr


class FakeVmd:
    """A socket that greets like vmd, answers qmp_capabilities, and
    answers every later request with `reply`, keeping the requests."""

    def __init__(self, path, reply, events=(), unlink=False):
        self.path, self.reply, self.requests = path, reply, []
        self.events = events
        if unlink and os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(t(30))
        self.threads = [threading.Thread(target=self.accept, daemon=True)]
        self.threads[0].start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            th = threading.Thread(target=self.serve, args=(conn,),
                                  daemon=True)
            self.threads.append(th)
            th.start()

    def serve(self, conn):
        conn.settimeout(t(30))
        f = conn.makefile("rwb")
        f.write(b'{"QMP": {"version": {"qemu": {"major": 0, "minor": 1, '
                b'"micro": 0}, "package": "fake"}, "capabilities": []}}\n')
        f.flush()
        try:
            for line in f:
                req = json.loads(line)
                if req.get("execute") == "qmp_capabilities":
                    ans = {"return": {}}
                else:
                    self.requests.append(req)
                    ans = dict(self.reply)
                if "id" in req:
                    ans["id"] = req["id"]
                f.write(json.dumps(ans).encode() + b"\n")
                if req.get("execute") == "qmp_capabilities":
                    for ev in self.events:
                        f.write(json.dumps(ev).encode() + b"\n")
                f.flush()
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for th in self.threads:
            th.join(t(10))


class VmctlUxTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()

    def vm(self, *args, env=None, input=None):
        """vmctl on vmd's socket; (rc, stdout, stderr) as bytes."""
        return run([VMCTL, "-s", self.vmd.socket] + list(args),
                   env=env or vmctl_env(), input=input)

    # -- item 16: nothing raw reaches the terminal --------------------------

    def test_labels_and_names_are_escaped(self):
        labels = {NASTY_KEY: NASTY_VALUE, "plain": "ok"}
        self.c.command("vm-define", {"config": bootsector_config(
            "esc", labels=labels)})
        rc, out, err = self.vm("show", "esc")
        self.assertEqual(rc, 0, err)
        for raw in (b"\x1b", b"\x07", b"\x7f", "\u009b".encode(),
                    "\u202e".encode(), "\u200b".encode()):
            self.assertNotIn(raw, out, "raw %r reached stdout" % raw)
        text = out.decode()
        self.assertIn(r"labels.own\x1b[31mer:", text)
        self.assertIn(r"x\x1b]0;pwned\x07y\x7f\u009b2J\u202eevil\u200b",
                      text)
        self.assertRegex(text, r"(?m)^labels\.plain:\s+ok$")
        # the table still lines up: "name:" and the label start together
        starts = {m.start(1) - m.start(0)
                  for m in re.finditer(r"(?m)^\S+:\s+(\S)", text)}
        self.assertEqual(len(starts), 1, text)
        # --json is the exact value, with nothing raw in the text either
        rc, out, err = self.vm("--json", "show", "esc")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["config"]["labels"], labels)
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x7f", out)
        self.assertNotIn("\u009b".encode(), out)
        rc, out, err = self.vm("list", "--json")
        self.assertEqual(json.loads(out)[0]["labels"], labels)

    def test_list_larger_than_a_request(self):
        # A request is capped at 1 MiB, vmd's replies are not: 8 VMs with
        # 160 KiB of labels each make a 1.3 MiB vm-list that vmctl must read.
        labels = {"k%03d" % i: "v" * 256 for i in range(600)}
        for i in range(8):
            self.c.command("vm-define", {"config": bootsector_config(
                "big%d" % i, labels=labels)})
        rc, out, err = self.vm("--json", "list")
        self.assertEqual(rc, 0, err)
        self.assertGreater(len(out), 1 << 20)
        self.assertEqual(len(json.loads(out)), 8)
        rc, out, err = self.vm("list")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(re.findall(rb"(?m)^big\d", out)), 8, out[:500])

    def test_events_are_exact_and_escaped(self):
        path = os.path.join(self.tmp, "fake.sock")
        ev = {"event": "SERIAL_DEVICE", "timestamp": {"seconds": 1,
                                                      "microseconds": 0},
              "data": {"vm": "v", "path": NASTY_VALUE}}
        fake = FakeVmd(path, {"return": {}}, events=[ev])
        try:
            rc, out, err = run([VMCTL, "-s", path, "events", "--count", "1",
                                "--timeout", "30"])
        finally:
            fake.close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), ev)
        for raw in (b"\x1b", b"\x07", b"\x7f", "\u009b".encode(),
                    "\u202e".encode()):
            self.assertNotIn(raw, out)

    def test_echoed_names_are_escaped(self):
        name = "no\x1b[2Jsuch\u202e"
        rc, out, err = self.vm("start", name)
        self.assertEqual(rc, 1, err)
        self.assertNotIn(b"\x1b", err)
        self.assertNotIn("\u202e".encode(), err)
        self.assertIn(rb"vmctl: start no\x1b[2Jsuch\u202e: VmNotFound", err)
        # --json: the error's desc is vmd's exact words
        rc, out, err = self.vm("--json", "start", name)
        self.assertIn(name, json.loads(out)["error"]["desc"])
        # usage errors echo too
        rc, out, err = self.vm("frob\x1bnicate")
        self.assertEqual(rc, 2)
        self.assertNotIn(b"\x1b", err)
        self.assertIn(rb"unknown command: frob\x1bnicate", err)
        # bytes that are not UTF-8 are refused before vmd sees them
        rc, out, err = self.vm("start", b"bad\xffname")
        self.assertEqual(rc, 2, err)
        self.assertIn(rb"bad\xffname: not valid UTF-8", err)

    # -- help ------------------------------------------------------------

    def check_width(self, text, width, what):
        for line in text.splitlines():
            self.assertLessEqual(len(line), width, "%s: line of %d > %d "
                                 "columns: %r" % (what, len(line), width,
                                                  line))

    def test_help_fits_the_terminal(self):
        cases = [(80, vmctl_env()), (60, vmctl_env(COLUMNS="60")),
                 (40, vmctl_env(COLUMNS="40"))]
        for width, env in cases:
            for args in [["help"], ["--help"]] + \
                    [["help", c] for c in commands()]:
                rc, out, err = run([VMCTL] + args, env=env)
                self.assertEqual(rc, 0, err)
                self.check_width(out.decode(), width, " ".join(args))
            # the usage after an error goes to stderr, wrapped as well
            rc, out, err = run([VMCTL, "frobnicate"], env=env)
            self.assertEqual(rc, 2)
            self.check_width(err.decode(), width, "usage")
            self.assertIn(b"console-log", err)

    def test_help_on_a_tty_takes_its_width(self):
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ,
                        struct.pack("HHHH", 24, 52, 0, 0))
            p = subprocess.Popen([VMCTL, "help", "console-log"],
                                 stdout=slave, stderr=subprocess.DEVNULL,
                                 env=vmctl_env())
            os.close(slave)
            slave = None
            out = b""
            deadline = time.monotonic() + t(30)
            while time.monotonic() < deadline:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: the child closed the pty
                    break
                if not chunk:
                    break
                out += chunk
            self.assertEqual(p.wait(t(30)), 0)
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)
        text = out.decode().replace("\r\n", "\n")
        self.assertIn("--since TIME", text)
        self.check_width(text, 52, "help on a 52-column tty")

    def test_command_help_explains_options_and_time(self):
        for cmd in commands():
            rc, out, err = run([VMCTL, cmd, "--help"], env=vmctl_env())
            self.assertEqual(rc, 0, (cmd, err))
            rc2, out2, err2 = run([VMCTL, "help", cmd], env=vmctl_env())
            self.assertEqual(out, out2, cmd)
            text = out.decode()
            usage = text[:text.index("\n\n")]
            for word in usage_words(usage):
                self.assertRegex(text, r"(?m)^  (-\w, )?%s\b.*\S"
                                 % re.escape(word),
                                 "vmctl help %s does not explain %s:\n%s"
                                 % (cmd, word, text))
        rc, out, err = run([VMCTL, "start", "--help"], env=vmctl_env())
        self.assertRegex(out.decode(), r"(?m)^  VM\s+the VM's name or UUID")
        text = run([VMCTL, "help", "console-log"], env=vmctl_env())[1]
        text = " ".join(text.decode().split())
        for words in ("TIME is unix seconds", "YYYY-MM-DD HH:MM",
                      "-30s, -10m, -2h, -1d"):
            self.assertIn(words, text)
        text = " ".join(run([VMCTL, "help", "events"])[1].decode().split())
        self.assertIn("--count N stop after N events; 0, the default, means "
                      "no limit", text)

    # -- global options after the command ---------------------------------

    def test_global_options_after_the_command(self):
        self.c.command("vm-define", {"config": bootsector_config("g")})
        listed = self.c.command("vm-list")
        for args in (["list", "--json"], ["list", "-j"],
                     ["list", "--timeout", "30", "--json"]):
            rc, out, err = self.vm(*args)
            self.assertEqual(rc, 0, (args, err))
            self.assertEqual(json.loads(out), listed, args)
        # --socket after the command, and no -s before it
        rc, out, err = run([VMCTL, "show", "g", "--socket", self.vmd.socket,
                            "--json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["name"], "g")
        # a command's own option wins: stop -t, events --timeout
        rc, out, err = self.vm("stop", "g", "-t", "3601")
        self.assertEqual(rc, 2)
        self.assertIn(b"invalid timeout: 3601 (0..3600)", err)
        start = time.monotonic()
        rc, out, err = self.vm("events", "--timeout", "1")
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - start, t(10))
        # a short global that a command cannot take says where it goes
        rc, out, err = self.vm("list", "-t", "5")
        self.assertEqual(rc, 2)
        self.assertIn(b"global options go before the command", err)

    # -- errors in vmctl's words -------------------------------------------

    def test_errors_speak_vmctl_flags(self):
        self.c.command("vm-define", {"config": bootsector_config("busy")})
        self.c.command("vm-start", {"vm": "busy"}, timeout=t(60))
        writer = self.console("busy")
        writer.read_until(BOOT_BANNER, t(30))
        rc, out, err = self.vm("console", "busy", input=b"")
        self.assertEqual(rc, 1, err)
        self.assertIn(b"Busy", err)
        self.assertIn(b"attach with --ro, or take the keyboard with --force",
                      err)
        self.assertNotIn(b'mode "ro"', err)
        # --json keeps vmd's own words
        rc, out, err = self.vm("--json", "console", "busy", input=b"")
        self.assertIn('mode "ro"', json.loads(out)["error"]["desc"])

    def test_error_words_from_any_vmd(self):
        """Protocol member names a vmd may use, as a fake vmd says them."""
        path = os.path.join(self.tmp, "fake.sock")
        fake = FakeVmd(path, {"error": {
            "class": "InvalidArgument",
            "desc": "'read_only' and 'force' cannot go together; \"port\" "
                    "must be below 4; forced means nothing"}})
        try:
            rc, out, err = run([VMCTL, "-s", path, "console", "x"])
        finally:
            fake.close()
        self.assertEqual(rc, 1, err)
        self.assertIn(b"console x: InvalidArgument: --ro and --force cannot "
                      b"go together; --port must be below 4; forced means "
                      b"nothing", err)
        # a VM named like a protocol member keeps its name
        fake = FakeVmd(path, {"error": {
            "class": "InvalidState",
            "desc": "VM 'force' is stopped; 'port' must be below 4"}},
            unlink=True)
        try:
            rc, out, err = run([VMCTL, "-s", path, "console", "force"])
        finally:
            fake.close()
        self.assertIn(b"VM 'force' is stopped; --port must be below 4", err)

    # -- connecting ----------------------------------------------------------

    def test_connect_failures_say_what_to_do(self):
        missing = os.path.join(self.tmp, "missing.sock")
        rc, out, err = run([VMCTL, "-s", missing, "list"])
        self.assertEqual(rc, 3)
        self.assertIn(("cannot connect to %s: No such file or directory: vmd "
                       "is not running" % missing).encode(), err)
        # a socket file nobody listens on
        stale = os.path.join(self.tmp, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()
        rc, out, err = run([VMCTL, "-s", stale, "list"])
        self.assertEqual(rc, 3)
        self.assertIn(b"Connection refused: vmd is not running", err)
        # the default socket, named as such
        rc, out, err = run([VMCTL, "list"], env=vmctl_env(
            VMD_SOCKET="", XDG_RUNTIME_DIR=self.tmp))
        if os.geteuid() == 0:
            self.assertIn(b"/run/vmd/vmd.sock", err)

    # -- console ends loudly ------------------------------------------------

    def start_console(self, name):
        self.c.command("vm-define", {"config": bootsector_config(name)})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.vmctl_process("console", name)
        con.read_until(BOOT_BANNER, t(30))
        return con

    def test_console_fails_when_the_vm_stops(self):
        con = self.start_console("stops")
        self.c.command("vm-kill", {"vm": "stops"})
        rc = con.wait(t(15))
        self.assertEqual(rc, 1, con.err)
        self.assertIn(b"vmctl: console stops: the VM stopped", con.err)

    def test_console_fails_when_vmd_goes_away(self):
        con = self.start_console("orphan")
        self.vmd.remember_children()
        self.vmd.stop(signal.SIGKILL)
        rc = con.wait(t(15))
        self.assertEqual(rc, 1, con.err)
        self.assertIn(b"vmctl: console orphan: lost the connection to vmd",
                      con.err)

    # -- events --count 0 -----------------------------------------------------

    def test_events_count_zero_means_no_limit(self):
        self.c.command("vm-define", {"config": bootsector_config("ev0")})
        self.c.command("vm-start", {"vm": "ev0"}, timeout=t(60))
        ev = self.vmctl_process("events", "--count", "0", "--timeout", "3")
        start = time.monotonic()
        time.sleep(0.5)
        for _ in range(3):
            self.c.command("vm-pause", {"vm": "ev0"})
            self.c.command("vm-resume", {"vm": "ev0"})
        rc = ev.wait(t(15))
        self.assertEqual(rc, 0, ev.err)
        self.assertGreaterEqual(time.monotonic() - start, 2.5)
        lines = ev.out.decode().splitlines()
        self.assertGreaterEqual(len(lines), 6, lines)

    # -- bash completion -----------------------------------------------------

    def complete(self, *words):
        """What bash completes for the last of words (COMP_WORDS)."""
        script = ("source <(%s completion bash) || exit 9\n"
                  "COMP_WORDS=(%s); COMP_CWORD=%d; _vmctl\n"
                  "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                  % (VMCTL, " ".join("'%s'" % w for w in (VMCTL,) + words),
                     len(words)))
        p = subprocess.run(["bash", "-c", script], capture_output=True,
                           text=True, timeout=t(30))
        self.assertEqual(p.returncode, 0, p.stderr)
        return sorted(w for w in p.stdout.splitlines() if w)

    def test_bash_completion(self):
        p = subprocess.run(["bash", "-c", "source <(%s completion bash); "
                            "complete -p vmctl" % VMCTL], capture_output=True,
                           text=True, timeout=t(30))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "complete -F _vmctl vmctl")
        self.assertEqual(self.complete("con"), ["console", "console-log"])
        self.assertEqual(self.complete(""), sorted(commands()))
        self.assertEqual(self.complete("console-log", "x", "--s"),
                         ["--since", "--socket"])
        self.assertEqual(self.complete("undefine", "x", "--p"), ["--purge"])
        self.assertEqual(self.complete("events", "--"),
                         ["--count", "--help", "--json", "--socket",
                          "--timeout"])
        self.assertEqual(self.complete("help", "undef"), ["undefine"])
        self.assertEqual(self.complete("--js"), ["--json"])
        # VM names come from the vmd named with -s
        for name in ("alpha", "alps", "beta"):
            self.c.command("vm-define", {"config": bootsector_config(name)})
        self.assertEqual(self.complete("-s", self.vmd.socket, "start", "al"),
                         ["alpha", "alps"])
        # an option's value is not taken for the VM
        self.assertEqual(self.complete("-s", self.vmd.socket, "console",
                                       "--port", "1", "b"), ["beta"])
        # operands are counted: nothing after the one VM of show
        self.assertEqual(self.complete("-s", self.vmd.socket, "show",
                                       "beta", "a"), [])
        rc, out, err = run([VMCTL, "completion", "zsh"])
        self.assertEqual(rc, 2)
        self.assertIn(b"unknown shell: zsh", err)

    # -- undefine --purge ----------------------------------------------------

    def test_undefine_purge_is_sent(self):
        path = os.path.join(self.tmp, "fake.sock")
        for args, want, said in ((["undefine", "x", "--purge"],
                                  {"vm": "x", "purge": True},
                                  b"undefined x, console logs removed\n"),
                                 (["undefine", "x"], {"vm": "x"},
                                  b"undefined x\n")):
            fake = FakeVmd(path, {"return": {}})
            try:
                rc, out, err = run([VMCTL, "-s", path] + args)
            finally:
                fake.close()
                os.unlink(path)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out, said)
            self.assertEqual(len(fake.requests), 1, fake.requests)
            self.assertEqual(fake.requests[0]["execute"], "vm-undefine")
            self.assertEqual(fake.requests[0]["arguments"], want)


class VmctlUserTest(vmdtest.UsersTestCase):
    """vmctl as users who are not root (setpriv), as in test_access."""

    def setUp(self):
        super().setUp()
        self.vmctl_copy = self.copy_for_others()
        self.uid = pwd.getpwnam("vmdt-nobody").pw_uid

    def as_user(self, user, *args, env=None):
        argv = ["setpriv", "--reuid=" + user, "--regid=" + user,
                "--init-groups", self.vmctl_copy] + list(args)
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        p = subprocess.run(argv, capture_output=True, timeout=t(60), env=e)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_permission_denied_names_the_groups(self):
        rc, out, err = self.as_user("vmdt-nobody", "-s", self.vmd.socket,
                                    "list")
        self.assertEqual(rc, 3, err)
        self.assertIn("Permission denied", err)
        self.assertIn("group vmd", err)
        self.assertIn("vmd-admin", err)

    def xdg(self, mode, owner):
        """$XDG_RUNTIME_DIR (the user's, 0700) with a vmd directory in it
        of this mode and owner."""
        self.n = getattr(self, "n", 0) + 1
        xdg = os.path.join(self.tmp, "xdg%d" % self.n)
        os.mkdir(xdg, 0o700)
        os.chown(xdg, self.uid, -1)
        os.mkdir(os.path.join(xdg, "vmd"))
        os.chmod(os.path.join(xdg, "vmd"), mode)
        os.chown(os.path.join(xdg, "vmd"), owner, -1)
        return xdg

    def test_default_socket_directory_is_checked(self):
        def listing(xdg):
            return self.as_user("vmdt-nobody", "list",
                                env={"XDG_RUNTIME_DIR": xdg})
        # someone else's directory: refused, naming the owner
        rc, out, err = listing(self.xdg(0o755, 0))
        self.assertEqual(rc, 3, err)
        self.assertIn("refusing the socket directory", err)
        self.assertIn("belongs to uid 0, not to you (uid %d)" % self.uid, err)
        # the user's own, but writable by others
        for mode in (0o777, 0o720):
            rc, out, err = listing(self.xdg(mode, self.uid))
            self.assertEqual(rc, 3, err)
            self.assertIn("others may write to it (mode 0%o)" % mode, err)
        # a symbolic link to the user's own directory
        xdg = self.xdg(0o700, self.uid)
        os.rename(os.path.join(xdg, "vmd"), os.path.join(xdg, "real"))
        os.symlink("real", os.path.join(xdg, "vmd"))
        rc, out, err = listing(xdg)
        self.assertEqual(rc, 3, err)
        self.assertIn("not a directory but a symbolic link", err)
        # $XDG_RUNTIME_DIR itself open to others
        xdg = self.xdg(0o700, self.uid)
        os.chmod(xdg, 0o777)
        rc, out, err = listing(xdg)
        self.assertIn("refusing the socket directory %s:" % xdg, err)
        # the user's own 0700 directory passes: vmd is just not running
        xdg = self.xdg(0o700, self.uid)
        rc, out, err = listing(xdg)
        self.assertEqual(rc, 3, err)
        self.assertNotIn("refusing", err)
        self.assertIn("%s/vmd/vmd.sock: No such file or directory: vmd is "
                      "not running" % xdg, err)
        # -s is the user's own choice and is not checked
        bad = self.xdg(0o777, 0)
        rc, out, err = self.as_user("vmdt-nobody", "-s", os.path.join(
            bad, "vmd", "vmd.sock"), "list")
        self.assertNotIn("refusing", err)

    def test_tmp_socket_directory_is_checked(self):
        """Without $XDG_RUNTIME_DIR the default is /tmp/vmd-UID."""
        d = "/tmp/vmd-%d" % self.uid
        if os.path.lexists(d):
            self.skipTest("%s exists already" % d)
        os.mkdir(d, 0o755)   # made by root: another user
        try:
            rc, out, err = self.as_user("vmdt-nobody", "list")
        finally:
            os.rmdir(d)
        self.assertEqual(rc, 3, err)
        self.assertIn("refusing the socket directory %s: it belongs to uid 0"
                      % d, err)


if __name__ == "__main__":
    vmdtest.main()
