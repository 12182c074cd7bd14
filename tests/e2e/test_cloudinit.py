"""End-to-end: the vm-config cloud_init block and the NoCloud seed vmd
builds from it.

cloud-init's own code reads the seed: Debian's cloud-init package is
fetched once with `apt-get download` into tests/cache/ of the build tree
and unpacked there with `dpkg-deb -x` (never installed: it would run at
the host's next boot); its NoCloud datasource reads the files taken out of
vmd's ISO by isoinfo (genisoimage, independent of libisofs), and `cloud-init
schema` checks the user-data.  The Linux test guest finds the disk
labelled cidata and prints what it holds.  A plain password never reaches
the store, the log, events or replies."""

import base64
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # Python 3.11 (Debian 12) has it; enough for a test
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import INITRAMFS, bootsector_config, linux_config, t  # noqa: E402

CACHE = os.path.join(vmdtest.BUILDDIR, "tests", "cache", "cloud-init")
PLAIN = "Plain-Secret-4711"
PLAIN2 = "Other-Secret-0815"
HASH = crypt.crypt("given", "$6$saltsaltsalt$")


def ssh_key(kind="ssh-ed25519", blob_kind=None, comment="alice@example"):
    """A structurally valid public key line (no private key behind it)."""
    name = (blob_kind or kind).encode()
    blob = struct.pack(">I", len(name)) + name + \
        struct.pack(">I", 32) + os.urandom(32)
    return "%s %s %s" % (kind, base64.b64encode(blob).decode(), comment)


KEY = ssh_key()
KEY2 = ssh_key("ecdsa-sha2-nistp256", comment="bob")


def cloud_init_root():
    """The unpacked cloud-init package: its Python modules' directory."""
    pkgs = os.path.join(CACHE, "root", "usr", "lib", "python3",
                        "dist-packages")
    if os.path.isdir(os.path.join(pkgs, "cloudinit")):
        return pkgs
    os.makedirs(CACHE, exist_ok=True)
    debs = glob.glob(os.path.join(CACHE, "cloud-init_*.deb"))
    if not debs:
        r = subprocess.run(["apt-get", "download", "cloud-init"], cwd=CACHE,
                           capture_output=True, text=True, timeout=t(300))
        debs = glob.glob(os.path.join(CACHE, "cloud-init_*.deb"))
        if r.returncode != 0 or not debs:
            raise AssertionError("apt-get download cloud-init failed "
                                 "(apt-get update first?): " + r.stderr)
    tmp = tempfile.mkdtemp(dir=CACHE)
    subprocess.run(["dpkg-deb", "-x", debs[0], tmp], check=True)
    os.rename(tmp, os.path.join(CACHE, "root"))
    return pkgs


# Run by cloud-init's Python with the unpacked package on PYTHONPATH: its
# NoCloud datasource reads the seed directory (argv[1]); prints what
# cloud-init made of it as JSON.
READ_SEED = r"""
import json, os, sys, tempfile
from cloudinit import distros, helpers, util
from cloudinit.distros import ug_util
from cloudinit.net import network_state
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloud

tmp = tempfile.mkdtemp()
paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
ds = DataSourceNoCloud({"datasource": {"NoCloud": {"fs_label": None}}},
                       None, paths)
ds.seed_dirs = [sys.argv[1]]
assert ds.get_data(), "NoCloud found no seed"
cfg = util.load_yaml(ds.get_userdata_raw())
distro = distros.fetch("debian")("debian", {}, paths)
users, _ = ug_util.normalize_users_groups(cfg, distro)
out = {"instance_id": ds.get_instance_id(),
       "hostname": ds.get_hostname().hostname,
       "cfg_hostname": cfg.get("hostname"),
       "users": users, "vendor": ds.get_vendordata_raw(), "nics": []}
if ds.network_config:
    ns = network_state.parse_net_config_data(ds.network_config)
    out["nics"] = sorted(
        [{"mac": i.get("mac_address"), "subnets": i.get("subnets")}
         for i in ns.iter_interfaces()], key=lambda n: n["mac"])
print(json.dumps(out, default=str))
"""


class SeedCase(vmdtest.VmdTestCase):

    def seed_path(self, c, vm):
        uuid = c.command("vm-show", {"vm": vm})["uuid"]
        return os.path.join(self.vmd.state_dir, "seeds", uuid + ".iso")

    def start_kill(self, c, vm):
        """Start vm (so vmd builds its seed), end it: the seed's path."""
        c.command("vm-start", {"vm": vm}, timeout=t(60))
        c.command("vm-kill", {"vm": vm}, timeout=t(30))
        return self.seed_path(c, vm)

    def extract(self, iso):
        """The ISO's volume label and a directory of its files, read by
        isoinfo (genisoimage), not by libisofs."""
        info = subprocess.run(["isoinfo", "-d", "-i", iso], check=True,
                              capture_output=True, text=True).stdout
        label = [ln.split(":", 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith("Volume id:")][0]
        names = subprocess.run(["isoinfo", "-R", "-f", "-i", iso], check=True,
                               capture_output=True, text=True).stdout.split()
        out = tempfile.mkdtemp(dir=self.tmp)
        for name in names:
            data = subprocess.run(["isoinfo", "-R", "-i", iso, "-x", name],
                                  check=True, capture_output=True).stdout
            with open(os.path.join(out, name.lstrip("/")), "wb") as f:
                f.write(data)
        return label, out

    def cloud_init(self, argv, **kw):
        env = dict(os.environ, PYTHONPATH=cloud_init_root())
        return subprocess.run([sys.executable] + argv, env=env,
                              capture_output=True, text=True,
                              timeout=t(120), **kw)

    def read_seed(self, seed_dir):
        r = self.cloud_init(["-c", READ_SEED, seed_dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def schema_ok(self, path):
        r = self.cloud_init(["-m", "cloudinit.cmd.main", "schema",
                             "--config-file", path])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Valid cloud-config", r.stdout)


BLOCK = {
    "hostname": "web1.example.org",
    "users": [{"name": "alice", "ssh_authorized_keys": [KEY, KEY2],
               "password": PLAIN, "sudo": True},
              {"name": "bob", "password_hash": HASH}],
    "network": [{"nic": 1, "dhcp": True},
                {"nic": 0, "addresses": ["192.0.2.10/24", "2001:db8::10/64"],
                 "gateway": "192.0.2.1", "dns": ["192.0.2.53", "2001:db8::53"]}],
    "vendor_data": "#cloud-config\nruncmd: [[echo, vendor]]\n",
}
NICS = [{"type": "user"}, {"type": "user", "model": "e1000"}]


class CloudInitReadsSeed(SeedCase):

    def test_nocloud_reads_what_vmd_built(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config(
            "ci", nics=NICS, cloud_init=BLOCK)})
        cfg = c.command("vm-show", {"vm": "ci"})["config"]
        macs = [n["mac"] for n in cfg["nics"]]
        label, seed = self.extract(self.start_kill(c, "ci"))
        self.assertEqual(label, "cidata")
        self.assertEqual(sorted(os.listdir(seed)), [
            "meta-data", "network-config", "user-data", "vendor-data"])
        got = self.read_seed(seed)

        self.assertRegex(got["instance_id"], r"^iid-[0-9a-f]{32}$")
        self.assertEqual(got["hostname"], "web1")  # cloud-init's short name
        self.assertEqual(got["cfg_hostname"], "web1.example.org")
        alice, bob = got["users"]["alice"], got["users"]["bob"]
        self.assertEqual(alice["ssh_authorized_keys"], [KEY, KEY2])
        self.assertEqual(alice["sudo"], "ALL=(ALL) NOPASSWD:ALL")
        self.assertFalse(alice["lock_passwd"])
        self.assertEqual(crypt.crypt(PLAIN, alice["passwd"]), alice["passwd"])
        self.assertTrue(alice["passwd"].startswith("$6$"))
        self.assertEqual(bob["passwd"], HASH)
        self.assertIn("vendor", got["vendor"])

        nic0, nic1 = sorted(got["nics"], key=lambda n: macs.index(n["mac"]))
        self.assertEqual(nic0["mac"], macs[0])
        statics = [s for s in nic0["subnets"] if s["type"] == "static"]
        self.assertEqual(sorted(s["address"] for s in statics),
                         ["192.0.2.10", "2001:db8::10"])
        v4 = [s for s in statics if s["address"] == "192.0.2.10"][0]
        self.assertEqual((str(v4["prefix"]), v4["gateway"]), ("24", "192.0.2.1"))
        self.assertEqual(v4["dns_nameservers"], ["192.0.2.53", "2001:db8::53"])
        self.assertEqual(nic1["mac"], macs[1])
        self.assertEqual([s["type"] for s in nic1["subnets"]], ["dhcp4"])

        self.schema_ok(os.path.join(seed, "user-data"))
        self.schema_ok(os.path.join(seed, "vendor-data"))

    def test_raw_user_data_replaces_the_generated(self):
        raw = ("#cloud-config\nhostname: rawhost\npackages: [curl]\n"
               "users:\n  - name: carol\n    ssh_authorized_keys: ['%s']\n"
               % KEY)
        c = self.client()
        c.command("vm-define", {"config": bootsector_config(
            "raw", cloud_init={"user_data": raw})})
        label, seed = self.extract(self.start_kill(c, "raw"))
        with open(os.path.join(seed, "user-data")) as f:
            self.assertEqual(f.read(), raw)
        self.assertNotIn("network-config", os.listdir(seed))
        got = self.read_seed(seed)
        self.assertEqual(got["hostname"], "raw")   # the VM's name
        self.assertEqual(got["users"]["carol"]["ssh_authorized_keys"], [KEY])
        self.schema_ok(os.path.join(seed, "user-data"))


class SeedLifecycle(SeedCase):

    def iid(self, c, vm):
        _, seed = self.extract(self.start_kill(c, vm))
        with open(os.path.join(seed, "meta-data")) as f:
            return json.load(f)["instance-id"]

    def test_instance_id_follows_the_block(self):
        c = self.client()
        cfg = bootsector_config("life", nics=NICS, cloud_init={
            "hostname": "one", "users": [{"name": "dave",
                                          "ssh_authorized_keys": [KEY]}]})
        c.command("vm-define", {"config": cfg})
        first = self.iid(c, "life")
        self.assertEqual(self.iid(c, "life"), first, "same block, same id")
        cfg["cloud_init"]["hostname"] = "two"
        c.command("vm-update", {"vm": "life", "config": cfg})
        second = self.iid(c, "life")
        self.assertNotEqual(second, first)
        cfg["cloud_init"]["users"][0]["ssh_authorized_keys"] = [KEY2]
        c.command("vm-update", {"vm": "life", "config": cfg})
        self.assertNotIn(self.iid(c, "life"), (first, second))

        path = self.seed_path(c, "life")
        del cfg["cloud_init"]
        c.command("vm-update", {"vm": "life", "config": cfg})
        self.start_kill(c, "life")
        self.assertFalse(os.path.exists(path), "no block, no seed")

    def test_attached_read_only_and_removed_with_the_vm(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config(
            "ro", cloud_init={"hostname": "ro"})})
        c.command("vm-start", {"vm": "ro"}, timeout=t(60))
        blocks = c.command("vm-monitor", {"vm": "ro",
                                          "command": "query-block"})
        cd = [b for b in blocks if b["device"] == "cidata" or
              b.get("qdev", "").endswith("cidata")]
        self.assertEqual(len(cd), 1, blocks)
        self.assertTrue(cd[0]["inserted"]["ro"])
        self.assertTrue(cd[0]["removable"])   # a CD-ROM
        self.assertIn("/dev/fdset/", cd[0]["inserted"]["file"])
        path = self.seed_path(c, "ro")
        c.command("vm-kill", {"vm": "ro"}, timeout=t(30))
        self.assertTrue(os.path.exists(path))
        c.command("vm-undefine", {"vm": "ro"})
        self.assertFalse(os.path.exists(path))

    def test_build_error_is_a_clean_fault(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config(
            "err", cloud_init={"hostname": "e"})})
        seeds = os.path.join(self.vmd.state_dir, "seeds")
        with open(seeds, "w"):
            pass   # a file where vmd's directory of seeds goes
        err = c.error("vm-start", {"vm": "err"}, timeout=t(60))
        self.assertError(err, "GenericError", ["'err'", "cloud-init seed",
                                               "seeds/"])
        self.assertEqual(self.vm_state(c, "err"), "stopped")
        os.unlink(seeds)
        self.assertTrue(os.path.exists(self.start_kill(c, "err")))


class PasswordNeverKept(SeedCase):

    def test_plain_text_goes_nowhere(self):
        c, watcher = self.client(), self.client()
        cfg = bootsector_config("pw", cloud_init={"users": [
            {"name": "erin", "password": PLAIN}]})
        replies = [c.command("vm-define", {"config": cfg})]
        first = c.command("vm-show", {"vm": "pw"})["config"]
        cfg["cloud_init"]["users"][0]["password"] = PLAIN2
        replies.append(c.command("vm-update", {"vm": "pw", "config": cfg}))
        shown = c.command("vm-show", {"vm": "pw"})
        # the same password again: the same hash, so the same seed
        replies.append(c.command("vm-update", {"vm": "pw", "config": cfg}))
        again = c.command("vm-show", {"vm": "pw"})["config"]
        self.assertEqual(again["cloud_init"], shown["config"]["cloud_init"])
        self.assertNotEqual(first["cloud_init"], again["cloud_init"])
        replies += [shown, c.command("vm-list")]
        c.command("vm-start", {"vm": "pw"}, timeout=t(60))
        replies.append(c.command("vm-show", {"vm": "pw"}))
        c.command("vm-kill", {"vm": "pw"}, timeout=t(30))
        watcher.wait_state("pw", "stopped", t(10))

        user = shown["config"]["cloud_init"]["users"][0]
        self.assertNotIn("password", user)
        self.assertEqual(crypt.crypt(PLAIN2, user["password_hash"]),
                         user["password_hash"])
        for secret in (PLAIN, PLAIN2):
            self.assertNotIn(secret, json.dumps(replies), "a reply")
            self.assertNotIn(secret, json.dumps(watcher.events), "an event")
            self.assertNotIn(secret, self.vmd.log(), "the log")
            for root, _, files in os.walk(self.tmp):
                for name in files:
                    path = os.path.join(root, name)
                    if os.path.isfile(path) and not os.path.islink(path):
                        with open(path, "rb") as f:
                            self.assertNotIn(secret.encode(), f.read(), path)
        db = glob.glob(os.path.join(self.vmd.state_dir, "*.db*"))
        self.assertTrue(db, "the store's files")


class BadInput(vmdtest.VmdTestCase):

    def refused(self, block, mentions, nics=1):
        c = self.client()
        cfg = bootsector_config("bad", nics=[{"type": "user"}] * nics,
                                cloud_init=block)
        for cmd, args in (("vm-define", {"config": cfg}),
                          ("vm-update", {"vm": "ok", "config": dict(
                              cfg, name="ok")})):
            if cmd == "vm-update" and not c.command("vm-list"):
                c.command("vm-define", {"config": bootsector_config("ok")})
            err = c.error(cmd, args)
            self.assertError(err, "InvalidArgument", mentions)
            self.assertNotIn(PLAIN, err["desc"])

    def test_bad_input_names_the_field(self):
        user = "config.cloud_init.users[0]"
        keys = user + ".ssh_authorized_keys"
        cases = [
            ({"ssh_authorized_keys": ["ssh-foo AAAA x"]},
             [keys + "[0]", "unknown key type"]),
            ({"ssh_authorized_keys": [KEY, "ssh-ed25519 not*base64 x"]},
             [keys + "[1]", "base64"]),
            ({"ssh_authorized_keys": [ssh_key("ssh-rsa", "ssh-ed25519")]},
             [keys + "[0]", "does not hold its type"]),
            ({"ssh_authorized_keys": ["ssh-ed25519"]},
             [keys + "[0]", "no base64"]),
            ({"ssh_authorized_keys": [KEY + "\nssh-rsa AAAA"]},
             [keys + "[0]", "control character"]),
            ({"password_hash": "secret"}, [user + ".password_hash"]),
            ({"password_hash": "$1$abcdefgh$0123456789012345678901"},
             [user + ".password_hash", "supported method"]),
            ({"password_hash": HASH[:-1]},
             [user + ".password_hash", "length"]),
            ({"password_hash": HASH, "password": PLAIN},
             [user, "not both"]),
            ({"password": ""}, [user + ".password"]),
            ({"password": "x" * 257}, [user + ".password"]),
        ]
        for extra, mentions in cases:
            with self.subTest(extra=extra):
                self.refused({"users": [dict(name="u", **extra)]}, mentions)

        ud = "config.cloud_init.user_data"
        net = "config.cloud_init.network[0]"
        cases = [
            ({"user_data": "hostname: x\n"}, [ud, "#cloud-config"]),
            ({"user_data": "#cloud-config\nhostname: [x\n"},
             [ud, "not valid YAML", "line"]),
            ({"user_data": "#cloud-config\n- a\n- b\n"}, [ud, "mapping"]),
            ({"user_data": "#cloud-config\na: 1\n---\nb: 2\n"},
             [ud, "more than one"]),
            ({"user_data": "#cloud-config\na: 1\n", "users": [{"name": "u"}]},
             ["config.cloud_init.users", "user_data"]),
            ({"user_data": "#cloud-config\n" + "a: 1\n" * 20000},
             ["user_data"]),
            ({"vendor_data": "#cloud-config\n\tx: [\n"},
             ["config.cloud_init.vendor_data", "YAML"]),
            ({"hostname": "bad_host"}, ["config.cloud_init.hostname"]),
            ({"network": [{"nic": 0, "addresses": ["192.0.2.300/24"]}]},
             [net + ".addresses[0]", "192.0.2.300/24"]),
            ({"network": [{"nic": 0, "addresses": ["192.0.2.3/33"]}]},
             [net + ".addresses[0]"]),
            ({"network": [{"nic": 0, "addresses": ["192.0.2.3"]}]},
             [net + ".addresses[0]"]),
            ({"network": [{"nic": 0, "addresses": ["192.0.2.3/24"],
                           "gateway": "gw"}]}, [net + ".gateway"]),
            ({"network": [{"nic": 0, "addresses": ["192.0.2.3/24"],
                           "dns": ["1.1.1.1", "x::y::z"]}]},
             [net + ".dns[1]"]),
            ({"network": [{"nic": 1, "dhcp": True}]}, [net + ".nic", "1 NIC"]),
            ({"network": [{"nic": 0, "dhcp": True}, {"nic": 0, "dhcp": True}]},
             ["config.cloud_init.network[1].nic", "twice"]),
            ({"network": [{"nic": 0, "dhcp": True,
                           "addresses": ["192.0.2.3/24"]}]}, [net, "either"]),
            ({"network": [{"nic": 0}]}, [net, "either"]),
            ({"users": [{"name": "u"}] * 33}, ["config.cloud_init.users"]),
            ({"users": [{"name": "u", "ssh_authorized_keys": ["k" * 8193]}]},
             [keys + "[0]"]),
            ({"unknown": 1}, ["unknown"]),
        ]
        for block, mentions in cases:
            with self.subTest(block=str(block)[:80]):
                self.refused(block, mentions)

    def test_microvm_has_no_bus_for_the_seed(self):
        """QEMU's microvm has neither IDE nor PCI (QEMU ends at start with
        "No 'PCI' bus found"): a cloud_init block there is refused at
        define and update.  isapc's IDE bus takes the seed: it starts."""
        c = self.client()
        block = {"hostname": "m"}
        micro = bootsector_config("micro", machine="microvm", cloud_init=block)
        mentions = ["config.cloud_init", "microvm", "pc or q35"]
        self.assertCmdError(c, "vm-define", {"config": micro},
                            "InvalidArgument", mentions)
        c.command("vm-define", {"config": bootsector_config(
            "micro", machine="microvm")})
        self.assertCmdError(c, "vm-update", {"vm": "micro", "config": micro},
                            "InvalidArgument", mentions)
        c.command("vm-define", {"config": bootsector_config(
            "pcvm", cloud_init=block)})
        self.assertCmdError(c, "vm-update", {"vm": "pcvm", "config": dict(
            micro, name="pcvm")}, "InvalidArgument", mentions)
        c.command("vm-define", {"config": bootsector_config(
            "isa", machine="isapc", cloud_init=block)})
        self.assertEqual(c.command("vm-start", {"vm": "isa"},
                                   timeout=t(60))["state"], "running")
        c.command("vm-kill", {"vm": "isa"}, timeout=t(30))


class GuestReadsSeed(SeedCase):

    def test_linux_guest_mounts_cidata(self):
        vmdtest.require_guests(INITRAMFS)
        c = self.client()
        cfg = linux_config("lin", nics=[{"type": "user"}], cloud_init={
            "hostname": "seeded-host",
            "users": [{"name": "root", "ssh_authorized_keys": [KEY]}]})
        cfg["boot"]["cmdline"] += " vmd.cidata"
        c.command("vm-define", {"config": cfg})
        c.command("vm-start", {"vm": "lin"}, timeout=t(60))
        con = self.vmctl_process("console", "lin")
        con.read_until(b"VMD-CIDATA hostname=seeded-host", t(120))
        con.read_until(("VMD-CIDATA key=" + KEY).encode(), t(10))
        con.read_until(vmdtest.LINUX_BANNER, t(30))


if __name__ == "__main__":
    vmdtest.main()
