"""Slow-client attacks against a live vortexd: request heads and bodies that
trickle in must not keep connections forever nor block other clients.
Separate from test_http.py because it waits for server timeouts.

Run: python3 tests/wire/test_slowloris.py --vortexd build/vortexd
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxwire import (Server, check, eq, encode, open_stream, body_of, assert_hello,
                    simple_request, new_uuid)

HEAD_TIMEOUT = 2.0  # --http-head-timeout given to the server (default 10 s)
HEAD_LIMIT = HEAD_TIMEOUT + 3.0  # allow slack for a loaded machine


def test_hostile_slowloris_head_is_closed_and_others_keep_working():
    with Server("--http-head-timeout", str(HEAD_TIMEOUT)) as s:
        conns = []
        for i in range(20):
            c = s.connect()
            c.send(b"POST /vortex?vortexUuid=slow%d&vortexName=n HTTP/1.1\r\nHost: x\r\n" % i)
            conns.append(c)
        t0 = time.monotonic()
        # Meanwhile the server serves others normally.
        st = open_stream(s, body=body_of(encode({"key": "vortexd.echo", "n": 1})))
        assert_hello(st.next(), s)
        eq(st.next().filt["n"], 1, "echo while slow clients hang")
        st.conn.close()
        # One header byte per second keeps arriving on the first connection.
        trickle = conns[0]
        closed = [False] * len(conns)
        first_close = None
        while time.monotonic() - t0 < HEAD_LIMIT and not all(closed):
            try:
                if not closed[0]:
                    trickle.send(b"X")
            except OSError:
                closed[0] = True
            for i, c in enumerate(conns):
                if not closed[i] and c.wait_closed(0.05):
                    closed[i] = True
            if any(closed) and first_close is None:
                first_close = time.monotonic() - t0
            time.sleep(0.2)
        check(all(closed), "%d of %d slow connections still open after %.0f s" %
              (closed.count(False), len(closed), HEAD_LIMIT))
        # The configured timeout, not an earlier one, closed them.
        check(first_close is not None and first_close >= HEAD_TIMEOUT - 0.5,
              "slow connections closed after %.1f s, before --http-head-timeout %.0f s" %
              (first_close or 0, HEAD_TIMEOUT))
        for c in conns:
            c.close()
        st_, r, b = simple_request(s, "GET", "/health")
        eq(st_, 200, "health after the attack")


if __name__ == "__main__":
    from vxwire import run
    run(globals())
