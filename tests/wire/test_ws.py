"""Wire tests of the WebSocket transport (PROTOCOL §10, §12) against a live
vortexd. Each test starts its own server and checks /health and a clean
SIGTERM exit at the end.

Run: python3 tests/wire/test_ws.py --vortexd build/vortexd
"""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxwire import (Server, WS, Closed, TestFailure, check, eq, new_uuid, encode, decode,
                    read_body, assert_hello, simple_request, metric_values, open_stream,
                    body_of, OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG)


def echo(n, **extra):
    return encode(dict({"key": "vortexd.echo", "n": n}, **extra))


def connect(s, **kw):
    """A WebSocket whose hello has been read and checked."""
    ws = WS(s, **kw)
    assert_hello(ws.next_msg(), s, "WebSocket hello")
    return ws


def decode_errors(s):
    m = s.metrics()
    return metric_values(m, "decode_errors")


def expect_no_frame(ws, secs):
    try:
        f = ws.read_frame(timeout=secs)
    except TestFailure as e:
        if "no WebSocket frame" in str(e):
            return
        raise
    raise TestFailure("unexpected frame %r" % f)


def test_C47_first_frame_of_every_websocket_is_the_hello():
    with Server() as s:
        ws = WS(s)
        f = ws.read_frame()
        eq(f.opcode, OP_TEXT, "first frame opcode")
        assert_hello(decode(f.payload), s)
        ws.close()


def test_C56_websocket_without_vortexUuid_gets_400_and_no_upgrade():
    with Server() as s:
        for query, param in (("vortexName=n", "vortexUuid"),
                             ("vortexUuid=%s" % new_uuid(), "vortexName"),
                             ("vortexUuid=&vortexName=n", "vortexUuid")):
            ws = WS(s, query=query, expect_101=False)
            eq(ws.resp.status, 400, "status for %s" % query)
            eq(ws.resp.header("Upgrade"), None, "Upgrade header on a 400")
            eq(ws.resp.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
            b = read_body(ws.conn, ws.resp)
            check(param.encode() in b and not b.startswith(b"<"), "400 body %r" % b)
            ws.close()
        # Not a valid upgrade: no Sec-WebSocket-Key.
        ws = WS(s, headers=["Upgrade: websocket", "Connection: Upgrade",
                            "Sec-WebSocket-Version: 13"], expect_101=False)
        eq(ws.resp.status, 400, "status without Sec-WebSocket-Key")
        ws.close()
        # Version 12 gets 426 naming version 13.
        ws = WS(s, headers=["Upgrade: websocket", "Connection: Upgrade",
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                            "Sec-WebSocket-Version: 12"], expect_101=False)
        eq(ws.resp.status, 426, "status for version 12")
        eq(ws.resp.header("Sec-WebSocket-Version"), "13", "Sec-WebSocket-Version")
        ws.close()


def test_C57_after_101_the_server_sends_its_hello_before_the_client_sends():
    with Server() as s:
        ws = WS(s)
        eq(ws.resp.header("Sec-WebSocket-Protocol"), None, "subprotocol selected")
        eq(ws.resp.header("Sec-WebSocket-Extensions"), None, "extension selected")
        t0 = time.monotonic()
        f = ws.read_frame(timeout=2)
        check(time.monotonic() - t0 < 2, "hello took too long")
        assert_hello(decode(f.payload), s)
        ws.close()


def test_C58_server_frames_are_unmasked_fin_text_one_msg_no_trailing_dot():
    with Server() as s:
        ws = WS(s)
        frames = [ws.read_frame()]
        for n in range(3):
            ws.send_text(echo(n) + b".")
        while len(frames) < 4:
            f = ws.read_frame()
            p = decode(f.payload)
            if not p.is_heartbeat():
                frames.append(f)
        for f in frames:
            eq((f.fin, f.rsv, f.opcode, f.masked), (True, 0, OP_TEXT, False), "frame header")
            check(not f.payload.endswith(b"."), "server frame ends with '.'")
        eq([decode(f.payload).filt.get("n") for f in frames[1:]], [0, 1, 2], "echo order")
        ws.close()


def test_C59_client_frame_dot_stripped_and_binary_frames_accepted():
    with Server() as s:
        ws = connect(s)
        ws.send_text(echo(1) + b".")
        eq(ws.next_msg().filt["n"], 1, "msg with a trailing dot")
        ws.send_text(echo(2))
        eq(ws.next_msg().filt["n"], 2, "msg without a trailing dot")
        ws.send_frame(OP_BIN, echo(3) + b".")
        eq(ws.next_msg().filt["n"], 3, "binary frame")
        ws.send_frame(OP_BIN, echo(4))
        eq(ws.next_msg().filt["n"], 4, "binary frame without a dot")
        ws.close()


def test_C60_client_frame_of_exactly_dot_is_neither_answered_nor_decoded():
    with Server() as s:
        ws = connect(s)
        before = decode_errors(s)
        ws.send_text(b".")
        ws.send_text(b"")  # an empty message is ignored too
        expect_no_frame(ws, 0.5)
        ws.send_text(echo(60) + b".")
        f = ws.read_frame()
        eq(decode(f.payload).filt.get("n"), 60, "the next frame is the echo")
        eq(decode_errors(s), before, "decode errors after '.' and an empty frame")
        ws.close()


def test_C61_fragmented_msg_reassembled_once_and_ping_gets_pong():
    with Server() as s:
        ws = connect(s)
        m = echo(61) + b"."
        a, b, c = m[:10], m[10:20], m[20:]
        ws.send_frame(OP_TEXT, a, fin=False)
        ws.send_frame(OP_PING, b"mid", fin=True)  # control frames may interleave
        ws.send_frame(OP_CONT, b, fin=False)
        ws.send_frame(OP_CONT, c, fin=True)
        got_pong = got_echo = 0
        deadline = time.monotonic() + 3
        while not (got_pong and got_echo) and time.monotonic() < deadline:
            f = ws.read_frame()
            if f.opcode == OP_PONG:
                eq(f.payload, b"mid", "PONG data")
                got_pong += 1
            elif f.opcode == OP_TEXT:
                p = decode(f.payload)
                if not p.is_heartbeat():
                    eq(p.filt.get("n"), 61, "reassembled msg")
                    got_echo += 1
        eq((got_pong, got_echo), (1, 1), "(pongs, echoes)")
        expect_no_frame(ws, 0.3)  # routed once only
        ws.send_frame(OP_PING, b"\x00\xffdata")
        f = ws.read_frame()
        eq((f.opcode, f.payload, f.masked), (OP_PONG, b"\x00\xffdata", False), "PONG")
        ws.send_frame(OP_PONG, b"unsolicited")  # ignored
        expect_no_frame(ws, 0.3)
        ws.close()


def test_C62_message_over_max_msg_bytes_plus_1_closes_1009_unmasked_closes_1002():
    with Server("--max-msg-bytes", "1000") as s:
        ws = connect(s)
        ws.send_text(b"A" * 1000 + b".")  # max_msg_bytes + 1 with its dot: still allowed
        ws.send_text(echo(1) + b".")
        eq(ws.next_msg().filt["n"], 1, "connection open after a 1001-byte message")
        ws.send_text(b"A" * 1002)
        ws.expect_close(1009)
        ws.close()
        # The same limit over fragments.
        ws = connect(s)
        for _ in range(3):
            ws.send_frame(OP_TEXT if _ == 0 else OP_CONT, b"A" * 400, fin=False)
        ws.send_frame(OP_CONT, b"A", fin=True)
        ws.expect_close(1009)
        ws.close()
        # An unmasked client frame.
        ws = connect(s)
        ws.send_frame(OP_TEXT, echo(2) + b".", mask=False)
        ws.expect_close(1002)
        ws.close()


def test_C63_undecodable_msg_leaves_websocket_open_and_later_msgs_routed():
    with Server() as s:
        ws = connect(s)
        before = decode_errors(s)
        bad = [b"not*base64", b"AAAA", encode({"key": "x"})[:-8],
               b'{"_ct": "rpe", "filt": {}}', echo(1) + b"." + echo(2), b"eyJhIjoxfQ=="]
        for m in bad:
            ws.send_text(m + b".")
        ws.send_text(echo(63) + b".")
        eq(ws.next_msg().filt.get("n"), 63, "msg after undecodable ones")
        eq(decode_errors(s) - before, len(bad), "decode errors counted")
        ws.close()


def test_C64_newer_connection_same_uuid_closes_old_websocket_1000_replaced():
    with Server() as s:
        u = new_uuid()
        old = connect(s, uuid=u)
        new = connect(s, uuid=u)
        old.expect_close(1000, "replaced")
        new.send_text(echo(64) + b".")
        eq(new.next_msg().filt["n"], 64, "the new WebSocket works")
        # A POST with the same uuid replaces a WebSocket too.
        st = open_stream(s, uuid=u)
        assert_hello(st.next(), s)
        new.expect_close(1000, "replaced")
        st.conn.close()
        old.close()
        new.close()


def test_C65_websocket_over_out_queue_max_closed_4008_slow_others_keep_flowing():
    n = 500
    with Server("--out-queue-max", "65536") as s:
        slow = connect(s, name="c65slow", rcvbuf=4096)
        reader = connect(s, name="c65reader")
        reader.send_text(encode({"key": "vortexd.flood", "n": n, "size": 16384,
                                 "every": 1}) + b".")
        got = []
        deadline = time.monotonic() + 30
        while True:
            p = reader.next_msg(timeout=max(0.1, deadline - time.monotonic()))
            if p.filt.get("key") == "vortexd.flood.done":
                break
            if p.filt.get("key") == "vortexd.flood.item":
                got.append(p.filt["i"])
        eq(got, list(range(n)), "the reading client got every item in order")
        # The slow one: whatever data it was handed, then close 4008 "slow".
        items = 0
        deadline = time.monotonic() + 10
        while True:
            f = slow.read_frame(timeout=max(0.1, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                eq((f.close_code(), f.close_reason()), (4008, "slow"), "close")
                break
            items += 1
        check(items < n + 1, "the slow client got everything: never slow")
        check(metric_values(s.metrics(), "slow_consumer_closes") >= 1, "slow-consumer close not counted")
        # Its remote vortex is forgotten (§10.3).
        reader.send_text(encode({"key": "vortexd.sendUuid", "uuid": slow.uuid}) + b".")
        r = reader.next_msg()
        check(isinstance(r.result, str) and r.result.startswith("VX_E_NO_SUCH_VORTEX"),
              "send to the slow client's uuid: %r" % (r.result,))
        slow.close()
        reader.close()


def test_C52_websocket_gets_empty_payload_heartbeats():
    with Server("--heartbeat-period", "0.3") as s:
        ws = connect(s)
        t_end = time.monotonic() + 1.5
        beats = 0
        while time.monotonic() < t_end:
            f = ws.read_frame(timeout=1.0)
            eq(f.opcode, OP_TEXT, "heartbeat frame opcode")
            check(f.payload != b".", "bare '.' heartbeat on a gen1 WebSocket")
            p = decode(f.payload)
            check(p.is_heartbeat() and p.filt == {}, "heartbeat is not an empty payload")
            beats += 1
        check(beats >= 3, "only %d heartbeats in 1.5 s" % beats)
        ws.close()


# ---- hostile frames -----------------------------------------------------------

def _expect_protocol_close(s, send, code, what):
    ws = connect(s)
    send(ws)
    try:
        ws.expect_close(code, timeout=3)
    except TestFailure as e:
        raise TestFailure("%s: %s" % (what, e))
    ws.close()


def test_hostile_invalid_frames_close_1002():
    with Server() as s:
        cases = [
            ("reserved opcode 3", lambda ws: ws.send_frame(3, b"x")),
            ("reserved control opcode 11", lambda ws: ws.send_frame(11, b"x")),
            ("RSV1 set", lambda ws: ws.send_frame(OP_TEXT, echo(1), rsv=4)),
            ("continuation without start", lambda ws: ws.send_frame(OP_CONT, b"abc")),
            ("fragmented PING", lambda ws: ws.send_frame(OP_PING, b"x", fin=False)),
            ("PING over 125 bytes", lambda ws: ws.send_frame(OP_PING, b"x" * 126)),
            ("new text frame inside a fragmented message",
             lambda ws: (ws.send_frame(OP_TEXT, b"ab", fin=False),
                         ws.send_frame(OP_TEXT, b"cd"))),
            # Bad extended lengths: wslay rejects them before the mask key,
            # so the server must too, or the TCP connection was dropped with
            # no close frame (found by fuzz/ws_frames.c).
            ("16-bit length not minimal",
             lambda ws: ws.conn.send(b"\x82\xfe\x00\x03\x01\x02\x03\x04abc")),
            ("64-bit length not minimal",
             lambda ws: ws.conn.send(b"\x82\xff" + struct.pack("!Q", 3) + b"\x01\x02\x03\x04abc")),
            ("64-bit length over 2^63",
             lambda ws: ws.conn.send(b"\x82\xff\x80" + b"\x00" * 7 + b"\x01\x02\x03\x04")),
        ]
        for what, send in cases:
            _expect_protocol_close(s, send, 1002, what)


def test_hostile_invalid_utf8_text_closes_1007():
    with Server() as s:
        _expect_protocol_close(s, lambda ws: ws.send_frame(OP_TEXT, b"AAAA\xff\xfe"), 1007,
                               "invalid UTF-8")


def test_hostile_bad_close_frames_answered_not_echoed():
    # Found by fuzz/ws_frames.c: wslay echoed a Close whose reason was not
    # UTF-8, so the server sent an invalid frame. Now the guard answers it.
    with Server() as s:
        cases = [
            ("close reason not UTF-8",
             lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 3771) + b"\x1b\xa6"), 1007),
            ("close code 1005 (reserved)",
             lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 1005)), 1002),
            ("close code 999", lambda ws: ws.send_frame(OP_CLOSE, struct.pack("!H", 999)), 1002),
            ("1-byte close payload", lambda ws: ws.send_frame(OP_CLOSE, b"\x03"), 1002),
        ]
        for what, send, code in cases:
            _expect_protocol_close(s, send, code, what)


def test_hostile_client_close_is_echoed_then_tcp_closed():
    with Server() as s:
        ws = connect(s)
        ws.send_close(1000, b"bye")
        f = ws.expect_close(1000)
        check(ws.conn.wait_closed(3), "TCP not closed after the close handshake")
        ws.close()
        ws = connect(s)
        ws.send_close(4321)
        ws.expect_close(4321)
        ws.close()


def test_hostile_ws_origin_allow_list_and_unknown_path():
    with Server("--origin", "http://good.example") as s:
        base = ["Upgrade: websocket", "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
        ws = WS(s, headers=base + ["Origin: http://evil.example"], expect_101=False)
        eq(ws.resp.status, 403, "status for a foreign Origin")
        ws.close()
        ws = WS(s, headers=base + ["Origin: http://good.example"], expect_101=False)
        eq(ws.resp.status, 101, "status for an allowed Origin")
        ws.close()
        ws = WS(s, path="/elsewhere", expect_101=False)
        eq(ws.resp.status, 404, "status for an unknown path")
        ws.close()


def test_hostile_abrupt_disconnects_leave_server_running():
    with Server() as s:
        for i in range(20):
            ws = WS(s)
            if i % 2:
                ws.send_frame(OP_TEXT, echo(i)[:-3], fin=False)  # mid-message
            else:
                ws.conn.send(b"\x81\xfe\x10")  # mid-header
            ws.close()
        ws = connect(s)
        ws.send_text(echo(99) + b".")
        eq(ws.next_msg().filt["n"], 99, "server still routes")
        ws.close()


if __name__ == "__main__":
    from vxwire import run
    run(globals())
