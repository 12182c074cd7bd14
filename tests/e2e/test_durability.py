"""End-to-end: vmd acknowledges a change only after the WAL is on disk.

A crash test cannot see a missing fsync (after SIGKILL the data is still in
the page cache), so strace watches the running vmd: for each define, update
and undefine, an fsync or fdatasync of vmd.db-wal must come after vmd read
the request and before it wrote the reply.  tests/unit/test_commit.c checks
the same order inside commit.c and store.c; this checks that the handlers
go through it."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402

STRACE = shutil.which("strace")
READS = ("read", "recvfrom", "recvmsg", "readv")
WRITES = ("write", "writev", "sendmsg", "sendto")
SYNCS = ("fsync", "fdatasync")
CALL = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)$")


class DurabilityTest(vmdtest.VmdTestCase):

    def trace_vmd(self):
        """strace attached to vmd; returns (process, output path)."""
        if not STRACE:
            self.fail("strace is not installed (./run.sh installs it)")
        out = os.path.join(self.tmp, "strace.out")
        calls = ",".join(READS + WRITES + SYNCS)
        p = subprocess.Popen([STRACE, "-f", "-p", str(self.vmd.proc.pid), "-y",
                              "-s", "8192", "-e", "trace=" + calls,
                              "-o", out], stdin=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        line = p.stderr.readline()   # "strace: Process N attached"
        self.assertIn("attached", line, "strace did not attach: %r" % line)
        return p, out

    def lines(self, p, out):
        p.terminate()
        p.wait(t(10))
        with open(out, errors="replace") as f:
            return f.read().splitlines()

    def request(self, c, tag, cmd, args):
        """Send with the id first, so the traced read shows it at once."""
        c.send_raw(json.dumps({"id": tag, "execute": cmd, "arguments": args}))
        reply = c.recv_reply(timeout=t(30))
        self.assertIn("return", reply, "%s: %r" % (cmd, reply))
        self.assertEqual(reply.get("id"), tag)

    def assert_synced_before_reply(self, lines, tag):
        token = '\\"%s\\"' % tag      # as strace escapes the JSON
        read_at = reply_at = None
        for i, line in enumerate(lines):
            m = CALL.match(line)
            if not m or token not in line:
                continue
            if m.group(1) in READS and read_at is None:
                read_at = i
            elif m.group(1) in WRITES and read_at is not None:
                reply_at = i
                break
        self.assertIsNotNone(read_at, "%s: the request's read is not in "
                             "the trace" % tag)
        self.assertIsNotNone(reply_at, "%s: the reply's write is not in "
                             "the trace" % tag)
        synced = [ln for ln in lines[read_at + 1:reply_at]
                  if CALL.match(ln) and CALL.match(ln).group(1) in SYNCS
                  and "vmd.db-wal>" in ln and ln.rstrip().endswith("= 0")]
        shown = "\n".join(lines[read_at:reply_at + 1])[:3000]
        self.assertTrue(synced, "%s: no fsync of vmd.db-wal between the "
                        "request and its reply:\n%s" % (tag, shown))

    def test_define_update_undefine_synced_before_reply(self):
        c = self.client()
        cfg = {"name": "durable", "memory_mib": 32}
        p, out = self.trace_vmd()
        self.request(c, "dur-define", "vm-define", {"config": cfg})
        cfg["labels"] = {"gen": "2"}
        self.request(c, "dur-update", "vm-update",
                     {"vm": "durable", "config": cfg})
        self.request(c, "dur-undefine", "vm-undefine", {"vm": "durable"})
        time.sleep(0.2)   # strace writes its last lines
        lines = self.lines(p, out)
        for tag in ("dur-define", "dur-update", "dur-undefine"):
            self.assert_synced_before_reply(lines, tag)


if __name__ == "__main__":
    vmdtest.main()
