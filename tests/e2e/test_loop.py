"""End-to-end: vmd's event loop never blocks.

Two kinds of console work can take long: waiting for a keeper's last bytes
when QEMU exits (a keeper that is stopped never sends them), and copying
into the log what a keeper journaled while vmd was away (up to the
keeper's --journal-max, 256 MiB).  vmd does both a bounded chunk per loop
turn, so another client's vm-list is answered within LATENCY_MS meanwhile,
and the log still gets every byte exactly once.

The vm-list round trips are measured by a separate process that sends
vm-list back to back.  The host is shared with other work, so the probe and
vmd run at a raised priority (nice -5): what is measured is vmd's loop,
not the scheduler.  Even so a few round trips in thousands lose their CPU
to the host, or one wait for a busy disk's fsync (a loaded machine saw
12 ms, and 103 ms once), so 99.9 % of them must be within LATENCY_MS and
the worst within OUTLIER_MS: a loop that blocks in each turn (every call
then waits; 8 MiB steps gave 20 ms), or waits out the stopped keeper's 2 s
in one piece, fails them."""

import glob
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, Client, bootsector_config,  # noqa: E402
                     console_read_all, pid_alive, t)

LATENCY_MS = 10
OUTLIER_MS = 500
PRIORITY = -5
KEEPER_BIN = os.path.join(vmdtest.BUILDDIR, "vmd-keeper")
FLOOD_MIB = 256


def _probe(sock, stop, out):
    """The latency client: vm-list back to back until stop is set; sends
    ([worst, 99.9th percentile] round trips in ms, calls) to out."""
    os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    c = Client(sock)
    rtts = []
    while not stop.is_set():
        t0 = time.monotonic()
        c.command("vm-list", timeout=t(30))
        rtts.append(time.monotonic() - t0)
    rtts.sort(reverse=True)
    worst = [rtts[0], rtts[len(rtts) // 1000]] if rtts else [0.0, 0.0]
    out.send(([w * 1000 for w in worst], len(rtts)))


class LatencyProbe:
    def __init__(self, sock):
        ctx = multiprocessing.get_context("fork")
        self.stop_ev = ctx.Event()
        self.rd, wr = ctx.Pipe(False)
        self.proc = ctx.Process(target=_probe, args=(sock, self.stop_ev, wr))
        self.proc.start()

    def stop(self):
        """([worst, 99.9th percentile] round trips in ms, vm-list calls)."""
        self.stop_ev.set()
        if not self.rd.poll(t(60)):
            self.proc.kill()
            raise AssertionError("the latency probe did not answer")
        r = self.rd.recv()
        self.proc.join(t(10))
        return r


def flood_block(i):
    """MiB number i of the flood: each differs, so a doubled or lost
    block shows."""
    head = b"block %06d\n" % i
    return head + bytes(range(256)) * ((1 << 20) // 256 - 1) + \
        b"-" * (256 - len(head))


class LoopTest(vmdtest.VmdTestCase):

    def raise_priority(self):
        os.setpriority(os.PRIO_PROCESS, self.vmd.pid, PRIORITY)

    def probe(self):
        p = LatencyProbe(self.vmd.socket)
        self.addCleanup(lambda: p.proc.is_alive() and p.proc.kill())
        time.sleep(0.3)  # connected, and a few calls measured
        return p

    def assertQuick(self, worst_ms, calls, what):
        sys.stderr.write("\n%s: vm-list worst %.2f ms, 99.9 %% within %.2f "
                         "ms, of %d calls\n" % (what, worst_ms[0], worst_ms[1],
                                                calls))
        self.assertGreater(calls, 10, "the probe hardly ran")
        self.assertLess(worst_ms[1], LATENCY_MS, "%s delayed vm-list" % what)
        self.assertLess(worst_ms[0], OUTLIER_MS, "%s delayed vm-list" % what)

    def keeper_of(self, run_dir):
        for pid in vmdtest._all_pids():
            cmd = vmdtest._proc_cmdline(pid)
            if "vmd-keeper" in cmd.split(" ")[0] and run_dir in cmd and \
                    pid_alive(pid):
                return pid
        self.fail("no keeper for %s" % run_dir)

    def boot(self, c, cfg):
        c.command("vm-define", {"config": cfg})
        c.command("vm-start", {"vm": cfg["name"]}, timeout=t(60))
        uuid = c.command("vm-show", {"vm": cfg["name"]})["uuid"]
        con = self.console(cfg["name"])
        con.read_until(BOOT_BANNER, t(30))
        return uuid, os.path.join(self.vmd.run_dir, "vms", uuid), con

    def boot_and_hang_keeper(self, c, name):
        """Boot the boot-sector guest name and SIGSTOP its keeper; returns
        QEMU's pid."""
        _, run_dir, _ = self.boot(c, bootsector_config(name))
        keeper = self.keeper_of(run_dir)
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(os.kill, keeper, signal.SIGCONT)
        return c.command("vm-show", {"vm": name})["pid"]

    def test_hung_keeper_at_exit(self):
        """QEMU exits while its keeper is stopped: vmd waits for the
        keeper's last bytes without holding up other clients, then takes
        them from the journal; the reply comes once the log has them."""
        c = self.client()
        _, run_dir, con = self.boot(c, bootsector_config("lp-hung"))
        con.write(b"last line\r")
        con.read_until(b"last line\r\n", t(15))
        keeper = self.keeper_of(run_dir)
        self.raise_priority()
        os.kill(keeper, signal.SIGSTOP)
        self.addCleanup(os.kill, keeper, signal.SIGCONT)
        p = self.probe()
        killer = self.client()
        t0 = time.monotonic()
        killer.send({"execute": "vm-kill", "arguments": {"vm": "lp-hung"}})
        # measured while vmd waits for the keeper (2 s), not the store's
        # fsync of the state change that follows
        time.sleep(1.5)
        worst, calls = p.stop()
        r = killer.recv_reply(t(30))
        took = time.monotonic() - t0
        self.assertEqual(r["return"]["state"], "stopped")
        self.assertGreater(took, 1.9, "vmd did not wait for the keeper")
        self.assertQuick(worst, calls, "a stopped keeper at QEMU's exit")
        log = console_read_all(c, "lp-hung")[0]
        self.assertEqual(log, BOOT_BANNER + b"last line\r\n")
        self.assertEqual(self.vm_state(c, "lp-hung"), "stopped")

    def test_stop_while_the_logs_complete(self):
        """A vm-stop that comes while vmd waits for the keeper of a QEMU
        that has exited is answered at the VM's end, like the kill."""
        c = self.client()
        qemu = self.boot_and_hang_keeper(c, "lp-late")
        killer, stopper = self.client(), self.client()
        killer.send({"execute": "vm-kill", "arguments": {"vm": "lp-late"}})
        self.wait_for(lambda: not pid_alive(qemu), t(10), "QEMU to end")
        time.sleep(0.2)  # vmd reaps it, and waits for the keeper
        stopper.send({"execute": "vm-stop",
                      "arguments": {"vm": "lp-late", "timeout": 0}})
        self.assertEqual(killer.recv_reply(t(30))["return"]["state"],
                         "stopped")
        r = stopper.recv_reply(t(30))
        self.assertEqual(r.get("return", {}).get("state"), "stopped", r)
        self.assertEqual(self.vm_state(c, "lp-late"), "stopped")
        self.assertNotIn("killing QEMU", self.vmd.log())  # its pid is gone

    def test_crash_while_the_logs_complete(self):
        """QEMU crashes while its keeper is stopped; a vm-kill that comes
        while vmd waits for the keeper does not turn the crash into a kill:
        the VM is recorded crashed and the kill is answered as one that came
        after (InvalidState), with no signal sent."""
        c = self.client()
        qemu = self.boot_and_hang_keeper(c, "lp-crash")
        since = len(c.events)
        os.kill(qemu, signal.SIGKILL)
        self.wait_for(lambda: not pid_alive(qemu), t(10), "QEMU to end")
        time.sleep(0.2)  # vmd reaps it, and waits for the keeper
        killer = self.client()
        killer.send({"execute": "vm-kill", "arguments": {"vm": "lp-crash"}})
        r = killer.recv_reply(t(30))
        self.assertEqual(r.get("error", {}).get("class"), "InvalidState", r)
        self.assertIn("is crashed", r["error"]["desc"])
        _, ev = c.wait_state("lp-crash", "crashed", since=since)
        self.assertEqual(ev["data"]["reason"], "crash")
        self.assertEqual(self.vm_state(c, "lp-crash"), "crashed")
        self.assertNotIn("killing QEMU", self.vmd.log())

    def test_signal_while_salvaging(self):
        """Two guests' QEMUs ended while vmd was away and their keepers
        hang: at start vmd waits (up to 2 s each) for their last bytes
        before it serves; a SIGTERM meanwhile makes it exit, not serve."""
        c = self.client()
        qemus = []
        for name in ("lp-s1", "lp-s2"):
            qemus.append(self.boot_and_hang_keeper(c, name))
        self.vmd.stop(signal.SIGKILL)
        for qemu in qemus:
            os.kill(qemu, signal.SIGKILL)
            self.wait_for(lambda: not pid_alive(qemu), t(10), "QEMU to end")
        # started by hand: its socket comes only after the salvage
        before = len(self.vmd.log())
        with open(self.vmd.log_path, "ab") as log:
            self.vmd.proc = subprocess.Popen(
                self.vmd.argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=log)
        time.sleep(0.5)  # in the first salvage's wait
        os.kill(self.vmd.pid, signal.SIGTERM)
        rc = self.vmd.wait(t(10))
        if rc is None:
            os.kill(self.vmd.pid, signal.SIGKILL)
            self.vmd.wait(t(10))
        self.assertIsNotNone(rc, "vmd went on after SIGTERM")
        self.assertNotIn("listening on", self.vmd.log()[before:])

    def log_files(self, uuid):
        return sorted(glob.glob(os.path.join(self.vmd.state_dir, "logs",
                                             uuid, "ttyS0.*.log")))

    def log_size(self, uuid):
        return sum(os.path.getsize(f) for f in self.log_files(uuid))

    def substitute_keeper(self, run_dir, base):
        """A vmd-keeper of port 0 in place of the VM's own, with a socket
        of ours standing in for QEMU (QEMU's serial port sends well under
        1 MB/s under TCG: far too slow for a 256 MiB flood).  Returns
        (its pid, our end of its "QEMU" socket)."""
        qemu, theirs = socket.socketpair()
        keep = os.path.join(run_dir, "console0.keep")
        os.unlink(keep)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(keep)
        lsock.listen(16)
        jfd = os.open(os.path.join(run_dir, "console0.%016d.journal" % base),
                      os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fds = [theirs.fileno(), lsock.fileno(), jfd]
        with open(os.path.join(run_dir, "keeper.log"), "ab") as log:
            p = subprocess.Popen([KEEPER_BIN, "--dir", run_dir,
                                  "--journal-max", str(1 << 30),
                                  "0:%d:%d:%d" % tuple(fds)],
                                 pass_fds=fds, stdout=log, stderr=log)
        theirs.close()
        lsock.close()
        os.close(jfd)
        self.addCleanup(qemu.close)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.addCleanup(lambda: p.poll() is None and
                        os.kill(p.pid, signal.SIGCONT))
        return p, qemu

    def assertLogIs(self, uuid, head, tail):
        """The log is head, the flood and tail, each byte once."""
        want = [head] + [flood_block(i) for i in range(FLOOD_MIB)] + [tail]
        got = b"".join(open(f, "rb").read() for f in self.log_files(uuid))
        off = 0
        for i, part in enumerate(want):
            if got[off:off + len(part)] != part:
                self.fail("the log differs in part %d (of %d) at offset %d"
                          % (i, len(want), off))
            off += len(part)
        self.assertEqual(len(got), off, "the log has more than was printed")

    def test_catch_up_after_a_long_absence(self):
        """vmd was away while 256 MiB were journaled: it copies them into
        the log a chunk per turn, answers vm-list meanwhile, and the live
        stream follows the copy without a byte lost or doubled."""
        c = self.client()
        cfg = bootsector_config("lp-flood", serial=[
            {"type": "console", "log_kib": 1 << 20, "log_count": 1}])
        uuid, run_dir, _ = self.boot(c, cfg)
        head = console_read_all(c, "lp-flood")[0]
        old = self.keeper_of(run_dir)
        self.vmd.stop(signal.SIGKILL)
        os.kill(old, signal.SIGKILL)
        self.wait_for(lambda: not pid_alive(old), t(10), "the keeper to go")
        keeper, qemu = self.substitute_keeper(run_dir, len(head))
        for i in range(FLOOD_MIB):
            qemu.sendall(flood_block(i))
        journal = os.path.join(run_dir, "console0.%016d.journal" % len(head))
        self.wait_for(lambda: os.path.getsize(journal) == FLOOD_MIB << 20,
                      t(60), "the keeper to journal the flood")
        # vmd's connection waits in the stopped keeper's backlog until the
        # probe runs
        os.kill(keeper.pid, signal.SIGSTOP)
        self.vmd.start()
        self.raise_priority()
        p = self.probe()
        os.kill(keeper.pid, signal.SIGCONT)
        want = len(head) + (FLOOD_MIB << 20)
        self.wait_for(lambda: self.log_size(uuid) >= want, t(120),
                      "vmd to copy the journal", interval=0.01)
        worst, calls = p.stop()
        tail = b"live after the copy\n"
        qemu.sendall(tail)
        self.wait_for(lambda: self.log_size(uuid) >= want + len(tail), t(30),
                      "the live stream to reach the log")
        self.assertQuick(worst, calls, "a %d MiB catch-up" % FLOOD_MIB)
        self.assertLogIs(uuid, head, tail)


if __name__ == "__main__":
    vmdtest.main()
