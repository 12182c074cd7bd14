"""The gateway under test: a vmd with --gateway-socket and a vmd-gateway
on 127.0.0.1 with a self-signed certificate made by `openssl req`."""

import os
import subprocess
import time

import vmdtest

GATEWAY = os.path.join(vmdtest.BUILDDIR, "vmd-gateway")
WWW = os.path.join(vmdtest.SRCDIR, "gateway", "www")
ALLOWED_ORIGIN = "https://panel.example"


def make_cert(tmp):
    cert, key = os.path.join(tmp, "gw.crt"), os.path.join(tmp, "gw.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=127.0.0.1", "-days", "2",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class Gateway:
    def __init__(self, tmp, vmd_socket, extra_args=()):
        self.tmp = tmp
        self.cert, self.key = make_cert(tmp)
        self.port = vmdtest.free_tcp_port()
        self.log_path = os.path.join(tmp, "gateway.log")
        self.argv = [GATEWAY, "--listen", "127.0.0.1:%d" % self.port,
                     "--cert", self.cert, "--key", self.key,
                     "--vmd-socket", vmd_socket, "--www", WWW,
                     "--allow-origin", ALLOWED_ORIGIN] + list(extra_args)
        self.proc = None

    def start(self, timeout=None):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        end = time.monotonic() + (vmdtest.t(20) if timeout is None
                                  else timeout)
        while not self.listening():
            if self.proc.poll() is not None:
                raise AssertionError("vmd-gateway exited with %s:\n%s"
                                     % (self.proc.returncode, self.log()))
            if time.monotonic() > end:
                raise AssertionError("vmd-gateway not listening")
            time.sleep(0.02)

    def listening(self):
        import socket
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", self.port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    @property
    def pid(self):
        return self.proc.pid

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(vmdtest.t(10))
            except Exception:
                self.proc.kill()
                self.proc.wait()


class GatewayTestCase(vmdtest.VmdTestCase):
    """vmd with a gateway socket, and the gateway in front of it."""

    start_vmd = False

    def setUp(self):
        super().setUp()
        gw_sock = os.path.join(self.tmp, "gw.sock")
        self.vmd.extra_args += ["--gateway-socket", gw_sock]
        self.vmd.start()
        self.gw = Gateway(self.tmp, gw_sock)
        self.addCleanup(self._gw_cleanup)
        self.gw.start()

    def _gw_cleanup(self):
        self.gw.stop()
        if self._failed():
            print("\n---- gateway log ----\n%s---- end ----"
                  % self.gw.log()[-20000:])
