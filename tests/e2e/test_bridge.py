"""End-to-end: bridged NICs (issue 13) with the Linux test guest under TCG.

Each test builds its own network and nothing else: a network namespace,
a bridge and a veth pair (one end on the bridge, the other in the
namespace with 10.213.N.1/24); the guest's init gives its NIC
10.213.N.2/24 from the kernel command line (vmd.ip=).  The host has no
address on that network, so no packet leaves it.  vmd makes the tap,
puts it on the bridge and hands it to QEMU; the kernel removes it when
QEMU ends.  Everything the test made goes in a cleanup, also on failure."""

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import INITRAMFS, LINUX_BANNER, linux_config, t  # noqa: E402

BOOT_TIMEOUT = 90
BULK = 4 * 1024 * 1024   # bytes each way


def ip(*args, check=True):
    return subprocess.run(("ip",) + args, check=check, capture_output=True,
                          text=True, timeout=30)


def netns(ns, *argv, **kw):
    return subprocess.run(("ip", "netns", "exec", ns) + argv,
                          capture_output=True, timeout=t(60), **kw)


def tap_of(vm_uuid, nic=0):
    return "vmd%sn%d" % (vm_uuid.replace("-", "")[:10], nic)


def tap_exists(name):
    return os.path.exists("/sys/class/net/" + name)


# The namespace's side of the bulk transfers (python3 in the namespace):
# receive exactly N bytes on PORT and print their sha256, or send the
# bytes of a file to HOST:PORT once it listens.
RECEIVER = r"""
import hashlib, socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(1); s.settimeout(300)
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(300)
h, got = hashlib.sha256(), 0
while got < n:
    b = c.recv(min(65536, n - got))
    if not b:
        break
    h.update(b); got += len(b)
c.close()
print(got, h.hexdigest(), flush=True)
"""
SENDER = r"""
import socket, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
for i in range(600):
    try:
        c = socket.create_connection((host, port), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
c.settimeout(300); c.sendall(data); c.close()
"""


class BridgeTest(vmdtest.VmdTestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: network namespaces, bridges, taps")
        super().setUp()
        vmdtest.require_guests(INITRAMFS)
        n = os.getpid() % 250 + 1
        self.ns = "vmdt-ns-%d" % os.getpid()
        self.br = "vmdtbr%d" % os.getpid()
        self.vh, self.vn = "vmdtvh%d" % os.getpid(), "vmdtvn%d" % os.getpid()
        self.host_ip, self.guest_ip = "10.213.%d.1" % n, "10.213.%d.2" % n
        self.addCleanup(self.remove_network)
        ip("netns", "add", self.ns)
        ip("link", "add", self.br, "type", "bridge")
        ip("link", "add", self.vh, "type", "veth", "peer", "name", self.vn)
        ip("link", "set", self.vn, "netns", self.ns)
        ip("link", "set", self.vh, "master", self.br)
        for dev in (self.vh, self.br):
            ip("link", "set", dev, "up")
        ip("-n", self.ns, "addr", "add", self.host_ip + "/24", "dev", self.vn)
        ip("-n", self.ns, "link", "set", self.vn, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        self.leftovers = []

    def remove_network(self):
        for dev in [self.vh, self.br] + self.leftovers:
            ip("link", "del", dev, check=False)
        ip("netns", "del", self.ns, check=False)

    def config(self, name, **extra):
        cfg = linux_config(name, nics=[{"type": "bridge", "bridge": self.br}],
                           **extra)
        cfg["boot"]["cmdline"] += " vmd.ip=%s/24" % self.guest_ip
        return cfg

    def boot(self, c, name):
        c.command("vm-define", {"config": self.config(name)})
        r = c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertEqual(r["state"], "running")
        show = c.command("vm-show", {"vm": name})
        tap = tap_of(show["uuid"])
        self.leftovers.append(tap)   # when a broken vmd leaves it
        self.assertEqual(show["nics"][0]["tap"], tap)
        self.assertEqual(show["nics"][0]["bridge"], self.br)
        self.assertEqual(os.path.basename(os.readlink(
            "/sys/class/net/%s/master" % tap)), self.br, "tap not on bridge")
        return show, tap

    def guest_shell(self, name):
        con = self.console(name)
        con.read_until(LINUX_BANNER, t(BOOT_TIMEOUT))
        con.read_until(b"VMD-NET eth0 " + self.guest_ip.encode(), t(30))
        vmdtest.type_until(con, b"echo up$((2+3))\n", b"up5", t(60))
        return con

    def ping_from_ns(self):
        # busybox's ping: busybox-static is there for the guest anyway
        p = netns(self.ns, "busybox", "ping", "-c", "3", "-i", "0.3", "-W",
                  "5", self.guest_ip)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def run_in_guest(self, con, command, expect, timeout):
        start = len(con.data)
        con.write(command)
        return con.read_until(expect, timeout, start)

    def counters(self, c, name):
        return c.command("vm-show", {"vm": name})["nics"][0]

    def bulk_guest_to_ns(self, c, con, name):
        recv = subprocess.Popen(("ip", "netns", "exec", self.ns, "python3",
                                 "-c", RECEIVER, str(BULK), "5001"),
                                stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: recv.poll() is None and recv.kill())
        self.assertEqual(recv.stdout.readline().strip(), "listening")
        before = self.counters(c, name)
        self.run_in_guest(con, b"head -c %d /dev/urandom > /tmp/out; "
                          b"sha256sum /tmp/out; nc %s 5001 < /tmp/out; "
                          b"echo sent$((1+1))\n" % (BULK, self.host_ip.encode()),
                          b"sent2", t(180))
        got, digest = recv.communicate(timeout=t(60))[0].split()
        self.assertEqual(int(got), BULK)
        self.assertIn(digest.encode() + b"  /tmp/out", con.data,
                      "the namespace received other bytes than the guest sent")
        after = self.counters(c, name)
        # the tap's rx is what the guest sent: the payload and its framing
        sent = after["rx_bytes"] - before["rx_bytes"]
        self.assertGreaterEqual(sent, BULK)
        self.assertLess(sent, BULK * 1.1)

    def bulk_ns_to_guest(self, c, con, name):
        blob = os.path.join(self.tmp, "blob")
        data = os.urandom(BULK)
        with open(blob, "wb") as f:
            f.write(data)
        before = self.counters(c, name)
        # stdin not the terminal: a background job reading it would stop
        self.run_in_guest(con, b"nc -l -p 5002 < /dev/null > /tmp/in & "
                          b"echo bg$((3+4))\n", b"bg7", t(30))
        p = netns(self.ns, "python3", "-c", SENDER, self.guest_ip, "5002", blob)
        self.assertEqual(p.returncode, 0, p.stderr)
        at = self.run_in_guest(con, b"wait; sha256sum /tmp/in; echo "
                               b"got$((5+6))\n", b"got11", t(120))
        self.assertIn(hashlib.sha256(data).hexdigest().encode() +
                      b"  /tmp/in", con.data[at - 200:at],
                      "the guest received other bytes than the namespace sent")
        received = self.counters(c, name)["tx_bytes"] - before["tx_bytes"]
        self.assertGreaterEqual(received, BULK)

    def metered_equals_tap(self, c, name):
        """The pause samples the guest (a state change) while its tap is
        frozen: the month's metered NIC bytes, from the guest's side, are
        the tap's counters to the byte (the tap began at 0 with QEMU)."""
        c.command("vm-pause", {"vm": name})
        tap = self.counters(c, name)
        nic = {}

        def metered():
            # the pause's sample commits once QEMU answered query-blockstats
            nic.clear()
            for r in c.command("usage-report", {
                    "vms": [name], "from": "2026-01", "to": "2036-01"})["rows"]:
                for k, v in r["devices"].get("nic0", {}).items():
                    nic[k] = nic.get(k, 0) + v
            return nic.get("tx_bytes", 0) >= BULK
        self.wait_for(metered, t(10), "the pause's sample of nic0: %r" % nic)
        self.assertEqual((nic.get("tx_bytes"), nic.get("rx_bytes"),
                          nic.get("tx_packets"), nic.get("rx_packets")),
                         (tap["rx_bytes"], tap["tx_bytes"], tap["rx_packets"],
                          tap["tx_packets"]))
        c.command("vm-resume", {"vm": name})

    def test_traffic_and_tap_lifetime(self):
        c = self.client()
        name = "bridged"
        show, tap = self.boot(c, name)
        con = self.guest_shell(name)
        self.ping_from_ns()
        self.run_in_guest(con, b"ping -c 3 %s && echo pong$((4+5))\n"
                          % self.host_ip.encode(), b"pong9", t(60))
        self.bulk_guest_to_ns(c, con, name)
        self.bulk_ns_to_guest(c, con, name)
        self.metered_equals_tap(c, name)
        rc, out, err = self.vmctl("show", name)
        self.assertRegex(out, r"taps.*tap=%s" % tap, err)

        # vmd killed and restarted: the guest keeps its tap and network
        self.vmd.stop(signal.SIGKILL)
        self.vmd.start()
        c = self.client()
        self.assertEqual(self.vm_state(c, name), "running")
        self.assertTrue(tap_exists(tap), "a re-adopted guest lost its tap")
        self.assertEqual(self.counters(c, name)["tap"], tap)
        self.ping_from_ns()

        # the tap goes with QEMU
        c.command("vm-stop", {"vm": name, "timeout": 0}, timeout=t(30))
        self.assertFalse(tap_exists(tap), "tap left after vm-stop")
        self.assertNotIn("nics", c.command("vm-show", {"vm": name}))

    def test_tap_goes_when_qemu_is_killed(self):
        c = self.client()
        name = "bridged-kill"
        show, tap = self.boot(c, name)
        os.kill(show["pid"], signal.SIGKILL)
        self.wait_for(lambda: self.vm_state(c, name) == "crashed", t(30),
                      "crashed")
        self.assertFalse(tap_exists(tap), "tap left after QEMU was killed")
        # and the next start makes it again
        c.command("vm-start", {"vm": name}, timeout=t(60))
        self.assertTrue(tap_exists(tap))
        c.command("vm-kill", {"vm": name}, timeout=t(30))
        self.assertFalse(tap_exists(tap))

    def test_tap_name_taken(self):
        # two uuids alike in their first 10 hex digits name the same tap
        c = self.client()
        base = str(uuid.uuid4())[:-1]
        for i, name in enumerate(("twin-a", "twin-b")):
            cfg = self.config(name, uuid=base + str(i))
            c.command("vm-define", {"config": cfg})
        c.command("vm-start", {"vm": "twin-a"}, timeout=t(60))
        tap = tap_of(base)
        self.leftovers.append(tap)
        self.assertCmdError(c, "vm-start", {"vm": "twin-b"}, "GenericError",
                            ["nics[0]", tap, "busy"])
        self.assertEqual(self.vm_state(c, "twin-b"), "stopped")
        self.assertEqual(self.vm_state(c, "twin-a"), "running")

    def test_leftover_tap_removed_at_start(self):
        # vmd's taps are never persistent, so a killed vmd leaves none;
        # a persistent one of its naming (an operator's, an older vmd's)
        # is served by nobody and goes at vmd's next start.  One of
        # another naming stays.
        left = tap_of(str(uuid.uuid4()))
        other = "vmdt%dx" % os.getpid()
        for dev in (left, other):
            self.leftovers.append(dev)
            ip("tuntap", "add", dev, "mode", "tap")
            ip("link", "set", dev, "master", self.br)
        self.vmd.stop(signal.SIGKILL)
        self.vmd.start()
        self.assertFalse(tap_exists(left), "leftover tap %s kept" % left)
        self.assertTrue(tap_exists(other), "vmd removed a tap not its own")
        self.assertIn("removed leftover tap " + left, self.vmd.log())

    def test_bridge_errors(self):
        c = self.client()
        cfg = linux_config("nobridge", nics=[
            {"type": "user"}, {"type": "bridge", "bridge": "vmdtnone%d" % os.getpid()}])
        c.command("vm-define", {"config": cfg})
        self.assertCmdError(c, "vm-start", {"vm": "nobridge"}, "InvalidArgument",
                            ["nics[1].bridge", "no such interface"])
        cfg = linux_config("notbridge", nics=[{"type": "bridge", "bridge": self.vh}])
        c.command("vm-define", {"config": cfg})
        self.assertCmdError(c, "vm-start", {"vm": "notbridge"}, "InvalidArgument",
                            ["nics[0].bridge", "'%s' is not a bridge (it is veth)"
                             % self.vh])
        self.assertEqual(self.vm_state(c, "notbridge"), "stopped")
        # the schema: a bridge NIC names its bridge
        self.assertCmdError(c, "vm-define", {"config": linux_config(
            "nameless", nics=[{"type": "bridge"}])}, "InvalidArgument", "bridge")


class NonRootTest(vmdtest.UsersTestCase):
    """A vmd that is not root cannot make taps: vm-start says so and names
    the NIC, before any QEMU runs."""
    start_vmd = False

    def test_bridge_needs_root(self):
        user = pwd.getpwnam("vmdt-owner")
        binary = self.copy_for_others(vmdtest.VMD)
        home = os.path.join(self.tmp, "u")
        os.mkdir(home, 0o700)
        os.chown(home, user.pw_uid, user.pw_gid)
        v = vmdtest.Vmd(home)
        if os.path.exists(vmdtest.PROBE_CACHE):   # spare vmd the KVM probe
            cache = shutil.copy(vmdtest.PROBE_CACHE, home)
            os.chown(cache, user.pw_uid, user.pw_gid)
        argv = v.argv()
        argv[argv.index("--probe-cache") + 1] = os.path.join(
            home, os.path.basename(vmdtest.PROBE_CACHE))
        v.argv = lambda: ["setpriv", "--reuid=vmdt-owner",
                          "--regid=vmdt-owner", "--clear-groups",
                          binary] + argv[1:]
        self.addCleanup(v.cleanup)
        v.start()
        c = vmdtest.Client(v.socket)
        self.addCleanup(c.close)
        c.command("vm-define", {"config": {
            "name": "bridged", "serial": [],
            "nics": [{"type": "bridge", "bridge": "br0"}]}})
        err = c.error("vm-start", {"vm": "bridged"})
        self.assertError(err, "Unsupported", ["nics[0]", "bridge br0", "root"])
        self.assertEqual(c.command("vm-show", {"vm": "bridged"})["state"],
                         "stopped")


if __name__ == "__main__":
    vmdtest.main()
