"""End-to-end: the store survives SIGKILL at any moment.

A storm of vm-define, vm-update and vm-undefine runs while vmd is killed
with SIGKILL at random moments; after each restart every acknowledged
change is there (the one in flight may or may not be), PRAGMA
integrity_check says ok, and nothing half-written is visible."""

import os
import random
import sqlite3
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402
from vmdproto import ConnectionClosed  # noqa: E402

CYCLES = 8


class CrashSafeTest(vmdtest.VmdTestCase):

    def storm(self, stop, killed, acked, inflight, errors):
        """Define/update/undefine until vmd is killed.  acked: name ->
        labels dict (None: undefined) as last acknowledged; inflight: the
        op sent but not answered; errors: anything else that went wrong (an
        error reply, a connection lost before the kill, a timeout)."""
        try:
            c = vmdtest.Client(self.vmd.socket)
        except Exception as e:
            errors.append("connect: %r" % (e,))
            return
        rnd = random.Random()
        try:
            while not stop.is_set():
                name = "s%03d" % rnd.randrange(40)
                cur = acked.get(name)
                if cur is None:
                    labels = {"gen": str(rnd.randrange(10 ** 6))}
                    op = ("vm-define", {"config": {
                        "name": name, "memory_mib": 32, "labels": labels}})
                elif rnd.random() < 0.3:
                    labels = None
                    op = ("vm-undefine", {"vm": name})
                else:
                    labels = {"gen": str(rnd.randrange(10 ** 6))}
                    op = ("vm-update", {"vm": name, "config": {
                        "name": name, "memory_mib": 32, "labels": labels}})
                inflight[:] = [name, labels]
                try:
                    reply = c.execute(op[0], op[1], timeout=t(10))
                except (ConnectionClosed, BrokenPipeError,
                        ConnectionResetError):
                    if killed.is_set():
                        return   # vmd was killed under us: that is the point
                    raise
                if "return" not in reply:
                    errors.append("%s %s: error reply %r"
                                  % (op[0], name, reply))
                    return
                acked[name] = labels
                self.acks += 1
                inflight[:] = []
        except Exception:
            errors.append(traceback.format_exc())
        finally:
            c.close()

    def check_store(self, acked, inflight):
        c = self.client()
        shown = {}
        for vm in c.command("vm-list"):
            shown[vm["name"]] = vm["labels"]
        for name, labels in acked.items():
            ok = [labels]
            if inflight and inflight[0] == name:
                ok.append(inflight[1])   # the unanswered op may have landed
            got = shown.get(name)
            self.assertIn(got, ok, "VM %s: store has %r, acknowledged %r"
                          % (name, got, labels))
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone(),
                             ("ok",))
            rows = db.execute("SELECT name, config FROM vms").fetchall()
        finally:
            db.close()
        for name, config in rows:   # nothing half-written
            self.assertTrue(config.startswith("{") and config.endswith("}"),
                            (name, config))
        # fold what the store says into acked: the in-flight op's outcome
        for name in list(acked):
            acked[name] = shown.get(name)
        for name, labels in shown.items():
            acked[name] = labels

    def test_sigkill_during_storm(self):
        acked, rnd = {}, random.Random(7)
        self.acks = 0
        for cycle in range(CYCLES):
            stop, killed = threading.Event(), threading.Event()
            inflight, errors = [], []
            th = threading.Thread(target=self.storm,
                                  args=(stop, killed, acked, inflight, errors))
            th.start()
            time.sleep(rnd.uniform(0.05, 0.4))
            killed.set()
            self.vmd.proc.kill()          # SIGKILL, mid-storm
            self.vmd.proc.wait(t(10))
            stop.set()
            th.join(t(20))
            self.assertFalse(th.is_alive(), "storm thread hung")
            self.assertEqual(errors, [], "cycle %d: the storm failed" % cycle)
            self.vmd.start()
            self.check_store(acked, inflight)
        self.assertGreater(self.acks, 20 * CYCLES, "too few changes "
                           "acknowledged for the kills to hit a busy store")
        sys.stderr.write("%d changes acknowledged over %d SIGKILLs\n"
                         % (self.acks, CYCLES))


if __name__ == "__main__":
    vmdtest.main()
