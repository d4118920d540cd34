#!/usr/bin/env bash
# Load test (tools/vxload/README.md): one vortexd, 1,000 WebSocket and 200
# HTTP long-poll clients in one vxload process, 1,000 broadcast payloads;
# every client must receive every payload exactly once and in order, then
# vortexd must shut down cleanly (SIGTERM, exit 0).
#
# Usage: tests/load/run-load.sh [BUILD_DIR]          (default: build)
# Sizes: VX_LOAD_WS, VX_LOAD_HTTP, VX_LOAD_COUNT (defaults 1000, 200, 1000).
# Exit status 0 on success; on any failure every child is killed.
set -euo pipefail

BUILD=${1:-build}
VORTEXD=$BUILD/vortexd
VXLOAD=$BUILD/vxload
N_WS=${VX_LOAD_WS:-1000}
N_HTTP=${VX_LOAD_HTTP:-200}
COUNT=${VX_LOAD_COUNT:-1000}

for b in "$VORTEXD" "$VXLOAD"; do
    [ -x "$b" ] || { echo "run-load: $b not built" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "run-load: FAILED: $*" >&2
    for f in vortexd.err listen.out listen.err broadcast.err; do
        [ -s "$tmp/$f" ] && { echo "--- $f (tail)" >&2; tail -n 20 "$tmp/$f" >&2; }
    done
    exit 1
}

# Wait up to $2 seconds for file $1 to contain a line matching $3, while
# process $4 lives.
wait_for() {
    local file=$1 secs=$2 pattern=$3 pid=$4 i
    for ((i = 0; i < secs * 10; i++)); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { local d=$(($(ms) - $1)); printf "%d.%03d" $((d / 1000)) $((d % 1000)); }
t0=$(ms)
# Broadcasts go to 1,200 connections at once: a generous queue per
# connection, so only a truly stuck client could be a slow consumer.
"$VORTEXD" --port 0 --test-endpoints --out-queue-max 64m --log-level warn \
    >"$tmp/vortexd.out" 2>"$tmp/vortexd.err" &
vd=$!
pids+=("$vd")
wait_for "$tmp/vortexd.out" 10 '^vortexd listening on' "$vd" || fail "vortexd did not start"
port=$(sed -n 's/^vortexd listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$tmp/vortexd.out")
[ -n "$port" ] || fail "cannot parse the listening line"
url=http://127.0.0.1:$port
echo "run-load: vortexd on port $port; $N_WS WebSocket + $N_HTTP long-poll clients, $COUNT payloads"

timeout 150 "$VXLOAD" listen --url "$url" --ws "$N_WS" --http "$N_HTTP" --expect "$COUNT" \
    --connect-timeout 60 --timeout 120 >"$tmp/listen.out" 2>"$tmp/listen.err" &
lp=$!
pids+=("$lp")
wait_for "$tmp/listen.out" 70 '^READY' "$lp" || fail "the clients did not connect"
echo "run-load: $(sed -n "s/^READY //p" "$tmp/listen.out") clients connected in $(secs "$t0") s"

timeout 150 "$VXLOAD" broadcast --url "$url" --count "$COUNT" --every 1 --interval 1 \
    --timeout 120 >"$tmp/broadcast.out" 2>"$tmp/broadcast.err" ||
    fail "broadcast: $(cat "$tmp/broadcast.out")"
echo "run-load: broadcast: $(cat "$tmp/broadcast.out")"

rc=0
wait "$lp" || rc=$?
summary=$(grep '^{' "$tmp/listen.out" || true)
echo "run-load: listen: $summary"
[ "$rc" -eq 0 ] || fail "vxload listen exited $rc"
case $summary in
*'"ok": true'*) ;;
*) fail "not every client got every payload exactly once in order" ;;
esac

kill -0 "$vd" 2>/dev/null || fail "vortexd died"
command -v curl >/dev/null && curl -sf "$url/metrics" >"$tmp/metrics" 2>/dev/null &&
    echo "run-load: vortexd: $(grep -E '^vortexc_(msgs_out_total|bytes_out_total|slow_consumer_closes_total) ' "$tmp/metrics" | tr '\n' ' ')"
kill -TERM "$vd"
for ((i = 0; i < 150; i++)); do kill -0 "$vd" 2>/dev/null || break; sleep 0.1; done
kill -0 "$vd" 2>/dev/null && fail "vortexd still running 15 s after SIGTERM"
vrc=0
wait "$vd" || vrc=$?
[ "$vrc" -eq 0 ] || fail "vortexd exited $vrc after SIGTERM"
echo "run-load: passed in $(secs "$t0") s"
