"""End-to-end: query-metrics with real guests.  The counters must move as
the guest does: disk reads once the BIOS read the boot sector, console
bytes equal to what console-read has, CPU seconds that grow; vmd's own
requests, errors and clients; a VM-scoped token sees only its VMs."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmdtest  # noqa: E402
from vmdtest import (BOOT_BANNER, BOOTSECTOR, INITRAMFS, LINUX_BANNER,
                     QMPError, Schemas, bootsector_config, linux_config,
                     t)  # noqa: E402

from gwtest import GatewayCase  # noqa: E402

SCHEMAS = Schemas()


def one(metrics, name):
    vms = [v for v in metrics["vms"] if v["name"] == name]
    assert len(vms) == 1, metrics
    return vms[0]


class MetricsCase(vmdtest.VmdTestCase):

    def metrics(self, c, **args):
        r = c.command("query-metrics", args)
        SCHEMAS.check_return("query-metrics", r)
        return r

    def log_end(self, c, vm, port=0):
        return c.command("console-read", {"vm": vm, "port": port,
                                          "max_bytes": 1})["end"]

    def until(self, what, fn, timeout):
        """fn() until it returns something true; fail naming what."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            self.assertLess(time.monotonic(), deadline, "never: " + what)
            time.sleep(0.2)


class GuestCountersTest(MetricsCase):

    def setUp(self):
        super().setUp()
        vmdtest.require_guests(BOOTSECTOR)

    def test_counters_move_with_the_guest(self):
        c = self.client()
        c.command("vm-define", {"config": bootsector_config("bs")})
        pid = c.command("vm-start", {"vm": "bs"}, timeout=t(60))["pid"]
        con = self.console("bs", mode="ro")
        con.read_until(BOOT_BANNER, t(30))

        m = one(self.metrics(c, vm="bs"), "bs")
        self.assertEqual((m["state"], m["pid"]), ("running", pid))
        # the BIOS read the boot sector from disk 0
        self.assertEqual([d["index"] for d in m["disks"]], [0])
        self.assertGreaterEqual(m["disks"][0]["read_bytes"], 512)
        self.assertGreaterEqual(m["disks"][0]["read_ops"], 1)
        self.assertGreater(m["rss_bytes"], 1 << 20)
        self.assertIn(m["cpu_source"], ("cgroup", "proc"))
        self.assertEqual([(p["port"], p["viewers"]) for p in m["ports"]],
                         [(0, 1)])
        # console bytes: what console-read has, also after typing
        self.assertEqual(m["ports"][0]["bytes"], self.log_end(c, "bs"))
        self.assertGreaterEqual(m["ports"][0]["bytes"], len(BOOT_BANNER))
        rw = self.console("bs", mode="rw")
        vmdtest.type_until(rw, b"metrics!", b"metrics!", t(20))
        self.until("console bytes equal console-read's end",
                   lambda: one(self.metrics(c), "bs")["ports"][0]["bytes"] ==
                   self.log_end(c, "bs") > m["ports"][0]["bytes"], t(10))
        # CPU seconds grow while TCG runs the guest
        cpu0 = m["cpu_seconds"]
        self.until("cpu_seconds grow", lambda: one(
            self.metrics(c), "bs")["cpu_seconds"] > cpu0 + 0.05, t(20))

        # stopped: no process counters, the console's bytes stay
        c.command("vm-kill", {"vm": "bs"}, timeout=t(30))
        m = one(self.metrics(c), "bs")
        self.check_vmctl(m)
        self.assertEqual((m["state"], m["pid"], m["disks"]), ("stopped", 0, []))
        self.assertNotIn("cpu_seconds", m)
        self.assertNotIn("rss_bytes", m)
        self.assertEqual(m["ports"], [{"port": 0, "viewers": 0,
                                       "bytes": self.log_end(c, "bs")}])

    def check_vmctl(self, m):
        """vmctl metrics shows m (a stopped VM's, so nothing moves)."""
        rc, out, err = self.vmctl("metrics", "bs")
        self.assertEqual(rc, 0, err)
        head, row, vmd = out.splitlines()
        self.assertEqual(head.split(), ["NAME", "STATE", "CPU_S", "RSS",
                                        "DISK_RD", "DISK_WR", "NET_RX",
                                        "NET_TX", "CONSOLE", "VIEWERS"])
        self.assertEqual(row.split(), ["bs", "stopped", "-", "-", "-", "-",
                                       "-", "-", str(m["ports"][0]["bytes"]),
                                       "0"])
        self.assertRegex(vmd, r"^vmd: \d+ clients, \d+ requests, \d+ errors$")
        rc, out, err = self.vmctl("metrics", "bs", json_out=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(one(json.loads(out), "bs"), m)
        rc, out, err = self.vmctl("metrics", "nosuch")
        self.assertEqual(rc, 1)
        self.assertIn("VmNotFound", err)

    def test_linux_guest(self):
        vmdtest.require_guests(INITRAMFS)
        c = self.client()
        c.command("vm-define", {"config": linux_config("lx")})
        c.command("vm-start", {"vm": "lx"}, timeout=t(60))
        con = self.console("lx", mode="ro")
        con.read_until(LINUX_BANNER, t(90))
        m = one(self.metrics(c), "lx")
        # booting Linux under TCG takes whole seconds of QEMU's CPU
        self.assertGreater(m["cpu_seconds"], 1.0)
        self.assertGreater(m["rss_bytes"], 64 << 20)
        self.until("console bytes equal console-read's end", lambda: one(
            self.metrics(c), "lx")["ports"][0]["bytes"] ==
            self.log_end(c, "lx") >= len(con.data), t(10))


class VmdCountersTest(MetricsCase):

    def test_requests_errors_clients(self):
        c = self.client()
        before = self.metrics(c)["vmd"]
        c.command("vm-list")
        with self.assertRaises(QMPError):
            c.command("vm-show", {"vm": "nosuch"})
        others = [self.client() for _ in range(3)]
        after = self.metrics(c)["vmd"]
        req = lambda m, k: m["requests"].get(k, 0)  # noqa: E731
        self.assertEqual(req(after, "vm-list"), req(before, "vm-list") + 1)
        self.assertEqual(req(after, "vm-show"), req(before, "vm-show") + 1)
        self.assertEqual(req(after, "query-metrics"),
                         req(before, "query-metrics") + 1)
        self.assertEqual(after["errors"]["VmNotFound"],
                         before["errors"]["VmNotFound"] + 1)
        self.assertEqual(after["errors"]["InvalidState"],
                         before["errors"]["InvalidState"])
        self.assertEqual(after["clients"], before["clients"] + 3)
        self.assertGreaterEqual(after["connections"], after["clients"])
        for o in others:
            o.close()
        self.until("closed clients leave the count", lambda: self.metrics(
            c)["vmd"]["clients"] == before["clients"], t(10))


class TokenScopeTest(MetricsCase):

    def test_vm_token_sees_only_its_vms(self):
        c = self.client()
        for vm in ("web1", "web2", "web3"):
            c.command("vm-define", {"config": bootsector_config(vm)})
        tok = c.command("token-create", {"label": "m", "scope": [
            {"vm": "web1", "allow": ["show"]},
            {"vm": "web2", "allow": ["console"]}]})["token"]

        def call(args):
            return c.request({"execute": "query-metrics", "id": 9,
                              "arguments": args, "token": tok})
        r = call({})["return"]
        SCHEMAS.check_return("query-metrics", r)
        self.assertEqual([v["name"] for v in r["vms"]], ["web1"])
        self.assertNotIn("vmd", r)
        self.assertEqual([v["name"] for v in call({"vm": "web1"})[
            "return"]["vms"]], ["web1"])
        for vm in ("web2", "web3", "nosuch"):
            e = call({"vm": vm})["error"]
            self.assertError(e, "PermissionDenied", [vm])
        # a read token sees every VM and vmd's counters
        rd = c.command("token-create", {"label": "r", "scope": "read"})["token"]
        r = c.request({"execute": "query-metrics", "id": 10, "token": rd})
        self.assertEqual([v["name"] for v in r["return"]["vms"]],
                         ["web1", "web2", "web3"])
        self.assertIn("vmd", r["return"])


class GatewayMetricsTest(GatewayCase):
    """GET /metrics on vmd-gateway: Prometheus' text format, checked by
    promtool, with what the scraper's bearer token may see."""

    def scrape(self, token, status=200):
        st, body, resp = self.call("GET", "/metrics", token)
        self.assertEqual(st, status, body)
        if status == 200:
            self.assertEqual(resp.getheader("Content-Type"),
                             "text/plain; version=0.0.4; charset=utf-8")
        return body.decode() if isinstance(body, bytes) else body

    def promtool(self, text):
        p = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=t(30))
        self.assertEqual(p.returncode, 0, "promtool: %s%s\n%s"
                         % (p.stdout, p.stderr, text))

    def sample(self, text, line_re):
        m = re.search("^" + line_re + r" (\S+)$", text, re.M)
        self.assertIsNotNone(m, "no %s in:\n%s" % (line_re, text))
        return float(m.group(1))

    def test_scrape(self):
        vmdtest.require_guests(BOOTSECTOR)
        for vm in ("web1", "web2"):
            self.c.command("vm-define", {"config": bootsector_config(vm)})
        self.c.command("vm-start", {"vm": "web1"}, timeout=t(60))
        self.console("web1", mode="ro").read_until(BOOT_BANNER, t(30))

        text = self.scrape(self.admin)
        self.promtool(text)
        self.assertEqual(self.sample(
            text, r'vmd_vm_state\{vm="web1",state="running"\}'), 1)
        self.assertEqual(self.sample(
            text, r'vmd_vm_state\{vm="web2",state="stopped"\}'), 1)
        self.assertGreaterEqual(self.sample(
            text, r'vmd_vm_disk_read_bytes_total\{vm="web1",disk="0"\}'), 512)
        self.assertGreater(self.sample(
            text, r'vmd_vm_cpu_seconds_total\{vm="web1"\}'), 0)
        self.assertEqual(self.sample(
            text, r'vmd_vm_console_viewers\{vm="web1",port="0"\}'), 1)
        self.assertGreaterEqual(self.sample(
            text, r'vmd_vm_console_bytes_total\{vm="web1",port="0"\}'),
            len(BOOT_BANNER))
        self.assertGreaterEqual(self.sample(
            text, r'vmd_requests_total\{command="query-metrics"\}'), 1)
        self.assertGreaterEqual(self.sample(
            text, r'vmd_gateway_http_connections'), 1)
        self.assertNotIn('vm="web2",disk=', text)  # stopped: no disks

        # the same as JSON on the REST side, one VM by the query string
        st, body, _ = self.call("GET", "/api/v1/metrics?vm=web1", self.admin)
        self.assertEqual(st, 200, body)
        SCHEMAS.check_return("query-metrics", body)
        self.assertEqual([v["name"] for v in body["vms"]], ["web1"])

        # a token scoped to web1 sees web1 only, and none of vmd's
        tok = self.token("web1", [{"vm": "web1", "allow": ["show"]}])
        text = self.scrape(tok)
        self.promtool(text)
        self.assertIn('vm="web1"', text)
        self.assertNotIn('vm="web2"', text)
        self.assertNotIn("vmd_requests_total", text)

    def test_refused(self):
        st, body, resp = self.call("GET", "/metrics")
        self.assertEqual(st, 401)
        self.assertEqual(resp.getheader("WWW-Authenticate"), "Bearer")
        st, body, _ = self.call("GET", "/metrics",
                                "vmd_%016x_" % 1 + "ab" * 32)
        self.assertEqual((st, body["error"]["class"]),
                         (403, "PermissionDenied"))


if __name__ == "__main__":
    vmdtest.main()
