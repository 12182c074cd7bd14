"""End-to-end: guards that the mutation pass (tests/mutation, see
tests/README.md) found unchecked, each pinned exactly.

- access: a peer's primary group counts as much as a supplementary one
  (SO_PEERCRED's gid), both for group vmd and for group vmd-admin;
- dispatch: the "contains a NUL character" message names the member at
  fault and nothing else."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOTSECTOR, bootsector_config, t  # noqa: E402


class PrimaryGroupTest(vmdtest.UsersTestCase):
    """vmdt-nobody with vmd or vmd-admin as its primary group (setpriv)."""

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.vmctl_copy = self.copy_for_others()
        self.client().command("vm-define",
                              {"config": bootsector_config("guarded")})

    def as_nobody(self, primary, groups, *args):
        """vmctl as vmdt-nobody (in no group of its own) with the given
        primary group and exactly the given supplementary groups."""
        argv = ["setpriv", "--reuid=vmdt-nobody", "--regid=" + primary]
        argv += ["--groups=" + ",".join(groups)] if groups else \
            ["--clear-groups"]
        argv += [self.vmctl_copy, "-s", self.vmd.socket] + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=t(60),
                           text=True)
        return p.returncode, p.stdout, p.stderr

    def test_primary_group_vmd_reads(self):
        rc, out, err = self.as_nobody("vmd", [], "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("guarded", out)
        rc, out, err = self.as_nobody("vmd", [], "start", "guarded")
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("PermissionDenied", err)

    def test_primary_group_vmd_admin_administers(self):
        rc, out, err = self.as_nobody("vmd-admin", ["vmd"], "start",
                                      "guarded")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.as_nobody("vmd-admin", ["vmd"], "kill",
                                      "guarded")
        self.assertEqual(rc, 0, err)

    def test_many_groups(self):
        """More supplementary groups than a first guess of the buffer
        holds: group vmd still counts, wherever it is in the list."""
        many = [str(g) for g in range(60000, 60300)]
        for groups in (["vmd"] + many, many + ["vmd"]):
            rc, out, err = self.as_nobody("vmdt-nobody", groups, "list")
            self.assertEqual(rc, 0, err)
            self.assertIn("guarded", out)


class NulMessageTest(vmdtest.VmdTestCase):
    def test_nul_message_names_the_member(self):
        c = self.client()
        err = c.error("vm-define", {"config": bootsector_config(
            "nul", labels={"k": "a\u0000b"})})
        self.assertEqual(err, {"class": "InvalidArgument", "desc":
                               "vm-define: 'config.labels.k': contains a "
                               "NUL character (\\u0000)"})
        err = c.error("vm-show", {"vm": "x\u0000"})
        self.assertEqual(err, {"class": "InvalidArgument", "desc":
                               "vm-show: 'vm': contains a NUL character "
                               "(\\u0000)"})


if __name__ == "__main__":
    vmdtest.main()
