"""End-to-end: who may do what (SO_PEERCRED and SO_PEERGROUPS).

Real users and groups are made for the test: one in vmd-admin (and vmd, to
reach the socket, which is mode 0660 group vmd), one in vmd only, one in
neither.  vmctl runs as each of them through setpriv.  Members of vmd may
list, show, read logs and watch consoles; only vmd-admin may change
anything or type into a console; the rest cannot even reach the socket."""

import grp
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402

USERS = {"vmdt-admin": ["vmd", "vmd-admin"], "vmdt-reader": ["vmd"],
         "vmdt-nobody": []}


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


class AccessTest(vmdtest.VmdTestCase):
    made_groups, made_users = [], []

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to create users and groups")
        for g in ("vmd", "vmd-admin"):
            try:
                grp.getgrnam(g)
            except KeyError:
                run("groupadd", "--system", g)
                cls.made_groups.append(g)
        for user, groups in USERS.items():
            try:
                pwd.getpwnam(user)
                run("usermod", "-G", ",".join(groups), user)
            except KeyError:
                argv = ["useradd", "--system", "--no-create-home",
                        "--shell", "/usr/sbin/nologin"]
                if groups:
                    argv += ["-G", ",".join(groups)]
                run(*argv, user)
                cls.made_users.append(user)

    @classmethod
    def tearDownClass(cls):
        for user in cls.made_users:
            subprocess.run(["userdel", user], capture_output=True)
        for g in cls.made_groups:
            subprocess.run(["groupdel", g], capture_output=True)

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        os.chmod(self.tmp, 0o755)   # others must reach the socket inside
        self.bin = os.path.join(self.tmp, "bin")
        os.mkdir(self.bin)
        os.chmod(self.bin, 0o755)
        self.vmctl_copy = shutil.copy(vmdtest.VMCTL, self.bin)
        os.chmod(self.vmctl_copy, 0o755)
        self.c = self.client()
        self.c.command("vm-define", {"config": bootsector_config("guarded")})

    def as_user(self, user, *args, input=None):
        argv = ["setpriv", "--reuid=" + user, "--regid=" + user,
                "--init-groups", self.vmctl_copy, "-s", self.vmd.socket]
        argv += list(args)
        p = subprocess.run(argv, input=input, capture_output=True,
                           timeout=t(60), text=True)
        return p.returncode, p.stdout, p.stderr

    def test_socket_is_group_vmd(self):
        st = os.stat(self.vmd.socket)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam("vmd").gr_gid)

    def test_reader_looks_but_does_not_touch(self):
        rc, out, err = self.as_user("vmdt-reader", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("guarded", out)
        rc, out, err = self.as_user("vmdt-reader", "show", "guarded")
        self.assertEqual(rc, 0, err)
        for args in (["start", "guarded"], ["undefine", "guarded"],
                     ["kill", "guarded"]):
            rc, out, err = self.as_user("vmdt-reader", *args)
            self.assertEqual(rc, 1, (args, out, err))
            self.assertIn("PermissionDenied", err)
            self.assertIn("vmd-admin", err)
        self.assertEqual(self.c.command("vm-show", {"vm": "guarded"})["state"],
                         "stopped")

    def test_reader_watches_console_read_only(self):
        self.c.command("vm-start", {"vm": "guarded"}, timeout=t(60))
        self.console("guarded").read_until(BOOT_BANNER, t(30))
        rc, out, err = self.as_user("vmdt-reader", "console", "guarded",
                                    input="")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("PermissionDenied", err)
        p = subprocess.Popen(
            ["setpriv", "--reuid=vmdt-reader", "--regid=vmdt-reader",
             "--init-groups", self.vmctl_copy, "-s", self.vmd.socket,
             "console", "--ro", "guarded"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(b"typed\n", timeout=3)
        except subprocess.TimeoutExpired:
            p.terminate()
            out, err = p.communicate(timeout=t(10))
        self.assertIn(BOOT_BANNER, out, err)
        self.assertNotIn(b"typed", out, "a read-only viewer's bytes reached "
                         "the guest (it echoes them)")

    def test_admin_does_everything(self):
        rc, out, err = self.as_user("vmdt-admin", "start", "guarded")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.as_user("vmdt-admin", "kill", "guarded")
        self.assertEqual(rc, 0, err)
        uid = pwd.getpwnam("vmdt-admin").pw_uid
        db = sqlite3.connect(os.path.join(self.vmd.state_dir, "vmd.db"))
        who = [r[0] for r in db.execute(
            "SELECT who FROM events WHERE vm_name = 'guarded'")]
        db.close()
        self.assertIn("uid=%d" % uid, " ".join(who),
                      "the audit log names who started the VM")

    def test_others_cannot_reach_the_socket(self):
        rc, out, err = self.as_user("vmdt-nobody", "list")
        self.assertEqual(rc, 3, (out, err))
        self.assertIn("Permission denied", err)


if __name__ == "__main__":
    vmdtest.main()
