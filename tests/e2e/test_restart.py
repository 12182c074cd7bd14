"""End-to-end: definitions survive vmd restarts.

A clean SIGTERM keeps all definitions exactly; a SIGKILL right after an
acknowledged define/update/undefine keeps what was acknowledged (the store
commits before vmd replies).  Guests outlive vmd, and a restarted vmd
finds them again (ARCHITECTURE.md, "Processes")."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, INITRAMFS, bootsector_config,
                     pid_alive, t)  # noqa: E402


def twenty_configs(tmp):
    """Twenty definitions using much of VmConfig, each with labels."""
    disk2 = os.path.join(tmp, "data.img")
    with open(disk2, "wb") as f:
        f.write(b"\0" * 4096)
    kernel = vmdtest.newest_kernel() or BOOTSECTOR
    out = []
    for i in range(20):
        cfg = {"name": "vm-%02d" % i,
               "cpus": 1 + i % 4,
               "memory_mib": 32 * (1 + i),
               "labels": {"owner": "customer-%d" % (i % 3), "plan": "p%d" % i,
                          "note": "caf\u00e9 \"quoted\" \\ / %d" % i}}
        if i % 2 == 0:
            cfg["disks"] = [{"path": BOOTSECTOR, "format": "raw", "bus": "ide"}]
        if i % 3 == 0:
            cfg["disks"] = cfg.get("disks", []) + [
                {"path": disk2, "format": "raw", "bus": "virtio",
                 "readonly": True}]
        if i % 4 == 1:
            cfg["boot"] = {"kernel": kernel, "cmdline": "console=ttyS0 x=%d" % i}
            if os.path.exists(INITRAMFS):
                cfg["boot"]["initrd"] = INITRAMFS
        if i % 5 == 2:
            cfg["nics"] = [{"type": "user", "model": "e1000",
                            "mac": "52:54:00:12:34:%02x" % i}]
        if i % 6 == 3:
            cfg["accel"] = "tcg"
            cfg["autostart"] = False
        if i % 7 == 4:
            cfg["uuid"] = "%08x-0000-4000-8000-%012x" % (i, i)
        if i == 5:
            cfg["serial"] = [{"type": "console"}, {"type": "console"}]
            cfg["machine"] = "q35"
        out.append(cfg)
    return out


class RestartTest(vmdtest.VmdTestCase):

    def snapshot(self, c):
        """name -> vm-show reply minus what changes with time."""
        out = {}
        for vm in c.command("vm-list"):
            show = c.command("vm-show", {"vm": vm["name"]})
            out[vm["name"]] = {k: show[k] for k in ("uuid", "config",
                                                   "created", "updated",
                                                   "state")}
        return out

    def restart(self, sig):
        rc = self.vmd.stop(sig)
        if sig == signal.SIGTERM:
            self.assertEqual(rc, 0, "vmd exit status after SIGTERM")
        else:
            self.assertEqual(rc, -sig)
        self.vmd.start()
        return self.client()

    def test_sigterm_keeps_definitions(self):
        c = self.client()
        configs = twenty_configs(self.tmp)
        for cfg in configs:
            r = c.command("vm-define", {"config": cfg})
            self.assertEqual(r["name"], cfg["name"])
            if "uuid" in cfg:
                self.assertEqual(r["uuid"], cfg["uuid"])
        before = self.snapshot(c)
        self.assertEqual(len(before), 20)
        for cfg in configs:
            shown = before[cfg["name"]]["config"]
            # what was given comes back (vmd fills in defaults and the uuid)
            vmdtest.assert_subset(self, cfg, shown, cfg["name"])
        listed = c.command("vm-list")
        c.close()

        c = self.restart(signal.SIGTERM)
        after = self.snapshot(c)
        self.assertEqual(after, before)
        self.assertEqual(c.command("vm-list"), listed)
        # and once more, through a second restart
        c.close()
        c = self.restart(signal.SIGTERM)
        self.assertEqual(self.snapshot(c), before)

    def test_sigkill_keeps_what_was_acknowledged(self):
        c = self.client()
        # define: the reply is read, then vmd dies at once
        r = c.command("vm-define", {"config": bootsector_config(
            "k1", labels={"v": "1"})})
        os.kill(self.vmd.pid, signal.SIGKILL)
        c.close()
        c = self.restart(signal.SIGKILL)
        show = c.command("vm-show", {"vm": "k1"})
        self.assertEqual(show["uuid"], r["uuid"])
        self.assertEqual(show["config"]["labels"], {"v": "1"})

        # several defines in a row, kill after the last reply
        for i in range(5):
            c.command("vm-define", {"config": bootsector_config("burst%d" % i)})
        os.kill(self.vmd.pid, signal.SIGKILL)
        c.close()
        c = self.restart(signal.SIGKILL)
        names = [v["name"] for v in c.command("vm-list")]
        self.assertEqual(names, sorted(["k1"] + ["burst%d" % i
                                                 for i in range(5)]))

        # update
        cfg = dict(show["config"], labels={"v": "2"}, cpus=3)
        r2 = c.command("vm-update", {"vm": "k1", "config": cfg})
        self.assertEqual(r2["uuid"], r["uuid"])
        os.kill(self.vmd.pid, signal.SIGKILL)
        c.close()
        c = self.restart(signal.SIGKILL)
        show = c.command("vm-show", {"vm": "k1"})
        self.assertEqual((show["config"]["labels"], show["config"]["cpus"]),
                         ({"v": "2"}, 3))

        # rename through update
        cfg = dict(show["config"], name="k1-renamed")
        c.command("vm-update", {"vm": "k1", "config": cfg})
        os.kill(self.vmd.pid, signal.SIGKILL)
        c.close()
        c = self.restart(signal.SIGKILL)
        self.assertEqual(c.command("vm-show", {"vm": r["uuid"]})["name"],
                         "k1-renamed")
        self.assertCmdError(c, "vm-show", {"vm": "k1"}, "VmNotFound")

        # undefine
        self.assertEqual(c.command("vm-undefine", {"vm": "k1-renamed"}), {})
        os.kill(self.vmd.pid, signal.SIGKILL)
        c.close()
        c = self.restart(signal.SIGKILL)
        self.assertCmdError(c, "vm-show", {"vm": r["uuid"]}, "VmNotFound")
        self.assertEqual(len(c.command("vm-list")), 5)

    def test_second_instance_refused(self):
        """A second vmd on the same socket and state must not take over."""
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("mine")})
        log_path = os.path.join(self.tmp, "vmd2.log")
        with open(log_path, "wb") as log:
            other = subprocess.Popen(self.vmd.argv(), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log)
        self.addCleanup(lambda: other.poll() is None and other.kill())
        try:
            rc = other.wait(t(20))
        except subprocess.TimeoutExpired:
            other.kill()
            other.wait(t(10))
            self.fail("a second vmd on the same socket kept running")
        self.assertNotEqual(rc, 0)
        with open(log_path, errors="replace") as f:   # the state dir's lock
            self.assertIn(self.vmd.state_dir, f.read())
        # the first one still owns its socket
        self.assertTrue(self.vmd.alive())
        c2 = self.client()
        self.assertEqual([v["name"] for v in c2.command("vm-list")], ["mine"])
        self.assertEqual(c.command("vm-show", {"vm": "mine"})["name"], "mine")

    def test_guest_outlives_vmd(self):
        c = self.client()
        name = "survivor"
        c.command("vm-define", {"config": bootsector_config(name)})
        pid = c.command("vm-start", {"vm": name}, timeout=t(60))["pid"]
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(30))
        c.close()
        con.close()

        rc = self.vmd.stop(signal.SIGTERM)
        self.assertEqual(rc, 0)
        time.sleep(t(0.5))
        self.assertTrue(pid_alive(pid), "QEMU died with vmd")

        self.vmd.start()
        c = self.client()
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("running", pid))
        # console and monitor are connected again
        con = self.console(name)
        con.write(b"back")
        con.read_until(b"back", t(10))
        st = c.command("vm-monitor", {"vm": name, "command": "query-status"})
        self.assertEqual(st["status"], "running")
        # and vmd still controls it
        mark = len(c.events)
        c.command("vm-kill", {"vm": name}, timeout=t(10))
        c.wait_state(name, "stopped", t(5), since=mark)
        self.wait_for(lambda: not pid_alive(pid), t(5), "QEMU gone")

    def test_autostart(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("auto",
                                                            autostart=True)})
        c.command("vm-define", {"config": bootsector_config("manual")})
        # defining does not start it; starting vmd does
        self.assertEqual(self.vm_state(c, "auto"), "stopped")
        c.close()
        c = self.restart(signal.SIGTERM)
        self.wait_for(lambda: self.vm_state(c, "auto") == "running", t(30),
                      "autostart VM running")
        self.assertEqual(self.vm_state(c, "manual"), "stopped")
        self.assertEqual(c.command("query-host", timeout=t(120))["vms"],
                         {"defined": 2, "running": 1})
        con = self.console("auto")
        con.read_until(BOOT_BANNER, t(30))
        # a running autostart VM is adopted, not started twice
        pid = c.command("vm-show", {"vm": "auto"})["pid"]
        c.close()
        c = self.restart(signal.SIGTERM)
        show = c.command("vm-show", {"vm": "auto"})
        self.assertEqual((show["state"], show["pid"]), ("running", pid))

    def test_autostart_bounded(self):
        """Many autostart VMs start at most 4 at a time (the audit log
        records every transition in order)."""
        c = self.client()
        names = ["many%d" % i for i in range(7)]
        for name in names:
            c.command("vm-define", {"config": bootsector_config(
                name, autostart=True)})
        c.close()
        c = self.restart(signal.SIGTERM)
        for name in names:
            self.wait_for(lambda: self.vm_state(c, name) == "running", t(60),
                          "%s running" % name)
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        rows = db.execute("SELECT vm_name, old_state, new_state FROM events "
                          "WHERE action = 'state' ORDER BY id").fetchall()
        db.close()
        starting, most = set(), 0
        for name, old, new in rows:
            if new == "starting":
                starting.add(name)
            elif old == "starting":
                starting.discard(name)
            most = max(most, len(starting))
        self.assertLessEqual(most, 4, rows)
        self.assertGreaterEqual(most, 1)

    def test_guest_powers_off_while_vmd_is_down(self):
        """A clean guest shutdown while no vmd watched is a stop, not a
        crash: QEMU waits in its shutdown state (-no-shutdown) until the
        next vmd reads it and ends it."""
        c = self.client()
        name = "sleeper"
        c.command("vm-define", {"config": bootsector_config(name)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.console(name).read_until(BOOT_BANNER, t(30))
        c.close()
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        # vmd is gone; type the boot sector's power-off key on its console,
        # through the console keeper as vmd would (keeper/keeper.h)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(os.path.join(self.vmd.run_dir, "vms", r["uuid"],
                                  "console0.keep"))
        sock.sendall(b"\x1f")
        sock.close()
        time.sleep(t(1))
        self.assertTrue(pid_alive(r["pid"]), "QEMU should wait, stopped")
        self.vmd.start()
        c = self.client()
        self.wait_for(lambda: self.vm_state(c, name) == "stopped", t(10),
                      "VM stopped after re-adoption")
        self.wait_for(lambda: not pid_alive(r["pid"]), t(10), "QEMU ended")
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        last = db.execute("SELECT new_state, reason FROM events WHERE "
                          "vm_name = ? AND action = 'state' ORDER BY id "
                          "DESC LIMIT 1", (name,)).fetchone()
        db.close()
        self.assertEqual(last, ("stopped", "guest-shutdown"))

    def test_start_cut_short_by_a_kill(self):
        """vmd is killed after spawning QEMU (paused, -S) but before its
        "cont": the next vmd finds QEMU waiting in "prelaunch" and
        finishes the start."""
        qemu = shutil.which("qemu-system-x86_64")
        slow = os.path.join(self.tmp, "slow")
        wrapper = os.path.join(self.tmp, "qemu-wrapper")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n[ -e %s ] && sleep 2\nexec %s \"$@\"\n"
                    % (slow, qemu))
        os.chmod(wrapper, 0o755)
        self.vmd.stop()
        self.vmd.qemu = wrapper
        self.vmd.start()
        c = self.client()
        name = "cut-short"
        c.command("vm-define", {"config": bootsector_config(name)})
        open(slow, "w").close()
        start = subprocess.Popen([vmdtest.VMCTL, "-s", self.vmd.socket,
                                  "start", name], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        self.wait_for(lambda: self.vm_state(c, name) == "starting", t(10),
                      "the VM to be starting")
        pid = c.command("vm-show", {"vm": name})["pid"]
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        start.wait(t(10))
        os.unlink(slow)
        time.sleep(t(2.5))  # the wrapper's sleep ends; QEMU waits in -S
        self.vmd.start()
        c = self.client()
        show = c.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("running", pid))
        self.console(name).read_until(BOOT_BANNER, t(30))
        status = c.command("vm-monitor", {"vm": name,
                                          "command": "query-status"})
        self.assertEqual(status["status"], "running")
        self.assertIn("vm %s: finishing the start" % name, self.vmd.log())

    def test_adopted_accel_is_what_qemu_runs(self):
        """A re-adopted guest whose config leaves accel out ("auto")
        reports the accelerator its QEMU really uses (QMP query-kvm), not
        one worked out again from the config: the next vmd is given a
        probe verdict opposite to the truth, and must not believe it."""
        c = self.client()
        name = "truth"
        cfg = bootsector_config(name)
        del cfg["accel"]
        c.command("vm-define", {"config": cfg})
        pid = c.command("vm-start", {"vm": name}, timeout=t(60))["pid"]
        truth = c.command("vm-show", {"vm": name})["accel"]
        kvm = c.command("vm-monitor", {"vm": name, "command": "query-kvm"})
        self.assertEqual(truth, "kvm" if kvm["enabled"] else "tcg")
        c.close()
        with open(vmdtest.PROBE_CACHE) as f:
            probe = json.load(f)
        probe["kvm_usable"] = truth != "kvm"
        probe["verdict"] = "kvm" if probe["kvm_usable"] else "tcg"
        lie = os.path.join(self.tmp, "probe-lie.json")
        with open(lie, "w") as f:
            json.dump(probe, f)
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        self.vmd.extra_args += ["--probe-cache", lie]
        self.vmd.start()
        c = self.client()
        self.assertEqual(c.command("query-host", timeout=t(120))["accel"]
                         ["verdict"], probe["verdict"])

        def reported():
            show = c.command("vm-show", {"vm": name})
            listed = [v for v in c.command("vm-list") if v["name"] == name]
            return show["pid"], show["accel"], listed[0]["accel"]
        self.wait_for(lambda: reported() == (pid, truth, truth), t(10),
                      "vm-show and vm-list to report %s" % truth)

    def test_guest_dies_while_vmd_is_down(self):
        c = self.client()
        name = "lost"
        c.command("vm-define", {"config": bootsector_config(name)})
        pid = c.command("vm-start", {"vm": name}, timeout=t(60))["pid"]
        c.close()
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        self.wait_for(lambda: not pid_alive(pid), t(5), "QEMU gone")
        self.vmd.start()
        c = self.client()
        show = c.command("vm-show", {"vm": name})
        self.assertIn(show["state"], ("crashed", "stopped"))
        self.assertEqual(show["pid"], 0)
        # and it starts again
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        c.command("vm-kill", {"vm": name})


if __name__ == "__main__":
    vmdtest.main()
