"""Tests of the vortexd daemon itself (docs/vortexd.md): flags, exit statuses,
--types/--strict, and clean shutdown on signals (PROTOCOL §9.4 step 6,
§10.4 1001 "shutdown").

Run: python3 tests/wire/test_vortexd.py --vortexd build/vortexd
"""

import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vxwire
from vxwire import (Server, WS, Tuple, check, eq, encode, open_stream, body_of, assert_hello,
                    simple_request, metric_values, new_uuid, read_head, read_body,
                    request_bytes, vortex_target)

TYPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli",
                     "types-test.json")


def run_vortexd(*args, timeout=10):
    return subprocess.run([vxwire.VORTEXD] + list(args), capture_output=True, timeout=timeout)


def test_bad_flags_exit_2_with_usage():
    for args in (["--bogus"], ["--port", "70000"], ["--port"], ["--heartbeat-period", "0"],
                 ["--out-queue-max", "12q"], ["--http-path", "vortex"], ["--echo=1"],
                 ["--log-level", "loud"], ["positional"], ["--types", "/nonexistent/t.json"],
                 ["--ws-path", "/vortex"]):
        r = run_vortexd("--port", "0", *args)
        eq(r.returncode, 2, "exit status for %r" % args)
        eq(r.stdout, b"", "stdout for %r" % args)
        check(b"vortexd" in r.stderr, "no error message for %r: %r" % (args, r.stderr))


def test_help_and_version_exit_0():
    r = run_vortexd("--help")
    eq(r.returncode, 0, "--help status")
    for flag in (b"--host", b"--port", b"--name", b"--static", b"--http-path", b"--ws-path",
                 b"--origin", b"--heartbeat-period", b"--http-session-timeout",
                 b"--http-pending-max", b"--out-queue-max", b"--max-http-body",
                 b"--max-msg-bytes", b"--max-json-bytes", b"--max-depth", b"--ws-ping-after",
                 b"--ws-dead-after", b"--strict", b"--types", b"--echo", b"--log-level"):
        check(flag in r.stdout, "--help does not list %r" % flag)
    r = run_vortexd("--version")
    eq(r.returncode, 0, "--version status")
    check(r.stdout.startswith(b"vortexd "), "--version output %r" % r.stdout)


def test_listening_line_names_port_uuid_and_name():
    with Server("--name", "wire-daemon", "--uuid", "0123-fixed") as s:
        eq((s.name, s.uuid), ("wire-daemon", "0123-fixed"), "name and uuid")
        st = open_stream(s)
        p = st.next()
        eq(p.filt, {"__vortexUuid__": "0123-fixed", "__vortexName__": "wire-daemon"}, "hello")
        st.conn.close()


def test_custom_paths():
    with Server("--http-path", "/api/v", "--ws-path", "/api/ws") as s:
        st = open_stream(s, path="/api/v")
        assert_hello(st.next(), s)
        st.conn.close()
        st_, r, b = simple_request(s, "POST", vortex_target(uuid=new_uuid()))
        eq(st_, 404, "the default path is not served")
        ws = WS(s, path="/api/ws")
        assert_hello(ws.next_msg(), s)
        ws.close()


def test_types_and_strict_decoding():
    with Server("--types", TYPES, "--strict") as s:
        known = Tuple("test.Address", street="Main", city="X", postcode=None)
        unknown = Tuple("demo.Unknown", a=1)
        st = open_stream(s, body=body_of(
            encode({"key": "vortexd.echo", "n": 1}, tuples=[known]),
            encode({"key": "vortexd.echo", "n": 2}, tuples=[unknown]),
            encode({"key": "vortexd.echo", "n": 3}, tuples=[Tuple("test.Address", bogus=1)]),
            encode({"key": "vortexd.echo", "n": 4})))
        assert_hello(st.next(), s)
        r = st.next()
        eq((r.filt["n"], r.tuples), (1, [known]), "registered type echoed")
        eq(st.next().filt["n"], 4, "the msgs failing strict decoding were dropped")
        st.conn.close()
        m = s.metrics()
        check('VX_E_UNKNOWN_TUPLE"} 1' in m, "VX_E_UNKNOWN_TUPLE not counted")
        check('VX_E_TUPLE_FIELD"} 1' in m, "VX_E_TUPLE_FIELD not counted")


def test_sigterm_ends_streams_and_closes_websockets_1001_then_exits_0():
    s = Server().start()
    try:
        st = open_stream(s)
        assert_hello(st.next(), s)
        ws = WS(s)
        assert_hello(ws.next_msg(), s)
        s.proc.send_signal(signal.SIGTERM)
        st.drain_until_end(timeout=5)
        check(st.clean_end, "HTTP stream not ended with a zero-length chunk")
        ws.expect_close(1001, "shutdown")
        eq(s.proc.wait(10), 0, "exit status after SIGTERM")
        st.conn.close()
        ws.close()
    finally:
        s.kill()


def test_sigint_exits_0_and_second_signal_exits_at_once():
    s = Server().start()
    try:
        s.proc.send_signal(signal.SIGINT)
        eq(s.proc.wait(10), 0, "exit status after SIGINT")
    finally:
        s.kill()
    # With a stream whose client does not read, shutdown waits (bounded) for
    # the queued data; a second signal cuts it short with status 1.
    s = Server("--out-queue-max", "64m").start()
    try:
        u = new_uuid()
        slow = open_stream(s, uuid=u, rcvbuf=4096)
        assert_hello(slow.next(), s)
        ws = WS(s)
        assert_hello(ws.next_msg(), s)
        ws.send_text(encode({"key": "vortexd.flood", "n": 400, "size": 16384, "uuid": u}) +
                     b".")
        done = ws.next_msg()
        eq((done.filt.get("key"), done.filt.get("sent")), ("vortexd.flood.done", 400),
           "flood")
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(s.proc.poll() is None, "exited at once although data was still queued")
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        eq(s.proc.wait(5), 1, "exit status after a second signal")
        check(time.monotonic() - t0 < 1.0, "second signal did not exit at once")
        slow.conn.close()
        ws.close()
    finally:
        s.kill()


def test_post_arriving_during_shutdown_gets_503():
    s = Server("--out-queue-max", "64m").start()
    try:
        u = new_uuid()
        slow = open_stream(s, uuid=u, rcvbuf=4096)  # keeps the shutdown busy for a while
        assert_hello(slow.next(), s)
        ws = WS(s)
        assert_hello(ws.next_msg(), s)
        ws.send_text(encode({"key": "vortexd.flood", "n": 400, "size": 16384, "uuid": u}) +
                     b".")
        eq(ws.next_msg().filt.get("sent"), 400, "flood")
        # A POST whose head is half sent when the signal arrives.
        keep = s.connect()
        req = request_bytes("POST", vortex_target(uuid=new_uuid()), b"")
        keep.send(req[:30])
        time.sleep(0.1)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        keep.send(req[30:])
        r = read_head(keep)
        eq(r.status, 503, "POST during shutdown")
        b = read_body(keep, r)
        check(b and not b.startswith(b"<"), "503 body %r" % b)
        keep.close()
        check(s.proc.poll() is None, "shutdown did not wait for queued data")
        eq(s.proc.wait(15), 0, "exit status")
        slow.conn.close()
        ws.close()
    finally:
        s.kill()


if __name__ == "__main__":
    from vxwire import run
    run(globals())
