"""A small RFC 6455 client for the gateway's tests: it must also send
what no library would (unmasked, malformed and oversized frames)."""

import base64
import hashlib
import os
import socket
import ssl
import struct
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


class Closed(Exception):
    """The server closed: code and reason of its close frame (None if it
    just hung up)."""

    def __init__(self, code, reason):
        super().__init__("closed %s %r" % (code, reason))
        self.code = code
        self.reason = reason


def frame(opcode, payload, mask=True, fin=True, length=None):
    """One frame; length overrides the length field (a lie)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsClient:
    def __init__(self, port, path, host="127.0.0.1", tls=True, origin=None,
                 protocols=None, headers=None, timeout=10, source=None,
                 rcvbuf=None):
        # rcvbuf: a small receive buffer, set before the connect so the
        # window the peer sees stays small (a viewer that stalls)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        if source:
            raw.bind((source, 0))
        raw.connect((host, port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw = ctx.wrap_socket(raw, server_hostname=host)
        self.sock = raw
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port),
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if origin:
            lines.append("Origin: " + origin)
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._until(b"\r\n\r\n").decode("latin-1")
        first, *rest = head.split("\r\n")
        self.status = int(first.split()[1])
        self.headers = {}
        for h in rest:
            if h:
                k, v = h.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1(key.encode() + GUID)
                                    .digest()).decode()
            assert self.headers.get("sec-websocket-accept") == want
        self.protocol = self.headers.get("sec-websocket-protocol")

    def _until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise Closed(None, None)
        self.buf += d

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, payload, opcode=BINARY, **kw):
        if isinstance(payload, str):
            payload = payload.encode()
        self.sock.sendall(frame(opcode, payload, **kw))

    def recv_frame(self):
        b0, b1 = self._take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8))[0]
        assert not b1 & 0x80, "server frames are never masked"
        return b0 & 0x0F, bool(b0 & 0x80), self._take(n)

    def recv(self):
        """The next data message (answering pings); Closed at a close."""
        data, op0 = b"", None
        while True:
            op, fin, payload = self.recv_frame()
            if op == PING:
                self.send(payload, PONG)
                continue
            if op == PONG:
                continue
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if payload else None
                raise Closed(code, payload[2:].decode(errors="replace"))
            op0 = op0 or op
            data += payload
            if fin:
                return op0, data

    def read_until(self, want, timeout=30):
        """Console bytes until want (bytes) is among them; all of them."""
        got = b""
        end = time.monotonic() + timeout
        while want not in got:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r in %r" % (want, got[-300:]))
            self.sock.settimeout(left)
            got += self.recv()[1]
        return got

    def close_code(self, timeout=10):
        """Reads to the server's close; its code (None: it hung up)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                self.recv()
        except Closed as e:
            return e.code

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
