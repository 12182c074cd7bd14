"""End-to-end: vmd-gateway (gateway/), HTTPS in front of vmd's
--gateway-socket.  The gateway holds no right of its own: on its socket
even root's credentials grant nothing, and every call carries the HTTP
caller's token."""

import http.client
import json
import os
import shutil
import re
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdproto import Client  # noqa: E402
import gwtest  # noqa: E402
from gwtest import GATEWAY, GatewayCase, make_cert  # noqa: E402


class GatewaySocketTest(GatewayCase):
    def test_peer_credentials_grant_nothing(self):
        """Root on the gateway socket negotiates, and then may do nothing
        without a token; with one, the token's rights."""
        c = Client(self.gw_socket)
        self._clients.append(c)
        self.assertError(c.error("vm-list"), "PermissionDenied")
        self.assertError(c.error("query-host"), "PermissionDenied")
        reply = c.request({"execute": "vm-list", "token": self.admin,
                           "id": 1})
        self.assertEqual(reply.get("return"), [], reply)
        # the same root on vmd's own socket has every right
        self.assertEqual(self.c.command("vm-list"), [])

    def test_socket_mode_and_group(self):
        st = os.stat(self.gw_socket)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        import grp
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, "nogroup")


class GatewaySocketActivationTest(vmdtest.VmdTestCase):
    """A socket systemd passes named "gateway" (vmd-gw.socket) is the
    gateway socket: no role for its peers."""

    start_vmd = False

    def test_passed_gateway_socket(self):
        activate = shutil.which("systemd-socket-activate")
        if not activate:
            self.fail("systemd-socket-activate not found (Debian package "
                      "systemd)")
        gw_path = os.path.join(self.tmp, "gw.sock")
        wrapper = [activate, "-l", self.vmd.socket, "-l", gw_path,
                   "--fdname=vmd:gateway"]
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                wrapper += ["-E", name]
        argv = self.vmd.argv()
        self.vmd.argv = lambda: wrapper + argv
        self.vmd.start()
        self.assertEqual(self.client().command("vm-list", timeout=vmdtest.t(120)),
                         [])
        c = Client(gw_path)
        self._clients.append(c)
        self.assertError(c.error("vm-list"), "PermissionDenied")

    def test_socket_group_must_exist(self):
        self.vmd.extra_args += ["--gateway-socket",
                                os.path.join(self.tmp, "gw.sock"),
                                "--gateway-socket-group", "no-such-group-x"]
        with self.assertRaises(AssertionError):
            self.vmd.start()
        self.assertIn("no group no-such-group-x", self.vmd.log())


class RestTest(GatewayCase):
    def test_list_over_tls(self):
        status, body, _ = self.call("GET", "/api/v1/vms", self.admin)
        self.assertEqual((status, body), (200, []))
        self.c.command("vm-define", {"config": vmdtest.bootsector_config("web1")})
        status, body, _ = self.call("GET", "/api/v1/vms", self.admin)
        self.assertEqual(status, 200)
        self.assertEqual([v["name"] for v in body], ["web1"])

    def test_vmd_restart(self):
        """vmd away: 502 at once; back: served again, on new connections
        to it."""
        self.vmd.stop()
        got = self.call("GET", "/api/v1/vms", self.admin)
        self.assertEqual(got[0], 502, got[1])
        self.assertEqual(got[1]["error"]["class"], "GenericError")
        self.vmd.start()
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin)[0], 200)

    def test_keep_alive_round_trips_are_fast(self):
        """100 calls on one connection take well under the 4 s that a
        reply's last TLS record waiting for the client's delayed ACK
        (Nagle) would cost."""
        self.call("GET", "/api/v1/vms", self.admin)
        start = time.monotonic()
        for _ in range(100):
            self.assertEqual(self.call("GET", "/api/v1/vms", self.admin)[0], 200)
        self.assertLess(time.monotonic() - start, 2.0)

    def test_gateway_runs_as_nobody(self):
        with open("/proc/%d/status" % self.gw.proc.pid) as f:
            uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
        import pwd
        self.assertEqual(set(uids), {str(pwd.getpwnam("nobody").pw_uid)})


class RestApiTest(GatewayCase):
    """The REST routes of issue 12: bodies are the protocol's arguments
    and returns; error classes become HTTP statuses."""

    def define(self, name, token=None):
        return self.call("POST", "/api/v1/vms", token or self.admin,
                         {"config": vmdtest.bootsector_config(name)})

    def assertHttpError(self, got, status, cls):
        self.assertEqual(got[0], status, got[1])
        self.assertEqual(got[1]["error"]["class"], cls, got[1])
        self.assertTrue(got[1]["error"]["desc"], got[1])

    def test_vm_lifecycle(self):
        vmdtest.require_guests(vmdtest.BOOTSECTOR)
        status, body, _ = self.define("web1")
        self.assertEqual(status, 201, body)
        self.assertEqual(body["name"], "web1")
        self.assertHttpError(self.define("web1"), 409, "VmExists")
        status, body, _ = self.call("GET", "/api/v1/vms/web1", self.admin)
        self.assertEqual((status, body["name"], body["state"]),
                         (200, "web1", "stopped"))
        cfg = vmdtest.bootsector_config("web1", memory_mib=48)
        status, body, _ = self.call("PUT", "/api/v1/vms/web1", self.admin,
                                    {"config": cfg})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.call("GET", "/api/v1/vms/web1", self.admin)[1]
                         ["config"]["memory_mib"], 48)
        self.assertHttpError(self.call("POST", "/api/v1/vms/web1/pause",
                                       self.admin), 409, "InvalidState")
        for action, state in (("start", "running"), ("pause", "paused"),
                              ("resume", "running"), ("reset", "running"),
                              ("kill", "stopped")):
            status, body, _ = self.call("POST", "/api/v1/vms/web1/" + action,
                                        self.admin)
            self.assertEqual(status, 200, (action, body))
            self.assertEqual(self.vm_state(self.c, "web1"), state, action)
        status, body, _ = self.call("POST", "/api/v1/vms/web1/stop",
                                    self.admin, {"timeout": 5})
        self.assertHttpError((status, body), 409, "InvalidState")
        status, body, _ = self.call("DELETE", "/api/v1/vms/web1?purge=true",
                                    self.admin)
        self.assertEqual(status, 200, body)
        self.assertHttpError(self.call("GET", "/api/v1/vms/web1", self.admin),
                             404, "VmNotFound")

    def test_bad_requests(self):
        self.assertHttpError(self.call("POST", "/api/v1/vms", self.admin,
                                       b"{not json"), 400, "InvalidArgument")
        self.assertHttpError(self.call("POST", "/api/v1/vms", self.admin,
                                       b"[1]"), 400, "InvalidArgument")
        got = self.call("POST", "/api/v1/vms", self.admin,
                        {"config": {"name": "x", "memory_mib": "lots"}})
        self.assertHttpError(got, 400, "InvalidArgument")
        self.assertIn("memory_mib", got[1]["error"]["desc"])
        got = self.call("DELETE", "/api/v1/vms/x?purge=maybe", self.admin)
        self.assertHttpError(got, 400, "InvalidArgument")
        got = self.call("GET", "/api/v1/vms/x?colour=red", self.admin)
        self.assertHttpError(got, 400, "InvalidArgument")
        self.assertIn("colour", got[1]["error"]["desc"])
        self.assertHttpError(self.call("GET", "/api/v1/nothing", self.admin),
                             404, "CommandNotFound")
        self.assertHttpError(self.call("PUT", "/api/v1/vms", self.admin),
                             405, "CommandNotFound")

    def test_tokens(self):
        """Missing, wrong, expired and revoked tokens; tokens made and
        revoked over REST."""
        vmdtest.require_guests(vmdtest.BOOTSECTOR)
        got = self.call("GET", "/api/v1/vms")
        self.assertHttpError(got, 401, "PermissionDenied")
        self.assertEqual(got[2].getheader("WWW-Authenticate"), "Bearer")
        wrong = "vmd_%016x_%s" % (1, "ab" * 32)
        self.assertHttpError(self.call("GET", "/api/v1/vms", wrong), 403,
                             "PermissionDenied")
        self.assertHttpError(self.call("GET", "/api/v1/vms", "nonsense"), 403,
                             "PermissionDenied")
        status, made, _ = self.call("POST", "/api/v1/tokens", self.admin,
                                    {"label": "ro", "scope": "read"})
        self.assertEqual(status, 201, made)
        self.assertEqual(self.call("GET", "/api/v1/vms", made["token"])[0], 200)
        self.assertHttpError(self.define("web1", made["token"]), 403,
                             "PermissionDenied")
        ids = [t["id"] for t in self.call("GET", "/api/v1/tokens",
                                          self.admin)[1]]
        self.assertIn(made["id"], ids)
        status, body, _ = self.call("DELETE", "/api/v1/tokens/" + made["id"],
                                    self.admin)
        self.assertEqual(status, 200, body)
        self.assertHttpError(self.call("GET", "/api/v1/vms", made["token"]),
                             403, "PermissionDenied")
        short = self.token("short", "read", expires_in=1)
        self.assertEqual(self.call("GET", "/api/v1/vms", short)[0], 200)
        time.sleep(2.2)
        got = self.call("GET", "/api/v1/vms", short)
        self.assertHttpError(got, 403, "PermissionDenied")
        self.assertIn("expired", got[1]["error"]["desc"])

    def test_token_guessing_locks_out_only_the_guesser(self):
        """vmd counts failed tokens per uid, and every caller of the
        gateway is its uid: the gateway stops a guessing address itself
        before it spends vmd's allowance, so others keep working."""
        bad = http.client.HTTPSConnection(
            "127.0.0.1", self.gw.port, context=self.gw.tls_context(),
            timeout=vmdtest.t(30), source_address=("127.0.0.2", 0))
        self.addCleanup(bad.close)
        got = [self.call("GET", "/api/v1/vms", "vmd_%016x_%s" % (i, "cd" * 32),
                         conn=bad) for i in range(15)]
        descs = [g[1]["error"]["desc"] for g in got]
        self.assertEqual([g[0] for g in got], [403] * 15)
        self.assertEqual(descs[:5], ["invalid token"] * 5)
        self.assertTrue(all(d.startswith("too many failed tokens from "
                                         "127.0.0.2") for d in descs[5:]),
                        descs)
        self.assertTrue(got[-1][2].getheader("Retry-After"))
        # the guesser, even with a good token, waits; others do not
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin,
                                   conn=bad)[0], 403)
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin)[0], 200)

    def test_scoped_token_sees_one_vm(self):
        vmdtest.require_guests(vmdtest.BOOTSECTOR)
        for name in ("web1", "web2"):
            self.assertEqual(self.define(name)[0], 201)
        one = self.token("web1 panel", [{"vm": "web1",
                                         "allow": ["show", "power"]}])
        status, body, _ = self.call("GET", "/api/v1/vms", one)
        self.assertEqual([v["name"] for v in body], ["web1"])
        self.assertEqual(self.call("GET", "/api/v1/vms/web1", one)[0], 200)
        for method, path in (("GET", "/api/v1/vms/web2"),
                             ("POST", "/api/v1/vms/web2/start"),
                             ("DELETE", "/api/v1/vms/web2")):
            status, body, _ = self.call(method, path, one)
            self.assertIn(status, (403, 404), (method, path, body))
            self.assertIn(body["error"]["class"],
                          ("PermissionDenied", "VmNotFound"))
        self.assertEqual(self.vm_state(self.c, "web2"), "stopped")
        self.assertEqual(self.call("POST", "/api/v1/vms/web1/start", one)[0],
                         200)
        self.assertEqual(self.call("POST", "/api/v1/vms/web1/kill", one)[0],
                         200)

    def test_volumes_and_jobs(self):
        status, body, _ = self.call("POST", "/api/v1/volumes", self.admin,
                                    {"name": "disk1", "size": "1M"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["size"], 1 << 20)
        status, body, _ = self.call("GET", "/api/v1/volumes/disk1", self.admin)
        self.assertEqual((status, body["name"]), (200, "disk1"))
        status, body, _ = self.call("POST", "/api/v1/volumes/disk1/resize",
                                    self.admin, {"size": "2M"})
        self.assertEqual(status, 200, body)
        names = [v["name"] for v in
                 self.call("GET", "/api/v1/volumes", self.admin)[1]]
        self.assertEqual(names, ["disk1"])
        self.assertEqual(self.call("GET", "/api/v1/jobs", self.admin)[0], 200)
        self.assertEqual(self.call("DELETE", "/api/v1/volumes/disk1",
                                   self.admin)[0], 200)
        got = self.call("GET", "/api/v1/volumes/disk1", self.admin)
        self.assertHttpError(got, 404, "VolumeNotFound")


class OpenApiTest(GatewayCase):
    def rest_routes(self):
        with open(os.path.join(vmdtest.SRCDIR, "schemas", "rest.json")) as f:
            rest = json.load(f)
        return [(r["method"], rest["prefix"] + r["path"])
                for r in rest["routes"]]

    def test_document_is_valid_openapi_31(self):
        """The served document passes swagger-parser's validation
        (tests/node, installed by run.sh with npm ci; VMD_NODE_DIR's)."""
        status, doc, resp = self.call("GET", "/api/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        self.assertEqual(doc["openapi"], "3.1.0")
        path = os.path.join(self.tmp, "openapi.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        self.assertEqual(validate_openapi(path), "valid 3.1.0 %d paths"
                         % len(doc["paths"]))
        # and a document that is not valid fails it: a parameter that
        # says not where it goes
        del doc["paths"]["/api/v1/vms/{vm}"]["get"]["parameters"][0]["in"]
        with open(path, "w") as f:
            json.dump(doc, f)
        verdict = validate_openapi(path)
        self.assertIn("must have required property 'in'", verdict)

    def test_every_route_documented_and_served(self):
        _, doc, _ = self.call("GET", "/api/v1/openapi.json")
        routes = self.rest_routes()
        documented = [(m.upper(), p) for p, ops in doc["paths"].items()
                      for m in ops]
        self.assertEqual(sorted(documented),
                         sorted(routes + [("GET", "/api/v1/openapi.json")]))
        for method, path in routes:
            concrete = re.sub(r"\{[a-z_]+\}", "x", path)
            status, body, _ = self.call(method, concrete)
            self.assertEqual(status, 401, (method, path, body))
            op = doc["paths"][path][method.lower()]
            self.assertIn("401", op["responses"])


class PrivilegeTest(unittest.TestCase):
    def test_root_without_user_refused(self):
        tmp = tempfile.mkdtemp(prefix="vmd-gw-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        cert, key = make_cert(tmp)
        p = subprocess.run([GATEWAY, "--listen", "127.0.0.1:%d"
                            % vmdtest.free_tcp_port(), "--cert", cert,
                            "--key", key], capture_output=True, text=True,
                           timeout=vmdtest.t(10))
        self.assertEqual(p.returncode, 1)
        self.assertIn("refusing to run as root", p.stderr)

    def test_service_unit(self):
        """vmd-gateway.service: its own user, no privileges, a system call
        filter; systemd-analyze accepts it and rates its exposure low."""
        unit = os.path.join(vmdtest.BUILDDIR, "systemd", "vmd-gateway.service")
        self.assertTrue(os.path.exists(unit), "make systemd/vmd-gateway.service")
        settings = {}
        with open(unit) as f:
            for line in f:
                if "=" in line and line[0] not in "#[ \t":
                    k, v = line.strip().split("=", 1)
                    settings.setdefault(k, []).append(v)
        for k, v in (("User", ["vmd-gw"]), ("DynamicUser", ["yes"]),
                     ("NoNewPrivileges", ["yes"]),
                     ("CapabilityBoundingSet", [""]),
                     ("ProtectSystem", ["strict"])):
            self.assertEqual(settings.get(k), v, k)
        self.assertIn("@system-service", settings["SystemCallFilter"])
        self.assertTrue(any(f.startswith("~@privileged")
                            for f in settings["SystemCallFilter"]))
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.fail("systemd-analyze not found (Debian package systemd)")
        tmp = tempfile.mkdtemp(prefix="vmd-units-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        for src, name, exe in (
                (unit, "vmd-gateway.service", GATEWAY),
                (os.path.join(vmdtest.BUILDDIR, "systemd", "vmd.service"),
                 "vmd.service", vmdtest.VMD),
                (os.path.join(vmdtest.SRCDIR, "systemd", "vmd.socket"),
                 "vmd.socket", None),
                (os.path.join(vmdtest.SRCDIR, "systemd", "vmd-gw.socket"),
                 "vmd-gw.socket", None)):
            with open(src) as f:
                text = f.read()
            if exe:
                text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + exe, text)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        units = [os.path.join(tmp, n) for n in ("vmd-gateway.service",
                                                "vmd.service", "vmd.socket",
                                                "vmd-gw.socket")]
        p = subprocess.run([analyze, "verify", "--man=no"] + units, cwd=tmp,
                           capture_output=True, text=True, timeout=vmdtest.t(60))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = subprocess.run([analyze, "security", "--offline=yes", units[0]],
                           capture_output=True, text=True, timeout=vmdtest.t(60))
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
        self.assertTrue(m, p.stdout[-2000:] + p.stderr)
        self.assertLess(float(m.group(1)), 2.0, p.stdout)


def raise_nofile(n):
    """Room for n descriptors in this process and in the gateway it
    starts (which takes its hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))


class LimitsTest(GatewayCase):
    """Attacks on the gateway: each leaves it (and vmd) serving others,
    holding no more descriptors than before and not much more memory."""

    gateway_args = ("--header-timeout", "2", "--body-timeout", "2",
                    "--max-header-bytes", "4096", "--max-body-bytes", "65536",
                    "--max-connections", "500", "--allow-host", "localhost",
                    "--allow-host", "127.0.0.1")

    @classmethod
    def setUpClass(cls):
        raise_nofile(12000)

    def setUp(self):
        super().setUp()
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin)[0], 200)
        self.conn.close()  # no connection of ours stays open meanwhile
        time.sleep(0.2)
        self.fds0, self.rss0 = self.gw.fd_count(), self.gw.rss()

    def tls(self):
        ctx = self.gw.tls_context()
        raw = socket.create_connection(("127.0.0.1", self.gw.port), vmdtest.t(10))
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def read_all(self, s, timeout):
        """What the gateway sends until it closes s (b"" if nothing); None
        if it is still open after timeout."""
        s.settimeout(timeout)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except (socket.timeout, TimeoutError):
            return None
        except (ConnectionResetError, ssl.SSLError):
            return data

    def assertStillServing(self, rss_slack=8 << 20):
        """Others are served, by the gateway and by vmd; what the attack
        took is given back."""
        conn = self.gw.connection()
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin,
                                   conn=conn)[0], 200)
        conn.close()
        self.assertEqual(self.c.command("vm-list"), [])
        self.wait_for(lambda: self.gw.fd_count() <= self.fds0, vmdtest.t(10),
                      "the gateway's descriptors back to %d" % self.fds0)
        if not vmdtest.sanitized():  # ASan's RSS says nothing about buffers
            self.assertLess(self.gw.rss() - self.rss0, rss_slack)

    def test_oversized_headers(self):
        s = self.tls()
        s.sendall(b"GET /api/v1/vms HTTP/1.1\r\nHost: localhost\r\n"
                  b"X-Pad: " + b"a" * 8000 + b"\r\n\r\n")
        reply = self.read_all(s, vmdtest.t(5))
        self.assertIsNotNone(reply, "connection left open")
        self.assertNotIn(b" 200 ", reply[:20])
        s.close()
        self.assertStillServing()

    def test_oversized_body(self):
        conn = self.gw.connection()
        status, _, _ = self.call("POST", "/api/v1/vms", self.admin,
                                 b"{" + b" " * 70000 + b"}", conn=conn)
        self.assertEqual(status, 413)
        conn.close()
        self.assertStillServing()

    def slowloris(self, head):
        """Trickle a byte every 0.5 s after head: closed by the deadline,
        however long the trickle would go on."""
        s = self.tls()
        s.sendall(head)
        start = time.monotonic()
        closed = None
        for _ in range(40):
            try:
                s.sendall(b"a")
            except (OSError, ssl.SSLError):
                closed = time.monotonic() - start
                break
            if self.read_all(s, 0.5) is not None:
                closed = time.monotonic() - start
                break
        s.close()
        self.assertIsNotNone(closed, "a trickling client kept its connection")
        self.assertLess(closed, vmdtest.t(6))
        self.assertIn("too slow", self.gw.log())

    def test_slowloris_headers(self):
        self.slowloris(b"GET /api/v1/vms HTTP/1.1\r\nHost: localhost\r\nX-A: ")
        self.assertStillServing()

    def test_slowloris_body(self):
        self.slowloris(b"POST /api/v1/vms HTTP/1.1\r\nHost: localhost\r\n"
                       b"Authorization: Bearer " + self.admin.encode() +
                       b"\r\nContent-Length: 1000\r\n\r\n{")
        self.assertIn("request body too slow", self.gw.log())
        self.assertStillServing()

    def test_host_not_allowed(self):
        conn = self.gw.connection()
        got = self.call("GET", "/api/v1/vms", self.admin,
                        headers={"Host": "evil.example"}, conn=conn)
        self.assertEqual(got[0], 421)
        self.assertEqual(got[1]["error"]["class"], "PermissionDenied")
        got = self.call("GET", "/api/v1/vms", self.admin,
                        headers={"Host": "localhost:%d" % self.gw.port},
                        conn=conn)
        self.assertEqual(got[0], 200)
        conn.close()
        self.assertStillServing()

    def test_client_leaves_during_a_call(self):
        """A client that leaves while vmd works on its call (a vm-stop
        waiting out its timeout) costs nothing once the call ends."""
        vmdtest.require_guests(vmdtest.BOOTSECTOR)
        self.c.command("vm-define", {"config": vmdtest.bootsector_config("w")})
        self.c.command("vm-start", {"vm": "w"})
        body = b'{"timeout": 3}'
        s = self.tls()
        s.sendall(b"POST /api/v1/vms/w/stop HTTP/1.1\r\nHost: localhost\r\n"
                  b"Authorization: Bearer " + self.admin.encode() +
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.5)
        s.close()
        self.wait_for(lambda: self.vm_state(self.c, "w") == "stopped",
                      vmdtest.t(30), "the stop to end")
        time.sleep(0.3)
        self.c.command("vm-undefine", {"vm": "w"})
        self.assertStillServing()

    def test_bad_client_hello(self):
        for junk in (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
                     b"\x16\x03\x01\x00\x05hello",
                     b"\x16\x03\x01\xff\xff" + os.urandom(2000)):
            s = socket.create_connection(("127.0.0.1", self.gw.port))
            s.sendall(junk)
            s.settimeout(vmdtest.t(5))
            try:
                data = s.recv(4096)
                while data and s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
        self.assertStillServing()

    def test_idle_connections(self):
        """10,000 connections that send nothing: the gateway holds at most
        --max-connections of them, drops each after --header-timeout, and
        serves a real client meanwhile."""
        n = 10000
        socks = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.gw.port))
            socks.append(s)
        peak = 0
        for _ in range(10):
            peak = max(peak, self.gw.fd_count())
            time.sleep(0.1)
        self.assertLessEqual(peak, self.fds0 + 500 + 5)
        start = time.monotonic()
        conn = self.gw.connection(timeout=vmdtest.t(60))
        self.assertEqual(self.call("GET", "/api/v1/vms", self.admin,
                                   conn=conn)[0], 200)
        served = time.monotonic() - start
        conn.close()
        peak = max(peak, self.gw.fd_count())
        for s in socks:
            s.close()
        self.assertLessEqual(peak, self.fds0 + 500 + 5)
        print("\n  10,000 idle: peak fds %d (before %d), served another "
              "after %.1f s, RSS %d -> %d KiB" % (
                  peak, self.fds0, served, self.rss0 >> 10,
                  self.gw.rss() >> 10))
        self.assertStillServing(rss_slack=32 << 20)


def validate_openapi(path):
    """swagger-parser's verdict on the document at path."""
    script = os.path.join(vmdtest.SRCDIR, "tests", "node",
                          "validate_openapi.js")
    gwtest.require_npm(os.path.join(gwtest.TEST_NODE_MODULES, "@apidevtools",
                                    "swagger-parser"), "tests/node")
    # NODE_PATH: VMD_NODE_DIR's packages, not beside the script's copy
    env = dict(os.environ, NODE_PATH=gwtest.TEST_NODE_MODULES)
    p = subprocess.run(["node", script, path], capture_output=True, text=True,
                       env=env, timeout=vmdtest.t(60))
    return (p.stdout + p.stderr).strip()


if __name__ == "__main__":
    vmdtest.main()
