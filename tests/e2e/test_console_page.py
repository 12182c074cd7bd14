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
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import INITRAMFS, LINUX_BANNER, linux_config, t  # noqa: E402
import gwtest  # noqa: E402

NODE_MODULES = gwtest.TEST_NODE_MODULES
DRIVER = os.path.join(vmdtest.SRCDIR, "tests", "e2e", "console_page.js")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(vmdtest.BUILDDIR, "tests", "artifacts")
BOOT_TIMEOUT = 90


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
    gwtest.require_npm(os.path.join(NODE_MODULES, "puppeteer-core"),
                       "tests/node")
    if not os.path.exists(CHROMIUM):
        raise AssertionError("%s missing: Debian's chromium" % CHROMIUM)


class ConsolePageTest(gwtest.GatewayCase):
    """The gateway's www directory laid out as make install does: the
    page's files and npm's, flat."""

    def setUp(self):
        self.www_tmp = tempfile.mkdtemp(prefix="vmd-www-")
        self.addCleanup(shutil.rmtree, self.www_tmp)
        self.gateway_args = ("--www", self.www(flat=True))
        super().setUp()

    def www(self, **kw):
        return gwtest.make_www(tempfile.mkdtemp(dir=self.www_tmp) + "/www",
                               **kw)

    def gateway(self, www):
        """A second gateway with --www www: an HTTPS connection to it."""
        d = tempfile.mkdtemp(dir=self.www_tmp)
        gw = gwtest.Gateway(d, self.gw_socket, ["--www", www])
        gw.start()
        self.addCleanup(gw.stop)
        conn = gw.connection()
        self.addCleanup(conn.close)
        return conn, gw

    def assertServesNpmXterm(self, conn):
        for name, npm in gwtest.XTERM_NPM.items():
            if name.endswith(".LICENSE"):
                continue  # installed, not served
            with open(os.path.join(gwtest.WWW_NODE_MODULES, npm), "rb") as f:
                want = f.read()
            conn.request("GET", "/static/" + name)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, want), name)

    def test_serves_npm_s_xterm(self):
        """npm's files, byte for byte: installed flat (this gateway) and
        under node_modules/ as in a source tree after npm ci."""
        self.assertServesNpmXterm(self.conn)
        self.assertServesNpmXterm(self.gateway(self.www(flat=False))[0])

    def test_page_without_all_its_files_is_503(self):
        conn, gw = self.gateway(self.www(flat=False, skip=("addon-fit.js",)))
        for path in ("/console/web1", "/static/xterm.js",
                     "/static/console.js"):
            status, body, _ = gwtest.call(conn, "GET", path)
            self.assertEqual((status, body["error"]["class"]),
                             (503, "Unsupported"), path)
        self.assertIn("node_modules/@xterm/addon-fit/lib/addon-fit.js: "
                      "No such file or directory", gw.log())
        # the API is still served
        self.assertEqual(gwtest.call(conn, "GET", "/api/v1/vms",
                                     self.admin)[0], 200)

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
