"""Helpers for the vmd-gateway tests (test_gateway*.py): a vmd with a
--gateway-socket, a self-signed certificate made with `openssl req`, a
vmd-gateway started as root that drops to user nobody, and an HTTPS client
on 127.0.0.1 that trusts that certificate."""

import http.client
import json
import os
import shlex
import socket
import ssl
import subprocess
import time

import vmdtest
from vmdtest import BUILDDIR, t

GATEWAY = os.path.join(BUILDDIR, "vmd-gateway")
GW_USER = "nobody"
GW_GROUP = "nogroup"


def make_cert(directory):
    """A self-signed certificate for localhost and 127.0.0.1: (cert, key)."""
    cert = os.path.join(directory, "gw-cert.pem")
    key = os.path.join(directory, "gw-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)  # root's: the gateway reads it before dropping
    return cert, key


class Gateway:
    """One vmd-gateway process in front of vmd's --gateway-socket."""

    def __init__(self, tmp, vmd_socket, extra_args=()):
        self.tmp = tmp
        self.vmd_socket = vmd_socket
        self.port = vmdtest.free_tcp_port()
        self.cert, self.key = make_cert(tmp)
        self.log_path = os.path.join(tmp, "gateway.log")
        self.extra_args = list(extra_args)
        self.proc = None

    def argv(self):
        # VMD_GATEWAY_WRAPPER="valgrind -q --error-exitcode=99": run the
        # gateway under a checker
        wrap = shlex.split(os.environ.get("VMD_GATEWAY_WRAPPER", ""))
        return wrap + [GATEWAY, "--listen", "127.0.0.1:%d" % self.port,
                "--cert", self.cert, "--key", self.key,
                "--vmd-socket", self.vmd_socket, "--user", GW_USER] + \
            self.extra_args

    def start(self):
        if not os.access(GATEWAY, os.X_OK):
            raise AssertionError("vmd-gateway not built: %s" % GATEWAY)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + t(10)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("vmd-gateway exited with %s: %s"
                                     % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("vmd-gateway not listening")
                time.sleep(0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(t(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = True
        return ctx

    def connection(self, timeout=None):
        """A keep-alive HTTPS connection (http.client) to the gateway."""
        return http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.tls_context(),
            timeout=t(30) if timeout is None else timeout)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def rss(self):
        return vmdtest.rss(self.proc.pid)


def call(conn, method, path, token=None, body=None, headers=None):
    """One request on conn: (status, decoded JSON body or None, response
    headers)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    resp = conn.getresponse()
    raw = resp.read()
    try:
        obj = json.loads(raw) if raw else None
    except ValueError:
        obj = raw
    return resp.status, obj, resp


class GatewayCase(vmdtest.VmdTestCase):
    """vmd with --gateway-socket (group nogroup, mode 0660) and a gateway
    running as nobody in front of it; self.admin is an admin token made on
    vmd's own socket."""

    gateway_args = ()
    start_vmd = False

    def setUp(self):
        super().setUp()
        self.gw_socket = os.path.join(self.tmp, "gateway.sock")
        self.vmd.extra_args += ["--gateway-socket", self.gw_socket,
                                "--gateway-socket-group", GW_GROUP]
        self.vmd.start()
        self.c = self.client()
        self.admin = self.token("admin", "admin")
        self.gw = Gateway(self.tmp, self.gw_socket, self.gateway_args)
        self.addCleanup(self._stop_gateway)
        self.gw.start()
        self.conn = self.gw.connection()
        self.addCleanup(self.conn.close)

    def _stop_gateway(self):
        self.gw.stop()
        vmdtest.check_sanitizer_log("vmd-gateway", self.gw.log())
        if self._failed():
            print("\n---- gateway log ----\n%s---- end ----"
                  % self.gw.log()[-20000:])

    def token(self, label, scope, **extra):
        args = dict(label=label, scope=scope, **extra)
        return self.c.command("token-create", args)["token"]

    def call(self, method, path, token=None, body=None, headers=None,
             conn=None):
        return call(conn or self.conn, method, path, token, body, headers)
