"""End-to-end: vmd-gateway (gateway/), HTTPS in front of vmd's
--gateway-socket.  The gateway holds no right of its own: on its socket
even root's credentials grant nothing, and every call carries the HTTP
caller's token."""

import os
import sys

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


if __name__ == "__main__":
    vmdtest.main()
