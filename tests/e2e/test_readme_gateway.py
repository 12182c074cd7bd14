"""End-to-end: the README's gateway curl session runs as written against
a real vmd-gateway, so the README stays true.

The second sh block of "The web gateway" section is run by bash with
three substitutions: the host (https://vmd.example.net:8443) becomes the
test gateway on localhost, cert.pem its self-signed certificate, and the
token an admin token; web1-define.json holds a boot-sector guest's
config.  Each curl also prints its HTTP status, which must be the one the
README's words imply (201 for a creation, 200 otherwise)."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
import gwtest  # noqa: E402
from vmdtest import BOOTSECTOR, bootsector_config, t  # noqa: E402

from test_readme import readme_blocks  # noqa: E402

SECTION = "## The web gateway (vmd-gateway)"
HOST = "https://vmd.example.net:8443"
STATUS = "\n=status %{http_code}\n"


def curl_block():
    """The section's second sh block: the curl session."""
    return readme_blocks(SECTION)[1]


class ReadmeGatewayTest(gwtest.GatewayCase):

    def runnable(self, block):
        self.assertIn(HOST, block, "the README's host changed: update this test")
        script = re.sub(r"(?m)^T=vmd_\S+;", "T=%s;" % self.admin, block)
        self.assertIn(self.admin, script, "no T=vmd_... line in the block")
        script = script.replace(HOST, "https://localhost:%d" % self.gw.port)
        script = script.replace("--cacert cert.pem", "--cacert " + self.gw.cert)
        return script.replace("curl -s ", "curl -s -w '%s' " % STATUS)

    def test_curl_session(self):
        vmdtest.require_guests(BOOTSECTOR)
        with open(os.path.join(self.tmp, "web1-define.json"), "w") as f:
            json.dump({"config": bootsector_config("web1")}, f)
        p = subprocess.run(["bash", "-e", "-c", self.runnable(curl_block())],
                           cwd=self.tmp, capture_output=True, text=True,
                           timeout=t(120))
        said = (p.stdout + p.stderr)[-3000:]
        self.assertEqual(p.returncode, 0, said)
        self.assertEqual(re.findall(r"(?m)^=status (\d+)$", p.stdout),
                         ["200", "201", "200", "200", "201", "200", "200",
                          "200"], said)
        bodies = [json.loads(b) for b in
                  re.split(r"(?m)^=status \d+\n", p.stdout) if b.strip()]
        self.assertEqual(bodies[0], [])                  # no VM yet
        self.assertEqual(bodies[3]["state"], "running")  # after its start
        self.assertRegex(bodies[4]["token"], r"^vmd_[0-9a-f]{16}_[0-9a-f]{64}$")
        self.assertEqual(bodies[5]["state"], "stopped")  # killed
        self.assertEqual(bodies[7]["openapi"][:2], "3.")
        self.assertEqual(self.c.command("vm-list"), [], "web1 not deleted")


if __name__ == "__main__":
    vmdtest.main()
