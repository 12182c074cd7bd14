"""End-to-end: a non-root vmd uses only directories of its own.

Another user who made /tmp/vmd-UID (or can write into vmd's runtime or
state directory) could put a fake vmd's socket there and receive what
clients send.  vmd, run as a test user through setpriv, refuses such a
directory with a clear message, and makes its own runtime directory 0700."""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import PROBE_CACHE, t  # noqa: E402

USER = "vmdt-owner"


class OwnDirsTest(vmdtest.UsersTestCase):
    start_vmd = False

    def setUp(self):
        super().setUp()
        self.pw = pwd.getpwnam(USER)
        self.vmd_copy = self.copy_for_others(vmdtest.VMD)
        self.home = self.user_dir("home")
        if os.path.exists(PROBE_CACHE):   # spare vmd the KVM probe
            shutil.copy(PROBE_CACHE, os.path.join(self.home, "probe.json"))
            os.chown(os.path.join(self.home, "probe.json"), self.pw.pw_uid,
                     self.pw.pw_gid)
        self.tmp_run = "/tmp/vmd-%d" % self.pw.pw_uid   # vmd's default
        self.remove_tmp_run()
        self.addCleanup(self.remove_tmp_run)

    def remove_tmp_run(self):
        if os.path.islink(self.tmp_run):
            os.unlink(self.tmp_run)
        shutil.rmtree(self.tmp_run, ignore_errors=True)

    def user_dir(self, name, mode=0o700, owner=None):
        path = os.path.join(self.tmp, name)
        os.mkdir(path)
        os.chmod(path, mode)
        uid = self.pw.pw_uid if owner is None else owner
        os.chown(path, uid, self.pw.pw_gid if owner is None else 0)
        return path

    def vmd_as_user(self, env=None, run_secs=None):
        """Run vmd as USER with a clean environment.  When it must fail:
        (status, output).  With run_secs: wait for its socket, then stop
        it; (status, output, socket path)."""
        environ = {"HOME": self.home, "PATH": "/usr/bin:/bin"}
        environ.update(env or {})
        argv = ["setpriv", "--reuid=" + USER, "--regid=" + USER,
                "--clear-groups", self.vmd_copy, "--log-level", "debug",
                "--probe-cache", os.path.join(self.home, "probe.json")]
        p = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             stdin=subprocess.DEVNULL)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        if run_secs is None:
            return self.exit_of(p, t(20), "vmd did not refuse the directory")
        deadline = time.monotonic() + t(run_secs)
        sock = None
        while time.monotonic() < deadline and p.poll() is None:
            for d in (environ.get("XDG_RUNTIME_DIR"), None):
                path = os.path.join(d, "vmd", "vmd.sock") if d else \
                    os.path.join(self.tmp_run, "vmd.sock")
                if os.path.exists(path):
                    sock = path
            if sock:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=t(20))[0]
        self.assertIsNotNone(sock, "vmd did not listen: %s" % out)
        return p.returncode, out, sock

    def test_tmp_dir_made_by_another_user_refused(self):
        os.mkdir(self.tmp_run)
        os.chmod(self.tmp_run, 0o777)     # root's, anyone may write
        rc, out = self.vmd_as_user()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("%s is owned by uid 0, not by vmd's user (uid %d); "
                      "refusing" % (self.tmp_run, self.pw.pw_uid), out)
        self.assertEqual(os.listdir(self.tmp_run), [],
                         "vmd put something into a directory it refused")

    def test_tmp_dir_of_another_user_even_read_only_refused(self):
        os.mkdir(self.tmp_run)
        os.chmod(self.tmp_run, 0o755)
        rc, out = self.vmd_as_user()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("is owned by uid 0", out)

    def test_symlink_of_another_user_refused(self):
        target = self.user_dir("mine")   # the user's own, but the link
        os.symlink(target, self.tmp_run)  # is another user's to replace
        nobody = pwd.getpwnam("nobody").pw_uid
        os.lchown(self.tmp_run, nobody, -1)
        rc, out = self.vmd_as_user()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("%s is a symlink owned by uid %d" % (self.tmp_run, nobody),
                      out)

    def test_group_writable_runtime_dir_refused(self):
        xdg = self.user_dir("xdg")
        self.user_dir(os.path.join("xdg", "vmd"), mode=0o770)
        os.chmod(os.path.join(xdg, "vmd"), 0o770)   # past the umask
        rc, out = self.vmd_as_user({"XDG_RUNTIME_DIR": xdg})
        self.assertNotEqual(rc, 0, out)
        self.assertIn("%s/vmd is writable by its group or others (mode 0770)"
                      % xdg, out)

    def test_state_dir_of_another_user_refused(self):
        xdg = self.user_dir("xdg")
        state = self.user_dir("xstate")
        self.user_dir(os.path.join("xstate", "vmd"), mode=0o755, owner=0)
        rc, out = self.vmd_as_user({"XDG_RUNTIME_DIR": xdg,
                                    "XDG_STATE_HOME": state})
        self.assertNotEqual(rc, 0, out)
        self.assertIn("%s/vmd is owned by uid 0" % state, out)

    def test_own_dirs_made_private(self):
        rc, out, sock = self.vmd_as_user(run_secs=30)
        self.assertEqual(rc, 0, out)
        st = os.stat(self.tmp_run)
        self.assertEqual(st.st_uid, self.pw.pw_uid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, out)
        state = os.path.join(self.home, ".local", "state", "vmd")
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o700)
        # and it starts again on what it made
        rc, out, sock = self.vmd_as_user(run_secs=30)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    vmdtest.main()
