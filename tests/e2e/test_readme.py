"""End-to-end: the README's "Scripted provisioning, end to end" example
runs as written, so the README stays true.

The shell block is taken from README.md and run by bash with vmctl on the
PATH and VMD_SOCKET set; two things change: the image is the boot-sector
guest (it boots from its disk like a cloud image and prints a banner), and
the last line, an interactive console, is left out.  Every vmctl line must
succeed, the three applies must exit 2, 2 and 0 as the comments say, and
then web1 runs a linked clone of the template and prints the banner, and
its seed names the host web1."""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdproto import SRCDIR, Console  # noqa: E402
from vmdtest import BOOT_BANNER, BOOTSECTOR, t  # noqa: E402

README = os.path.join(SRCDIR, "README.md")
SECTION = "## Scripted provisioning, end to end"
IMAGE = "/srv/images/debian-12.raw"


def readme_blocks(section):
    """The sh blocks of README.md from the heading section on."""
    with open(README) as f:
        text = f.read()
    return re.findall(r"```sh\n(.*?)```", text[text.index(section):], re.S)


def readme_block():
    """The first sh block of the section, as lines."""
    return readme_blocks(SECTION)[0].splitlines()


def runnable(lines):
    """The block as a script that reports each apply's exit status and
    stops at the first other vmctl line that fails."""
    out = []
    for line in lines:
        cmd = line.split("#")[0].rstrip() if line.startswith("vmctl") else line
        if cmd.startswith("vmctl console "):
            continue
        if cmd.startswith("vmctl apply"):
            cmd += '; echo "rc=$?"'
        elif cmd.startswith("vmctl"):
            cmd += " || exit 9"
        out.append(cmd.replace(IMAGE, BOOTSECTOR))
    return "\n".join(out) + "\n"


class ReadmeTest(vmdtest.VmdTestCase):

    def test_scripted_provisioning_example(self):
        vmdtest.require_guests(BOOTSECTOR)
        lines = readme_block()
        self.assertIn(IMAGE, "\n".join(lines), "the README's image path "
                      "changed: update this test")
        env = dict(os.environ, VMD_SOCKET=self.vmd.socket,
                   PATH=vmdtest.BUILDDIR + ":" + os.environ["PATH"])
        p = subprocess.run(["bash", "-c", runnable(lines)], cwd=self.tmp,
                           env=env, capture_output=True, text=True,
                           timeout=t(180))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(re.findall(r"(?m)^rc=\d+$", p.stdout),
                         ["rc=2", "rc=2", "rc=0"], p.stdout + p.stderr)
        c = self.client()
        web1 = c.command("vm-show", {"vm": "web1"})
        self.assertEqual(web1["state"], "running")
        self.assertEqual(web1["config"]["disks"][0]["volume"], "web1-disk0")
        disk = c.command("volume-show", {"volume": "web1-disk0"})
        self.assertEqual(disk["backing"], "debian")
        self.assertEqual(c.command("vm-show", {"vm": "web2"})["config"]
                         ["memory_mib"], 2048)
        con = Console(self.vmd.socket, "web1", mode="ro")
        try:
            con.read_until(BOOT_BANNER, t(60))
        finally:
            con.close()
        iso = os.path.join(self.vmd.state_dir, "seeds", web1["uuid"] + ".iso")
        meta = subprocess.run(["isoinfo", "-R", "-i", iso, "-x", "/meta-data"],
                              check=True, capture_output=True).stdout
        self.assertEqual(json.loads(meta)["local-hostname"], "web1")


if __name__ == "__main__":
    vmdtest.main()
