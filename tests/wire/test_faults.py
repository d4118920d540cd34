"""Fault tests against a real vortexd process: a server killed with SIGKILL
and restarted (PROTOCOL §11), clients vanishing mid-stream (§9.6, §10.3), a
stopped client among readers (§12), and a long-poll client whose POSTs come
1 s apart (§9.4, §9.6).

The many-client and C-client parts use vxload (tools/vxload), built next to
vortexd. Run: python3 tests/wire/test_faults.py --vortexd build/vortexd
"""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vxwire
from vxwire import (Server, WS, TestFailure, check, eq, new_uuid, encode, assert_hello,
                    open_stream, Closed)


def vxload_path():
    p = os.path.join(os.path.dirname(os.path.abspath(vxwire.VORTEXD)), "vxload")
    check(os.access(p, os.X_OK), "vxload not built next to vortexd: %s" % p)
    return p


class Procs:
    """Child processes killed (SIGCONT + SIGKILL) on exit, whatever happens."""

    def __init__(self):
        self.procs = []

    def start(self, args):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                except OSError:
                    pass
                p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        return False


def wait_line(proc, prefix, timeout):
    """Read stdout lines of `proc` until one starts with `prefix`."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = b""
    import select
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.01, deadline - time.monotonic()))
        if not r:
            continue
        b = os.read(fd, 1)
        if not b:
            break
        buf += b
        if b == b"\n":
            line = buf.decode().rstrip("\n")
            buf = b""
            if line.startswith(prefix):
                return line
    raise TestFailure("%r printed no %r line within %.0f s; stderr: %s" % (
        proc.args[:2], prefix, timeout, proc.stderr.read1(4000) if proc.poll() is not None
        else b"(still running)"))


def finish(proc, timeout):
    """Wait for `proc`; return (exit status, its JSON summary line, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise TestFailure("%r did not finish within %.0f s; stderr: %s" %
                          (proc.args[:2], timeout, err[-2000:]))
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    check(lines, "%r printed no summary; stderr: %s" % (proc.args[:2], err[-2000:]))
    return proc.returncode, json.loads(lines[-1]), err.decode("utf-8", "replace")


def metric(text, name, labels=None):
    """The value of one Prometheus sample (labels as a dict), or None."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        base, _, lab = key.partition("{")
        if base != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', lab))
        if labels is None or all(got.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def wait_metric(s, name, labels, pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = metric(s.metrics(), name, labels)
        if v is not None and pred(v):
            return v
        if time.monotonic() > deadline:
            raise TestFailure("%s: %s%s is %r after %.1f s" % (what, name, labels or "", v,
                                                               timeout))
        time.sleep(0.05)


def url(s):
    return "http://127.0.0.1:%d" % s.port


def request(ws, filt):
    ws.send_text(encode(filt) + b".")
    while True:
        r = ws.next_msg()
        if r.filt.get("key") == filt["key"]:
            return r


def abort(sock_conn, rst):
    """Vanish without a goodbye: RST (SO_LINGER 0) or a plain FIN."""
    if rst:
        sock_conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock_conn.close()


# ---------------------------------------------------------------------------


def kill9_restart(transport):
    n = 200
    with tempfile.TemporaryDirectory() as d, Procs() as procs:
        rec = os.path.join(d, "record")
        s = Server("--record", rec).start()
        port = s.port
        s2 = None
        try:
            sender = procs.start([vxload_path(), "send", "--url",
                                  "%s://127.0.0.1:%d" % (transport, port), "--count", str(n),
                                  "--interval", "10", "--timeout", "15"])

            def recorded():
                with open(rec) as f:
                    return [int(x) for x in f.read().split()]

            deadline = time.monotonic() + 10
            while len(recorded()) < 50:
                check(time.monotonic() < deadline, "the sender's msgs never reached vortexd")
                time.sleep(0.02)
            before = recorded()
            s.proc.kill()  # SIGKILL: no clean end of anything
            s.proc.wait()
            s.proc = None
            time.sleep(0.8)  # the client notices, goes offline and queues
            s2 = Server("--port", str(port), "--record", rec).start()
            eq(s2.port, port, "restarted on the same port")
            rc, summary, err = finish(sender, 20)
            if os.environ.get("VX_FAULTS_VERBOSE"):
                print("# %s: %r" % (transport, summary))
            eq(rc, 0, "vxload send exit status (stderr %s)" % err[-1000:])
            got = recorded()
            check(all(a < b for a, b in zip(got, got[1:])),
                  "recorded seqs not strictly increasing (duplicate or reordered): %r" % got)
            eq(got[:len(before)], before, "what was recorded before the kill")
            eq(got[-1], n - 1, "last recorded seq")
            offline = summary["offline"]
            check(len(offline) >= 20, "the client queued only %d msgs while offline" %
                  len(offline))
            missing = sorted(set(offline) - set(got))
            eq(missing, [], "msgs queued while offline and not delivered")
            # Only msgs handed to the dead server's socket may be lost (§11).
            lost = sorted(set(range(n)) - set(got))
            check(set(lost) <= set(summary["at_risk"]),
                  "lost msgs %r were not handed to the killed server" % lost)
            check(summary["connects"] >= 2, "the client never reconnected: %r" % summary)
            s2.__exit__(None, None, None)
            s2 = None
        finally:
            s.kill()
            if s2:
                s2.kill()


def test_C69_kill9_and_restart_ws_queued_msgs_arrive_once_in_order():
    kill9_restart("ws")


def test_C69_kill9_and_restart_http_queued_msgs_arrive_once_in_order():
    kill9_restart("http")


def test_fault_vanished_websocket_is_cleaned_up_and_its_remote_forgotten():
    with Server() as s:
        ctl = WS(s, name="ctl")
        assert_hello(ctl.next_msg(), s)
        for rst in (True, False):
            ws = WS(s, name="vanish")
            assert_hello(ws.next_msg(), s)
            wait_metric(s, "vortexc_connections", {"transport": "ws"}, lambda v: v == 2, 2,
                        "both WebSockets open")
            ws.send_text(encode({"key": "vortexd.flood", "n": 100000, "size": 2000,
                                 "every": 20, "uuid": ws.uuid}) + b".")
            for _ in range(20):  # mid-stream
                ws.read_frame()
            abort(ws.conn, rst)
            wait_metric(s, "vortexc_connections", {"transport": "ws"}, lambda v: v == 1, 3,
                        "vanished WebSocket (rst=%s) still counted" % rst)
            wait_metric(s, "vortexc_remotes", None, lambda v: v == 1, 3,
                        "vanished WebSocket's remote (rst=%s) not forgotten" % rst)
            r = request(ctl, {"key": "vortexd.sendUuid", "uuid": ws.uuid})
            check(isinstance(r.result, str) and r.result.startswith("VX_E_NO_SUCH_VORTEX"),
                  "send to the vanished uuid: %r" % (r.result,))
        ctl.close()


def test_C55_vanished_http_client_detached_then_forgotten_after_session_timeout():
    with Server("--http-session-timeout", "1") as s:
        for rst in (True, False):
            u = new_uuid()
            # 400 items of ~2.7 KB: well under the 8 MiB pending bound, so
            # the remote is forgotten by the timeout, not by an overflow.
            st = open_stream(s, uuid=u, name="vanish",
                             body=encode({"key": "vortexd.flood", "n": 400, "size": 2000,
                                          "every": 20, "uuid": u}) + b".")
            assert_hello(st.next(), s)
            for _ in range(20):
                st.next_raw()
            abort(st.conn, rst)
            t0 = time.monotonic()
            wait_metric(s, "vortexc_connections", {"transport": "http"}, lambda v: v == 0, 3,
                        "vanished HTTP stream (rst=%s) still counted" % rst)
            # Detached, not forgotten yet (§9.6)...
            eq(metric(s.metrics(), "vortexc_remotes"), 1.0, "detached remote kept")
            # ...then forgotten once the session timeout has run out.
            wait_metric(s, "vortexc_remotes", None, lambda v: v == 0, 4,
                        "detached remote (rst=%s) not forgotten" % rst)
            check(time.monotonic() - t0 >= 0.8, "remote forgotten before the session timeout")
        check(metric(s.metrics(), "vortexc_session_expiries_total") >= 2,
              "session expiries not counted")


def test_C65_stopped_client_closed_as_slow_others_receive_everything_without_stall():
    n = 800
    with Server("--out-queue-max", "256k") as s, Procs() as procs:
        stopped = procs.start([vxload_path(), "listen", "--url", url(s), "--ws", "1",
                               "--expect", str(n), "--rcvbuf", "4096", "--timeout", "30",
                               "--name", "stopped"])
        wait_line(stopped, "READY", 10)
        readers = procs.start([vxload_path(), "listen", "--url", url(s), "--ws", "40",
                               "--http", "10", "--expect", str(n), "--timeout", "30",
                               "--name", "reader"])
        wait_line(readers, "READY", 10)
        stopped.send_signal(signal.SIGSTOP)
        bc = procs.start([vxload_path(), "broadcast", "--url", url(s), "--count", str(n),
                          "--size", "4096", "--every", "1", "--interval", "2", "--timeout",
                          "30"])
        rc, summary, err = finish(bc, 40)
        eq((rc, summary["sent"]), (0, n), "broadcast")
        rc, summary, err = finish(readers, 40)
        check(summary["ok"], "readers: %r %s" % (summary, err[-1000:]))
        eq(summary["received"], 50 * n, "payloads received by the readers")
        # No stall: a reader never waited long for any payload.
        check(summary["max_ms"] < 3000, "a reader stalled: max latency %.0f ms" %
              summary["max_ms"])
        check(metric(s.metrics(), "vortexc_slow_consumer_closes_total") >= 1,
              "slow-consumer close not counted")
        stopped.send_signal(signal.SIGCONT)
        rc, summary, err = finish(stopped, 15)
        check(rc != 0 and summary["received"] < n, "the stopped client got everything")
        check("closed 4008" in err, "the stopped client was not closed 4008: %s" % err[-500:])


def read_items(st, seqs, until, stop_at=None):
    """Collect stream item seqs from Stream `st` until time `until` (or the
    stream ends, or `stop_at` seqs are collected); True if the stream ended."""
    while time.monotonic() < until:
        if stop_at is not None and len(seqs) >= stop_at:
            return False
        try:
            item, _ = st.next_raw(timeout=max(0.01, until - time.monotonic()))
        except TestFailure as e:
            if "no item within" in str(e):
                return False
            raise
        except Closed:
            return True
        p = vxwire.decode(item)
        if p.filt.get("key") == "vortexd.stream.item":
            seqs.append(p.filt["seq"])
    return st.ended


def test_C54_long_poll_posts_1s_apart_take_over_and_lose_nothing():
    """Each new POST takes over the previous response (§9.4): the client reads
    the old one to its end, and nothing sent meanwhile is lost or repeated."""
    n = 1200
    with Server() as s:
        u = new_uuid()
        st = open_stream(s, uuid=u, name="poll")
        assert_hello(st.next(), s)
        ctl = WS(s, name="ctl")
        assert_hello(ctl.next_msg(), s)
        ctl.send_text(encode({"key": "vortexd.stream", "n": n, "every": 1, "interval": 2,
                              "uuid": u}) + b".")
        seqs = []
        posts = 1
        deadline = time.monotonic() + 15
        while len(seqs) < n and time.monotonic() < deadline:
            read_items(st, seqs, time.monotonic() + 1.0, stop_at=n)
            if len(seqs) >= n:
                break
            new = open_stream(s, uuid=u, name="poll")  # 1 s later: takes over
            posts += 1
            ended = read_items(st, seqs, time.monotonic() + 5)
            check(ended and st.clean_end, "old response not ended by the takeover")
            st.conn.close()
            st = new
            assert_hello(st.next(), s)
        check(posts >= 3, "only %d POSTs: the stream was too quick" % posts)
        eq(seqs, list(range(n)), "items across %d POSTs" % posts)
        st.conn.close()
        ctl.close()


def test_C54_long_poll_detached_1s_between_posts_gets_pending_msgs_in_order():
    """Between POSTs the remote is detached: msgs sent then wait in its
    pending queue (§9.6) and arrive after the next hello, in order."""
    with Server() as s:
        u = new_uuid()
        ctl = WS(s, name="ctl")
        assert_hello(ctl.next_msg(), s)
        for rnd in range(3):
            st = open_stream(s, uuid=u, name="poll")
            assert_hello(st.next(), s)
            if rnd:
                seqs = []
                read_items(st, seqs, time.monotonic() + 3, stop_at=40)
                eq(seqs, list(range(40)), "round %d: pending msgs" % rnd)
            t_post = time.monotonic()
            st.conn.close()  # no goodbye: the remote becomes detached
            wait_metric(s, "vortexc_connections", {"transport": "http"}, lambda v: v == 0,
                        2, "response not ended")
            ctl.send_text(encode({"key": "vortexd.stream", "n": 40, "every": 1,
                                  "interval": 5, "uuid": u}) + b".")
            while True:
                r = ctl.next_msg()
                if r.filt.get("key") == "vortexd.stream.done":
                    eq((r.filt["sent"], r.filt["failed"]), (40, 0), "stream to the detached")
                    break
            time.sleep(max(0, t_post + 1.0 - time.monotonic()))
        ctl.close()


if __name__ == "__main__":
    from vxwire import run
    run(globals())
