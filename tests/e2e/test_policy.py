"""End-to-end: the restart policy, with real QEMU processes killed from
outside.  on-failure restarts a crashed guest with growing delays and gives
up after restart_max in the window; always also restarts after the guest
powers off; no never restarts; vm-kill of a crashed VM waiting for its
restart cancels it."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402


class PolicyTest(vmdtest.VmdTestCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.c = self.client()

    def restart_event(self, name, action, since):
        return self.c.wait_event(
            lambda e: e.get("event") == "VM_RESTART"
            and e["data"]["vm"] == name and e["data"]["action"] == action,
            t(30), since)

    def crash(self, name):
        pid = self.c.command("vm-show", {"vm": name})["pid"]
        self.assertGreater(pid, 0)
        mark = len(self.c.events)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _, ev = self.c.wait_state(name, "crashed", t(10), since=mark)
        self.assertLess(time.monotonic() - t0, 1.0, "crash noticed late")
        self.assertEqual(ev["data"]["reason"], "crash")
        return mark, pid

    def test_on_failure_backoff_and_give_up(self):
        name = "phoenix"
        self.c.command("vm-define", {"config": bootsector_config(
            name, restart_policy="on-failure", restart_max=2,
            restart_window_s=600)})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        delays = []
        for attempt in (1, 2):
            mark, old_pid = self.crash(name)
            _, ev = self.restart_event(name, "scheduled", mark)
            self.assertEqual(ev["data"]["attempt"], attempt)
            delays.append(ev["data"]["delay_ms"])
            t0 = time.monotonic()
            self.c.wait_state(name, "running", t(30), since=mark)
            waited = time.monotonic() - t0
            self.assertGreater(waited, delays[-1] / 1000 * 0.8)
            new_pid = self.c.command("vm-show", {"vm": name})["pid"]
            self.assertNotEqual(new_pid, old_pid)
            self.console(name).read_until(BOOT_BANNER, t(30))
        self.assertEqual(delays, [1000, 2000], "exponential backoff")
        mark, _ = self.crash(name)
        _, ev = self.restart_event(name, "gave-up", mark)
        self.assertEqual(ev["data"]["attempt"], 3)
        time.sleep(t(2.5))
        self.assertEqual(self.c.command("vm-show", {"vm": name})["state"],
                         "crashed", "restarted after giving up")

    def test_no_policy_stays_crashed(self):
        name = "mortal"
        self.c.command("vm-define", {"config": bootsector_config(name)})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        mark, _ = self.crash(name)
        time.sleep(t(1.5))
        self.assertEqual(self.c.command("vm-show", {"vm": name})["state"],
                         "crashed")
        self.assertFalse([e for e in self.c.events[mark:]
                          if e.get("event") == "VM_RESTART"])

    def test_kill_cancels_pending_restart(self):
        name = "cancelled"
        self.c.command("vm-define", {"config": bootsector_config(
            name, restart_policy="always")})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        mark, _ = self.crash(name)
        self.restart_event(name, "scheduled", mark)
        r = self.c.command("vm-kill", {"vm": name})
        self.assertEqual(r["state"], "stopped")
        time.sleep(t(1.5))
        self.assertEqual(self.c.command("vm-show", {"vm": name})["state"],
                         "stopped", "restarted although killed by hand")

    def test_user_stop_is_not_restarted(self):
        name = "resting"
        self.c.command("vm-define", {"config": bootsector_config(
            name, restart_policy="always")})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        mark = len(self.c.events)
        self.c.command("vm-stop", {"vm": name, "timeout": 0}, timeout=t(30))
        time.sleep(t(1.5))
        self.assertEqual(self.c.command("vm-show", {"vm": name})["state"],
                         "stopped")
        self.assertFalse([e for e in self.c.events[mark:]
                          if e.get("event") == "VM_RESTART"])


if __name__ == "__main__":
    vmdtest.main()
