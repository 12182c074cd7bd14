"""End-to-end: the gateway's console page (/console/NAME: gateway/www/,
xterm.js) in a real browser, headless Chromium driven by puppeteer-core
(tests/node, console_page.js), against a running Linux guest: the page
shows the guest's boot output, takes `uname -sr` from the keyboard and
shows the guest's answer; when the gateway restarts, the page reconnects
and shows the scrollback once.  The screenshot is kept as
tests/artifacts/console_page.png in the build tree."""

import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import INITRAMFS, LINUX_BANNER, linux_config, t  # noqa: E402
import gwtest  # noqa: E402

WWW = os.path.join(vmdtest.SRCDIR, "gateway", "www")
NODE_MODULES = os.path.join(vmdtest.SRCDIR, "tests", "node", "node_modules")
DRIVER = os.path.join(vmdtest.SRCDIR, "tests", "e2e", "console_page.js")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(vmdtest.BUILDDIR, "tests", "artifacts")
BOOT_TIMEOUT = 90

# gateway/www's copies of npm packages, byte for byte (Makefile.am)
VENDORED = {"xterm.js": "@xterm/xterm/lib/xterm.js",
            "xterm.css": "@xterm/xterm/css/xterm.css",
            "addon-fit.js": "@xterm/addon-fit/lib/addon-fit.js",
            "xterm.LICENSE": "@xterm/xterm/LICENSE"}


def open_page(url, screenshot, expect, type_=None, answer=None,
              timeout=BOOT_TIMEOUT, on_answer=None):
    """console_page.js on url: its JSON result.  on_answer: called once
    the answer is on screen; the page must then reconnect."""
    opt = {"url": url, "chromium": CHROMIUM, "screenshot": screenshot,
           "expect": expect, "type": type_, "answer": answer,
           "reconnect": on_answer is not None,
           "timeoutMs": int(t(timeout) * 1000)}
    p = subprocess.Popen(["node", DRIVER, json.dumps(opt)],
                         env=dict(os.environ, VMD_NODE_MODULES=NODE_MODULES),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        if on_answer and line == b"ANSWERED\n":
            on_answer()
            line = p.stdout.readline()
        err = p.stderr.read()
        p.wait(t(timeout) + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode:
        raise AssertionError("console_page.js failed:\n%s"
                             % err.decode(errors="replace")[-5000:])
    return json.loads(line)


def require_browser():
    for path, what in ((os.path.join(NODE_MODULES, "puppeteer-core"),
                        "npm ci in tests/node (run.sh)"),
                       (CHROMIUM, "Debian's chromium")):
        if not os.path.exists(path):
            raise AssertionError("%s missing: %s" % (path, what))


class ConsolePageTest(gwtest.GatewayCase):

    gateway_args = ("--www", WWW)

    def test_vendored_xterm_is_npm_s(self):
        require_browser()
        for mine, npm in VENDORED.items():
            with open(os.path.join(WWW, mine), "rb") as a, \
                    open(os.path.join(NODE_MODULES, npm), "rb") as b:
                self.assertEqual(a.read(), b.read(), mine)

    def test_static_files(self):
        status, body, resp = self.call("GET", "/console/web1")
        self.assertEqual(status, 200)
        self.assertIn(b"/static/console.js", body)
        self.assertIn("default-src 'self'",
                      resp.getheader("Content-Security-Policy"))
        status, _, resp = self.call("GET", "/static/xterm.js")
        self.assertEqual((status, resp.getheader("Content-Type")),
                         (200, "text/javascript; charset=utf-8"))
        for bad in ("/static/nope.js", "/static/..%2fconsole.html",
                    "/static/%2e%2e"):
            self.assertEqual(self.call("GET", bad)[0], 404, bad)

    def test_linux_console_in_chromium(self):
        require_browser()
        vmdtest.require_guests(INITRAMFS)
        name = "linux"
        self.c.command("vm-define", {"config": linux_config(name)})
        self.c.command("vm-start", {"vm": name}, timeout=t(60))
        tok = self.token("page", [{"vm": name, "allow": ["console"]}])
        release = os.path.basename(vmdtest.newest_kernel())[len("vmlinuz-"):]
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "console_page.png")
        url = "https://127.0.0.1:%d/console/%s#token=%s" % (
            self.gw.port, name, tok)
        def restart_gateway():
            self.gw.stop()
            self.gw.start()

        r = open_page(url, shot, re.escape(LINUX_BANNER.decode()),
                      "uname -sr", re.escape("Linux " + release),
                      on_answer=restart_gateway)
        self.assertEqual(r["match"], "Linux " + release)
        # reconnected, and the scrollback shown once, not after the old
        self.assertGreaterEqual(r["connects"], 2)
        self.assertEqual(r["answers"], 1)
        self.assertIn(LINUX_BANNER.decode(), r["text"])
        self.assertEqual(r["status"], "connected")
        self.assertGreater(os.path.getsize(shot), 1000)
        # the token never reached the gateway in a URL
        self.assertNotIn(tok, self.gw.log())


if __name__ == "__main__":
    vmdtest.main()
