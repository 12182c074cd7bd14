"""End-to-end: the boot-sector guest through the real daemon and real QEMU.

Starts, watches VM_STATE events, types on the console and reads the echo,
pauses (no echo), resumes (echo back), resets (banner again), asks QEMU's
monitor, stops (forced: the boot sector ignores ACPI), kills (fast), and
checks that a QEMU killed from outside is reported as a crash.  Runs under
TCG always and under KVM too when query-host says KVM is usable."""

import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, QMPError, bootsector_config,
                     pid_alive, t)  # noqa: E402

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")


class BootTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)

    # -- the whole life of one VM, per accelerator ----------------------------

    def test_boot_tcg(self):
        self.life_cycle("tcg")

    def test_boot_kvm(self):
        host = self.host()
        accel = host["accel"]
        if not accel["kvm_usable"]:
            self.skipTest("KVM is not usable on this host (%s); the same "
                          "test ran under TCG in test_boot_tcg"
                          % accel.get("reason"))
        self.life_cycle("kvm")

    def start(self, c, name, accel, old="stopped"):
        mark = len(c.events)
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["name"], name)
        self.assertEqual(r["state"], "running")
        self.assertEqual(r["accel"], accel)
        self.assertIsInstance(r["pid"], int)
        self.assertGreater(r["pid"], 0)
        self.assertTrue(pid_alive(r["pid"]), "QEMU pid %d not alive" % r["pid"])
        self.assertIn("qemu", vmdtest._proc_cmdline(r["pid"]))
        if os.geteuid() == 0:  # root's QEMU drops to an unprivileged user
            with open("/proc/%d/status" % r["pid"]) as f:
                uids = [line.split()[1:] for line in f
                        if line.startswith("Uid:")][0]
            self.assertEqual(set(uids), {str(pwd.getpwnam("nobody").pw_uid)})
        c.wait_state(name, "running", t(30), since=mark)
        self.assertEqual(c.transitions(name, mark)[:2],
                         [(old, "starting", "start"),
                          ("starting", "running", "boot")],
                         "VM_STATE events after vm-start")
        return r

    def life_cycle(self, accel):
        c = self.client()
        name = "boot-" + accel
        r = c.command("vm-define", {"config": bootsector_config(name, accel)})
        self.assertEqual(r["name"], name)
        self.assertRegex(r["uuid"], UUID_RE)
        uuid = r["uuid"]
        show = c.command("vm-show", {"vm": name})
        self.assertEqual(show["state"], "stopped")
        self.assertEqual(show["pid"], 0)

        # start: stopped -> starting -> running
        r = self.start(c, name, accel)
        pid = r["pid"]
        self.assertEqual(r["uuid"], uuid)
        for ev in c.events:
            self.assertEqual(ev["data"]["uuid"], uuid)
        show = c.command("vm-show", {"vm": uuid})  # by uuid too
        self.assertEqual(show["name"], name)
        self.assertEqual(show["state"], "running")
        self.assertEqual(show["pid"], pid)
        self.assertEqual(show["accel"], accel)
        self.assertGreater(show["started_at"], 0)

        # console: banner, then echo
        con = self.console(name)
        self.assertEqual(con.reply["return"], {"vm": name, "port": 0,
                                               "mode": "rw"})
        pos = con.read_until(BOOT_BANNER, t(30))
        con.write(b"hello")
        pos = con.read_until(b"hello", t(10), start=pos)

        # pause: state, event, and the guest no longer echoes
        mark = len(c.events)
        self.assertEqual(c.command("vm-pause", {"vm": name}),
                         {"state": "paused"})
        c.wait_state(name, "paused", t(10), since=mark)
        self.assertEqual(c.transitions(name, mark),
                         [("running", "paused", "pause")])
        self.assertEqual(self.vm_state(c, name), "paused")
        st = c.command("vm-monitor", {"vm": name, "command": "query-status"})
        self.assertEqual(st["status"], "paused")
        self.assertFalse(st["running"])
        con.write(b"Q")
        got = con.read_for(t(1.5))
        self.assertNotIn(b"Q", got, "a paused guest echoed typed input")

        # resume: the echo comes back
        mark = len(c.events)
        self.assertEqual(c.command("vm-resume", {"vm": name}),
                         {"state": "running"})
        c.wait_state(name, "running", t(10), since=mark)
        self.assertEqual(c.transitions(name, mark),
                         [("paused", "running", "resume")])
        con.write(b"world")
        pos = con.read_until(b"world", t(10), start=pos)

        # reset: the BIOS runs again and the banner comes back; same QEMU
        self.assertEqual(c.command("vm-reset", {"vm": name}), {})
        pos = con.read_until(BOOT_BANNER, t(30), start=pos)
        con.write(b"again")
        pos = con.read_until(b"again", t(10), start=pos)
        self.assertEqual(self.vm_state(c, name), "running")
        self.assertEqual(c.command("vm-show", {"vm": name})["pid"], pid)

        # monitor pass-through
        st = c.command("vm-monitor", {"vm": name, "command": "query-status"})
        self.assertEqual(st["status"], "running")
        self.assertTrue(st["running"])
        err = c.error("vm-monitor", {"vm": name, "command": "no-such-qmp"})
        self.assertIn(err["class"], ("CommandNotFound", "GenericError"))

        # commands that do not fit a running VM
        self.assertCmdError(c, "vm-start", {"vm": name}, "InvalidState")
        self.assertCmdError(c, "vm-undefine", {"vm": name}, "InvalidState")
        self.assertCmdError(c, "vm-resume", {"vm": name}, "InvalidState")

        # events are never mixed into a console stream
        self.assertNotIn(b'"event"', con.data)
        self.assertNotIn(b"VM_STATE", con.data)

        # stop with timeout 1: the boot sector ignores ACPI, so forced
        mark = len(c.events)
        t0 = time.monotonic()
        r = c.command("vm-stop", {"vm": name, "timeout": 1}, timeout=t(30))
        elapsed = time.monotonic() - t0
        self.assertEqual(r, {"name": name, "uuid": uuid, "state": "stopped",
                             "forced": True})
        self.assertGreaterEqual(elapsed, 0.9, "stop returned before timeout")
        self.assertLess(elapsed, t(10), "stop took far longer than timeout")
        c.wait_state(name, "stopped", t(5), since=mark)
        self.assertEqual(c.transitions(name, mark),
                         [("running", "stopping", "stop"),
                          ("stopping", "stopped", "stop")])
        self.wait_for(lambda: not pid_alive(pid), t(5), "QEMU %d gone" % pid)
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"], show["started_at"]),
                         ("stopped", 0, 0))
        self.assertTrue(con.wait_eof(t(5)),
                        "console viewer not closed when the VM stopped")
        # commands that do not fit a stopped VM
        for cmd in ("vm-stop", "vm-kill", "vm-pause", "vm-resume",
                    "vm-reset"):
            self.assertCmdError(c, cmd, {"vm": name}, "InvalidState")
        self.assertCmdError(c, "console-attach", {"vm": name}, "InvalidState")
        self.assertCmdError(c, "vm-monitor",
                            {"vm": name, "command": "query-status"},
                            "InvalidState")

        # start again: a new QEMU, the banner again
        r = self.start(c, name, accel)
        self.assertNotEqual(r["pid"], pid)
        pid = r["pid"]
        con = self.console(name)
        pos = con.read_until(BOOT_BANNER, t(30))

        # kill: the stopped event comes quickly
        mark = len(c.events)
        t0 = time.monotonic()
        r = c.command("vm-kill", {"vm": name}, timeout=t(10))
        self.assertEqual(r, {"name": name, "uuid": uuid, "state": "stopped"})
        i, ev = c.wait_state(name, "stopped", t(5), since=mark)
        took = c.event_times[i] - t0
        self.assertLess(took, 2.0, "vm-kill -> stopped event took %.3f s"
                        % took)
        self.assertEqual(c.transitions(name, mark),
                         [("running", "stopped", "kill")])
        self.wait_for(lambda: not pid_alive(pid), t(2), "QEMU %d gone" % pid)
        self.assertTrue(con.wait_eof(t(5)))

        # undefine now works, and the VM is gone
        self.assertEqual(c.command("vm-undefine", {"vm": name}), {})
        self.assertCmdError(c, "vm-show", {"vm": name}, "VmNotFound", name)
        self.assertEqual([v for v in c.command("vm-list")
                          if v["name"] == name], [])

    # -- a QEMU killed from outside is a crash ------------------------------

    def test_crash(self):
        c = self.client()
        name = "crashy"
        c.command("vm-define", {"config": bootsector_config(name)})
        r = self.start(c, name, "tcg")
        pid = r["pid"]
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))

        mark = len(c.events)
        os.kill(pid, signal.SIGKILL)
        i, ev = c.wait_state(name, "crashed", t(5), since=mark)
        self.assertEqual(ev["data"]["old"], "running")
        self.assertEqual(ev["data"]["reason"], "crash")
        self.assertEqual(c.transitions(name, mark),
                         [("running", "crashed", "crash")])
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("crashed", 0))
        listed = [v for v in c.command("vm-list") if v["name"] == name]
        self.assertEqual([(v["state"], v["pid"]) for v in listed],
                         [("crashed", 0)])
        self.assertTrue(con.wait_eof(t(5)))

        # a crashed VM can start again ...
        r = self.start(c, name, "tcg", old="crashed")
        self.assertTrue(pid_alive(r["pid"]))
        # ... a paused one crashes as well ...
        self.assertEqual(c.command("vm-pause", {"vm": name}),
                         {"state": "paused"})
        mark = len(c.events)
        os.kill(r["pid"], signal.SIGKILL)
        i, ev = c.wait_state(name, "crashed", t(5), since=mark)
        self.assertEqual((ev["data"]["old"], ev["data"]["reason"]),
                         ("paused", "crash"))
        # ... and a crashed VM can be undefined
        self.assertEqual(c.command("vm-undefine", {"vm": name}), {})
        self.assertCmdError(c, "vm-show", {"vm": name}, "VmNotFound")

    # -- edge cases of the life cycle ---------------------------------------

    def test_disk_path_needing_escapes(self):
        """A path with commas, '=', spaces and quotes reaches QEMU as one
        file name (QEMU's option lists double commas)."""
        c = self.client()
        disk = os.path.join(self.tmp, "a b,format=qcow2,x='\"=.img")
        c.command("vm-define", {"config": vmdtest.bootsector_at(
            disk, "odd-path")})
        self.start(c, "odd-path", "tcg")
        self.console("odd-path").read_until(BOOT_BANNER, t(30))
        self.assertEqual(c.command("vm-show", {"vm": "odd-path"})["config"]
                         ["disks"][0]["path"], disk)

    def test_virtio_qcow2_and_nics(self):
        """Disk boot from virtio (raw and qcow2) and user-mode NICs of each
        model: the guest boots and QEMU has the NICs with the MAC asked."""
        c = self.client()
        qcow2 = os.path.join(self.tmp, "boot.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2",
                        BOOTSECTOR, qcow2], check=True, timeout=t(30))
        vmdtest.for_qemu(qcow2)
        cases = [("virtio-raw", {"path": vmdtest.bootsector_disk(),
                                 "format": "raw", "bus": "virtio"}),
                 ("virtio-qcow2", {"path": qcow2, "format": "qcow2",
                                   "bus": "virtio"})]
        for i, (name, disk) in enumerate(cases):
            with self.subTest(disk=name):
                # a MAC is one NIC's on the host: one per VM
                mac = "52:54:00:12:34:%02x" % (0x56 + i)
                nics = [{"type": "user"},
                        {"type": "user", "model": "e1000", "mac": mac},
                        {"type": "user", "model": "rtl8139"}]
                c.command("vm-define", {"config": bootsector_config(
                    name, disks=[disk], nics=nics)})
                given = [n["mac"] for n in c.command(
                    "vm-show", {"vm": name})["config"]["nics"]]
                self.start(c, name, "tcg")
                self.console(name).read_until(BOOT_BANNER, t(30))
                info = c.command("vm-monitor", {
                    "vm": name, "command": "human-monitor-command",
                    "arguments": {"command-line": "info network"}})
                for model in ("virtio-net-pci", "e1000", "rtl8139"):
                    self.assertIn(model, info)
                for m in given:  # the one asked and those vmd gave
                    self.assertIn("macaddr=%s" % m, info)
                self.assertEqual(info.count("type=user"), 3, info)
                c.command("vm-kill", {"vm": name}, timeout=t(30))

    def test_two_guests_apart(self):
        c = self.client()
        for name in ("left", "right"):
            c.command("vm-define", {"config": bootsector_config(name)})
            self.start(c, name, "tcg")
        left, right = self.console("left"), self.console("right")
        pl = left.read_until(BOOT_BANNER, t(30))
        pr = right.read_until(BOOT_BANNER, t(30))
        left.write(b"only-left")
        right.write(b"only-right")
        left.read_until(b"only-left", t(10), pl)
        right.read_until(b"only-right", t(10), pr)
        self.assertEqual(self.host(c)["vms"], {"defined": 2, "running": 2})
        left.read_for(t(0.5))
        right.read_for(t(0.5))
        self.assertNotIn(b"only-right", left.data)
        self.assertNotIn(b"only-left", right.data)
        c.command("vm-kill", {"vm": "left"})
        self.assertTrue(left.wait_eof(t(5)))
        self.assertEqual(self.vm_state(c, "right"), "running")
        self.assertEqual(self.host(c)["vms"], {"defined": 2, "running": 1})
        right.write(b"still")
        right.read_until(b"still", t(10), pr)

    def test_kill_while_stop_pending(self):
        a = self.client()
        b = self.client()
        name = "stubborn"
        a.command("vm-define", {"config": bootsector_config(name)})
        self.start(a, name, "tcg")
        # the boot sector ignores ACPI: this stop would take 60 s
        a.send({"execute": "vm-stop", "arguments": {"vm": name,
                                                   "timeout": 60},
                "id": "stop"})
        b.wait_state(name, "stopping", t(10))
        self.assertCmdError(b, "vm-stop", {"vm": name}, "InvalidState")
        t0 = time.monotonic()
        r = b.command("vm-kill", {"vm": name}, timeout=t(10))
        self.assertEqual(r["state"], "stopped")
        self.assertLess(time.monotonic() - t0, 2.0)
        reply = a.recv_reply(t(10))
        self.assertEqual(reply.get("id"), "stop")
        self.assertEqual(reply.get("return", {}).get("forced"), True, reply)
        self.assertEqual(self.vm_state(b, name), "stopped")

    def test_requester_vanishes(self):
        """A client that leaves while its start or stop is under way: the
        operation completes and vmd keeps serving."""
        c = self.client()
        name = "orphaned"
        c.command("vm-define", {"config": bootsector_config(name)})
        a = vmdtest.Client(self.vmd.socket)
        a.send({"execute": "vm-start", "arguments": {"vm": name}, "id": 1})
        a.close()
        c.wait_state(name, "running", t(30))
        mark = len(c.events)
        a = vmdtest.Client(self.vmd.socket)
        a.send({"execute": "vm-stop", "arguments": {"vm": name, "timeout": 1},
                "id": 2})
        a.close()
        c.wait_state(name, "stopped", t(10), since=mark)
        self.assertTrue(self.vmd.alive())
        self.assertEqual(self.vm_state(c, name), "stopped")
        self.start(c, name, "tcg")

    def test_monitor_pause_tracked(self):
        """QEMU's own stop/cont through vm-monitor moves vmd's state too."""
        c = self.client()
        name = "monitored"
        c.command("vm-define", {"config": bootsector_config(name)})
        self.start(c, name, "tcg")
        mark = len(c.events)
        c.command("vm-monitor", {"vm": name, "command": "stop"})
        c.wait_state(name, "paused", t(10), since=mark)
        self.assertEqual(self.vm_state(c, name), "paused")
        self.assertEqual(c.command("vm-resume", {"vm": name}),
                         {"state": "running"})
        mark = len(c.events)
        c.command("vm-monitor", {"vm": name, "command": "stop"})
        c.wait_state(name, "paused", t(10), since=mark)
        c.command("vm-monitor", {"vm": name, "command": "cont"})
        c.wait_state(name, "running", t(10), since=mark)
        self.assertEqual(self.vm_state(c, name), "running")

    def test_guest_power_off(self):
        """The guest powering itself off is a clean stop (reason
        guest-shutdown), and QEMU ends although it runs with -no-shutdown."""
        c = self.client()
        name = "poweroff"
        c.command("vm-define", {"config": bootsector_config(name)})
        r = self.start(c, name, "tcg")
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))
        mark = len(c.events)
        con.write(b"\x1f")      # the boot sector's ACPI power-off key
        _, ev = c.wait_state(name, "stopped", t(10), since=mark)
        self.assertEqual(ev["data"]["reason"], "guest-shutdown")
        deadline = time.monotonic() + t(5)
        while pid_alive(r["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(pid_alive(r["pid"]))

    def test_monitor_quit_is_a_host_stop(self):
        """QEMU told to quit by the operator is a clean stop, not a crash."""
        c = self.client()
        name = "quitter"
        c.command("vm-define", {"config": bootsector_config(name)})
        self.start(c, name, "tcg")
        mark = len(c.events)
        try:
            c.command("vm-monitor", {"vm": name, "command": "quit"})
        except vmdtest.QMPError:
            pass  # QEMU may close the monitor before it answers
        _, ev = c.wait_state(name, "stopped", t(10), since=mark)
        self.assertEqual(ev["data"]["reason"], "host", ev)
        self.assertEqual(self.vm_state(c, name), "stopped")

    def test_update_applies_at_next_start(self):
        c = self.client()
        name = "grows"
        c.command("vm-define", {"config": bootsector_config(name)})
        self.start(c, name, "tcg")
        cfg = c.command("vm-show", {"vm": name})["config"]
        cfg.update(memory_mib=64, labels={"plan": "bigger"})
        c.command("vm-update", {"vm": name, "config": cfg})
        show = c.command("vm-show", {"vm": name})
        self.assertEqual(show["config"]["memory_mib"], 64)
        self.assertEqual(show["state"], "running")
        mem = c.command("vm-monitor", {"vm": name,
                                       "command": "query-memory-size-summary"})
        self.assertEqual(mem["base-memory"], 32 << 20)
        c.command("vm-kill", {"vm": name})
        self.start(c, name, "tcg")
        mem = c.command("vm-monitor", {"vm": name,
                                       "command": "query-memory-size-summary"})
        self.assertEqual(mem["base-memory"], 64 << 20)

    # -- events reach every negotiated session -----------------------------

    def test_events_to_every_session(self):
        a = self.client()
        b = self.client()
        idle = self.client(negotiate=False)
        name = "watched"
        a.command("vm-define", {"config": bootsector_config(name)})
        self.start(a, name, "tcg")
        b.wait_state(name, "running", t(10))
        self.assertEqual(b.transitions(name), a.transitions(name))
        try:
            a.command("vm-kill", {"vm": name})
        except QMPError as e:
            self.fail("vm-kill: %s" % e)
        b.wait_state(name, "stopped", t(10))
        idle.drain(t(0.5))
        self.assertEqual(idle.events, [],
                         "a session that did not negotiate got events")
        self.assertEqual(idle.buf, b"")


if __name__ == "__main__":
    vmdtest.main()
