"""Wire tests of the HTTP long-poll transport (PROTOCOL §9, §8, §12) against a
live vortexd. Each test starts its own server (with the flags it needs) and
checks /health and a clean SIGTERM exit at the end.

Run: python3 tests/wire/test_http.py --vortexd build/vortexd
"""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxwire import (Server, WS, Closed, TestFailure, check, eq, new_uuid, encode, decode,
                    read_head, read_body, read_chunk, request_bytes, vortex_target, post,
                    open_stream, body_of, assert_hello, simple_request, metric_values, Stream)


def echo(n, **extra):
    return encode(dict({"key": "vortexd.echo", "n": n}, **extra))


def test_C43_post_body_A_dot_B_routes_A_then_B():
    with Server() as s:
        st = open_stream(s, body=body_of(echo(1), echo(2)))
        assert_hello(st.next(), s)
        eq([st.next().filt["n"], st.next().filt["n"]], [1, 2], "echo order")
        st.conn.close()
        # §9.1: a final item without its '.' is still a msg.
        st = open_stream(s, body=echo(3) + b"." + echo(4))
        assert_hello(st.next(), s)
        eq([st.next().filt["n"], st.next().filt["n"]], [3, 4], "echo order, no final dot")
        st.conn.close()
        # Empty items (bare dots) in a body are skipped, not decoded.
        st = open_stream(s, body=b"." + echo(5) + b".." + echo(6) + b".")
        assert_hello(st.next(), s)
        eq([st.next().filt["n"], st.next().filt["n"]], [5, 6], "echo order with empty items")
        st.conn.close()


def test_C44_rapuiServerEcho_sent_back_without_key_then_routed():
    with Server() as s:
        msg = encode({"key": "vortexd.broadcast", "tag": "t44", "rapuiServerEcho": True})
        st = open_stream(s, body=body_of(msg))
        assert_hello(st.next(), s)
        first = st.next()
        eq(first.filt, {"key": "vortexd.broadcast", "tag": "t44"}, "server echo filt")
        eq(first.result, None, "server echo result")
        # Then routed: the broadcast reaches us, then the endpoint's reply.
        sent = st.next()
        eq(sent.filt, {"key": "vortexd.sent", "via": "broadcast", "tag": "t44"},
           "broadcast after routing")
        reply = st.next()
        eq(reply.filt, {"key": "vortexd.broadcast", "tag": "t44"}, "reply filt")
        eq(reply.result, True, "reply result")
        st.conn.close()
        # Only the filt KEY triggers the echo, not a "key" value.
        st = open_stream(s, body=body_of(encode({"key": "rapuiServerEcho"}), echo(7)))
        assert_hello(st.next(), s)
        eq(st.next().filt, {"key": "vortexd.echo", "n": 7}, "next item after non-echo")
        st.conn.close()


def test_C46_post_gets_200_text_plain_chunked_no_cache_one_item_per_chunk():
    with Server() as s:
        st = open_stream(s, body=body_of(echo(1), echo(2), echo(3)))
        r = st.resp
        eq((r.version, r.status), ("HTTP/1.1", 200), "status")
        eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
        eq(r.header("Transfer-Encoding"), "chunked", "Transfer-Encoding")
        eq(r.header("Cache-Control"), "no-cache", "Cache-Control")
        eq(r.header("Content-Length"), None, "Content-Length")
        assert_hello(st.next(), s)
        for n in (1, 2, 3):
            eq(st.next().filt["n"], n, "echo")
        # Every chunk is one item ("msg.") or its two halves ("msg", ".").
        prev_open = False
        for c in st.chunks:
            if c == b".":
                check(prev_open, "a '.' chunk not preceded by a msg chunk")
                prev_open = False
                continue
            check(not prev_open, "two msg chunks without a '.' between them")
            dots = c.count(b".")
            check(dots <= 1, "a chunk holds %d items: %r" % (dots, c[:80]))
            if dots == 1:
                check(c.endswith(b"."), "a chunk holds more than one item: %r" % c[:80])
            prev_open = dots == 0
        st.conn.close()


def test_C47_first_item_of_every_response_stream_is_the_hello():
    with Server() as s:
        u = new_uuid()
        st = open_stream(s, uuid=u, body=body_of(echo(1)))
        first, _ = st.next_raw()
        p = decode(first)
        assert_hello(p, s)
        eq(st.next().filt["n"], 1, "echo after hello")
        # A takeover POST with pending data still starts with the hello.
        st2 = open_stream(s, uuid=u, body=body_of(echo(2)))
        assert_hello(decode(st2.next_raw()[0]), s, "first item of the second stream")
        st.conn.close()
        st2.conn.close()
        # An empty-body POST too.
        st3 = open_stream(s)
        assert_hello(decode(st3.next_raw()[0]), s, "first item of an empty POST")
        st3.conn.close()


def _error_response(s, target, method="POST", body=b""):
    st, r, b = simple_request(s, method, target, body)
    eq(r.header("Content-Type"), "text/plain; charset=utf-8", "error Content-Type")
    check(not b.startswith(b"<"), "error body starts with '<': %r" % b)
    check(b.strip() and b"\n" not in b.rstrip(b"\r\n"), "error body is not one line: %r" % b)
    return st, r, b


def test_C48_post_without_vortexUuid_or_vortexName_gets_400_naming_it():
    with Server() as s:
        st, r, b = _error_response(s, vortex_target(uuid=None, name="n"), body=echo(1) + b".")
        eq(st, 400, "status without vortexUuid")
        check(b"vortexUuid" in b, "body does not name vortexUuid: %r" % b)
        st, r, b = _error_response(s, vortex_target(uuid=new_uuid(), name=None))
        eq(st, 400, "status without vortexName")
        check(b"vortexName" in b, "body does not name vortexName: %r" % b)
        st, r, b = _error_response(s, "/vortex?vortexUuid=&vortexName=n")
        eq(st, 400, "status with an empty vortexUuid")
        check(b"vortexUuid" in b, "body does not name vortexUuid: %r" % b)
        st, r, b = _error_response(s, "/vortex?vortexUuid=%01x&vortexName=n")
        eq(st, 400, "status with a control character in vortexUuid")
        st, r, b = _error_response(s, "/vortex?vortexUuid=u&vortexName=" + "n" * 256)
        eq(st, 400, "status with a 256-byte vortexName")
        check(b"vortexName" in b, "body does not name vortexName: %r" % b)


def test_C49_get_on_vortex_gets_405_allow_post_and_no_error_body_starts_with_lt():
    with Server() as s:
        st, r, b = _error_response(s, vortex_target(uuid=new_uuid()), method="GET")
        eq(st, 405, "GET status")
        eq(r.header("Allow"), "POST", "Allow")
        st, r, b = _error_response(s, vortex_target(uuid=new_uuid()), method="PUT")
        eq(st, 405, "PUT status")
        eq(r.header("Allow"), "POST", "Allow")
        st, r, b = _error_response(s, "/no-such-path")
        eq(st, 404, "unknown path status")


def test_C50_empty_body_opens_a_stream_and_extra_params_are_ignored():
    with Server() as s:
        st = open_stream(s, body=b"", extra="__randArg__=0.123&other=x&vortexUuid=ignored")
        eq(st.resp.status, 200, "status")
        assert_hello(st.next(), s)
        st.conn.close()
        # No Content-Length at all on an HTTP/1.1 POST: an empty body too.
        c = s.connect()
        c.send(b"POST /vortex?vortexUuid=u50&vortexName=n&__randArg__=1 HTTP/1.1\r\n"
               b"Host: x\r\nContent-Length: 0\r\n\r\n")
        r = read_head(c)
        eq(r.status, 200, "status")
        assert_hello(Stream(c, r).next(), s)
        c.close()


def test_C51_http10_post_gets_unchunked_stream_and_big_body_gets_413():
    with Server("--max-http-body", "1000") as s:
        c, r = post(s, new_uuid(), body=body_of(echo(1)), version="HTTP/1.0")
        eq(r.status, 200, "HTTP/1.0 status")
        check(not r.chunked(), "HTTP/1.0 response is chunked: %r" % r.headers)
        eq(r.header("Content-Length"), None, "Content-Length on a stream")
        st = Stream(c, r)
        assert_hello(st.next(), s)
        eq(st.next().filt["n"], 1, "echo")
        check(b"\r\n" not in st.raw, "HTTP/1.0 stream holds chunk framing: %r" % st.raw[:200])
        c.close()
        # Content-Length over max_http_body.
        big = b"A" * 2000
        st_, r, b = _error_response(s, vortex_target(uuid=new_uuid()), body=big)
        eq(st_, 413, "status for a 2000-byte body")
        check(b"1000" in b, "413 body does not give the limit: %r" % b)
        # A chunked body that grows over the limit.
        c = s.connect()
        c.send(request_bytes("POST", vortex_target(uuid=new_uuid()), b"",
                             ["Transfer-Encoding: chunked"], content_length=False))
        try:
            for _ in range(3):
                c.send(b"200\r\n" + b"A" * 512 + b"\r\n")
            c.send(b"0\r\n\r\n")
        except OSError:
            pass
        r = read_head(c)
        eq(r.status, 413, "status for a 1536-byte chunked body")
        c.close()


def test_C52_open_response_gets_empty_payload_heartbeats_never_bare_dot():
    period = 0.3
    with Server("--heartbeat-period", str(period)) as s:
        st = open_stream(s)
        hello, t_prev = st.next_raw()
        assert_hello(decode(hello), s)
        beats = 0
        t_end = time.monotonic() + 2.0
        max_gap = 0.0
        while time.monotonic() < t_end:
            item, t = st.next_raw(timeout=3 * period)
            check(item != b"", "bare '.' heartbeat on a gen1 stream")
            p = decode(item)
            check(p.is_heartbeat(), "unexpected item %r" % p)
            eq(p.filt, {}, "heartbeat filt")
            check(p.date is not None, "heartbeat without a date")
            max_gap = max(max_gap, t - t_prev)
            t_prev = t
            beats += 1
        # One item at least every period (the node ticks at period/5 and beats
        # a stream idle for 4/5 of it); half a period of slack for a loaded
        # CI machine, which still fails a timer that ticks once per period.
        check(max_gap <= 1.5 * period, "gap of %.3f s between items" % max_gap)
        check(beats >= 4, "only %d heartbeats in 2 s" % beats)
        check(b".." not in st.raw and not st.raw.startswith(b"."), "bare dot in stream")
        st.conn.close()


def test_C53_second_post_same_uuid_ends_first_with_zero_chunk_and_takes_over():
    with Server() as s:
        u = new_uuid()
        st1 = open_stream(s, uuid=u)
        assert_hello(st1.next(), s)
        st2 = open_stream(s, uuid=u, body=body_of(echo(53)))
        assert_hello(st2.next(), s)
        eq(st2.next().filt["n"], 53, "reply goes to the new response")
        left = st1.drain_until_end(timeout=3)
        check(st1.clean_end, "first response not ended with a zero-length chunk")
        for item in left:
            check(decode(item).is_heartbeat(), "first response got a msg after takeover")
        st1.conn.close()
        st2.conn.close()


def test_C54_msgs_for_detached_http_remote_arrive_in_order_after_hello():
    with Server() as s:
        a = new_uuid()
        st = open_stream(s, uuid=a, name="c54a")
        assert_hello(st.next(), s)
        st.conn.close()
        time.sleep(0.3)  # let the server see the close: A is now detached
        sends = [encode({"key": "vortexd.sendUuid", "uuid": a, "tag": i}) for i in range(5)]
        sb = open_stream(s, body=body_of(*sends))
        assert_hello(sb.next(), s)
        for i in range(5):
            r = sb.next()
            eq(r.filt.get("tag"), i, "reply order")
            eq(r.result, True, "sendUuid to a detached remote")
        st = open_stream(s, uuid=a, name="c54a")
        assert_hello(st.next(), s, "first item after re-POST")
        for i in range(5):
            p = st.next()
            eq(p.filt, {"key": "vortexd.sent", "via": "sendUuid", "tag": i}, "pending msg")
        st.conn.close()
        sb.conn.close()


def test_C55_detached_remote_forgotten_after_session_timeout_or_pending_overflow():
    with Server("--http-session-timeout", "0.5", "--http-pending-max", "4096") as s:
        ctl_uuid = new_uuid()
        # Part 1: session timeout.
        a = new_uuid()
        st = open_stream(s, uuid=a, name="c55a")
        assert_hello(st.next(), s)
        st.conn.close()
        time.sleep(0.2)
        probe = open_stream(s, uuid=ctl_uuid, name="c55ctl",
                            body=body_of(encode({"key": "vortexd.sendUuid", "uuid": a, "tag": 1})))
        assert_hello(probe.next(), s)
        eq(probe.next().result, True, "send within the session timeout")
        time.sleep(1.2)
        probe2 = open_stream(s, uuid=ctl_uuid, name="c55ctl",
                             body=body_of(encode({"key": "vortexd.sendUuid", "uuid": a,
                                                  "tag": 2})))
        assert_hello(probe2.next(), s)
        r = probe2.next()
        check(isinstance(r.result, str) and r.result.startswith("VX_E_NO_SUCH_VORTEX"),
              "send after the session timeout: result %r" % (r.result,))
        # A later POST with that uuid is a new remote: nothing pending.
        st = open_stream(s, uuid=a, name="c55a")
        assert_hello(st.next(), s)
        st.conn.settimeout(0.5)
        try:
            p = st.next(timeout=0.5)
            raise TestFailure("a forgotten remote's msg was delivered: %r" % p)
        except TestFailure as e:
            if "no item within" not in str(e):
                raise
        st.conn.close()
        probe.conn.close()

        # Part 2: pending overflow (each msg ~2.6 KiB, the bound 4 KiB).
        b = new_uuid()
        st = open_stream(s, uuid=b, name="c55b")
        assert_hello(st.next(), s)
        st.conn.close()
        time.sleep(0.15)
        pad = os.urandom(1500).hex()[:2500]
        msgs = [encode({"key": "vortexd.sendUuid", "uuid": b, "tag": i}, tuples=[pad + str(i)])
                for i in range(3)]
        probe3 = open_stream(s, uuid=ctl_uuid, name="c55ctl", body=body_of(*msgs))
        assert_hello(probe3.next(), s)
        results = [probe3.next().result for _ in range(3)]
        eq(results[0], True, "first send to the detached remote")
        m = s.metrics()
        check(metric_values(m, "session_expiries") >= 1, "session expiry not counted")
        check(metric_values(m, "pending_overflows") >= 1, "pending overflow not counted")
        check(isinstance(results[2], str) and results[2].startswith("VX_E_NO_SUCH_VORTEX"),
              "send after the pending overflow: result %r" % (results[2],))
        st = open_stream(s, uuid=b, name="c55b")
        assert_hello(st.next(), s)
        try:
            p = st.next(timeout=0.3)
            raise TestFailure("msgs of an overflowed queue were delivered: %r" % p.filt)
        except TestFailure as e:
            if "no item within" not in str(e):
                raise
        st.conn.close()
        probe2.conn.close()
        probe3.conn.close()


def test_C66_slow_http_response_is_ended_and_unsent_msgs_arrive_in_order_next_post():
    n = 500
    with Server("--out-queue-max", "65536", "--http-pending-max", "64m") as s:
        a = new_uuid()
        slow = open_stream(s, uuid=a, name="c66slow", rcvbuf=4096)
        assert_hello(slow.next(), s)
        # A WebSocket client floods everyone and keeps reading.
        ws = WS(s, name="c66reader")
        assert_hello(ws.next_msg(), s, "WebSocket hello")
        ws.send_text(encode({"key": "vortexd.flood", "n": n, "size": 16384, "every": 1}) + b".")
        got = []
        deadline = time.monotonic() + 30
        while True:
            p = ws.next_msg(timeout=max(0.1, deadline - time.monotonic()))
            if p.filt.get("key") == "vortexd.flood.done":
                eq(p.filt.get("sent"), n, "flood sent")
                break
            if p.filt.get("key") == "vortexd.flood.item":
                got.append(p.filt["i"])
        eq(got, list(range(n)), "the reading client got every item in order")
        # The slow response has been ended; read what it had been handed.
        items = slow.drain_until_end(timeout=10)
        first = []
        for it in items:
            p = decode(it)
            if p.filt.get("key") == "vortexd.flood.item":
                first.append(p.filt["i"])
        check(len(first) < n, "the slow response was not ended (got all %d items)" % n)
        slow.conn.close()
        st = open_stream(s, uuid=a, name="c66slow")
        assert_hello(st.next(), s)
        second = []
        while len(first) + len(second) < n:
            p = st.next(timeout=10)
            if p.filt.get("key") == "vortexd.flood.item":
                second.append(p.filt["i"])
        eq(first + second, list(range(n)), "items across both responses")
        check(metric_values(s.metrics(), "slow_consumer_closes") >= 1, "slow-consumer close not counted")
        st.conn.close()
        ws.close()


# ---- hostile input ----------------------------------------------------------

def test_hostile_huge_header_gets_431():
    with Server() as s:
        c = s.connect()
        c.send(request_bytes("POST", vortex_target(uuid=new_uuid()), b"",
                             ["X-Big: " + "a" * 20000]))
        r = read_head(c)
        eq(r.status, 431, "status for a 20 000-byte header")
        c.close()
        c = s.connect()
        c.send(request_bytes("GET", "/vortex?" + "a" * 20000, b""))
        r = read_head(c)
        check(r.status in (414, 431), "status for a 20 000-byte request line: %d" % r.status)
        c.close()


def test_hostile_bad_chunking_gets_400():
    with Server() as s:
        for bad in (b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n",
                    b"-1\r\n\r\n"):
            c = s.connect()
            c.send(request_bytes("POST", vortex_target(uuid=new_uuid()), b"",
                                 ["Transfer-Encoding: chunked"], content_length=False) + bad)
            r = read_head(c)
            eq(r.status, 400, "status for chunked body %r" % bad)
            check(not read_body(c, r).startswith(b"<"), "error body starts with '<'")
            c.close()
        # Both Content-Length and a chunked Transfer-Encoding (request smuggling).
        c = s.connect()
        c.send(b"POST /vortex?vortexUuid=u&vortexName=n HTTP/1.1\r\nHost: x\r\n"
               b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        r = read_head(c)
        eq(r.status, 400, "status with both Content-Length and chunked")
        c.close()


def test_hostile_garbage_request_line_gets_400_and_server_survives():
    with Server() as s:
        for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET\r\n\r\n",
                     b"POST /vortex HTTP/9.9\r\n\r\n"):
            c = s.connect()
            c.send(junk)
            try:
                r = read_head(c)
                check(400 <= r.status < 600, "status %d for %r" % (r.status, junk))
            except Closed:
                pass  # closing is acceptable; surviving is what matters
            c.close()


def test_hostile_undecodable_msgs_in_post_body_skip_only_themselves():
    with Server() as s:
        bad = [b"not*base64", b"AAAA", encode({"key": "x"})[:-8], b"eyJhIjoxfQ=="]
        st = open_stream(s, body=body_of(echo(1), *bad, echo(2)))
        assert_hello(st.next(), s)
        eq([st.next().filt["n"], st.next().filt["n"]], [1, 2], "valid msgs around bad ones")
        st.conn.close()
        eq(metric_values(s.metrics(), "decode_errors"), len(bad), "decode errors counted")


def test_hostile_static_path_traversal_is_refused():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        root = os.path.join(d, "www")
        os.mkdir(root)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<p>hi</p>")
        with open(os.path.join(d, "secret.txt"), "w") as f:
            f.write("SECRET")
        os.symlink(os.path.join(d, "secret.txt"), os.path.join(root, "link.txt"))
        with Server("--static", root) as s:
            st, r, b = simple_request(s, "GET", "/index.html")
            eq((st, b), (200, b"<p>hi</p>"), "static file")
            for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/a/../../secret.txt",
                           "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/link.txt",
                           "/..\\secret.txt", "/%00index.html"):
                st, r, b = simple_request(s, "GET", target)
                check(st in (400, 403, 404), "GET %s: status %d" % (target, st))
                check(b"SECRET" not in b, "GET %s leaked the file" % target)


def test_server_alive_after_everything():
    with Server() as s:
        st, r, b = simple_request(s, "GET", "/health")
        eq(st, 200, "health")


if __name__ == "__main__":
    from vxwire import run
    run(globals())
