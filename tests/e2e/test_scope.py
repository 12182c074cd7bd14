"""Guests in transient systemd scopes (machine-NAME.scope), tested without
systemd as PID 1: a private dbus-daemon stands in for the system bus
(DBUS_SYSTEM_BUS_ADDRESS) and fake_systemd1.py for systemd's manager,
recording every StartTransientUnit call.

- --scopes on: one call per QEMU start, with the escaped unit name, mode
  "fail", and exactly Description, Slice, CollectMode and PIDs (type "au",
  the pid vm-show reports and its console keeper's); a restart asks again
  for the new pids; a name
  whose unit name would be too long for systemd is not asked for;
- the manager refusing, answering slowly, or no bus at all, or a bus that
  goes away and comes back: the guest starts and runs all the same, and
  the log names the VM and says why it is not in its scope;
- vmd exiting while an answer is pending: at once, nothing leaked;
- --scopes auto outside systemd, and --scopes off: no call, one log line.
"""

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

import vmdtest
from vmdtest import (BOOT_BANNER, BOOTSECTOR, HERE, VMD, VmdTestCase,
                     bootsector_config, main, pid_alive, require_guests, t)

DBUS_DAEMON = shutil.which("dbus-daemon")
SYSTEMD_ESCAPE = shutil.which("systemd-escape")
FAKE_MANAGER = os.path.join(HERE, "fake_systemd1.py")
SKIP_LINE = "systemd is not PID 1: guests are not placed in scopes"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def read_line(proc, timeout, what):
    """One line of proc's stdout, or AssertionError after timeout."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("%s: nothing on stdout within %.1f s"
                             % (what, timeout))
    line = proc.stdout.readline()
    if not line:
        raise AssertionError("%s exited (status %s) before it was ready"
                             % (what, proc.wait(t(5))))
    return line.decode().strip()


def stop_process(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(t(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(t(10))
    proc.stdout.close()


class ScopeTest(VmdTestCase):
    start_vmd = False

    def setUp(self):
        if not DBUS_DAEMON:
            raise AssertionError("dbus-daemon is not installed (package "
                                 "dbus-daemon; run.sh installs it)")
        if subprocess.run([sys.executable, "-c", "import dbus, gi"],
                          capture_output=True).returncode:
            raise AssertionError("%s cannot import dbus and gi (packages "
                                 "python3-dbus, python3-gi; run.sh installs "
                                 "them)" % sys.executable)
        super().setUp()
        require_guests(BOOTSECTOR)
        self.bus_socket = os.path.join(self.tmp, "system_bus_socket")
        self.address = "unix:path=" + self.bus_socket
        self.record = os.path.join(self.tmp, "calls.jsonl")
        old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        self.addCleanup(self._restore_env, old)

    @staticmethod
    def _restore_env(old):
        if old is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old

    # -- the stand-ins ------------------------------------------------------
    def start_bus(self):
        """A private dbus-daemon on self.bus_socket; returns its process."""
        if os.path.exists(self.bus_socket):
            os.unlink(self.bus_socket)   # left by one we killed
        config = os.path.join(self.tmp, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG % self.bus_socket)
        # its stderr (a warning about the fd limit, as root) goes to a file
        with open(os.path.join(self.tmp, "dbus-daemon.log"), "ab") as log:
            proc = subprocess.Popen([DBUS_DAEMON, "--config-file=" + config,
                                     "--nofork", "--nopidfile",
                                     "--print-address"],
                                    stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=log)
        self.addCleanup(stop_process, proc)
        address = read_line(proc, t(10), "dbus-daemon")
        self.assertTrue(address.startswith(self.address), address)
        return proc

    def start_manager(self, *args):
        proc = subprocess.Popen([sys.executable, FAKE_MANAGER, self.address,
                                 self.record] + list(args),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE)
        self.addCleanup(stop_process, proc)
        self.assertEqual(read_line(proc, t(20), "fake systemd manager"),
                         "ready")
        return proc

    def run_vmd(self, mode):
        self.vmd.extra_args = ["--scopes", mode]
        self.vmd.start()

    def calls(self):
        try:
            with open(self.record) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def wait_calls(self, n):
        self.wait_for(lambda: len(self.calls()) >= n, t(10),
                      "%d StartTransientUnit call(s); got %r"
                      % (n, self.calls()))
        return self.calls()

    def wait_log(self, pattern, what):
        rx = re.compile(pattern)
        return self.wait_for(lambda: rx.search(self.vmd.log()), t(10),
                             "%s in the vmd log" % what)

    # -- guests -------------------------------------------------------------
    def start_guest(self, c, name, define=True):
        """Start name; it must run and print its banner.  Returns the QEMU
        pid vm-show reports."""
        if define:
            c.command("vm-define", {"config": bootsector_config(name)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        self.console(name).read_until(BOOT_BANNER, t(30))
        show = c.command("vm-show", {"vm": name})
        self.assertEqual(show["state"], "running")
        self.assertEqual(show["pid"], r["pid"])
        return show["pid"]

    def unit(self, name):
        """machine-NAME.scope as systemd escapes it: checked against
        systemd-escape(1) when it is installed, so that a wrong rule in
        the test cannot agree with a wrong rule in vmd."""
        unit = "machine-%s.scope" % name.replace("-", "\\x2d")
        if SYSTEMD_ESCAPE:
            out = subprocess.run([SYSTEMD_ESCAPE, name], capture_output=True,
                                 text=True, check=True).stdout.strip()
            self.assertEqual(unit, "machine-%s.scope" % out)
        return unit

    @staticmethod
    def keeper_of(pid):
        """The console keeper of the QEMU with this pid (keeper/keeper.h):
        its command line names the VM's run directory, vms/UUID."""
        argv = vmdtest._proc_cmdline(pid).split(" ")
        uuid = argv[argv.index("-uuid") + 1]
        return [p for p in vmdtest._all_pids()
                if vmdtest._proc_cmdline(p).startswith(vmdtest.VMD + "-keeper ")
                and "/vms/%s " % uuid in vmdtest._proc_cmdline(p)]

    def assertPlacementCall(self, call, name, pid):
        keepers = self.keeper_of(pid)
        self.assertEqual(len(keepers), 1, "keepers of QEMU %d: %r"
                         % (pid, keepers))
        self.assertEqual(call["name"], self.unit(name))
        self.assertEqual(call["mode"], "fail")
        self.assertEqual(call["aux"], [])
        names = [p[0] for p in call["properties"]]
        self.assertEqual(len(names), len(set(names)),
                         "a property given twice: %r" % names)
        self.assertEqual({k: (sig, v) for k, sig, v in call["properties"]}, {
            "Description": ("s", "vmd guest " + name),
            "Slice": ("s", "machine.slice"),
            "CollectMode": ("s", "inactive-or-failed"),
            "PIDs": ("au", [pid, keepers[0]]),
        })

    # -- the cases ----------------------------------------------------------
    def test_guest_placed_in_its_scope(self):
        self.start_bus()
        self.start_manager()
        self.run_vmd("on")
        self.assertIn("guests are placed in machine-NAME.scope (--scopes on)",
                      self.vmd.log())
        c = self.client()
        name = "web-1.a_b"
        pid = self.start_guest(c, name)
        calls = self.wait_calls(1)
        self.assertEqual(len(calls), 1, calls)
        self.assertPlacementCall(calls[0], name, pid)
        self.wait_log(r"vm %s: QEMU pid %d placed in %s\n"
                      % (re.escape(name), pid, re.escape(self.unit(name))),
                      "the placement")

        # a new QEMU is a new request, for its own pid
        c.command("vm-kill", {"vm": name}, timeout=t(30))
        pid2 = self.start_guest(c, name, define=False)
        self.assertNotEqual(pid2, pid)
        calls = self.wait_calls(2)
        self.assertEqual(len(calls), 2, calls)
        self.assertPlacementCall(calls[1], name, pid2)
        self.assertNotIn("not placed", self.vmd.log())

    def test_longest_unit_name(self):
        """systemd takes unit names of up to 255 characters: a VM name whose
        escaped unit name is longer is started without a scope."""
        self.start_bus()
        self.start_manager()
        self.run_vmd("on")
        c = self.client()
        longest, too_long = "a" + "-" * 60, "a" + "-" * 60 + "b"
        self.assertEqual(len(self.unit(longest)), 255)
        pid = self.start_guest(c, longest)
        self.assertPlacementCall(self.wait_calls(1)[0], longest, pid)
        pid = self.start_guest(c, too_long)
        self.wait_log(r"vm %s: not placed in a scope: the escaped unit name "
                      r"would be longer than systemd's limit of 255 "
                      r"characters" % too_long, "the refusal")
        self.assertEqual(len(self.calls()), 1, self.calls())
        self.assertEqual(self.vm_state(c, too_long), "running")

    def test_manager_refuses(self):
        self.start_bus()
        self.start_manager("--error", "org.freedesktop.systemd1.UnitExists")
        self.run_vmd("on")
        c = self.client()
        pid = self.start_guest(c, "err-1")
        self.assertPlacementCall(self.wait_calls(1)[0], "err-1", pid)
        self.wait_log(r"vm err-1: QEMU pid %d not placed in %s: "
                      r"org\.freedesktop\.systemd1\.UnitExists: fake manager "
                      r"refuses" % (pid, re.escape(self.unit("err-1"))),
                      "the manager's refusal")
        self.assertEqual(self.vm_state(c, "err-1"), "running")

    def test_slow_manager_does_not_delay_start(self):
        delay = t(5)
        self.start_bus()
        self.start_manager("--delay", str(delay))
        self.run_vmd("on")
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("slow-1")})
        began = time.monotonic()
        pid = c.command("vm-start", {"vm": "slow-1"}, timeout=t(60))["pid"]
        elapsed = time.monotonic() - began
        # The answer leaves the manager `delay` after the request reached
        # it, and the request was sent after vm-start arrived: a start that
        # took less than `delay` did not wait for it.
        self.assertLess(elapsed, delay, "vm-start took %.2f s" % elapsed)
        self.assertNotIn("QEMU pid %d placed in" % pid, self.vmd.log())
        self.console("slow-1").read_until(BOOT_BANNER, t(30))
        self.assertPlacementCall(self.wait_calls(1)[0], "slow-1", pid)
        self.wait_for(lambda: "vm slow-1: QEMU pid %d placed in" % pid
                      in self.vmd.log(), delay + t(10), "the late answer")

    def test_exit_while_answer_pending(self):
        """vmd leaves at once, frees the pending request (LeakSanitizer in
        the sanitizer build) and leaves the guest running."""
        self.start_bus()
        self.start_manager("--delay", str(t(60)))
        self.run_vmd("on")
        pid = self.start_guest(self.client(), "pending-1")
        self.assertPlacementCall(self.wait_calls(1)[0], "pending-1", pid)
        began = time.monotonic()
        self.assertEqual(self.vmd.stop(timeout=t(10)), 0)
        self.assertLess(time.monotonic() - began, t(5))
        self.assertTrue(pid_alive(pid), "the guest ended with vmd")

    def test_no_bus(self):
        self.run_vmd("on")
        self.assertIn("cannot connect to the system bus: No such file or "
                      "directory; tried again at each guest start",
                      self.vmd.log())
        c = self.client()
        pid = self.start_guest(c, "nobus-1")
        self.wait_log(r"vm nobus-1: QEMU pid %d not placed in %s: cannot "
                      r"connect to the system bus: No such file or directory"
                      % (pid, re.escape(self.unit("nobus-1"))),
                      "the missing bus")

    def test_bus_goes_away_and_comes_back(self):
        bus = self.start_bus()
        manager = self.start_manager()
        self.run_vmd("on")
        c = self.client()
        pid = self.start_guest(c, "gone-1")
        self.wait_log(r"vm gone-1: QEMU pid %d placed in" % pid, "placement")
        stop_process(manager)
        stop_process(bus)
        self.wait_log(r"system bus: connection closed", "the lost bus")
        pid = self.start_guest(c, "gone-2")
        self.wait_log(r"vm gone-2: QEMU pid %d not placed in %s: cannot "
                      r"connect to the system bus"
                      % (pid, re.escape(self.unit("gone-2"))), "no bus")
        # a new bus: the next start connects again
        self.start_bus()
        self.start_manager()
        pid = self.start_guest(c, "gone-3")
        self.wait_log(r"vm gone-3: QEMU pid %d placed in %s"
                      % (pid, re.escape(self.unit("gone-3"))), "placement")
        self.assertEqual([call["name"] for call in self.calls()],
                         [self.unit("gone-1"), self.unit("gone-3")])
        for name in ("gone-1", "gone-2", "gone-3"):
            self.assertEqual(self.vm_state(c, name), "running")

    def no_calls(self, mode, line):
        self.start_bus()
        self.start_manager()
        self.run_vmd(mode)
        self.assertIn(line, self.vmd.log())
        c = self.client()
        self.start_guest(c, "none-1")
        # a request would have been sent before "cont": give it time to
        # arrive all the same
        time.sleep(t(0.5))
        self.assertEqual(self.calls(), [])
        self.assertNotIn("placed in machine-", self.vmd.log())
        self.assertNotIn("system bus", self.vmd.log())

    def test_auto_outside_systemd(self):
        if os.path.isdir("/run/systemd/system"):
            self.skipTest("systemd is the init system here")
        self.no_calls("auto", SKIP_LINE)

    def test_off(self):
        self.no_calls("off", "--scopes off: guests are not placed in scopes")

    def test_bad_mode(self):
        p = subprocess.run([VMD, "--scopes", "sometimes"], capture_output=True,
                           text=True, timeout=t(10))
        self.assertEqual(p.returncode, 2)
        self.assertIn('--scopes: expected auto, on or off, not "sometimes"',
                      p.stderr)


if __name__ == "__main__":
    main()
