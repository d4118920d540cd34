"""Wire tests of addressing (PROTOCOL §15) and callback errors (§7.4) through
vortexd's test-only endpoints (--test-endpoints): vortexd.sendName,
vortexd.sendUuid, vortexd.broadcast, vortexd.fail.

Run: python3 tests/wire/test_addressing.py --vortexd build/vortexd
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxwire import (Server, WS, TestFailure, check, eq, new_uuid, encode, assert_hello,
                    open_stream, body_of)


def connect(s, **kw):
    ws = WS(s, **kw)
    assert_hello(ws.next_msg(), s, "WebSocket hello")
    return ws


def nothing_within(reader, secs):
    """True if `reader` (WS or Stream) yields no non-heartbeat payload in secs."""
    try:
        p = reader.next_msg(timeout=secs) if isinstance(reader, WS) else reader.next(secs)
    except TestFailure as e:
        if "within" in str(e):
            return True
        raise
    raise TestFailure("unexpected payload %r" % p)


def request(ws, filt):
    ws.send_text(encode(filt) + b".")
    while True:
        r = ws.next_msg()
        if r.filt.get("key") == filt["key"]:
            return r


def no_such_vortex(r, what):
    check(isinstance(r.result, str) and r.result.startswith("VX_E_NO_SUCH_VORTEX"),
          "%s: result %r, expected VX_E_NO_SUCH_VORTEX" % (what, r.result))


def test_C81_send_by_name_reaches_every_remote_with_that_name():
    with Server() as s:
        a1 = connect(s, name="alpha")
        a2 = connect(s, name="alpha")
        b = connect(s, name="beta")
        h = open_stream(s, name="alpha")  # an HTTP remote with the same name
        assert_hello(h.next(), s)
        ctl = connect(s, name="ctl")
        r = request(ctl, {"key": "vortexd.sendName", "name": "alpha", "tag": 81})
        eq(r.result, True, "sendName result")
        want = {"key": "vortexd.sent", "via": "sendName", "tag": 81}
        eq(a1.next_msg().filt, want, "first alpha")
        eq(a2.next_msg().filt, want, "second alpha")
        eq(h.next().filt, want, "HTTP alpha")
        nothing_within(b, 0.3)
        nothing_within(ctl, 0.1)
        # By uuid: only that one.
        r = request(ctl, {"key": "vortexd.sendUuid", "uuid": a2.uuid, "tag": 82})
        eq(r.result, True, "sendUuid result")
        eq(a2.next_msg().filt.get("tag"), 82, "sendUuid target")
        nothing_within(a1, 0.2)
        for ws in (a1, a2, b, ctl):
            ws.close()
        h.conn.close()


def test_C81_send_to_unknown_uuid_or_name_fails_with_no_such_vortex():
    with Server() as s:
        ctl = connect(s, name="ctl")
        no_such_vortex(request(ctl, {"key": "vortexd.sendUuid", "uuid": new_uuid()}),
                       "unknown uuid")
        no_such_vortex(request(ctl, {"key": "vortexd.sendName", "name": "nobody"}),
                       "unknown name")
        # A closed WebSocket is forgotten at once (§10.3).
        gone = connect(s, name="gone")
        gone.send_close(1000)
        gone.expect_close(1000)
        gone.close()
        time.sleep(0.2)
        no_such_vortex(request(ctl, {"key": "vortexd.sendUuid", "uuid": gone.uuid}),
                       "closed WebSocket's uuid")
        no_such_vortex(request(ctl, {"key": "vortexd.sendName", "name": "gone"}),
                       "closed WebSocket's name")
        ctl.close()


def test_C81_repeated_vortexName_parameter_first_occurrence_wins():
    with Server() as s:
        h = open_stream(s, name="first", extra="vortexName=second")
        assert_hello(h.next(), s)
        ctl = connect(s, name="ctl")
        eq(request(ctl, {"key": "vortexd.sendName", "name": "first"}).result, True,
           "send to the first vortexName")
        eq(h.next().filt.get("via"), "sendName", "delivered to the first name")
        no_such_vortex(request(ctl, {"key": "vortexd.sendName", "name": "second"}),
                       "the second vortexName")
        h.conn.close()
        ctl.close()


def test_C82_broadcast_reaches_every_remote_including_detached_http():
    with Server() as s:
        ws1 = connect(s, name="w1")
        h_live = open_stream(s, name="hlive")
        assert_hello(h_live.next(), s)
        det_uuid = new_uuid()
        h_det = open_stream(s, uuid=det_uuid, name="hdet")
        assert_hello(h_det.next(), s)
        h_det.conn.close()
        time.sleep(0.2)
        ctl = connect(s, name="ctl")
        ctl.send_text(encode({"key": "vortexd.broadcast", "tag": 82}) + b".")
        want = {"key": "vortexd.sent", "via": "broadcast", "tag": 82}
        # The sender is a remote vortex too: it gets the broadcast, then the reply.
        eq(ctl.next_msg().filt, want, "broadcast to the sender")
        eq(ctl.next_msg().result, True, "broadcast reply")
        eq(ws1.next_msg().filt, want, "WebSocket remote")
        eq(h_live.next().filt, want, "connected HTTP remote")
        h_det = open_stream(s, uuid=det_uuid, name="hdet")
        assert_hello(h_det.next(), s)
        eq(h_det.next().filt, want, "detached HTTP remote, on its next POST")
        for x in (ws1, ctl):
            x.close()
        h_live.conn.close()
        h_det.conn.close()


def test_C42_failing_callback_replies_once_with_error_unless_result_set():
    with Server() as s:
        ws = connect(s)
        ws.send_text(encode({"key": "vortexd.fail", "id": 42}, tuples=["x"]) + b".")
        r = ws.next_msg()
        eq(r.filt, {"key": "vortexd.fail", "id": 42}, "error reply filt")
        eq((r.reply_filt, r.tuples), ({}, []), "error reply replyFilt and tuples")
        check(isinstance(r.result, str) and "vortexd.fail" in r.result,
              "error reply result %r" % (r.result,))
        nothing_within(ws, 0.3)
        # A payload that already carries a result gets no error reply (§6.3).
        ws.send_text(encode({"key": "vortexd.fail"}, result="earlier error") + b".")
        nothing_within(ws, 0.5)
        ws.close()


if __name__ == "__main__":
    from vxwire import run
    run(globals())
