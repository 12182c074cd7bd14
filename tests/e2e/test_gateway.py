"""End-to-end: vmd-gateway (gateway/), HTTPS in front of vmd's
--gateway-socket.  The gateway holds no right of its own: on its socket
even root's credentials grant nothing, and every call carries the HTTP
caller's token."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdproto import Client  # noqa: E402
from gwtest import GatewayCase  # noqa: E402


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


class RestTest(GatewayCase):
    def test_list_over_tls(self):
        status, body, _ = self.call("GET", "/api/v1/vms", self.admin)
        self.assertEqual((status, body), (200, []))
        self.c.command("vm-define", {"config": vmdtest.bootsector_config("web1")})
        status, body, _ = self.call("GET", "/api/v1/vms", self.admin)
        self.assertEqual(status, 200)
        self.assertEqual([v["name"] for v in body], ["web1"])

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


if __name__ == "__main__":
    vmdtest.main()
