"""End-to-end: the console keeper (keeper/keeper.h), on real guests.

Each running guest's console ports are read by a small vmd-keeper process
that journals every byte and outlives vmd.  Checked here: the keeper runs
unprivileged and ends with its QEMU; the last bytes before a power-off
reach the log; a guest never waits while vmd hangs; a keeper killed while
vmd runs, or while vmd is away, is replaced and the console works again
without a byte of what was journaled missing or doubled; output of a QEMU
that died while vmd was away still reaches the log.  KeeperWireTest drives
vmd-keeper alone, with sockets standing in for QEMU and vmd."""

import glob
import os
import pty
import pwd
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, INITRAMFS, bootsector_config,
                     console_read_all, linux_config, pid_alive, t)  # noqa: E402

KEEPER = "vmd-keeper"
KEEPER_BIN = os.path.join(vmdtest.BUILDDIR, KEEPER)


def keeper_pids(run_dir):
    """Live keepers whose command line names run_dir."""
    pids = []
    for pid in vmdtest._all_pids():
        cmd = vmdtest._proc_cmdline(pid)
        if KEEPER in cmd.split(" ")[0] and run_dir in cmd and pid_alive(pid):
            pids.append(pid)
    return pids


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))


class KeeperTest(vmdtest.VmdTestCase):

    def start_vm(self, c, cfg):
        c.command("vm-define", {"config": cfg})
        r = c.command("vm-start", {"vm": cfg["name"]}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        uuid = c.command("vm-show", {"vm": cfg["name"]})["uuid"]
        return r["pid"], os.path.join(self.vmd.run_dir, "vms", uuid)

    def one_keeper(self, run_dir, other_than=None, timeout=10):
        found = []

        def there():
            found[:] = [p for p in keeper_pids(run_dir) if p != other_than]
            return len(found) == 1
        self.wait_for(there, t(timeout), "one keeper for %s" % run_dir)
        return found[0]

    def echo(self, con, text):
        start = len(con.data)
        con.write(text)
        con.read_until(text.replace(b"\r", b"\r\n"), t(15), start)

    def assertLogIs(self, log, head, typed=b""):
        """The whole log: exactly head, then typed's echo once or more
        (type_until types again until the echo shows) and nothing else; a
        byte missing or doubled anywhere fails."""
        echo = typed.replace(b"\r", b"\r\n")
        rest = log[len(head):]
        n = len(rest) // len(echo) if echo else 0
        if log[:len(head)] != head or rest != echo * n or (echo and n < 1):
            self.fail("the log is not %r + %r x n (n >= 1):\ngot %r"
                      % (head, echo, log[-400:]))

    def boot(self, c, name):
        pid, run_dir = self.start_vm(c, bootsector_config(name))
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))
        return pid, run_dir, con

    def test_keeper_unprivileged_and_ends_with_qemu(self):
        c = self.client()
        _, run_dir, con = self.boot(c, "kp-life")
        keeper = self.one_keeper(run_dir)
        if os.geteuid() == 0:
            self.assertEqual(proc_uid(keeper), pwd.getpwnam("nobody").pw_uid,
                             "a keeper started by root keeps root")
        self.echo(con, b"hello keeper\r")
        c.command("vm-kill", {"vm": "kp-life"}, timeout=t(30))
        self.wait_for(lambda: not pid_alive(keeper), t(10),
                      "the keeper to end with its QEMU")
        with open(os.path.join(run_dir, "keeper.log"), "rb") as f:
            log = f.read()
        self.assertNotIn(b"Sanitizer", log)
        self.assertNotIn(b"runtime error", log)

    def test_no_keeper_for_host_ports_only(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        vmdtest.for_qemu(os.ttyname(slave))  # vmd opens it as that user
        c = self.client()
        _, run_dir = self.start_vm(c, bootsector_config(
            "kp-host", serial=[{"type": "host", "path": os.ttyname(slave)}]))
        self.assertEqual(keeper_pids(run_dir), [])
        out = b""
        deadline = time.monotonic() + t(30)
        while BOOT_BANNER not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                out += os.read(master, 4096)
        self.assertIn(BOOT_BANNER, out, "the guest's output did not reach "
                      "the host tty")

    def test_last_bytes_before_power_off(self):
        """The guest echoes a line and powers off at once: QEMU is gone
        before vmd read the echo from the keeper, yet the log has it."""
        c = self.client()
        self.boot(c, "kp-last")
        tail = b"".join(b"last words %03d\r" % i for i in range(100))
        con = self.console("kp-last", mode="ro")
        w = self.console("kp-last", force=True)
        w.write(tail + b"\x1f")
        self.wait_for(lambda: self.vm_state(c, "kp-last") == "stopped",
                      t(30), "the guest to power off")
        log = console_read_all(c, "kp-last")[0]
        want = tail.replace(b"\r", b"\r\n")
        self.assertLogIs(log, BOOT_BANNER + want)
        con.wait_eof(t(10))

    def test_keeper_killed_while_vmd_runs(self):
        c = self.client()
        qemu, run_dir, con = self.boot(c, "kp-lost")
        self.echo(con, b"before\r")
        old = self.one_keeper(run_dir)
        os.kill(old, signal.SIGKILL)
        new = self.one_keeper(run_dir, other_than=old)
        self.wait_for(lambda: "its keeper is gone" in self.vmd.log(), t(10),
                      "vmd to say the keeper was lost")
        vmdtest.type_until(con, b"after\r", b"after\r\n", t(30))
        log = console_read_all(c, "kp-lost")[0]
        self.assertLogIs(log, BOOT_BANNER + b"before\r\n", b"after\r")
        self.assertEqual(c.command("vm-show", {"vm": "kp-lost"})["pid"], qemu)
        self.assertTrue(pid_alive(new))

    def test_stray_connection_to_the_keeper(self):
        """Someone else connects to the keeper's socket and takes vmd's
        place: vmd reconnects to the same keeper, exactly where its log
        ends, and replaces nothing."""
        c = self.client()
        _, run_dir, con = self.boot(c, "kp-stray")
        self.echo(con, b"before\r")
        keeper = self.one_keeper(run_dir)
        stray = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stray.connect(os.path.join(run_dir, "console0.keep"))
        stray.settimeout(t(10))
        hdr = b""
        while len(hdr) < 16:
            hdr += stray.recv(16 - len(hdr))
        self.assertEqual(struct.unpack("<QQ", hdr)[1], keeper)
        self.wait_for(lambda: stray.recv(1) == b"", t(10),
                      "vmd to take the keeper back")
        stray.close()
        vmdtest.type_until(con, b"after\r", b"after\r\n", t(30))
        self.assertEqual(keeper_pids(run_dir), [keeper])
        self.assertNotIn("its keeper is gone", self.vmd.log())
        log = console_read_all(c, "kp-stray")[0]
        self.assertLogIs(log, BOOT_BANNER + b"before\r\n", b"after\r")

    def test_stopped_keeper_is_waited_for(self):
        """A keeper that is stopped (SIGSTOP), not dead, is not replaced;
        once it runs again nothing the guest printed is missing."""
        c = self.client()
        _, run_dir, con = self.boot(c, "kp-stop")
        keeper = self.one_keeper(run_dir)
        self.vmd.stop(signal.SIGKILL)
        os.kill(keeper, signal.SIGSTOP)
        try:
            self.vmd.start()
            c = self.client()
            # vmd's connection waits in the stopped keeper's backlog
            time.sleep(t(2))
            self.assertEqual(keeper_pids(run_dir), [keeper])
            self.assertNotIn("its keeper is gone", self.vmd.log())
        finally:
            os.kill(keeper, signal.SIGCONT)
        con = self.console("kp-stop")
        vmdtest.type_until(con, b"again\r", b"again\r\n", t(60))
        self.assertEqual(keeper_pids(run_dir), [keeper])
        log = console_read_all(c, "kp-stop")[0]
        self.assertLogIs(log, BOOT_BANNER, b"again\r")

    @unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs needs root")
    def test_full_log_disk_is_filled_in_later(self):
        """The console log's disk fills up: viewers go on, and once there
        is room the log gets every byte from the journal, in order and
        once, also across a kill -9 of vmd."""
        c = self.client()
        name = "kp-logfull"
        uuid = c.command("vm-define", {"config": bootsector_config(name)})["uuid"]
        logs = os.path.join(self.vmd.state_dir, "logs", uuid)
        os.makedirs(logs)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=64k",
                               "vmd-log-test", logs])
        self.addCleanup(subprocess.call, ["umount", "-l", logs])
        filler = os.path.join(logs, "filler")
        with open(filler, "wb") as f:
            f.write(b"f" * (52 << 10))
        c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))
        typed = b"".join(b"line %05d of the typed text\r" % i
                         for i in range(800))
        con.write(typed)
        con.read_until(typed[-30:].replace(b"\r", b"\r\n"), t(120))
        self.wait_for(lambda: "log write failed" in self.vmd.log(), t(10),
                      "the log to fill up")
        os.unlink(filler)
        self.wait_for(lambda: "the log is complete again" in self.vmd.log(),
                      t(10), "the log to be filled in")
        self.echo(con, b"AFTER\r")
        want = BOOT_BANNER + typed.replace(b"\r", b"\r\n") + b"AFTER\r\n"
        self.assertEqual(console_read_all(c, name)[0], want)
        self.vmd.stop(signal.SIGKILL)
        self.vmd.start()
        c = self.client()
        self.assertEqual(console_read_all(c, name)[0], want)

    def test_keeper_killed_while_vmd_away(self):
        c = self.client()
        qemu, run_dir, con = self.boot(c, "kp-away")
        self.echo(con, b"before\r")
        old = self.one_keeper(run_dir)
        self.vmd.stop(signal.SIGKILL)
        os.kill(old, signal.SIGKILL)
        self.vmd.start()
        c = self.client()
        self.assertEqual(c.command("vm-show", {"vm": "kp-away"})["pid"], qemu)
        self.one_keeper(run_dir, other_than=old)
        con = self.console("kp-away")
        vmdtest.type_until(con, b"after\r", b"after\r\n", t(30))
        log = console_read_all(c, "kp-away")[0]
        self.assertLogIs(log, BOOT_BANNER + b"before\r\n", b"after\r")


class KeeperLinuxTest(vmdtest.VmdTestCase):
    """What the guest prints while vmd cannot read it."""

    def boot_shell(self, c, name):
        vmdtest.require_guests(INITRAMFS)
        c.command("vm-define", {"config": linux_config(name)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        uuid = c.command("vm-show", {"vm": name})["uuid"]
        con = self.console(name)
        vmdtest.type_until(con, b"echo UP$((40+2))\n", b"UP42", t(120))
        return r["pid"], os.path.join(self.vmd.run_dir, "vms", uuid), con

    def journal_has(self, run_dir, text):
        for path in glob.glob(os.path.join(run_dir, "console0.*.journal")):
            with open(path, "rb") as f:
                if text in f.read():
                    return True
        return False

    def test_guest_never_waits_for_a_hung_vmd(self):
        c = self.client()
        _, run_dir, con = self.boot_shell(c, "kp-hang")
        n = 4000
        con.write(b"i=0; while [ $i -lt %d ]; do echo tick$i; i=$((i+1)); "
                  b"done; echo DONE$((1+1))\n" % n)
        con.read_until(b"tick100\r\n", t(60))
        self.vmd.send_signal(signal.SIGSTOP)
        try:
            # with vmd stopped, the guest runs to the end of its loop
            self.wait_for(lambda: self.journal_has(run_dir, b"DONE2"), t(120),
                          "the guest to finish while vmd is stopped",
                          interval=0.5)
        finally:
            self.vmd.send_signal(signal.SIGCONT)
        con.read_until(b"DONE2", t(60))
        log = console_read_all(c, "kp-hang")[0]
        ticks = re.findall(rb"tick(\d+)\r\n", log)
        self.assertEqual([int(x) for x in ticks], list(range(n)),
                         "the log lost or doubled ticks")
        self.assertEqual(self.vm_state(c, "kp-hang"), "running")

    def test_output_of_a_qemu_that_died_while_vmd_was_away(self):
        c = self.client()
        qemu, run_dir, con = self.boot_shell(c, "kp-dead")
        con.write(b"sleep 2; echo AWAY$((20+22))\n")
        con.read_until(b"AWAY$((20+22))", t(10))  # the shell's echo
        self.vmd.stop(signal.SIGKILL)
        keeper = keeper_pids(run_dir)
        self.wait_for(lambda: self.journal_has(run_dir, b"AWAY42"), t(30),
                      "the guest to print while vmd is away", interval=0.2)
        os.kill(qemu, signal.SIGKILL)
        self.wait_for(lambda: not any(pid_alive(p) for p in keeper), t(10),
                      "the keeper to end with its QEMU")
        self.vmd.start()
        c = self.client()
        self.assertEqual(self.vm_state(c, "kp-dead"), "crashed")
        log = console_read_all(c, "kp-dead")[0]
        self.assertEqual(log.count(b"AWAY42"), 1, "log ends %r" % log[-200:])


class KeeperWireTest(unittest.TestCase):
    """The keeper's side of the wire in keeper.h, without QEMU or vmd."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vmd-keeper-")
        self.addCleanup(subprocess.call, ["rm", "-rf", self.tmp])
        self.mounted = False

    def start(self, journal_dir=None, args=()):
        """A keeper for port 0; self.qemu is QEMU's end of the port."""
        self.qemu, theirs = socket.socketpair()
        self.path = os.path.join(self.tmp, "console0.keep")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(self.path)
        lsock.listen(4)
        self.journal = os.path.join(journal_dir or self.tmp, "console0.journal")
        jfd = os.open(self.journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self.log = open(os.path.join(self.tmp, "keeper.log"), "wb")
        fds = (theirs.fileno(), lsock.fileno(), jfd)
        self.proc = subprocess.Popen(
            [KEEPER_BIN, "--dir", self.tmp] + list(args) + ["0:%d:%d:%d" % fds],
            pass_fds=fds, stdout=self.log, stderr=self.log)
        self.addCleanup(self.stop)
        for f in (theirs, lsock):
            f.close()
        os.close(jfd)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(t(10))
        self.log.close()
        self.qemu.close()  # closing twice is harmless
        vmdtest.check_sanitizer_log(KEEPER, self.keeper_log().decode(
            errors="replace"))
        if self.mounted:
            subprocess.call(["umount", "-l", self.mnt])

    def connect(self):
        """vmd's connection: (socket, journal length the header says)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.connect(self.path)
        s.settimeout(t(10))
        hdr = b""
        while len(hdr) < 16:
            chunk = s.recv(16 - len(hdr))
            self.assertTrue(chunk, "no header")
            hdr += chunk
        length, pid = struct.unpack("<QQ", hdr)
        self.assertEqual(pid, self.proc.pid)
        return s, length

    def recv_exactly(self, s, n):
        out = bytearray()
        while len(out) < n:
            chunk = s.recv(min(1 << 16, n - len(out)))
            self.assertTrue(chunk, "EOF after %d of %d bytes" % (len(out), n))
            out += chunk
        return bytes(out)

    def journal_bytes(self):
        with open(self.journal, "rb") as f:
            return f.read()

    def test_stream_reconnect_and_input(self):
        self.start()
        v, length = self.connect()
        self.assertEqual(length, 0)
        self.qemu.sendall(b"hello")
        self.assertEqual(self.recv_exactly(v, 5), b"hello")
        v.sendall(b"typed")
        self.qemu.settimeout(t(10))
        self.assertEqual(self.qemu.recv(5), b"typed")
        v.close()
        data = os.urandom(300000)
        self.qemu.sendall(data)  # nobody reads: the journal takes it
        self.wait_journal(5 + len(data))
        v, length = self.connect()
        self.assertEqual(length, 5 + len(data))
        self.qemu.sendall(b"after")
        self.assertEqual(self.recv_exactly(v, 5), b"after")
        self.assertEqual(self.journal_bytes(), b"hello" + data + b"after")
        # a newer connection replaces the older one
        v2, length = self.connect()
        self.assertEqual(length, 5 + len(data) + 5)
        self.assertEqual(v.recv(1), b"")
        self.qemu.sendall(b"end")
        self.qemu.close()
        self.assertEqual(self.recv_exactly(v2, 3), b"end")
        self.assertEqual(v2.recv(1), b"", "no EOF once QEMU's side closed")
        self.assertEqual(self.proc.wait(t(10)), 0)

    def wait_journal(self, n):
        deadline = time.monotonic() + t(10)
        while os.path.getsize(self.journal) < n:
            self.assertLess(time.monotonic(), deadline, "journal stays short")
            time.sleep(0.01)

    def test_vmd_that_does_not_read_never_stops_qemu(self):
        """8 MiB while vmd's connection is open but never read: QEMU's
        sends all complete, then vmd gets every byte in order."""
        self.start()
        v, _ = self.connect()
        data = os.urandom(8 << 20)
        self.qemu.settimeout(t(30))
        self.qemu.sendall(data)
        self.wait_journal(len(data))
        self.assertEqual(self.recv_exactly(v, len(data)), data)

    def send_until_blocked(self, data):
        """Send as QEMU would until the keeper stops reading for 1 s."""
        self.qemu.setblocking(False)
        sent, last = 0, time.monotonic()
        while sent < len(data) and time.monotonic() - last < t(1):
            try:
                sent += self.qemu.send(data[sent:sent + 65536])
                last = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        self.qemu.setblocking(True)
        self.qemu.settimeout(t(30))
        return sent

    def keeper_log(self):
        with open(os.path.join(self.tmp, "keeper.log"), "rb") as f:
            return f.read()

    def test_journal_max_holds_the_guest_while_vmd_is_away(self):
        self.start(args=["--journal-max", str(1 << 20)])
        data = os.urandom(4 << 20)
        sent = self.send_until_blocked(data)
        self.assertLess(sent, 2 << 20, "the keeper read on past its limit")
        size = os.path.getsize(self.journal)
        self.assertTrue((1 << 20) <= size < (1 << 20) + 65536, size)
        self.assertIn(b"the guest waits", self.keeper_log())
        # vmd comes back: it copies the journal, the stream follows
        v, length = self.connect()
        self.assertEqual(length, size)
        got = self.journal_bytes()[:length]
        # a connected vmd that lags by the limit holds the guest too, so
        # QEMU's side sends while vmd's side reads
        th = threading.Thread(target=self.qemu.sendall, args=(data[sent:],))
        th.start()
        got += self.recv_exactly(v, len(data) - length)
        th.join(t(30))
        self.assertEqual(got, data)
        self.assertIn(b"the guest goes on", self.keeper_log())

    def small_disk(self):
        """A 1 MiB tmpfs, 768 KiB of it taken by a file; returns its path."""
        self.mnt = os.path.join(self.tmp, "small")
        os.mkdir(self.mnt)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=1m",
                               "vmd-keeper-test", self.mnt])
        self.mounted = True
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"x" * (768 << 10))
        return filler

    @unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs needs root")
    def test_full_journal_then_qemu_exits(self):
        """QEMU hangs up while bytes wait for journal space: none is lost
        or reordered once there is space again."""
        filler = self.small_disk()
        self.start(journal_dir=self.mnt)
        data = os.urandom(1 << 20)
        sent = self.send_until_blocked(data)
        self.qemu.close()
        time.sleep(t(0.5))
        os.unlink(filler)
        v, length = self.connect()
        got = self.journal_bytes()[:length]
        while True:
            chunk = v.recv(1 << 16)
            if not chunk:
                break
            got += chunk
        self.assertEqual(len(got), sent)
        self.assertEqual(got, data[:sent])
        self.assertEqual(self.proc.wait(t(10)), 0)

    @unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs needs root")
    def test_full_journal_makes_qemu_wait(self):
        filler = self.small_disk()
        self.start(journal_dir=self.mnt)
        v, _ = self.connect()
        data = os.urandom(1 << 20)
        sent = self.send_until_blocked(data)
        self.assertLess(sent, len(data), "QEMU never had to wait")
        self.assertEqual(self.recv_exactly(v, 200000), data[:200000])
        os.unlink(filler)
        self.qemu.sendall(data[sent:])
        self.assertEqual(self.recv_exactly(v, len(data) - 200000),
                         data[200000:])
        log = self.keeper_log()
        self.assertIn(b"journal write failed", log)
        self.assertIn(b"journal writable again", log)


if __name__ == "__main__":
    vmdtest.main()
