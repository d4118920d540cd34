"""TLS on a live vortexd (--tls-cert/--tls-key/--tls-ca/--tls-verify-client):
the same long-poll and WebSocket protocol (PROTOCOL §9, §10) over https and
wss, checked with Python's ssl module; hostile handshakes (a ClientHello cut
in half and left hanging, plain bytes instead of a ClientHello) must hurt
only their own connection.

Certificates are made at test time with the openssl command line.

Run: python3 tests/wire/test_tls.py --vortexd build/vortexd
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vxwire
from vxwire import (Server, Conn, WS, check, eq, encode, decode, open_stream, body_of,
                    assert_hello, simple_request, metric_values, OP_TEXT, TIMEOUT)

HEAD_TIMEOUT = 2.0  # --http-head-timeout: also bounds a stalled handshake
HEAD_LIMIT = HEAD_TIMEOUT + 3.0  # slack for a loaded machine

CERTS = None  # directory with ca.pem, server.pem, server.key, alice.pem, alice.key


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs():
    global CERTS
    if CERTS:
        return CERTS
    d = tempfile.mkdtemp(prefix="vx_tls_wire_")
    p = lambda n: os.path.join(d, n)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "30",
            "-subj", "/O=Example/CN=Wire Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subj, ext in (
            ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
            ("alice", "/O=Example/CN=alice", "basicConstraints=CA:FALSE")):
        openssl("req", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"),
                "-subj", subj)
        with open(p(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "30",
                "-extfile", p(name + ".ext"), "-out", p(name + ".pem"))
    CERTS = d
    return d


def client_ctx(cert=None):
    ctx = ssl.create_default_context(cafile=os.path.join(make_certs(), "ca.pem"))
    if cert:
        ctx.load_cert_chain(os.path.join(CERTS, cert + ".pem"),
                            os.path.join(CERTS, cert + ".key"))
    return ctx


class TlsConn(Conn):
    """vxwire's exact-byte reader over a TLS socket."""

    def __init__(self, host, port, ctx, timeout=TIMEOUT, rcvbuf=None):
        super().__init__(host, port, timeout, rcvbuf)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")


class TlsServer(Server):
    """vortexd with a certificate; every helper of vxwire (streams, WS,
    simple requests, the /health check on exit) then goes through TLS."""

    def __init__(self, *flags, ctx=None, ca=False, verify=False, **kw):
        d = make_certs()
        tls = ["--tls-cert", os.path.join(d, "server.pem"),
               "--tls-key", os.path.join(d, "server.key")]
        if ca:
            tls += ["--tls-ca", os.path.join(d, "ca.pem")]
        if verify:
            tls += ["--tls-verify-client"]
        super().__init__(*(tls + list(flags)), **kw)
        self.ctx = ctx or client_ctx("alice" if verify else None)

    def connect(self, timeout=TIMEOUT, rcvbuf=None):
        return TlsConn(self.host, self.port, self.ctx, timeout, rcvbuf)

    def raw(self):
        """A plain TCP connection to the TLS port."""
        return Conn(self.host, self.port)


def echo(n):
    return encode({"key": "vortexd.echo", "n": n})


def client_hello():
    """The bytes of a real TLS ClientHello, without a server."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def https_round_trip(s, n):
    st = open_stream(s, body=body_of(echo(n), echo(n + 1)))
    assert_hello(st.next(), s)
    eq([st.next().filt["n"], st.next().filt["n"]], [n, n + 1], "echo order over https")
    st.conn.close()


def wss_round_trip(s, n):
    ws = WS(s)
    assert_hello(ws.next_msg(), s, "first frame")
    ws.send_text(echo(n) + b".")
    eq(ws.next_msg().filt["n"], n, "echo over wss")
    ws.close()


# ---------------------------------------------------------------------------


def test_C46_C47_https_long_poll_round_trip():
    with TlsServer() as s:
        st = open_stream(s, body=body_of(echo(1), echo(2)))
        eq(st.resp.status, 200, "status")
        check(st.chunked, "chunked response over https")
        eq(st.resp.header("Content-Type"), "text/plain; charset=utf-8", "content type")
        assert_hello(st.next(), s)
        eq([st.next().filt["n"], st.next().filt["n"]], [1, 2], "echo order")
        st.conn.close()


def test_C57_C58_wss_round_trip():
    with TlsServer() as s:
        ws = WS(s)
        f = ws.read_frame()
        eq(f.opcode, OP_TEXT, "first frame opcode")
        check(not f.masked and f.fin, "server frames are unmasked FIN frames")
        assert_hello(decode(f.payload), s, "first frame")
        for n in (1, 2, 3):
            ws.send_text(echo(n) + b".")
        eq([ws.next_msg().filt["n"] for _ in range(3)], [1, 2, 3], "echo order over wss")
        ws.close()


def test_big_msgs_cross_many_records_both_ways():
    # Incompressible tuples: ~300 KiB msgs, many TLS records each way.
    blob = os.urandom(220 * 1024).hex()
    with TlsServer() as s:
        ws = WS(s)
        assert_hello(ws.next_msg(), s, "first frame")
        ws.send_text(encode({"key": "vortexd.echo", "n": 7}, tuples=[blob]) + b".")
        p = ws.next_msg()
        eq((p.filt["n"], p.tuples), (7, [blob]), "big echo over wss")
        ws.close()
        st = open_stream(s, body=body_of(encode({"key": "vortexd.echo", "n": 8},
                                                tuples=[blob])))
        assert_hello(st.next(), s)
        p = st.next()
        eq((p.filt["n"], p.tuples), (8, [blob]), "big echo over https")
        st.conn.close()


def test_plain_client_refused_health_fine():
    with TlsServer() as s:
        st, _, body = simple_request(s, "GET", "/health")
        eq(st, 200, "GET /health over https")
        # Plain HTTP instead of a ClientHello: that connection is closed
        # (after an alert), nothing is answered in clear text.
        c = s.raw()
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = c.read_until_eof(HEAD_LIMIT)
        check(not data.startswith(b"HTTP/"), "plain HTTP answered on the TLS port: %r" %
              data[:40])
        c.close()
        https_round_trip(s, 10)
        n = metric_values(s.metrics(), "vortexc_tls_handshake_errors_total")
        check(n >= 1, "handshake failure not counted: %r" % n)


def test_garbage_instead_of_client_hello_closes_only_that_connection():
    with TlsServer() as s:
        ws = WS(s)  # a WebSocket that must survive
        assert_hello(ws.next_msg(), s, "first frame")
        bad = s.raw()
        bad.send(os.urandom(64) + b"\x16\x03\x01\xff\xff" + b"\x00" * 32)
        check(bad.wait_closed(HEAD_LIMIT), "garbage connection not closed")
        bad.close()
        ws.send_text(echo(3) + b".")
        eq(ws.next_msg().filt["n"], 3, "the other WebSocket still works")
        ws.close()


def test_stalled_half_client_hello_does_not_block_others():
    with TlsServer("--http-head-timeout", str(HEAD_TIMEOUT)) as s:
        hello = client_hello()
        check(len(hello) > 100, "ClientHello of %d bytes" % len(hello))
        stalled = [s.raw() for _ in range(5)]
        for c in stalled:
            c.send(hello[:len(hello) // 2])
        t0 = time.monotonic()
        # While they hang mid-handshake, others are served.
        https_round_trip(s, 20)
        wss_round_trip(s, 30)
        served = time.monotonic() - t0
        check(served < HEAD_TIMEOUT, "others waited %.1f s for the stalled ones" % served)
        for c in stalled:
            check(c.wait_closed(max(0.1, t0 + HEAD_LIMIT - time.monotonic())),
                  "stalled handshake still open after %.0f s" % HEAD_LIMIT)
        took = time.monotonic() - t0
        check(took >= HEAD_TIMEOUT - 0.5, "closed after %.1f s, before the head timeout" % took)
        for c in stalled:
            c.close()


def test_mtls_identity_required():
    with TlsServer(ca=True, verify=True) as s:
        https_round_trip(s, 40)  # alice's certificate
        wss_round_trip(s, 50)
        # Without a client certificate the handshake fails (TLS 1.3: on the
        # first read, with the server's alert).
        ctx = client_ctx(None)
        refused = False
        try:
            c = TlsConn(s.host, s.port, ctx)
            c.send(vxwire.request_bytes("GET", "/health"))
            refused = not c.fill()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            refused = True
        check(refused, "a client without a certificate was served")


def test_vortex_cli_ca_file_and_insecure():
    cli = os.path.join(os.path.dirname(vxwire.VORTEXD), "vortex")
    if not os.access(cli, os.X_OK):
        print("# skipped: no vortex binary next to vortexd")
        return
    with TlsServer() as s:
        url = "wss://localhost:%d/vortexws" % s.port
        filt = '{"key": "vortexd.echo", "n": 5}'
        ca = os.path.join(CERTS, "ca.pem")
        for extra in (["--ca-file", ca], ["--insecure"]):
            r = subprocess.run([cli, "send", url, "--filt", filt, "--wait-reply",
                                "--timeout", "10"] + extra, capture_output=True, timeout=30)
            eq(r.returncode, 0, "vortex send %s: %s" % (extra[0], r.stderr.decode()))
            check(b'"vortexd.echo"' in r.stdout, "reply printed: %r" % r.stdout[:200])
        # The system store does not know the test CA: refused, with the reason.
        r = subprocess.run([cli, "send", "https://localhost:%d/vortex" % s.port,
                            "--filt", filt, "--timeout", "1.5"], capture_output=True,
                           timeout=30)
        eq(r.returncode, 1, "vortex send without the CA")
        check(b"certificate verify failed" in r.stderr, "reason: %r" % r.stderr[-300:])


def test_zz_cleanup():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


if __name__ == "__main__":
    vxwire.run(globals())
