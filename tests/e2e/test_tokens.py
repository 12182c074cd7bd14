"""End-to-end: access tokens (token-create, -list, -revoke; "token" beside
"execute").  A call with a token has the token's rights alone, whatever its
peer's groups; without one, the peer's groups decide as before.  Revoking
or expiring a token closes its console and event sessions; failed tokens
are rate-limited per uid and logged, never with their secret."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, bootsector_config, t  # noqa: E402
from vmdproto import Client, Console, Stream  # noqa: E402

# Run as another user: one connection, negotiated (with argv[3] as token
# when not ""), then each request of stdin's JSON list in turn; with
# argv[4] > 0, events are read that many seconds more.  Prints {"replies",
# "events", "seconds"} (seconds: for the requests alone).
USER_SCRIPT = vmdtest.PEER_READ_OBJ + r"""
path, timeout, token, linger = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(timeout)
s.connect(path)
buf = ""
events = []

def next_obj():
    global buf
    obj, buf = read_obj(s, buf)
    return obj

def reply():
    while True:
        obj = next_obj()
        if "event" in obj:
            events.append(obj)
        else:
            return obj

next_obj()
caps = {"execute": "qmp_capabilities"}
if token:
    caps["token"] = token
s.sendall(json.dumps(caps).encode() + b"\n")
first = reply()
reqs = json.load(sys.stdin)
start = time.monotonic()
# pipelined: vmd answers in order
s.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in reqs))
replies = [reply() for _ in reqs]
seconds = time.monotonic() - start
end = time.monotonic() + linger
while time.monotonic() < end:
    s.settimeout(max(0.01, end - time.monotonic()))
    try:
        events.append(next_obj())
    except (socket.timeout, EOFError):
        break
json.dump({"caps": first, "replies": replies, "events": events,
           "seconds": seconds}, sys.stdout)
"""

WRONG = "vmd_%016x_" + "ab" * 32


class TokenCase(vmdtest.UsersTestCase):
    """Two defined boot-sector VMs, web1 and web2; the socket open to
    every user (as a gateway's would be, by ACL or mode), so that a user
    with no group reaches it and has no rights but its tokens'."""

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)
        self.copy_for_others()
        os.chmod(self.vmd.socket, 0o666)
        self.c = self.client()
        for vm in ("web1", "web2"):
            self.c.command("vm-define", {"config": bootsector_config(vm)})

    def token(self, scope, **kw):
        args = {"label": kw.pop("label", "test"), "scope": scope}
        args.update(kw)
        return self.c.command("token-create", args)

    def call(self, client, cmd, args=None, token=None):
        req = {"execute": cmd, "id": client.next_id}
        client.next_id += 1
        if args is not None:
            req["arguments"] = args
        if token is not None:
            req["token"] = token
        return client.request(req)

    def denied(self, client, cmd, args, token, *mentions):
        reply = self.call(client, cmd, args, token)
        self.assertIn("error", reply, "%s with a token: %r" % (cmd, reply))
        self.assertError(reply["error"], "PermissionDenied", mentions)
        return reply["error"]["desc"]

    def as_user(self, user, reqs, token="", linger=0, background=False):
        argv = ["setpriv", "--reuid=" + user, "--regid=" + user,
                "--init-groups", sys.executable, "-c", USER_SCRIPT,
                self.vmd.socket, str(t(30)), token, str(linger)]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stdin.write(json.dumps(reqs))
        p.stdin.close()
        p.stdin = None   # communicate() has nothing more to send
        if background:
            return p
        return self.user_result(p)

    def user_result(self, p):
        out, err = p.communicate(timeout=t(120))
        self.assertEqual(p.returncode, 0, err)
        return json.loads(out)

    def attach(self, vm, token, mode="rw"):
        """A console-attach connection with a token (vmdproto's Console
        with the request's token member)."""
        con = Console.__new__(Console)
        con.client = Client(self.vmd.socket)
        self._clients.append(con.client)
        con.reply = self.call(con.client, "console-attach",
                              {"vm": vm, "mode": mode}, token)
        self.assertIn("return", con.reply, con.reply)
        Stream.__init__(con, con.client.sock)
        con._reply_nl = True
        con._take(con.client.buf)
        con.client.buf = b""
        return con


class RefusedTest(TokenCase):

    def test_missing_wrong_expired_revoked_are_refused(self):
        good = self.token([{"vm": "web1", "allow": ["show"]}])
        short = self.token("read", expires_in=1)
        gone = self.token("admin")
        self.c.command("token-revoke", {"id": gone["id"]})
        wrong_secret = good["token"][:-4] + "0000"
        nobody = [{"execute": "vm-list"}]
        res = self.as_user("vmdt-nobody", nobody)
        self.assertError(res["replies"][0]["error"], "PermissionDenied",
                         "vm-list")  # missing: a user with no group
        for tok, what in ((wrong_secret, "invalid token"),
                          (WRONG % 7, "invalid token"),
                          ("not-a-token", "vmd_ID_SECRET"),
                          (gone["token"], "revoked")):
            # root too: a token's rights replace the peer's
            self.denied(self.c, "vm-list", None, tok, what)
        self.wait_for(lambda: self.call(self.c, "vm-list", None,
                                        short["token"]).get("error"),
                      t(5), "the 1 s token to expire")
        self.denied(self.c, "vm-list", None, short["token"], "expired")
        reply = self.call(self.c, "vm-list", None, "")
        self.assertIn("member 'token'", reply["error"]["desc"])
        # the good one still works
        self.assertIn("return", self.call(self.c, "vm-show", {"vm": "web1"},
                                          good["token"]))

    def test_console_token_on_another_vm(self):
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        self.c.command("vm-start", {"vm": "web2"}, timeout=t(60))
        tok = self.token([{"vm": "web1", "allow": ["console"]}])["token"]
        self.denied(self.c, "console-attach", {"vm": "web2"}, tok, "web2",
                    "does not allow")
        self.denied(self.c, "console-read", {"vm": "web2"}, tok, "web2")
        self.denied(self.c, "vm-stop", {"vm": "web1"}, tok, "power")
        self.denied(self.c, "vm-show", {"vm": "web1"}, tok, "show")
        self.denied(self.c, "volume-list", None, tok, "scoped to VMs")
        self.denied(self.c, "token-list", None, tok, "scoped to VMs")
        con = self.attach("web1", tok)
        con.read_until(BOOT_BANNER, t(30))

    def test_read_token_cannot_type(self):
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        tok = self.token("read")["token"]
        self.denied(self.c, "console-attach", {"vm": "web1", "mode": "rw"},
                    tok, "not type")
        self.denied(self.c, "vm-stop", {"vm": "web1"}, tok, "read-only")
        self.denied(self.c, "token-create", {"label": "x", "scope": "admin"},
                    tok, "read-only")
        con = self.attach("web1", tok, mode="ro")
        con.read_until(BOOT_BANNER, t(30))
        con.write(b"typed-by-reader")
        self.assertNotIn(b"typed-by-reader", con.read_for(1.0),
                         "a read token's bytes reached the guest (it echoes)")
        # a token with console (not watch alone) may type
        typer = self.token([{"vm": "web1", "allow": ["console"]}])["token"]
        self.attach("web1", typer, mode="rw")
        watcher = self.token([{"vm": "web1", "allow": ["watch"]}])["token"]
        self.denied(self.c, "console-attach", {"vm": "web1", "mode": "rw"},
                    watcher, "not type")

    def test_vm_token_sees_only_its_vm(self):
        tok = self.token([{"vm": "web1", "allow": ["show"]}])["token"]
        reply = self.call(self.c, "vm-list", None, tok)
        self.assertEqual([v["name"] for v in reply["return"]], ["web1"])
        self.assertEqual(len(self.c.command("vm-list")), 2)
        self.denied(self.c, "query-host", None, tok, "scoped to VMs")
        # its event session gets web1's events, not web2's
        ev = Client(self.vmd.socket, negotiate=False)
        self._clients.append(ev)
        self.assertIn("return", self.call(ev, "qmp_capabilities", None, tok))
        self.c.command("vm-start", {"vm": "web2"}, timeout=t(60))
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        ev.wait_state("web1", "running", t(30))
        ev.drain(0.5)
        vms = {e["data"].get("vm") for e in ev.events}
        self.assertEqual(vms, {"web1"}, ev.events)


class UsersTest(TokenCase):

    def test_unprivileged_user_gets_the_tokens_rights(self):
        admin = self.token("admin")["token"]
        web1 = self.token([{"vm": "web1", "allow": ["show", "power"]}])["token"]
        reqs = [{"execute": "vm-list"},
                {"execute": "vm-start", "arguments": {"vm": "web1"}}]
        # without a token: today's rules, nothing for a user with no group
        plain = self.as_user("vmdt-nobody", reqs)
        for r in plain["replies"]:
            self.assertError(r["error"], "PermissionDenied", "vmd")
        # with one: exactly its rights
        scoped = self.as_user("vmdt-nobody", [dict(r, token=web1) for r in reqs]
                              + [{"execute": "vm-start", "token": web1,
                                  "arguments": {"vm": "web2"}}])
        got = scoped["replies"]
        self.assertEqual([v["name"] for v in got[0]["return"]], ["web1"])
        self.assertIn("return", got[1], got[1])
        self.assertError(got[2]["error"], "PermissionDenied", "web2")
        self.wait_for(lambda: self.vm_state(self.c, "web1") == "running",
                      t(30), "web1 to run")
        full = self.as_user("vmdt-nobody", [
            {"execute": "vm-start", "arguments": {"vm": "web2"},
             "token": admin}])
        self.assertIn("return", full["replies"][0], full)
        # group vmd with a VM token: the token's scope, not the group's
        reader = self.as_user("vmdt-reader", [
            {"execute": "vm-list", "token": web1}, {"execute": "vm-list"}])
        self.assertEqual(len(reader["replies"][0]["return"]), 1)
        self.assertEqual(len(reader["replies"][1]["return"]), 2)

    def test_events_follow_the_sessions_token(self):
        web1 = self.token([{"vm": "web1", "allow": ["show"]}])["token"]
        bare = self.as_user("vmdt-nobody", [], linger=t(4), background=True)
        scoped = self.as_user("vmdt-nobody", [], token=web1, linger=t(4),
                              background=True)
        time.sleep(0.5)
        self.c.command("vm-start", {"vm": "web2"}, timeout=t(60))
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        bare, scoped = self.user_result(bare), self.user_result(scoped)
        self.assertEqual(bare["events"], [], "no rights, no events")
        self.assertTrue(scoped["events"])
        self.assertEqual({e["data"]["vm"] for e in scoped["events"]},
                         {"web1"})

    def test_brute_force_is_rate_limited(self):
        good = self.token("read")
        guesses = [{"execute": "vm-list", "token": WRONG % i}
                   for i in range(1000)]
        guesses.append({"execute": "vm-list", "token": good["token"]})
        p = self.as_user("vmdt-nobody", guesses, background=True)
        # others are served meanwhile: root, and a user with a token
        t0 = time.monotonic()
        for _ in range(20):
            self.c.command("vm-list")
        others = time.monotonic() - t0
        reader = self.as_user("vmdt-reader", [
            {"execute": "vm-list", "token": good["token"]}])
        self.assertIn("return", reader["replies"][0], reader)
        res = self.user_result(p)
        replies = res["replies"]
        self.assertTrue(all(r["error"]["class"] == "PermissionDenied"
                            for r in replies[:1000]))
        limited = [r for r in replies if "too many failed tokens"
                   in r["error"]["desc"]]
        checked = 1000 - sum(1 for r in replies[:1000]
                             if "too many failed tokens" in r["error"]["desc"])
        self.assertLessEqual(checked, 15, "tokens checked despite the limit")
        self.assertGreaterEqual(len(limited), 985)
        # the locked-out uid is refused even a valid token, for a while
        self.assertIn("too many failed tokens", replies[1000]["error"]["desc"])
        log = self.vmd.log()
        self.assertLessEqual(log.count("refused for vm-list"), 15)
        self.assertLessEqual(log.count("refused unchecked"), 30)
        sys.stderr.write("brute force: 1000 guesses answered in %.3f s; "
                         "%d checked, %d refused unchecked; 20 vm-list of "
                         "root meanwhile in %.3f s\n"
                         % (res["seconds"], checked, 1000 - checked, others))

    def test_secret_never_stored_logged_or_listed(self):
        made = self.token([{"vm": "web1", "allow": ["console"]}],
                          label="panel")
        secret = made["token"].split("_")[2]
        self.call(self.c, "vm-show", {"vm": "web1"}, made["token"])
        self.call(self.c, "vm-list", None, made["token"][:-2] + "00")
        listed = self.c.command("token-list")
        self.assertEqual(listed[0]["id"], made["id"])
        self.assertEqual(set(listed[0]) - {"expires", "revoked"},
                         {"id", "label", "scope", "created", "state"})
        rc, out, err = self.vmctl("token", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn(made["id"], out)
        self.c.command("token-revoke", {"id": made["id"]})
        self.c.command("vm-list")   # the WAL written
        blobs = {"token-list": json.dumps(listed) + out,
                 "log": self.vmd.log()}
        for name in os.listdir(self.vmd.state_dir):
            path = os.path.join(self.vmd.state_dir, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    blobs[name] = f.read().decode("latin-1")
        self.assertIn("vmd.db", blobs)
        raw = bytes.fromhex(secret).decode("latin-1")
        for name, text in blobs.items():
            for needle in (secret, secret[:16], raw):
                self.assertNotIn(needle, text, "the secret is in %s" % name)


class RevokeTest(TokenCase):

    def test_revoke_closes_its_console_at_once(self):
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        mine = self.token([{"vm": "web1", "allow": ["console"]}])
        other = self.token([{"vm": "web1", "allow": ["watch"]}])
        con = self.attach("web1", mine["token"])
        con.read_until(BOOT_BANNER, t(30))
        bystander = self.attach("web1", other["token"], mode="ro")
        ev = Client(self.vmd.socket, negotiate=False)
        self._clients.append(ev)
        self.assertIn("return", self.call(ev, "qmp_capabilities", None,
                                          mine["token"]))
        n = len(self.c.events)
        t0 = time.monotonic()
        self.c.command("token-revoke", {"id": mine["id"]})
        con.read_until(b"token %s revoked; console closed" % mine["id"].encode(),
                       t(5))
        self.wait_for(lambda: not con.read_some(0.1) and con.eof, t(5),
                      "the console connection to close")
        closed = time.monotonic() - t0
        _, e = self.c.wait_event(lambda e: e["event"] == "CONSOLE_DETACH",
                                 t(5), n)
        self.assertEqual(e["data"]["reason"], "token-revoked")
        self.assertRaises(Exception, ev.recv, t(5))   # its event session too
        # another token's viewer stays
        con2 = self.c.command("vm-show", {"vm": "web1"})
        self.assertEqual(con2["ports"][0]["viewers"], 1, con2["ports"][0])
        bystander.close()
        sys.stderr.write("revoke to console closed: %.3f s\n" % closed)

    def test_expiry_closes_its_console(self):
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        tok = self.token([{"vm": "web1", "allow": ["console"]}],
                         expires_in=3)
        con = self.attach("web1", tok["token"])
        con.read_until(BOOT_BANNER, t(30))
        con.read_until(b"token %s expired; console closed" % tok["id"].encode(),
                       t(10))
        self.denied(self.c, "vm-list", None, tok["token"], "expired")


class VmctlTest(TokenCase):

    def test_vmctl_token_commands(self):
        rc, out, err = self.vmctl("--json", "token", "create", "panel",
                                  "--vm", "web1=show,power", "--expires", "600")
        self.assertEqual(rc, 0, err)
        made = json.loads(out)
        self.assertEqual(made["scope"], [{"vm": "web1",
                                          "allow": ["show", "power"]}])
        self.assertGreater(made["expires"], made["created"])
        env = dict(os.environ, VMD_TOKEN=made["token"])
        p = subprocess.run([vmdtest.VMCTL, "-s", self.vmd.socket, "--json",
                            "list"], env=env, capture_output=True, text=True,
                           timeout=t(30))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([v["name"] for v in json.loads(p.stdout)], ["web1"])
        rc, out, err = self.vmctl("token", "revoke", made["id"])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.vmctl("--json", "token", "list")
        self.assertEqual(json.loads(out)[0]["state"], "revoked")
        rc, out, err = self.vmctl("token", "create", "x", "--admin", "--read")
        self.assertEqual(rc, 2, (out, err))


if __name__ == "__main__":
    vmdtest.main()
