"""End-to-end: who may do what (SO_PEERCRED and SO_PEERGROUPS).

Real users and groups are made for the test: one in vmd-admin (and vmd, to
reach the socket, which is mode 0660 group vmd), one in vmd only, one in
neither.  vmctl runs as each of them through setpriv.  Members of vmd may
list, show, read logs and watch consoles; only vmd-admin may change
anything or type into a console; the rest cannot even reach the socket."""

import errno
import grp
import json
import os
import pwd
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402


# The access level of every command, pinned here on purpose: the test also
# reads the schema, and a schema change that lowers a level must fail here
# rather than silently lower what the test expects.
ACCESS = {
    "qmp_capabilities": "any", "query-host": "read", "query-commands": "read",
    "query-events": "read", "query-schema": "read", "vm-list": "read",
    "vm-show": "read", "console-read": "read", "console-attach": "read",
    "vm-define": "admin", "vm-update": "admin", "vm-undefine": "admin",
    "vm-start": "admin", "vm-stop": "admin", "vm-kill": "admin",
    "vm-reset": "admin", "vm-pause": "admin", "vm-resume": "admin",
    "vm-monitor": "admin",
    "volume-list": "read", "volume-show": "read", "job-list": "read",
    "volume-create": "admin", "volume-delete": "admin",
    "volume-resize": "admin", "volume-import": "admin",
    "volume-clone": "admin", "job-cancel": "admin",
    "vm-template": "admin", "vm-clone": "admin", "spec-apply": "admin",
    "vm-import-libvirt": "admin", "vm-export-libvirt": "read",
    "token-create": "admin", "token-list": "admin", "token-revoke": "admin",
    "query-metrics": "read", "usage-report": "read",
    "plan-define": "admin", "plan-list": "read", "plan-delete": "admin",
    "invoice": "read",
}

# Run as another user (stdin: a JSON list of requests): each request on a
# connection of its own, after qmp_capabilities; prints the replies as a
# JSON list, {"connect_error": errno} where the socket refused.
AS_USER_SCRIPT = vmdtest.PEER_READ_OBJ + r"""
path, timeout = sys.argv[1], float(sys.argv[2])
out = []
for req in json.load(sys.stdin):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as e:
        out.append({"connect_error": e.errno})
        continue
    _, buf = read_obj(s, "")
    reqs = [req]
    if req["execute"] != "qmp_capabilities":
        reqs.insert(0, {"execute": "qmp_capabilities"})
    for r in reqs:
        s.sendall(json.dumps(r).encode() + b"\n")
        while True:
            obj, buf = read_obj(s, buf)
            if "event" not in obj:
                break
    out.append(obj)
    s.close()
json.dump(out, sys.stdout)
"""


def schema_commands():
    with open(os.path.join(vmdtest.SRCDIR, "schemas", "protocol.json")) as f:
        return json.load(f)["commands"]


class GuardedVmTest(vmdtest.UsersTestCase):
    """A defined boot-sector VM "guarded", and vmctl as other users."""

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.vmctl_copy = self.copy_for_others()
        self.c = self.client()
        self.c.command("vm-define", {"config": bootsector_config("guarded")})
        self.c.command("volume-create", {"name": "guarded-disk", "size": 1})

    def as_user(self, user, *args, input=None):
        argv = ["setpriv", "--reuid=" + user, "--regid=" + user,
                "--init-groups", self.vmctl_copy, "-s", self.vmd.socket]
        argv += list(args)
        p = subprocess.run(argv, input=input, capture_output=True,
                           timeout=t(60), text=True)
        return p.returncode, p.stdout, p.stderr


class AccessTest(GuardedVmTest):

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

    def requests(self):
        """One valid request per command (console-attach twice: ro is a
        read, rw needs admin) with the level it needs, from the table."""
        vm = {"vm": "guarded"}
        args = {
            "vm-define": {"config": bootsector_config("other")},
            "vm-update": {"vm": "guarded",
                          "config": bootsector_config("guarded")},
            "vm-stop": {"vm": "guarded", "timeout": 0},
            "vm-monitor": {"vm": "guarded", "command": "query-status"},
            "console-read": {"vm": "guarded", "max_bytes": 16},
            "console-attach": {"vm": "guarded", "mode": "ro"},
            "volume-show": {"volume": "guarded-disk"},
            "vm-clone": {"vm": "guarded", "name": "guarded-clone"},
            "vm-import-libvirt": {"xml": "<domain><name>lv</name></domain>",
                                  "define": False},
            "spec-apply": {"spec": {"label": "access=test", "vms": []},
                           "dry_run": True},
            "token-create": {"label": "access", "scope": "read"},
            "token-revoke": {"id": "0123456789abcdef"},
            "plan-define": {"name": "access", "currency": "EUR"},
            "plan-delete": {"name": "access"},
            "invoice": {"customer": "acme", "month": "2026-12"},
            "usage-report": {"from": "2026-12", "to": "2027-01",
                             "granularity": "month"},
        }
        reqs = []
        for cmd, level in sorted(ACCESS.items()):
            a = args.get(cmd, vm if cmd.startswith("vm-") and
                         cmd not in ("vm-list",) else None)
            req = {"execute": cmd}
            if a is not None:
                req["arguments"] = a
            reqs.append((req, level))
        reqs.append(({"execute": "console-attach",
                      "arguments": {"vm": "guarded", "mode": "rw"}}, "admin"))
        return reqs

    def run_as(self, user, reqs):
        p = subprocess.run(
            ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups",
             sys.executable, "-c", AS_USER_SCRIPT, self.vmd.socket,
             str(t(30))],
            input=json.dumps(reqs), capture_output=True, text=True,
            timeout=t(120))
        self.assertEqual(p.returncode, 0, p.stderr)
        replies = json.loads(p.stdout)
        self.assertEqual(len(replies), len(reqs))
        return replies

    def test_schema_access_levels_are_pinned(self):
        schema = schema_commands()
        self.assertEqual({c: v.get("access") for c, v in schema.items()},
                         ACCESS)

    def test_reader_denied_exactly_the_admin_commands(self):
        """Table-driven over every command: the reader (group vmd only)
        gets PermissionDenied exactly where the level is admin and an
        answer to every other command; the admin commands change nothing."""
        self.c.command("vm-start", {"vm": "guarded"}, timeout=t(60))
        schema = schema_commands()
        reqs = self.requests()
        self.assertEqual({r["execute"] for r, _ in reqs}, set(schema),
                         "the table misses a command of the schema")
        replies = self.run_as("vmdt-reader", [r for r, _ in reqs])
        for (req, level), reply in zip(reqs, replies):
            what = "%s %s as reader: %r" % (req["execute"],
                                             req.get("arguments", ""), reply)
            if level == "admin":
                self.assertIn("error", reply, what)
                self.assertError(reply["error"], "PermissionDenied",
                                 "vmd-admin")
            else:
                self.assertIn("return", reply, what)
        self.assertEqual(self.vm_state(self.c, "guarded"), "running")
        names = [v["name"] for v in self.c.command("vm-list")]
        self.assertEqual(names, ["guarded"])

    def test_nobody_cannot_connect_for_any_command(self):
        reqs = [r for r, _ in self.requests()]
        replies = self.run_as("vmdt-nobody", reqs)
        self.assertEqual(replies,
                         [{"connect_error": errno.EACCES}] * len(reqs))

    def test_others_cannot_reach_the_socket(self):
        rc, out, err = self.as_user("vmdt-nobody", "list")
        self.assertEqual(rc, 3, (out, err))
        self.assertIn("Permission denied", err)


if __name__ == "__main__":
    vmdtest.main()
