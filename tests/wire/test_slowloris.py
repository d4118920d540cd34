"""Slow-client attacks against a live vortexd: request heads and bodies that
trickle in must not keep connections forever nor block other clients.
Separate from test_http.py because it waits for server timeouts (~10 s).

Run: python3 tests/wire/test_slowloris.py --vortexd build/vortexd
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vxwire import (Server, check, eq, encode, open_stream, body_of, assert_hello,
                    simple_request, new_uuid)

HEAD_LIMIT = 15.0  # the server's request-head timeout is 10 s; allow slack


def test_hostile_slowloris_head_is_closed_and_others_keep_working():
    with Server() as s:
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
        while time.monotonic() - t0 < HEAD_LIMIT and not all(closed):
            try:
                if not closed[0]:
                    trickle.send(b"X")
            except OSError:
                closed[0] = True
            for i, c in enumerate(conns):
                if not closed[i] and c.wait_closed(0.05):
                    closed[i] = True
            time.sleep(0.5)
        check(all(closed), "%d of %d slow connections still open after %.0f s" %
              (closed.count(False), len(closed), HEAD_LIMIT))
        for c in conns:
            c.close()
        st_, r, b = simple_request(s, "GET", "/health")
        eq(st_, 200, "health after the attack")


if __name__ == "__main__":
    from vxwire import run
    run(globals())
