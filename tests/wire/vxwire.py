"""Shared helpers for the black-box wire tests (tests/wire/test_*.py).

Standard library only. Everything here is written from PROTOCOL.md, not from
VortexC's sources, so the tests check the server against the spec:

* Server: start `vortexd --port 0 ...`, read its listening line, stop it with
  SIGTERM and check exit status 0 (and that it was still alive).
* Conn / HTTP helpers: a raw socket that reads exact bytes (status line,
  headers, chunks with their boundaries).
* WS: a minimal RFC 6455 client (masking, fragments, control frames).
* Codec: gen1 vortex msgs (PROTOCOL §2-§5): JSON with ", "/": " separators and
  ensure_ascii, zlib level 9, base64; a strict decoder per §2.2.
* run(): a plain runner, `ok N - name` / `not ok N - name`, then
  `N passed, M failed`; exit status 1 if anything failed.
"""

import base64
import datetime as _dt
import hashlib
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

VORTEXD = None  # path of the binary, set by run()
TIMEOUT = 5.0  # default for every blocking socket operation


class TestFailure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def eq(got, expected, what=""):
    if got != expected:
        raise TestFailure("%sexpected %r, got %r" % (what + ": " if what else "", expected, got))


def new_uuid():
    return str(__import__("uuid").uuid4())


# ---------------------------------------------------------------------------
# Codec (PROTOCOL §2-§5), independent of VortexC
# ---------------------------------------------------------------------------

HELLO_KEYS = ("__vortexUuid__", "__vortexName__")
PAYLOAD_KEYS = ["_ct", "_c", "filt", "replyFilt", "tuples", "result", "date"]


class Tuple:
    """A tuple value: type name plus fields."""

    def __init__(self, _type, _fields=None, **kw):
        self.name = _type
        self.fields = dict(_fields or {}, **kw)

    def __eq__(self, other):
        return isinstance(other, Tuple) and (self.name, self.fields) == (other.name, other.fields)

    def __repr__(self):
        return "Tuple(%r, %r)" % (self.name, self.fields)


class DecodeError(Exception):
    def __init__(self, stage, message):
        Exception.__init__(self, "%s: %s" % (stage, message))
        self.stage = stage


def fmt_date(d):
    return d.strftime("%Y-%m-%d %H:%M:%S.%f")


def utcnow():
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def to_wire(v):
    """Python value -> wire JSON value (§4.1)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"_ft": "int", "_fd": v}
    if isinstance(v, float):
        return v
    if isinstance(v, bytes):
        return {"_ft": "bytes", "_fd": base64.b64encode(v).decode("ascii")}
    if isinstance(v, _dt.datetime):
        return {"_ft": "datetime", "_fd": fmt_date(v)}
    if isinstance(v, (list, tuple)):
        return [to_wire(x) for x in v]
    if isinstance(v, dict):
        return {k: to_wire(x) for k, x in v.items()}
    if isinstance(v, Tuple):
        d = {"_ct": "rt", "_c": v.name}
        for k in sorted(v.fields):
            d[k] = to_wire(v.fields[k])
        return d
    raise TypeError("cannot encode %r" % (v,))


_DATE_RE = re.compile(
    r"^(\d{1,4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(Z|[+-]\d{2}:?\d{2})?)?$")


def parse_date(s):
    m = _DATE_RE.match(s)
    if not m:
        raise DecodeError("value", "bad datetime %r" % s)
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    us = int((frac or "0").ljust(6, "0"))
    t = _dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), us)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        z = zone[1:].replace(":", "")
        t -= sign * _dt.timedelta(hours=int(z[:2]), minutes=int(z[2:]))
    return t


def from_wire(v):
    """Wire JSON value -> Python value (§4.3)."""
    if isinstance(v, list):
        return [from_wire(x) for x in v]
    if not isinstance(v, dict):
        return v  # null, bool, bare int (int), bare float (float), str
    if "_ct" in v:
        if v["_ct"] == "rt":
            if not isinstance(v.get("_c"), str):
                raise DecodeError("tuple", "rt without _c")
            return Tuple(v["_c"], {k: from_wire(x) for k, x in v.items()
                                   if not k.startswith("_")})
        if v["_ct"] == "rp":
            return payload_from_obj(v, None)
        raise DecodeError("value", "unknown _ct %r" % v["_ct"])
    if "_ft" in v:
        ft, fd = v["_ft"], v.get("_fd")
        if ft == "int":
            if isinstance(fd, bool):
                raise DecodeError("value", "bad int")
            if isinstance(fd, float) and fd.is_integer():
                return int(fd)
            if isinstance(fd, str) and re.match(r"^[+-]?\d{1,19}$", fd):
                return int(fd)
            if isinstance(fd, int):
                return fd
            raise DecodeError("value", "bad int %r" % (fd,))
        if ft == "float":
            return float(fd)
        if ft == "bool":
            return {"1": True, "0": False, True: True, False: False}[fd]
        if ft == "str":
            return fd
        if ft == "bytes":
            return base64.b64decode(fd, validate=True)
        if ft == "datetime":
            return parse_date(fd)
        if ft == "null":
            return None
        if ft == "list":
            return [from_wire(x) for x in fd]
        if ft == "dict":
            return {k: from_wire(x) for k, x in fd.items()}
        raise DecodeError("value", "unknown _ft %r" % ft)
    return {k: from_wire(x) for k, x in v.items()}


class Payload:
    def __init__(self, filt=None, tuples=None, result=None, reply_filt=None, date=None):
        self.filt = filt if filt is not None else {}
        self.tuples = tuples if tuples is not None else []
        self.result = result
        self.reply_filt = reply_filt if reply_filt is not None else {}
        self.date = date
        self.json = None  # decoded JSON text, when decoded
        self.keys = None  # top-level keys in wire order, when decoded

    def is_empty(self):
        """§3.2."""
        return (all(k in HELLO_KEYS for k in self.filt) and not self.reply_filt
                and not self.tuples and self.result is None)

    def is_hello(self):
        return self.is_empty() and set(self.filt) == set(HELLO_KEYS)

    def is_heartbeat(self):
        return self.is_empty() and not self.filt

    def __repr__(self):
        return "Payload(filt=%r, tuples=%r, result=%r, replyFilt=%r, date=%r)" % (
            self.filt, self.tuples, self.result, self.reply_filt, self.date)


def payload_from_obj(obj, text):
    if not isinstance(obj, dict):
        raise DecodeError("structure", "top level is not an object")
    if "_ct" not in obj:
        raise DecodeError("structure", "no _ct")
    if obj["_ct"] != "rp":
        raise DecodeError("structure", "_ct is %r" % obj["_ct"])
    p = Payload()
    filt = obj.get("filt")
    rf = obj.get("replyFilt")
    tuples = obj.get("tuples")
    if filt is not None and not isinstance(filt, dict):
        raise DecodeError("field", "filt")
    if rf is not None and not isinstance(rf, dict):
        raise DecodeError("field", "replyFilt")
    if tuples is not None and not isinstance(tuples, list):
        raise DecodeError("field", "tuples")
    p.filt = from_wire(filt or {})
    p.reply_filt = from_wire(rf or {})
    p.tuples = from_wire(tuples or [])
    p.result = from_wire(obj.get("result"))
    date = obj.get("date")
    if date is not None:
        if not (isinstance(date, dict) and date.get("_ft") == "datetime"):
            raise DecodeError("field", "date")
        p.date = parse_date(date.get("_fd"))
    p.json = text
    return p


def payload_json(filt, tuples=(), result=None, reply_filt=None, date="now"):
    """The wire JSON text of a payload (§3.1 key order, vortexpy style)."""
    if date == "now":
        date = utcnow()
    obj = {"_ct": "rp", "_c": "vortex.Payload.Payload", "filt": to_wire(filt),
           "replyFilt": to_wire(reply_filt or {}), "tuples": to_wire(list(tuples)),
           "result": to_wire(result), "date": to_wire(date)}
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=True, allow_nan=False)


def encode_json(text):
    """JSON text -> gen1 msg bytes (zlib level 9, base64)."""
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9))


def encode(filt, tuples=(), result=None, reply_filt=None, date="now"):
    """A gen1 vortex msg (bytes, no trailing '.')."""
    return encode_json(payload_json(filt, tuples, result, reply_filt, date))


_B64_RE = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")


def decode(msg):
    """Strict gen1 decoder (§2.2). `msg` is bytes without its '.'."""
    if isinstance(msg, str):
        msg = msg.encode("ascii")
    data = bytes(b for b in msg if b not in b" \t\r\n")
    if len(data) % 4 or not _B64_RE.match(data):
        raise DecodeError("base64", "invalid base64 (%d bytes)" % len(data))
    raw = base64.b64decode(data, validate=True)
    if not raw:
        raise DecodeError("zlib", "empty")
    if raw[0] == 0x7B:
        raise DecodeError("generation", "gen2 msg")
    if (raw[0] & 0x0F) != 8 or len(raw) < 2 or (raw[0] * 256 + raw[1]) % 31:
        raise DecodeError("zlib", "bad zlib header %r" % raw[:2])
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw) + d.flush()
    except zlib.error as e:
        raise DecodeError("zlib", str(e))
    if not d.eof:
        raise DecodeError("zlib", "truncated stream")
    if d.unused_data:
        raise DecodeError("zlib", "bytes after the zlib stream")
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError("utf8", str(e))
    def no_constants(c):
        raise ValueError("token %s is not JSON" % c)

    try:
        obj = json.loads(text, parse_constant=no_constants)
    except ValueError as e:
        raise DecodeError("json", str(e))
    keys = list(obj.keys()) if isinstance(obj, dict) else []  # dicts keep wire order
    p = payload_from_obj(obj, text)
    p.keys = keys
    return p


# ---------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------

_LISTEN_RE = re.compile(r"^vortexd listening on https?://(\[[^\]]+\]|[^:/\s]+):(\d+) "
                        r"uuid=(\S+) name=(.*)$")


class Server:
    """A fresh vortexd on an ephemeral port. Use as a context manager: on
    exit it checks /health (the process survived the test), sends SIGTERM and
    expects exit status 0."""

    def __init__(self, *flags, echo=True, test_endpoints=True):
        self.flags = list(flags)
        if echo:
            self.flags.append("--echo")
        if test_endpoints:
            self.flags.append("--test-endpoints")
        self.proc = None
        self.stderr_file = None

    def start(self):
        self.stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([VORTEXD, "--port", "0"] + self.flags,
                                     stdout=subprocess.PIPE, stderr=self.stderr_file)
        line = b""
        deadline = time.monotonic() + 10
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            if not r:
                self.proc.kill()
                raise TestFailure("vortexd printed no listening line in 10 s; stderr: "
                                  + self.stderr_text())
            b = os.read(fd, 1)
            if not b:
                self.proc.wait()
                raise TestFailure("vortexd exited (%s) before listening; stderr: %s" %
                                  (self.proc.returncode, self.stderr_text()))
            line += b
        m = _LISTEN_RE.match(line.decode("utf-8").rstrip("\n"))
        if not m:
            self.proc.kill()
            raise TestFailure("unexpected listening line %r" % line)
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.uuid = m.group(3)
        self.name = m.group(4)
        return self

    def stderr_text(self):
        if not self.stderr_file:
            return ""
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check_exit=True):
        if self.proc is None:
            return
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            self.proc = None
            raise TestFailure("vortexd died during the test (status %s); stderr tail: %s" %
                              (rc, self.stderr_text()[-2000:]))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            raise TestFailure("vortexd did not exit within 15 s of SIGTERM")
        self.proc = None
        if check_exit and rc != 0:
            raise TestFailure("vortexd exited with status %s after SIGTERM; stderr tail: %s" %
                              (rc, self.stderr_text()[-2000:]))

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill()
            return False
        try:
            check_health(self)
        except BaseException:
            self.kill()
            raise
        self.stop()
        return False

    # conveniences
    def connect(self, timeout=TIMEOUT, rcvbuf=None):
        return Conn(self.host, self.port, timeout, rcvbuf)

    def metrics(self):
        st, hdrs, body = simple_request(self, "GET", "/metrics")
        eq(st, 200, "GET /metrics status")
        return body.decode("utf-8")


def check_health(server):
    """The process is alive and answers GET /health with 200."""
    if not server.alive():
        raise TestFailure("vortexd is not running (status %s); stderr tail: %s" %
                          (server.proc and server.proc.returncode, server.stderr_text()[-2000:]))
    st, _, _ = simple_request(server, "GET", "/health")
    eq(st, 200, "GET /health status")


def metric_values(text, fragment):
    """Sum of the sample values of every metric line whose name contains
    `fragment` (Prometheus text format)."""
    total = 0.0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        if fragment in name.split("{")[0]:
            total += float(value)
    return total


# ---------------------------------------------------------------------------
# Raw HTTP/1.1
# ---------------------------------------------------------------------------

class Closed(Exception):
    """The peer closed the connection before the expected bytes."""


class Conn:
    """A TCP connection with an exact-byte reader."""

    def __init__(self, host, port, timeout=TIMEOUT, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self._buf = bytearray()  # received, not yet consumed from _pos on
        self._pos = 0
        self.eof = False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        self.sock.sendall(data)

    def pending(self):
        """Bytes received and not yet consumed."""
        return len(self._buf) - self._pos

    def take_all(self):
        out = bytes(self._buf[self._pos:])
        self._buf = bytearray()
        self._pos = 0
        return out

    def fill(self):
        """Read more bytes into the buffer; False at EOF."""
        if self.eof:
            return False
        b = self.sock.recv(262144)
        if not b:
            self.eof = True
            return False
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += b
        return True

    def read_exact(self, n):
        while self.pending() < n:
            if not self.fill():
                raise Closed("connection closed after %d of %d bytes" % (self.pending(), n))
        out = bytes(self._buf[self._pos:self._pos + n])
        self._pos += n
        return out

    def read_line(self, limit=1 << 20):
        """One line ending in CRLF, returned without it."""
        while True:
            i = self._buf.find(b"\r\n", self._pos)
            if i >= 0:
                line = bytes(self._buf[self._pos:i])
                self._pos = i + 2
                return line
            if self.pending() > limit:
                raise TestFailure("line longer than %d bytes" % limit)
            if not self.fill():
                raise Closed("connection closed inside a line: %r" %
                             bytes(self._buf[self._pos:self._pos + 200]))

    def read_until_eof(self, max_time=TIMEOUT):
        deadline = time.monotonic() + max_time
        while not self.eof:
            if time.monotonic() > deadline:
                raise TestFailure("connection not closed within %.1f s" % max_time)
            self.fill()
        return self.take_all()

    def wait_closed(self, max_time):
        """True if the peer closes (EOF or reset) within max_time; bytes read
        meanwhile are discarded."""
        deadline = time.monotonic() + max_time
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Response:
    def __init__(self, version, status, reason, headers, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) as received
        self.raw = raw

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return vals[0] if vals else None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def chunked(self):
        te = self.header("Transfer-Encoding")
        return te is not None and "chunked" in te.lower()

    def __repr__(self):
        return "Response(%s %d %s, %r)" % (self.version, self.status, self.reason, self.headers)


def read_head(conn):
    """Status line and headers, exactly as sent."""
    status_line = conn.read_line()
    raw = [status_line]
    m = re.match(rb"^(HTTP/1\.[01]) (\d{3}) ?(.*)$", status_line)
    if not m:
        raise TestFailure("bad status line %r" % status_line)
    headers = []
    while True:
        line = conn.read_line()
        raw.append(line)
        if line == b"":
            break
        k, sep, v = line.partition(b":")
        if not sep:
            raise TestFailure("bad header line %r" % line)
        headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    return Response(m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1"),
                    headers, b"\r\n".join(raw) + b"\r\n")


def read_chunk(conn):
    """One chunk's data (b'' for the last chunk, whose trailer is consumed)."""
    size_line = conn.read_line()
    m = re.match(rb"^([0-9A-Fa-f]+)(;.*)?$", size_line)
    if not m:
        raise TestFailure("bad chunk size line %r" % size_line)
    size = int(m.group(1), 16)
    if size == 0:
        while conn.read_line() != b"":
            pass
        return b""
    data = conn.read_exact(size)
    crlf = conn.read_exact(2)
    if crlf != b"\r\n":
        raise TestFailure("chunk not followed by CRLF: %r" % crlf)
    return data


def read_body(conn, resp):
    """A complete (non-stream) body: Content-Length, chunked, or until close."""
    if resp.chunked():
        out = b""
        while True:
            c = read_chunk(conn)
            if c == b"":
                return out
            out += c
    cl = resp.header("Content-Length")
    if cl is not None:
        return conn.read_exact(int(cl))
    return conn.read_until_eof()


def request_bytes(method, target, body=b"", headers=(), version="HTTP/1.1", host="x",
                  content_length=True):
    lines = ["%s %s %s" % (method, target, version), "Host: %s" % host]
    lines += list(headers)
    if content_length and body is not None and not any(
            h.lower().startswith(("content-length:", "transfer-encoding:")) for h in headers):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def vortex_target(server_path="/vortex", uuid=None, name="wiretest", extra=""):
    q = []
    if uuid is not None:
        q.append("vortexUuid=" + uuid)
    if name is not None:
        q.append("vortexName=" + name)
    if extra:
        q.append(extra)
    return server_path + ("?" + "&".join(q) if q else "")


def simple_request(server, method, target, body=b"", headers=(), version="HTTP/1.1"):
    """One request on a new connection; (status, Response, body)."""
    c = server.connect()
    try:
        c.send(request_bytes(method, target, body, headers, version))
        r = read_head(c)
        b = b"" if method == "HEAD" else read_body(c, r)
        return r.status, r, b
    finally:
        c.close()


class Stream:
    """Reads '.'-delimited items from a long-poll response body, keeping the
    chunk boundaries (chunks) and when each item completed (times)."""

    def __init__(self, conn, resp):
        self.conn = conn
        self.resp = resp
        self.chunked = resp.chunked()
        self.pending = b""  # bytes of the item being assembled
        self.items = []  # completed items not yet taken
        self.chunks = []  # every chunk's data, in order (chunked only)
        self.raw = bytearray()  # every body byte, in order
        self.ended = False  # zero-length chunk seen, or EOF
        self.clean_end = False  # zero-length chunk seen

    def _feed(self, data):
        self.raw += data
        now = time.monotonic()
        self.pending += data
        while b"." in self.pending:
            item, _, self.pending = self.pending.partition(b".")
            self.items.append((item, now))

    def _read_more(self):
        if self.ended:
            raise Closed("stream ended")
        if self.chunked:
            try:
                c = read_chunk(self.conn)
            except Closed:
                self.ended = True
                raise
            if c == b"":
                self.ended = True
                self.clean_end = True
                return
            self.chunks.append(c)
            self._feed(c)
        else:
            if not self.conn.pending() and not self.conn.fill():
                self.ended = True
                raise Closed("stream closed")
            self._feed(self.conn.take_all())

    def next_raw(self, timeout=TIMEOUT):
        """(item bytes, completion time) of the next item, heartbeats included."""
        deadline = time.monotonic() + timeout
        while not self.items:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no item within %.1f s" % timeout)
            self.conn.settimeout(left)
            try:
                self._read_more()
            except socket.timeout:
                raise TestFailure("no item within %.1f s" % timeout)
        return self.items.pop(0)

    def next(self, timeout=TIMEOUT, skip_heartbeats=True):
        """The next decoded payload (heartbeats skipped unless asked)."""
        deadline = time.monotonic() + timeout
        while True:
            item, _ = self.next_raw(max(0.001, deadline - time.monotonic()))
            check(item != b"", "the server sent an empty item (bare '.')")
            p = decode(item)
            if skip_heartbeats and p.is_heartbeat():
                continue
            return p

    def drain_until_end(self, timeout=TIMEOUT):
        """Read to the end of the stream; return the complete items left."""
        deadline = time.monotonic() + timeout
        while not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("stream did not end within %.1f s" % timeout)
            self.conn.settimeout(left)
            try:
                self._read_more()
            except Closed:
                break
            except socket.timeout:
                raise TestFailure("stream did not end within %.1f s" % timeout)
            except ConnectionResetError:
                self.ended = True
                break
        out = [i for i, _ in self.items]
        self.items = []
        return out


def post(server, uuid=None, name="wiretest", body=b"", extra="", version="HTTP/1.1",
         headers=(), rcvbuf=None, path="/vortex"):
    """POST a body; returns (Conn, Response)."""
    c = server.connect(rcvbuf=rcvbuf)
    c.send(request_bytes("POST", vortex_target(path, uuid, name, extra), body, headers,
                         version))
    return c, read_head(c)


def open_stream(server, uuid=None, name="wiretest", body=b"", **kw):
    """POST and check the 200; returns a Stream positioned before the hello."""
    if uuid is None:
        uuid = new_uuid()
    c, r = post(server, uuid, name, body, **kw)
    if r.status != 200:
        body = read_body(c, r)
        raise TestFailure("POST got %d %r" % (r.status, body))
    return Stream(c, r)


def body_of(*msgs):
    return b"".join(m + b"." for m in msgs)


def assert_hello(p, server, what="first item"):
    check(p.is_hello(), "%s is not a hello: %r" % (what, p))
    eq(p.filt, {"__vortexUuid__": server.uuid, "__vortexName__": server.name}, what + " filt")
    check(isinstance(p.date, _dt.datetime), what + " has no date")
    eq(p.keys, PAYLOAD_KEYS, what + " key order")


# ---------------------------------------------------------------------------
# WebSocket (RFC 6455), client side
# ---------------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Frame:
    def __init__(self, fin, rsv, opcode, masked, payload):
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    def close_code(self):
        if len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None

    def close_reason(self):
        return self.payload[2:].decode("utf-8", "replace")

    def __repr__(self):
        return "Frame(fin=%s, rsv=%d, op=%d, masked=%s, %d bytes: %r)" % (
            self.fin, self.rsv, self.opcode, self.masked, len(self.payload), self.payload[:60])


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class WS:
    """A WebSocket client connection. `resp` is the handshake response."""

    def __init__(self, server, uuid=None, name="wiretest", path="/vortexws", query=None,
                 headers=None, rcvbuf=None, expect_101=True):
        self.uuid = uuid if uuid is not None else new_uuid()
        self.conn = server.connect(rcvbuf=rcvbuf)
        if query is None:
            query = "vortexUuid=%s&vortexName=%s" % (self.uuid, name)
        self.key = base64.b64encode(os.urandom(16)).decode()
        hdrs = headers if headers is not None else [
            "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + self.key,
            "Sec-WebSocket-Version: 13"]
        target = path + ("?" + query if query else "")
        self.conn.send(request_bytes("GET", target, None, hdrs, content_length=False))
        self.resp = read_head(self.conn)
        if expect_101:
            if self.resp.status != 101:
                body = read_body(self.conn, self.resp)
                raise TestFailure("WebSocket handshake got %d %r" % (self.resp.status, body))
            eq(self.resp.header("Sec-WebSocket-Accept"), ws_accept(self.key),
               "Sec-WebSocket-Accept")

    def send_frame(self, opcode, payload, fin=True, mask=True, rsv=0, mask_key=None):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            k = mask_key if mask_key is not None else os.urandom(4)
            head += k
            payload = bytes(b ^ k[i & 3] for i, b in enumerate(payload)) if n < 4096 else \
                _mask_fast(payload, k)
        self.conn.send(head + payload)

    def send_text(self, data):
        self.send_frame(OP_TEXT, data)

    def send_close(self, code=1000, reason=b""):
        self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason)

    def read_frame(self, timeout=TIMEOUT):
        self.conn.settimeout(timeout)
        try:
            b0, b1 = self.conn.read_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.conn.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.conn.read_exact(8))[0]
            masked = bool(b1 & 0x80)
            key = self.conn.read_exact(4) if masked else None
            payload = self.conn.read_exact(n)
        except socket.timeout:
            raise TestFailure("no WebSocket frame within %.1f s" % timeout)
        if masked:
            payload = _mask_fast(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload)

    def next_msg(self, timeout=TIMEOUT, skip_heartbeats=True):
        """The next decoded payload from a data frame; control frames other
        than close are skipped (a close fails the test)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.read_frame(max(0.001, deadline - time.monotonic()))
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if f.opcode == OP_CLOSE:
                raise TestFailure("WebSocket closed by the server: %r %r" %
                                  (f.close_code(), f.close_reason()))
            check(f.opcode == OP_TEXT, "server data frame is not text: %r" % f)
            check(f.fin, "server frame is fragmented: %r" % f)
            p = decode(f.payload)
            if skip_heartbeats and p.is_heartbeat():
                continue
            return p

    def expect_close(self, code, reason=None, timeout=TIMEOUT):
        """Skip data frames until a close frame; check its code (and reason)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                f = self.read_frame(max(0.001, deadline - time.monotonic()))
            except Closed:
                raise TestFailure("TCP closed without a close frame (expected %d)" % code)
            if f.opcode == OP_CLOSE:
                eq(f.close_code(), code, "close code")
                if reason is not None:
                    eq(f.close_reason(), reason, "close reason")
                return f

    def close(self):
        self.conn.close()


def _mask_fast(data, key):
    n = len(data)
    k = int.from_bytes((key * ((n + 3) // 4))[:n], "big") if n else 0
    return (int.from_bytes(data, "big") ^ k).to_bytes(n, "big") if n else b""


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------

def run(namespace):
    """Run every test_* function of `namespace` (a module's globals()) in
    definition order. Usage: python3 FILE --vortexd PATH [name-filter...]"""
    global VORTEXD
    args = sys.argv[1:]
    filters = []
    while args:
        a = args.pop(0)
        if a == "--vortexd" and args:
            VORTEXD = args.pop(0)
        elif a.startswith("--vortexd="):
            VORTEXD = a.split("=", 1)[1]
        else:
            filters.append(a)
    if not VORTEXD:
        VORTEXD = os.environ.get("VORTEXD")
    if not VORTEXD or not os.access(VORTEXD, os.X_OK):
        print("usage: %s --vortexd PATH [test-name-substring...]" % sys.argv[0])
        sys.exit(2)
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    if filters:
        tests = [(n, f) for n, f in tests if any(s in n for s in filters)]
    passed = failed = 0
    t_all = time.monotonic()
    for i, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:
            failed += 1
            print("not ok %d - %s (%.2f s)" % (i, name, time.monotonic() - t0))
            for line in traceback.format_exception(type(e), e, e.__traceback__)[-6:]:
                for sub in line.rstrip().splitlines():
                    print("#   " + sub[:2000])
        else:
            passed += 1
            print("ok %d - %s (%.2f s)" % (i, name, time.monotonic() - t0))
        sys.stdout.flush()
    print("%d passed, %d failed (%.1f s)" % (passed, failed, time.monotonic() - t_all))
    sys.exit(1 if failed else 0)
