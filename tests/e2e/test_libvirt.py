"""End-to-end: the libvirt bridge (vm-import-libvirt, vm-export-libvirt).

libvirt itself judges the export: virt-xml-validate (libvirt-clients)
checks it against libvirt's schema, and libvirt's test:///default driver
defines it through the API (python3-libvirt); what libvirt then dumps
imports back to the same config.  A domain is read from test:///default
through vmd-libvirt, and a connection that never answers meets the
deadline while vmd goes on serving.  A real libvirtd (session mode, as
a test user with its own XDG directories) defines a domain with a disk
and a serial console; vmd imports it from there, boots it and reads its
shell on the console.  The corpus: libvirt's own test
domains (tests/qemuxml2argvdata/*.xml of Debian's libvirt source package,
fetched once with `apt-get source --download-only` through a deb-src list
of its own, given with apt's -o options, into tests/cache/ of the build
tree): each is imported or refused with a reason, never a crash; the
counts go to the test log."""

import glob
import json
import os
import socket
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import t  # noqa: E402

try:
    import libvirt
except ImportError:  # python3-libvirt: run.sh installs it
    libvirt = None

CACHE = os.path.join(vmdtest.BUILDDIR, "tests", "cache", "libvirt")
CORPUS = os.path.join(CACHE, "qemuxml2argvdata")


def full_config(tmp, name="lv1"):
    """A config that uses every member the bridge maps."""
    disk = os.path.join(tmp, "a.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"],
                   check=True)
    raw = os.path.join(tmp, "b.raw")
    with open(raw, "wb") as f:
        f.truncate(1 << 20)
    kernel = vmdtest.newest_kernel()
    return {"name": name, "accel": "tcg", "cpus": 2, "memory_mib": 192,
            "machine": "pc", "arch": "x86_64",
            "boot": {"kernel": kernel, "initrd": vmdtest.INITRAMFS,
                     "cmdline": "console=ttyS0", "order": "cn"},
            "disks": [{"path": disk, "format": "qcow2", "readonly": True},
                      {"path": raw, "bus": "ide"}],
            "nics": [{"type": "user", "model": "e1000"}],
            "serial": [{"type": "console"}, {"type": "tcp", "port": 4711},
                       {"type": "host", "path": "/dev/ttyS3"}],
            "parallel": [{"type": "host", "path": "/dev/parport0"}],
            "display": "vnc", "autostart": True, "restart_policy": "always",
            "restart_max": 3, "restart_window_s": 100,
            "labels": {"owner": "ann <&> bob"}}


class LibvirtTest(vmdtest.VmdTestCase):

    def import_xml(self, xml, **args):
        args.setdefault("define", False)
        return self.c.command("vm-import-libvirt", dict(args, xml=xml))

    def setUp(self):
        super().setUp()
        self.c = self.client()

    def test_export_accepted_and_back(self):
        """export: virt-xml-validate and libvirt's test driver accept it;
        importing it, or what libvirt made of it, gives the config back."""
        if libvirt is None:
            self.skipTest("python3-libvirt missing")
        self.c.command("vm-define", {"config": full_config(self.tmp)})
        shown = self.c.command("vm-show", {"vm": "lv1"})["config"]
        r = self.c.command("vm-export-libvirt", {"vm": "lv1"})
        self.assertEqual(r["lost"], [])
        path = os.path.join(self.tmp, "lv1.xml")
        with open(path, "w") as f:
            f.write(r["xml"])
        v = subprocess.run(["virt-xml-validate", path, "domain"],
                           capture_output=True, text=True, timeout=t(60))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        back = self.import_xml(r["xml"], strict=True)
        self.assertEqual(back["config"], shown)
        conn = libvirt.open("test:///default")
        try:
            dom = conn.defineXML(r["xml"])
            self.assertEqual(dom.UUIDString(), shown["uuid"])
            dumped = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        finally:
            conn.close()
        again = self.import_xml(dumped)
        self.assertEqual(again["config"], shown, dumped)

    def test_import_file_listed(self):
        """vmctl import --file: defined; what is not mapped is named on
        stderr with its reason; --strict refuses it, naming the element."""
        xml = ("<domain type='kvm'><name>f1</name><memory>65536</memory>"
               "<devices><interface type='bridge'><source bridge='br7'/>"
               "</interface><serial type='pty'/><sound model='ich6'/>"
               "</devices></domain>")
        path = os.path.join(self.tmp, "f1.xml")
        with open(path, "w") as f:
            f.write(xml)
        rc, out, err = vmdtest.run_vmctl(self.vmd.socket, [
            "import", "--file", path, "--strict"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("strict: 2 elements not mapped, first "
                      "/domain/devices/interface", err)
        self.assertNotIn("f1", [v["name"] for v in
                                self.c.command("vm-list")])
        rc, out, err = vmdtest.run_vmctl(self.vmd.socket, ["import", "--file",
                                                         path])
        self.assertEqual(rc, 0, err)
        self.assertIn("imported f1", out)
        self.assertIn("unmapped: /domain/devices/interface: bridge (bridge "
                      "br7)", err)
        self.assertIn("unmapped: /domain/devices/sound: vmd has no "
                      "equivalent of <sound>", err)
        cfg = self.c.command("vm-show", {"vm": "f1"})["config"]
        self.assertEqual((cfg["memory_mib"], cfg["nics"], cfg["serial"][0]
                          ["type"]), (64, [], "console"))
        rc, out, err = vmdtest.run_vmctl(self.vmd.socket, ["export", "f1"])
        self.assertEqual(rc, 0, err)
        self.assertIn("<name>f1</name>", out)

    def test_import_uri(self):
        """A domain read through vmd-libvirt from test:///default; a
        missing domain is libvirt's message."""
        rc, out, err = vmdtest.run_vmctl(self.vmd.socket, [
            "import", "--libvirt", "test:///default", "test", "--dry-run"])
        self.assertEqual(rc, 0, err)
        cfg = json.loads(out)
        self.assertEqual((cfg["name"], cfg["arch"], cfg["memory_mib"],
                          cfg["cpus"], cfg["autostart"]),
                         ("test", "i386", 8192, 2, False))
        self.assertIn("unmapped: /domain/devices/interface: network default "
                      "(bridge virbr0)", err)
        e = self.c.execute("vm-import-libvirt", {
            "uri": "test:///default", "domain": "nosuch"})["error"]
        self.assertEqual(e["class"], "InvalidArgument")
        self.assertIn("Domain not found", e["desc"])

    def test_deadline(self):
        """A libvirt daemon that never answers: the import ends at
        timeout_s, and vmd serves meanwhile."""
        path = os.path.join(self.tmp, "mute.sock")
        mute = socket.socket(socket.AF_UNIX)
        mute.bind(path)
        mute.listen(4)
        self.addCleanup(mute.close)
        other = self.client()
        start = time.monotonic()
        self.c.send({"execute": "vm-import-libvirt", "id": 1, "arguments": {
            "uri": "qemu+unix:///system?socket=" + path, "domain": "x",
            "timeout_s": 2}})
        other.command("vm-list", timeout=1)
        reply = self.c.recv(timeout=t(20))
        self.assertIn("did not answer within 2 s", reply["error"]["desc"])
        self.assertLess(time.monotonic() - start, t(10))


LIBVIRTD = "/usr/sbin/libvirtd"
LIBVIRTD_USER = "vmdt-nobody"


class LibvirtdTest(vmdtest.VmdTestCase):
    """A real libvirt daemon: libvirtd in session mode, as a test user
    with XDG directories of its own (as root it would be the host's
    system daemon, with the host's /etc/libvirt and /run/libvirt)."""

    @classmethod
    def setUpClass(cls):
        if not os.access(LIBVIRTD, os.X_OK):
            raise vmdtest.unittest.SkipTest("no " + LIBVIRTD +
                                            " (libvirt-daemon)")
        if libvirt is None:
            raise vmdtest.unittest.SkipTest("python3-libvirt missing")
        vmdtest.ensure_test_users()

    def start_libvirtd(self):
        """libvirtd --timeout as LIBVIRTD_USER; its URI."""
        d = os.path.join(self.tmp, "libvirt")
        env = {"PATH": "/usr/sbin:/usr/bin:/bin"}
        for var, sub in (("HOME", "home"), ("XDG_RUNTIME_DIR", "run"),
                         ("XDG_CONFIG_HOME", "cfg"), ("XDG_CACHE_HOME", "cache"),
                         ("XDG_DATA_HOME", "data")):
            env[var] = os.path.join(d, sub)
            os.makedirs(env[var], mode=0o700)
        subprocess.run(["chown", "-R", LIBVIRTD_USER, d], check=True)
        log = open(os.path.join(self.tmp, "libvirtd.log"), "wb")
        self.addCleanup(log.close)
        # setpriv execs libvirtd itself (runuser would stay its parent), so
        # killing p ends the daemon
        p = subprocess.Popen(["setpriv", "--reuid", LIBVIRTD_USER, "--regid",
                              LIBVIRTD_USER, "--clear-groups", "env", "-i"] +
                             ["%s=%s" % kv for kv in env.items()] +
                             [LIBVIRTD, "--timeout", "300"],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        sock = os.path.join(env["XDG_RUNTIME_DIR"], "libvirt", "libvirt-sock")
        deadline = time.monotonic() + t(30)
        while not os.path.exists(sock):
            self.assertIsNone(p.poll(), "libvirtd exited")
            self.assertLess(time.monotonic(), deadline, "no libvirtd socket")
            time.sleep(0.1)
        return "qemu:///session?socket=" + sock

    def test_define_import_boot(self):
        """A domain with a disk and a serial console, defined in libvirtd,
        imported from it, boots in vmd to a shell on its console."""
        uri = self.start_libvirtd()
        disk = os.path.join(self.tmp, "d.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "8M"],
                       check=True)
        vmdtest.for_qemu(disk)
        xml = ("<domain type='qemu'><name>lvboot</name>"
               "<memory unit='MiB'>256</memory><vcpu>1</vcpu><os>"
               "<type arch='x86_64' machine='pc'>hvm</type><kernel>%s</kernel>"
               "<initrd>%s</initrd><cmdline>console=ttyS0 quiet panic=-1"
               "</cmdline></os><devices><disk type='file' device='disk'>"
               "<driver name='qemu' type='qcow2'/><source file='%s'/>"
               "<target dev='vda' bus='virtio'/></disk><serial type='pty'>"
               "<target port='0'/></serial><console type='pty'><target "
               "type='serial' port='0'/></console></devices></domain>" % (
                   vmdtest.newest_kernel(), vmdtest.INITRAMFS, disk))
        conn = libvirt.open(uri)
        try:
            uuid = conn.defineXML(xml).UUIDString()
        finally:
            conn.close()
        rc, out, err = vmdtest.run_vmctl(self.vmd.socket, [
            "import", "--libvirt", uri, "lvboot"], timeout=t(60))
        self.assertEqual(rc, 0, err)
        self.assertIn("imported lvboot (uuid %s)" % uuid, out)
        cfg = self.c.command("vm-show", {"vm": "lvboot"})["config"]
        self.assertEqual((cfg["disks"][0]["path"], cfg["disks"][0]["format"],
                          cfg["serial"][0]["type"], cfg["machine"]),
                         (disk, "qcow2", "console", "pc-i440fx-7.2"))
        self.c.command("vm-start", {"vm": "lvboot"}, timeout=t(60))
        con = self.vmctl_process("console", "lvboot")
        con.read_until(vmdtest.LINUX_BANNER, t(90))
        vmdtest.type_until(con, b"echo lv$((6*7))\n", b"lv42", t(30))

    def setUp(self):
        super().setUp()
        self.c = self.client()


def fetch_corpus():
    """libvirt's qemuxml2argvdata/*.xml from Debian's source package, or
    None with the reason it cannot be had."""
    if glob.glob(os.path.join(CORPUS, "*.xml")):
        return None
    os.makedirs(os.path.join(CACHE, "lists", "partial"), exist_ok=True)
    sources = os.path.join(CACHE, "sources.list")
    with open(sources, "w") as f:
        f.write("".join("deb-src http://deb.debian.org/%s %s main\n" % p for p in
                        (("debian", "bookworm"), ("debian", "bookworm-updates"),
                         ("debian-security", "bookworm-security"))))
    opts = ["-o", "Dir::Etc::SourceList=" + sources,
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", "Dir::State::Lists=" + os.path.join(CACHE, "lists"),
            "-o", "Dir::Cache=" + os.path.join(CACHE, "apt"),
            "-o", "APT::Sandbox::User=root"]
    for args in (["update", "-q"], ["source", "--download-only", "-q",
                                    "libvirt"]):
        r = subprocess.run(["apt-get"] + opts + args, cwd=CACHE, text=True,
                           capture_output=True, timeout=t(300))
        if r.returncode != 0:
            return "apt-get %s failed: %s" % (args[0], r.stderr[-300:])
    orig = glob.glob(os.path.join(CACHE, "libvirt_*.orig.tar.*"))
    if not orig:
        return "apt-get source left no libvirt_*.orig.tar.*"
    os.makedirs(CORPUS + ".tmp", exist_ok=True)
    with tarfile.open(orig[0]) as tar:
        for m in tar:
            d, base = os.path.split(m.name)
            if m.isfile() and d.endswith("/tests/qemuxml2argvdata") and \
                    base.endswith(".xml"):
                with open(os.path.join(CORPUS + ".tmp", base), "wb") as f:
                    f.write(tar.extractfile(m).read())
    os.rename(CORPUS + ".tmp", CORPUS)
    return None


class CorpusTest(vmdtest.VmdTestCase):

    def test_corpus(self):
        """Every domain of libvirt's own tests: imported (config checked by
        vmd as vm-define checks it) or refused with a reason."""
        why = fetch_corpus()
        if why:
            self.skipTest("libvirt's test domains cannot be fetched: " + why)
        files = sorted(glob.glob(os.path.join(CORPUS, "*.xml")))
        self.assertGreater(len(files), 500)
        c = self.client()
        counts = {"imported": 0, "clean": 0, "refused": 0}
        reasons = {}
        start = time.monotonic()
        for path in files:
            with open(path, encoding="utf-8", errors="replace") as f:
                xml = f.read()
            reply = c.execute("vm-import-libvirt", {"xml": xml,
                                                    "define": False})
            if "return" in reply:
                counts["imported"] += 1
                counts["clean"] += not reply["return"]["unmapped"]
                for e in reply["return"]["unmapped"]:
                    key = e["reason"].split(":")[0][:60]
                    reasons[key] = reasons.get(key, 0) + 1
            else:
                self.assertEqual(reply["error"]["class"], "InvalidArgument",
                                 "%s: %r" % (path, reply))
                self.assertTrue(reply["error"]["desc"], path)
                counts["refused"] += 1
            self.assertLess(time.monotonic() - start, t(120), "too slow")
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:8]
        sys.stderr.write(
            "\ncorpus: %d files: %d imported (%d with nothing unmapped), "
            "%d refused with a reason, 0 crashed, in %.1f s\nmost "
            "unmapped: %s\n" % (len(files), counts["imported"],
                                counts["clean"], counts["refused"],
                                time.monotonic() - start,
                                "; ".join("%s (%d)" % kv for kv in top)))
        self.assertEqual(counts["imported"] + counts["refused"], len(files))
        c.command("vm-list")  # vmd is alive after all of them


if __name__ == "__main__":
    vmdtest.main()
