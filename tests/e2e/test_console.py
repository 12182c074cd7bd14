"""End-to-end: serial consoles that lose nothing (issue 4), on real guests.

The Linux guest (TCG) prints 8 MiB of a known pattern on ttyS0 (0.2 to 0.45
MiB/s here, 20 to 60 s): every viewer attached before receives exactly those bytes in
order, a viewer attaching half-way a contiguous tail that starts in its
scrollback, and the persistent log (console-read) all of them, exactly
once, also when vmd is killed with SIGKILL in the middle (or hangs first)
and started again.  A viewer that
never reads is dropped (CONSOLE_DETACH "too-slow") without slowing the
guest or the other viewers.  The boot-sector guest, which echoes every
byte, covers writers (Busy, force, read-only input), the audit events, tcp
ports, scrollback size and bad input.

The pattern is 131072 lines of 64 bytes as the guest's tty sends them
(ONLCR turns each newline into CR LF), written by `cat` of a file that awk
made beforehand, between the markers PAT-BEG2 and PAT-END4: the shell
echoes the typed command (which holds PAT-BEG$((1+1)), not PAT-BEG2) and
busybox sends ESC[6n before each prompt, so only what lies between the
markers is compared."""

import base64
import glob
import hashlib
import os
import pty
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, INITRAMFS, LINUX_BANNER, QMPError,
                     Schemas, TcpConsole, bootsector_config,
                     console_read_all, linux_config, pump, t)  # noqa: E402

BOOT_TIMEOUT = 90          # the Linux guest: ~6 s under TCG here
PATTERN_TIMEOUT = 240      # 8 MiB: ~19 s here
MiB = 1024 * 1024
SCROLLBACK = 256 * 1024    # the default scrollback_kib
MAX_PENDING = 4 * MiB      # a viewer further behind is dropped

FILL = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"
LINES = 8 * MiB // 64
BEG = b"PAT-BEG2\r\n"
END = b"PAT-END4"
GEN_CMD = (b"awk 'BEGIN{for(i=0;i<%d;i++)printf \"%%08d %s\\n\",i}' "
           b">/tmp/pat; echo GEN-OK$((3+4))\n" % (LINES, FILL))
GEN_DONE = b"GEN-OK7"
CAT_CMD = b"echo PAT-BEG$((1+1)); cat /tmp/pat; echo PAT-END$((2+2))\n"

_pattern = None


def pattern():
    """The 8 MiB the guest's tty sends for `cat /tmp/pat`."""
    global _pattern
    if _pattern is None:
        _pattern = b"".join(b"%08d %s\r\n" % (i, FILL) for i in range(LINES))
        assert len(_pattern) == 8 * MiB
    return _pattern


def sha(data):
    return hashlib.sha256(data).hexdigest()[:16]


def first_difference(a, b):
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # a[:lo] == b[:lo]
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class ConsoleTestCase(vmdtest.VmdTestCase):
    """Helpers shared by the console tests."""

    def assertPattern(self, section, what):
        """section is exactly the pattern (hash and length)."""
        want = pattern()
        if section != want:
            i = first_difference(section, want)
            self.fail("%s: %d bytes, sha256 %s; want %d bytes, sha256 %s; "
                      "first difference at byte %d (line %d): got %r, want %r"
                      % (what, len(section), sha(section), len(want),
                         sha(want), i, i // 64, bytes(section[i:i + 80]),
                         want[i:i + 80]))

    def between_markers(self, data, what):
        """What lies between the markers, each seen exactly once."""
        self.assertEqual(data.count(BEG), 1, "%s: PAT-BEG2 seen %d times"
                         % (what, data.count(BEG)))
        a = data.find(BEG) + len(BEG)
        b = data.find(END, a)
        self.assertGreaterEqual(b, 0, "%s: no PAT-END4 after PAT-BEG2" % what)
        self.assertEqual(data.count(END), 1, "%s: PAT-END4 seen %d times"
                         % (what, data.count(END)))
        return bytes(data[a:b])

    def boot_linux(self, c, name, **extra):
        vmdtest.require_guests(INITRAMFS)
        c.command("vm-define", {"config": linux_config(name, **extra)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        return r["pid"]

    def shell_ready(self, con, streams=()):
        """Type a harmless command until the guest's shell answers it: the
        first keystrokes may come before the shell reads its terminal."""
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        deadline = time.monotonic() + t(60)
        n = 0
        while True:
            n += 1
            start = len(con.data)
            con.write(b"echo RDY$((%d+1000))\n" % n)
            want = b"RDY%d" % (n + 1000)
            try:
                pump([con] + list(streams),
                     lambda: con.data.find(want, start) >= 0, t(5),
                     "the shell's answer")
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def make_pattern(self, con, streams=()):
        """Have the guest write the pattern to /tmp/pat (not yet shown)."""
        start = len(con.data)
        con.write(GEN_CMD)
        pump([con] + list(streams),
             lambda: con.data.find(GEN_DONE, start) >= 0, t(120),
             "the pattern file")

    def wait_log_end(self, c, name, port=None, timeout=PATTERN_TIMEOUT):
        """Until the last 64 KiB of the log hold PAT-END4."""
        args = {"vm": name}
        if port is not None:
            args["port"] = port
        deadline = time.monotonic() + t(timeout)
        while True:
            r = c.command("console-read", args)
            if END in base64.b64decode(r["data"]):
                return r
            if time.monotonic() > deadline:
                self.fail("the log does not get PAT-END4; it ends with %r"
                          % base64.b64decode(r["data"])[-200:])
            time.sleep(0.2)

    def log_end(self, c, name):
        return c.command("console-read", {"vm": name, "max_bytes": 1})["end"]

    def log_files(self, uuid, port=0):
        return sorted(glob.glob(os.path.join(
            self.vmd.state_dir, "logs", uuid, "ttyS%d.*.log" % port)))

    def check_event(self, ev):
        if not hasattr(self, "_schemas"):
            self._schemas = Schemas()
        self._schemas.check_event(ev)

    def console_events(self, c, name, kind, since=0):
        return [e["data"] for e in c.events[since:]
                if e.get("event") == kind and e["data"].get("vm") == name]

    def echo(self, writer, text, viewers=(), timeout=None):
        """Type text into the boot-sector guest; wait for its echo (each CR
        comes back as CR LF) on the writer and on every viewer."""
        want = text.replace(b"\r", b"\r\n")
        starts = [len(v.data) for v in viewers]
        start = len(writer.data)
        writer.write(text)
        writer.read_until(want, t(10) if timeout is None else timeout, start)
        for v, s in zip(viewers, starts):
            v.read_until(want, t(10), s)


class PatternTest(ConsoleTestCase):
    """8 MiB through the Linux guest's ttyS0."""

    def test_viewers_and_log_get_every_byte(self):
        c = self.client()
        name = "pattern"
        self.boot_linux(c, name)
        # three viewers from the start, one of them the writer
        v1 = self.console(name)
        v2 = self.console(name, mode="ro")
        v3 = self.console(name, mode="ro")
        early = [v1, v2, v3]
        self.shell_ready(v1, early[1:])
        self.make_pattern(v1, early[1:])

        v1.write(CAT_CMD)
        t0 = time.monotonic()

        def half_way():
            i = v1.find(BEG)
            return i >= 0 and len(v1.data) - i >= 4 * MiB
        pump(early, half_way, t(PATTERN_TIMEOUT), "half the pattern")
        # where the stream was when v4 attached: between these two ends of
        # the log (viewer 1 got the stream from offset 0, as the log did)
        end_before = self.log_end(c, name)
        v4 = self.console(name, mode="ro")
        end_after = self.log_end(c, name)
        viewers = early + [v4]
        pump(viewers, lambda: all(v.find(END) >= 0 for v in viewers),
             t(PATTERN_TIMEOUT), "the end of the pattern")
        elapsed = time.monotonic() - t0

        for i, v in enumerate(early):
            self.assertPattern(self.between_markers(v.data, "viewer %d"
                                                    % (i + 1)),
                               "viewer %d" % (i + 1))
        # the late viewer: a contiguous tail of the stream, beginning in
        # the scrollback it was sent (at most 256 KiB before it attached)
        full = bytes(v1.data[:v1.find(END)])
        late = bytes(v4.data[:v4.find(END)])
        self.assertTrue(full.endswith(late),
                        "the late viewer's %d bytes are not the tail of the "
                        "stream (sha256 %s)" % (len(late), sha(late)))
        p = len(full) - len(late)
        slack = 64 * 1024  # a read of vmd's may lie between log and relay
        self.assertTrue(end_before - SCROLLBACK - slack <= p <=
                        end_after - SCROLLBACK + slack,
                        "the late viewer's bytes begin at offset %d, but it "
                        "attached when the stream was at %d..%d: its "
                        "scrollback was %d..%d bytes, not 256 KiB"
                        % (p, end_before, end_after, end_before - p,
                           end_after - p))

        # the persistent log holds every byte exactly once
        self.wait_log_end(c, name)
        log, first, last = console_read_all(c, name)
        self.assertEqual(first, 0)
        self.assertEqual(last["start"], 0)
        self.assertPattern(self.between_markers(log, "console-read"),
                           "console-read")
        # ... and the same bytes the first viewer saw, from the first one
        self.assertEqual(sha(log[:len(full)]), sha(full),
                         "the log differs from what viewer 1 saw")
        sys.stderr.write("[8 MiB through 4 viewers in %.1f s] " % elapsed)

    def test_log_complete_across_vmd_kill(self):
        self.kill_vmd_half_way("pattern-kill", stall=0)

    def test_log_complete_across_vmd_hang_and_kill(self):
        """vmd hangs (SIGSTOP) half-way, so its socket from the keeper fills
        up while the keeper goes on journaling, then a watchdog kills it:
        still every byte exactly once."""
        self.kill_vmd_half_way("pattern-hang", stall=2)

    def kill_vmd_half_way(self, name, stall):
        c = self.client()
        pid = self.boot_linux(c, name)
        uuid = c.command("vm-show", {"vm": name})["uuid"]
        v1 = self.console(name)
        self.shell_ready(v1)
        self.make_pattern(v1)
        v1.write(CAT_CMD)

        def half_way():
            i = v1.find(BEG)
            return i >= 0 and len(v1.data) - i >= 4 * MiB
        pump([v1], half_way, t(PATTERN_TIMEOUT), "half the pattern")
        if stall:
            self.vmd.send_signal(signal.SIGSTOP)
            v1.read_for(t(stall))
        self.assertEqual(self.vmd.stop(signal.SIGKILL), -signal.SIGKILL)
        self.assertTrue(vmdtest.pid_alive(pid), "the guest died with vmd")
        # what the killed vmd relayed was right, as far as it went
        self.assertTrue(v1.wait_eof(t(10)), "viewer not closed with vmd")
        got = bytes(v1.data[v1.find(BEG) + len(BEG):])
        self.assertTrue(pattern().startswith(got),
                        "before the kill, viewer 1 saw other bytes")
        time.sleep(t(1))  # the guest goes on writing with nobody reading

        self.vmd.start()
        c2 = self.client()
        show = c2.command("vm-show", {"vm": name})
        self.assertEqual((show["state"], show["pid"]), ("running", pid),
                         "the guest was not re-adopted")
        after = self.console(name, mode="ro")
        self.wait_log_end(c2, name)
        log, first, _ = console_read_all(c2, name)
        self.assertEqual(first, 0)
        what = "console-read after a kill -9 of vmd"
        self.assertPattern(self.between_markers(log, what), what)
        self.assertEqual(log.count(LINUX_BANNER), 1, "boot output twice")
        self.assertTrue(self.log_files(uuid),
                        "no STATE/logs/%s/ttyS0.*.log" % uuid)
        # a viewer attached after the restart sees a tail of the pattern
        after.read_until(END, t(30))
        tail = bytes(after.data[:after.find(END)])
        self.assertTrue(tail and pattern().endswith(tail),
                        "after the restart a viewer got %d bytes that are "
                        "not the pattern's tail: %r...%r"
                        % (len(tail), tail[:80], tail[-80:]))
        # and the keyboard works again through the new vmd
        w = self.console(name)
        start = len(w.data)
        w.write(b"echo AFTER$((4+5))\n")
        w.read_until(b"AFTER9", t(30), start)

    def test_slow_viewer_is_dropped(self):
        c = self.client()
        name = "pattern-slow"
        self.boot_linux(c, name)
        v1 = self.console(name)
        self.shell_ready(v1)
        self.make_pattern(v1)
        mark = len(c.events)
        slow = self.console(name, mode="ro")
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        other = self.console(name, mode="ro")
        v1.write(CAT_CMD)
        t0 = time.monotonic()
        pump([v1, other], lambda: v1.find(END) >= 0 and
             other.find(END) >= 0, t(PATTERN_TIMEOUT),
             "the pattern, with a viewer that never reads")
        elapsed = time.monotonic() - t0
        self.assertPattern(self.between_markers(v1.data, "the writer"),
                           "the writer, beside a slow viewer")
        self.assertPattern(self.between_markers(other.data, "a viewer"),
                           "a viewer, beside a slow viewer")
        # dropped with an event that says why
        _, ev = c.wait_event(
            lambda e: e.get("event") == "CONSOLE_DETACH"
            and e["data"].get("vm") == name, t(10), since=mark)
        self.check_event(ev)
        self.assertEqual((ev["data"]["reason"], ev["data"]["mode"]),
                         ("too-slow", "ro"), ev)
        self.assertEqual((ev["data"]["uid"], ev["data"]["pid"]),
                         (os.getuid(), os.getpid()))
        # what it was sent before that is the stream from its start, in
        # order, and then the connection ends
        self.assertTrue(slow.wait_eof(t(10)), "the slow viewer is still "
                        "connected")
        self.assertTrue(len(slow.data) < len(v1.data) and
                        v1.data.startswith(slow.data),
                        "the slow viewer's %d bytes are not the start of the "
                        "stream" % len(slow.data))
        # the others are still there; the guest never waited for it (had
        # vmd waited, nobody would have got the whole pattern: the stalled
        # viewer never reads)
        self.assertFalse(v1.eof or other.eof)
        sys.stderr.write("[8 MiB beside a stalled viewer in %.1f s] "
                         % elapsed)


    def test_stalled_viewers_cost_bounded_memory(self):
        """48 viewers that never read (one reader may open that many
        connections), each less than 4 MiB behind: all together hold at
        most 16 MiB plus a scrollback in vmd, the furthest behind dropped
        first; a viewer that reads gets every byte (the guest never
        waited)."""
        c = self.client()
        name = "stalled-many"
        self.boot_linux(c, name)
        v1 = self.console(name)
        self.shell_ready(v1)
        for _ in range(48):
            s = self.console(name, mode="ro")
            s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        mark = len(c.events)
        before = vmdtest.rss(self.vmd.pid)
        peak = [before]

        def done():
            peak[0] = max(peak[0], vmdtest.rss(self.vmd.pid))
            return v1.find(b"FLOOD3") >= 0
        v1.write(b"head -c %d /dev/zero | tr '\\000' z; echo FLOOD$((1+2))\n"
                 % (3 * MiB))
        pump([v1], done, t(PATTERN_TIMEOUT), "3 MiB beside stalled viewers")
        growth = peak[0] - before
        sys.stderr.write("[3 MiB to 48 stalled viewers: vmd RSS +%.1f MiB] "
                         % (growth / MiB))
        if not vmdtest.sanitized():  # ASan's RSS says nothing about buffers
            self.assertLess(growth, 24 * MiB)
        self.assertGreaterEqual(bytes(v1.data).count(b"z" * 1024), 3 * 1024)
        c.command("vm-list")  # the events sent before its reply are in
        dropped = [e for e in self.console_events(c, name, "CONSOLE_DETACH",
                                                  mark)
                   if e["reason"] == "too-slow"]
        self.assertGreaterEqual(len(dropped), 32)


class LinuxPortsTest(ConsoleTestCase):

    def test_second_port_echo(self):
        c = self.client()
        name = "ports"
        self.boot_linux(c, name, serial=[{"type": "console"},
                                         {"type": "console"}])
        con = self.console(name, mode="ro")
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        p1 = self.console(name, port=1)
        self.assertEqual(p1.reply["return"],
                         {"vm": name, "port": 1, "mode": "rw"})
        # the guest's echo starts just after the banner
        vmdtest.type_until(p1, b"port-one\n", b"port-one", t(30), per_try=3)
        # port 0 still has its own writer slot: port 1's does not count
        w0 = self.console(name, port=0)
        self.assertEqual(w0.reply["return"]["mode"], "rw")
        self.assertNotIn(b"port-one", con.data)
        self.assertCmdError(c, "console-attach", {"vm": name, "port": 2},
                            "InvalidArgument", "port")
        self.assertCmdError(c, "console-read", {"vm": name, "port": 2},
                            "InvalidArgument", "port")
        # port 1 has its own log
        self.wait_for(lambda: b"port-one" in console_read_all(
            c, name, port=1)[0], t(10), "port 1's log")
        log0 = console_read_all(c, name, port=0)[0]
        self.assertNotIn(b"port-one", log0)
        self.assertIn(LINUX_BANNER, log0)

    def test_log_rotation(self):
        c = self.client()
        name = "rotate"
        self.boot_linux(c, name, serial=[{"type": "console", "log_kib": 64,
                                          "log_count": 2}])
        uuid = c.command("vm-show", {"vm": name})["uuid"]
        v = self.console(name)
        self.shell_ready(v)
        start = len(v.data)
        v.write(b"seq 100000 140000; echo SEQ-DONE$((1+2))\n")
        v.read_until(b"SEQ-DONE3", t(120), start)   # ~320 KB
        v.read_for(t(0.5))

        def logged():
            r = c.command("console-read", {"vm": name, "max_bytes": 1})
            return r["end"] >= len(v.data) and r
        r = self.wait_for(logged, t(10), "the log to catch up")
        files = self.log_files(uuid)
        self.assertGreaterEqual(len(files), 1)
        self.assertLessEqual(len(files), 2, "log_count 2 but %s" % files)
        self.assertGreater(r["start"], 0, "nothing was rotated away")
        for f in files:  # ttyS0.<16 digits>.log
            self.assertRegex(os.path.basename(f), r"^ttyS0\.\d{16}\.log$")
        self.assertEqual(int(os.path.basename(files[0]).split(".")[1]),
                         r["start"], "the oldest file does not begin at "
                         "start")
        self.assertLessEqual(r["end"] - r["start"], 2 * 64 * 1024 + 65536,
                             "far more kept than 2 files of 64 KiB")
        log, first, last = console_read_all(c, name)
        self.assertEqual(first, r["start"])
        # the newest bytes are intact: the viewer saw the same from byte 0
        self.assertEqual(log, bytes(v.data[first:last["end"]]))
        self.assertIn(b"139999\r\n140000\r\nSEQ-DONE3", log)
        # asking for bytes rotated away gives what is still there
        r0 = c.command("console-read", {"vm": name, "offset": 0,
                                        "max_bytes": 16})
        self.assertEqual(r0["offset"], r["start"])
        self.assertTrue(os.path.exists(os.path.join(
            self.vmd.state_dir, "logs", uuid, "ttyS0.index")),
            "no ttyS0.index")


class WritersTest(ConsoleTestCase):
    """The boot-sector guest echoes every byte it gets."""

    def boot(self, c, name, **extra):
        c.command("vm-define", {"config": bootsector_config(name, **extra)})
        c.command("vm-start", {"vm": name}, timeout=t(60))
        return c.command("vm-show", {"vm": name})

    def test_two_writers_and_read_only(self):
        c = self.client()
        name = "writers"
        self.boot(c, name)
        a = self.console(name)
        a.read_until(BOOT_BANNER, t(10))
        self.echo(a, b"a-one\r")
        # a second writer is refused, and its connection stays usable
        b_client = self.client()
        err = b_client.error("console-attach", {"vm": name})
        self.assertError(err, "Busy")
        err = b_client.error("console-attach", {"vm": name, "mode": "rw",
                                                "force": False})
        self.assertError(err, "Busy")
        self.assertEqual(b_client.command("vm-show", {"vm": name})["state"],
                         "running")
        # a read-only viewer's keys go nowhere
        ro = self.console(name, mode="ro")
        self.assertEqual(ro.reply["return"]["mode"], "ro")
        ro.write(b"from-ro\r")
        self.echo(a, b"a-two\r", [ro])
        # force: b takes the keyboard, a stays attached, read-only
        mark = len(c.events)
        b = self.console(name, force=True)
        self.assertEqual(b.reply["return"], {"vm": name, "port": 0,
                                             "mode": "rw"})
        _, ev = c.wait_event(lambda e: e.get("event") == "CONSOLE_WRITER",
                             t(10), since=mark)
        self.check_event(ev)
        d = ev["data"]
        self.assertEqual((d["vm"], d["port"], d["uid"], d["pid"]),
                         (name, 0, os.getuid(), os.getpid()))
        self.assertEqual(d["previous"], {"uid": os.getuid(),
                                         "pid": os.getpid()})
        a.write(b"from-a-after\r")
        self.echo(b, b"b-one\r", [a, ro])
        time.sleep(t(0.5))
        for v in (a, b, ro):
            v.read_for(0.1)
            self.assertNotIn(b"from-a-after", v.data,
                             "the old writer's keys reached the guest")
            self.assertNotIn(b"from-ro", v.data,
                             "a read-only viewer's keys reached the guest")
        self.assertFalse(a.eof, "the old writer was disconnected")
        # still one writer: b
        self.assertCmdError(c, "console-attach", {"vm": name}, "Busy")
        # once the writer leaves, the keyboard is free again
        b.close()
        self.wait_for(lambda: "error" not in self._try_rw(name), t(10),
                      "the keyboard to be free after the writer left")

    def _try_rw(self, name):
        try:
            con = self.console(name)
        except QMPError as e:
            return e.reply
        con.close()
        return con.reply

    def test_attach_detach_events(self):
        c = self.client()
        name = "audit"
        show = self.boot(c, name)
        mark = len(c.events)
        w = self.console(name)
        ro = self.console(name, mode="ro")
        w.read_until(BOOT_BANNER, t(10))
        who = (os.getuid(), os.getpid())
        for mode in ("rw", "ro"):
            _, ev = c.wait_event(
                lambda e: e.get("event") == "CONSOLE_ATTACH"
                and e["data"].get("mode") == mode, t(10), since=mark)
            self.check_event(ev)
            d = ev["data"]
            self.assertEqual((d["vm"], d["uuid"], d["port"], d["via"]),
                             (name, show["uuid"], 0, "socket"))
            self.assertEqual((d["uid"], d["pid"]), who)
        ro.close()
        _, ev = c.wait_event(lambda e: e.get("event") == "CONSOLE_DETACH",
                             t(10), since=mark)
        self.check_event(ev)
        self.assertEqual((ev["data"]["mode"], ev["data"]["reason"],
                          ev["data"]["uid"], ev["data"]["pid"]),
                         ("ro", "closed") + who)
        # the VM going away detaches the rest
        mark2 = len(c.events)
        c.command("vm-kill", {"vm": name})
        _, ev = c.wait_event(lambda e: e.get("event") == "CONSOLE_DETACH",
                             t(10), since=mark2)
        self.check_event(ev)
        self.assertEqual((ev["data"]["mode"], ev["data"]["reason"]),
                         ("rw", "vm-stopped"))
        self.assertTrue(w.wait_eof(t(10)))
        c.drain(t(0.3))
        self.assertEqual(len(self.console_events(c, name, "CONSOLE_ATTACH",
                                                 mark)), 2)
        self.assertEqual(len(self.console_events(c, name, "CONSOLE_DETACH",
                                                 mark)), 2)

    def test_scrollback_size(self):
        c = self.client()
        name = "scroll"
        self.boot(c, name, serial=[{"type": "console", "scrollback_kib": 4}])
        w = self.console(name)
        w.read_until(BOOT_BANNER, t(10))
        for i in range(10):  # 10 KiB of echo, 1 KiB at a time
            self.echo(w, b"".join(b"%03d-%04d-xx\r" % (i, j)
                                  for j in range(79)) + b"abcdefghijklmnop",
                      timeout=t(30))
        w.read_for(t(0.3))
        late = self.console(name, mode="ro")
        got = late.read_for(t(0.5))
        # the last scrollback_kib of the output, no more, no less
        self.assertEqual(len(late.data), 4096,
                         "scrollback_kib 4 but %d bytes" % len(late.data))
        self.assertTrue(w.data.endswith(late.data), "not the tail: %r"
                        % got[:100])
        # then live bytes
        self.echo(w, b"live-one\r", [late])

    def test_log_exact_across_vmd_restarts(self):
        """vmd stops (SIGTERM) and is killed (SIGKILL) while the guest
        runs: afterwards the log and a new viewer's scrollback are exactly
        what the guest printed, not a byte missing or doubled where the
        new vmd took the console up again."""
        c = self.client()
        name = "restarts"
        pid = self.boot(c, name)["pid"]
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(10))
        want = BOOT_BANNER
        for i, sig in enumerate((signal.SIGTERM, signal.SIGKILL, None)):
            line = b"line-%d\r" % i
            self.echo(con, line)
            want += line.replace(b"\r", b"\r\n")
            self.assertEqual(bytes(con.data), want, "viewer %d" % i)
            self.wait_for(lambda: c.command("console-read", {
                "vm": name, "max_bytes": 1})["end"] == len(want), t(10),
                "the log to reach %d bytes" % len(want))
            self.assertEqual(console_read_all(c, name)[0], want,
                             "the log after line %d" % i)
            if sig is None:
                break
            self.vmd.stop(sig)
            self.vmd.start()
            c = self.client()
            self.assertEqual(c.command("vm-show", {"vm": name})["pid"], pid)
            self.assertEqual(console_read_all(c, name)[0], want,
                             "the log after a restart (signal %d)" % sig)
            con = self.console(name)
            con.read_until(want, t(10))   # the scrollback

    def test_tcp_port(self):
        c = self.client()
        name = "tcp"
        port = vmdtest.free_tcp_port()
        self.boot(c, name, serial=[{"type": "tcp", "port": port}])
        mark = len(c.events)
        sock_viewer = self.console(name, mode="ro")
        sock_viewer.read_until(BOOT_BANNER, t(10))
        tcp = c.command("vm-show", {"vm": name})["ports"][0]
        self.assertEqual(tcp["tcp_port"], port)
        secret = tcp["secret"]  # root sees it (tests/e2e/test_console_tcp.py)
        t1 = TcpConsole(port, secret=secret)
        self.addCleanup(t1.close)
        t1.read_until(BOOT_BANNER, t(10))  # the scrollback
        self.echo(t1, b"over-tcp\r", [sock_viewer])
        _, ev = c.wait_event(lambda e: e.get("event") == "CONSOLE_ATTACH"
                             and e["data"].get("via") == "tcp", t(10),
                             since=mark)
        self.check_event(ev)
        self.assertEqual((ev["data"]["mode"], ev["data"]["uid"],
                          ev["data"]["pid"], ev["data"]["port"],
                          ev["data"]["peer"]),
                         ("rw", os.getuid(), 0, 0,
                          "127.0.0.1:%d" % t1.sock.getsockname()[1]))
        # the first TCP client holds the keyboard: others read only
        self.assertCmdError(c, "console-attach", {"vm": name}, "Busy")
        t2 = TcpConsole(port, secret=secret)
        self.addCleanup(t2.close)
        t2.read_until(b"over-tcp", t(10))
        t2.write(b"tcp-ro\r")
        self.echo(t1, b"tcp-rw\r", [t2, sock_viewer])
        time.sleep(t(0.3))
        self.assertNotIn(b"tcp-ro", t1.read_for(0.2) + bytes(t1.data))
        # a TCP client leaving is a CONSOLE_DETACH via tcp
        t1.close()
        _, ev = c.wait_event(lambda e: e.get("event") == "CONSOLE_DETACH"
                             and e["data"].get("via") == "tcp"
                             and e["data"].get("mode") == "rw", t(10),
                             since=mark)
        self.check_event(ev)
        # tcp ports are logged like console ports
        log = console_read_all(c, name)[0]
        self.assertEqual(log, BOOT_BANNER + b"over-tcp\r\ntcp-rw\r\n")


class BadInputTest(ConsoleTestCase):

    def test_bad_input(self):
        c = self.client()
        self.assertCmdError(c, "console-attach", {"vm": "nope"},
                            "VmNotFound", "nope")
        self.assertCmdError(c, "console-read", {"vm": "nope"},
                            "VmNotFound", "nope")
        name = "bad"
        c.command("vm-define", {"config": bootsector_config(name)})
        # never ran: nothing logged, but console-read answers
        r = c.command("console-read", {"vm": name})
        self.assertEqual((r["data"], r["start"], r["end"], r["next"]),
                         ("", 0, 0, 0))
        self.assertCmdError(c, "console-attach", {"vm": name},
                            "InvalidState")
        c.command("vm-start", {"vm": name}, timeout=t(60))
        con = self.console(name)
        con.read_until(BOOT_BANNER, t(10))
        # a paused VM's console can be attached
        c.command("vm-pause", {"vm": name})
        paused = self.console(name, mode="ro")
        self.assertEqual(paused.reply["return"]["mode"], "ro")
        c.command("vm-resume", {"vm": name})
        paused.close()
        self.assertCmdError(c, "console-attach", {"vm": name, "port": 1},
                            "InvalidArgument", "port")
        self.assertCmdError(c, "console-attach", {"vm": name, "port": 4},
                            "InvalidArgument", "port")
        self.assertCmdError(c, "console-read", {"vm": name, "port": 3},
                            "InvalidArgument", "port")
        self.assertCmdError(c, "console-read", {"vm": name, "max_bytes": 0},
                            "InvalidArgument", "max_bytes")
        self.assertCmdError(c, "console-attach", {"vm": name, "mode": "rx"},
                            "InvalidArgument", "mode")
        # a stopped VM's log stays readable
        self.echo(con, b"logged-line\r")
        c.command("vm-kill", {"vm": name})
        self.assertTrue(con.wait_eof(t(10)))
        self.assertCmdError(c, "console-attach", {"vm": name},
                            "InvalidState")
        log = console_read_all(c, name)[0]
        self.assertEqual(log, BOOT_BANNER + b"logged-line\r\n")
        self.assertEqual(log, bytes(con.data[:len(log)]))
        r = c.command("console-read", {"vm": name, "since": 0,
                                        "max_bytes": 4})
        self.assertEqual((r["offset"], base64.b64decode(r["data"])),
                         (0, BOOT_BANNER[:4]))
        r = c.command("console-read", {"vm": name,
                                        "since": int(time.time()) + 3600})
        self.assertEqual((r["data"], r["offset"]), ("", r["end"]))

    def test_host_port_is_not_logged(self):
        c = self.client()
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        name = "hostport"
        c.command("vm-define", {"config": bootsector_config(
            name, serial=[{"type": "console"},
                          {"type": "host", "path": os.ttyname(slave)}])})
        self.assertCmdError(c, "console-read", {"vm": name, "port": 1},
                            "InvalidArgument", "port")
        c.command("console-read", {"vm": name, "port": 0})


if __name__ == "__main__":
    vmdtest.main()
