"""Helpers of the tests of volumes and jobs: a qemu-img whose copies never
end by themselves, and a vmd with a pool small enough to fill."""

import os
import shutil
import subprocess

from vmdtest import VmdTestCase


def hold_qemu_img(test, output="*"):
    """Before test.vmd starts: its qemu-img (found beside --qemu) becomes
    a wrapper whose convert, when its output file matches the shell
    pattern output, writes 1 MiB of it, says 10 %, and sleeps: a job that
    never ends by itself (a real 1 GiB copy ends in 0.25 s here, too soon
    to cancel it reliably).  Everything else runs the real qemu-img."""
    bindir = os.path.join(test.tmp, "qemu-bin")
    os.mkdir(bindir)
    real = shutil.which("qemu-system-x86_64")
    os.symlink(real, os.path.join(bindir, "qemu-system-x86_64"))
    wrapper = os.path.join(bindir, "qemu-img")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\n'
                'if [ "$1" = convert ]; then\n'
                '  for out; do :; done\n'
                '  case "$out" in %s)\n'
                '    head -c 1048576 /dev/zero > "$out"\n'
                "    printf '    (10.00/100%%%%)\\r'\n"
                '    exec sleep 600;;\n'
                '  esac\n'
                'fi\n'
                'exec %s "$@"\n' % (output, shutil.which("qemu-img")))
    os.chmod(wrapper, 0o755)
    test.vmd.qemu = os.path.join(bindir, "qemu-system-x86_64")


class SmallPoolCase(VmdTestCase):
    """vmd with a pool "small" (self.small) on a 16 MiB tmpfs, to run out
    of space; needs root."""

    start_vmd = False

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.small = os.path.join(self.tmp, "small")
        os.mkdir(self.small)
        subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700",
                               "vmd-test-pool", self.small])
        self.addCleanup(subprocess.call, ["umount", "-l", self.small])
        self.vmd.extra_args = ["--pool", "small=" + self.small]
        self.vmd.start()
