#!/usr/bin/env bash
# Network benchmarks (issue 3): echo round trips, broadcast fan-out, server
# memory per idle WebSocket. Prints tables with ratios against floors measured
# in the same run; never pass/fail (exit 0 unless a tool is missing or breaks).
#
#   bash scripts/bench-net.sh [BUILD_DIR]     # default build-release
#
# Needs, in BUILD_DIR: vortexd, vxload, bench_net_pingpong, bench_net_echo,
# bench_net_fanfloor, bench_net_idle (a Release build). Node.js 20 + npm for
# the ws yardstick (installed into bench/net/node_modules on first use; that
# row is skipped without them). Loopback only; every process started here is
# stopped on exit. Two to three minutes. See bench/README.md, section Network.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-release}
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SECS=${VX_BENCH_NET_SECONDS:-3}          # per echo row
FAN_CLIENTS=1000
FAN_SIZE=32 # each item carries one 32-character string in its tuples
IDLE_CONNS=10000

for b in vortexd vxload bench_net_pingpong bench_net_echo bench_net_fanfloor bench_net_idle; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "bench-net: $BUILD/$b missing (build Release first: make bench-net)" >&2
        exit 1
    fi
done

TMP=$(mktemp -d /tmp/vx-bench-net.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null
PIN=""
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then PIN="taskset -c 0"; fi

# ---- helpers ------------------------------------------------------------------

# start NAME CMD...: run in the background, wait for the start-up line
# ("... listening on http://127.0.0.1:PORT ..."), set SPID and SPORT.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    for _ in $(seq 100); do
        SPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out")
        [ -n "$SPORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-net: $name did not start:" >&2
    cat "$TMP/$name.err" >&2
    exit 1
}

stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# field LINE KEY: value of KEY=... in a RESULT line, or of "KEY": ... in JSON.
field() {
    printf '%s\n' "$1" | tr ' ,{}' '\n\n\n\n' | sed -n "s/^\"\{0,1\}$2\"\{0,1\}[=:]\(.*\)/\1/p" |
        head -1
}
jfield() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# CPU seconds (user + system) used so far by process $1.
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null ||
        echo 0
}

# ---- header -------------------------------------------------------------------

echo "VortexC network benchmarks  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "loopback only; ratios are against floors measured in this run; no pass/fail"
echo

# ---- 1. echo ----------------------------------------------------------------------

echo "1. Echo round trips/s against vortexd --echo (closed loop, ${SECS} s per row)"
echo "   raw = lean client (msg encoded once, WS frame / POST prebuilt, reply matched by"
echo "   its bytes; long-poll: two connections in turn, each POST taking over the other's"
echo "   response); vx_client = the library's client + vx_node_request (encodes and"
echo "   decodes every msg, fresh messageId; long-poll: a new TCP connection per POST)."
echo "   Floor: TCP ping-pong of the msg's size between two processes placed alike."
echo "   rt/s: median of 5 equal parts of the window; spread: (max - min) / median of"
echo "   those parts (above ~0.2 other processes took the CPU: rerun before concluding)."
echo
printf '   %-9s %-7s %-24s %8s %6s %9s %9s %6s %7s\n' placement clients transport "rt/s" spread \
    "p50 us" "p99 us" ratio target
echo_rows() { # placement-label pin-prefix clients
    local label=$1 pin=$2 n=$3 out port floor size
    start vortexd $pin "$BUILD/vortexd" --port 0 --echo --log-level warn
    port=$SPORT
    local vpid=$SPID
    out=$($pin "$BUILD/bench_net_echo" "$port" raw "$n" "$SECS")
    size=$(field "$out" msg_bytes)
    local pp
    pp=$($pin "$BUILD/bench_net_pingpong" "$size" "$n" "$SECS")
    floor=$(field "$pp" rt_per_s)
    printf '   %-9s %-7s %-24s %8s %6s %9s %9s %6s %7s\n' "$label" "$n" "TCP ping-pong ${size} B" \
        "$floor" "$(field "$pp" spread)" "$(field "$pp" p50_us)" "$(field "$pp" p99_us)" "floor" ""
    local mode tr target
    for mode in raw ws rawhttp http; do
        [ "$mode" = raw ] || out=$($pin "$BUILD/bench_net_echo" "$port" "$mode" "$n" "$SECS")
        case $mode in
        raw) tr="WebSocket, raw client"; target=">=0.6" ;;
        ws) tr="WebSocket, vx_client"; target=">=0.6" ;;
        rawhttp) tr="long-poll, raw client"; target=">=0.25" ;;
        http) tr="long-poll, vx_client"; target=">=0.25" ;;
        esac
        [ "$n" -gt 1 ] && target=""
        if [ -z "$out" ]; then
            printf '   %-9s %-7s %-24s %8s\n' "$label" "$n" "$tr" "FAILED"
            continue
        fi
        printf '   %-9s %-7s %-24s %8s %6s %9s %9s %6s %7s\n' "$label" "$n" "$tr" \
            "$(field "$out" rt_per_s)" "$(field "$out" spread)" "$(field "$out" p50_us)" \
            "$(field "$out" p99_us)" \
            "$(ratio "$(field "$out" rt_per_s)" "$floor")" "$target"
    done
    stop "$vpid"
}
echo_rows unpinned "" 1
[ -n "$PIN" ] && echo_rows "one core" "$PIN" 1
echo_rows unpinned "" 100
echo "   (one core: vortexd, the client and both ping-pong processes under '$PIN')"
echo

# ---- 2. fan-out -------------------------------------------------------------------

NODE_OK=""
if command -v node >/dev/null && command -v npm >/dev/null; then
    # installed by scripts/deps.sh --bench-net (make bench-net runs it)
    [ -d "$ROOT/bench/net/node_modules/ws" ] && NODE_OK=1
fi

# fan SERVER-LABEL COUNT EVERY INTERVAL: one vxload run against the server on
# $SPORT (pid $SPID); sets FAN_LINE.
fan() {
    local label=$1 count=$2 every=$3 interval=$4 lpid cpu0 cpu1 lout
    "$BUILD/vxload" listen --url "http://127.0.0.1:$SPORT" --ws "$FAN_CLIENTS" --expect "$count" \
        --timeout 30 >"$TMP/listen.out" 2>"$TMP/listen.err" &
    lpid=$!
    PIDS+=("$lpid")
    for _ in $(seq 600); do
        grep -q READY "$TMP/listen.out" "$TMP/listen.err" 2>/dev/null && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.05
    done
    cpu0=$(cpu_of "$SPID")
    "$BUILD/vxload" broadcast --url "http://127.0.0.1:$SPORT" --count "$count" --every "$every" \
        --interval "$interval" --size "$FAN_SIZE" --timeout 30 >"$TMP/bc.out" 2>"$TMP/bc.err"
    wait "$lpid"
    cpu1=$(cpu_of "$SPID")
    lout=$(grep '"mode": "listen"' "$TMP/listen.out")
    if [ -z "$lout" ]; then
        printf '   %-22s FAILED: %s\n' "$label" "$(tail -1 "$TMP/listen.err")"
        FAN_LINE=""
        return
    fi
    local secs recv dps
    secs=$(jfield "$lout" seconds)
    recv=$(jfield "$lout" received)
    dps=$(awk -v r="$recv" -v s="$secs" 'BEGIN { printf "%.0f", r / s }')
    FAN_LINE="$dps $(jfield "$lout" p50_ms) $(jfield "$lout" p99_ms) $(jfield "$lout" cpu_s) $secs"
    FAN_LINE="$FAN_LINE $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')"
    FAN_LINE="$FAN_LINE $(jfield "$lout" ok) $recv"
}

fan_server() { # label key cmd...
    local label=$1 key=$2
    shift 2
    start fan "$@"
    local spid=$SPID row r
    for row in burst paced; do
        if [ "$row" = burst ]; then fan "$label" 500 50 1; else fan "$label" 200 1 20; fi
        read -ra r <<<"$FAN_LINE"
        if [ ${#r[@]} -eq 8 ]; then
            eval "FAN_${row}_${key}=\"$FAN_LINE\""
            printf '   %-22s %-6s %9s %8s %8s %8s %7s %9s %7s %4s\n' "$label" "$row" "${r[0]}" \
                "${r[1]}" "${r[2]}" "${r[4]}" "${r[5]}" \
                "$(awk -v n="${r[7]}" -v c="${r[5]}" 'BEGIN { if (c > 0) printf "%.0f", n / c; else printf "-" }')" \
                "$(awk -v c="${r[3]}" -v s="${r[4]}" 'BEGIN { printf "%.0f%%", 100 * c / s }')" "${r[6]}"
            if [ "${r[6]}" != true ]; then # say why, from both sides
                sed -n 's/^/     ! /; 1,3p' "$TMP/listen.err"
                echo "     ! $(grep -o '"complete": [0-9]*, "connect_failed": [0-9]*, "disconnects": [0-9]*' "$TMP/listen.out")"
                grep -v ' info: ' "$TMP/fan.err" | sed -n 's/^/     ! server: /; 1,3p'
            fi
        fi
    done
    stop "$spid"
}

echo "2. Broadcast fan-out to $FAN_CLIENTS WebSocket clients (vxload listen: one process,"
echo "   one loop; latency = receive time - send time carried in the payload's filt \"t\")"
echo "   items: filt key, seq, t + one $FAN_SIZE-character string in tuples (vortexd.stream)"
echo "   burst: 500 items, 50 per 1 ms turn (saturating); paced: 200 items, 1 per 20 ms"
echo "   (50,000 deliveries/s offered). deliv/s = deliveries / seconds (from READY to the"
echo "   last delivery). srv cpu: CPU seconds of the server during the row; deliv/cpu:"
echo "   deliveries per server CPU second (steadier than deliv/s on a shared VM); gen cpu:"
echo "   the load generator's CPU as % of one core. ok: every client got every item in order."
echo
printf '   %-22s %-6s %9s %8s %8s %8s %7s %9s %7s %4s\n' server row "deliv/s" "p50 ms" "p99 ms" \
    seconds "srv cpu" "deliv/cpu" "gen cpu" ok
fan_server "C floor (write loop)" floor "$BUILD/bench_net_fanfloor"
fan_server "vortexd" vortexd "$BUILD/vortexd" --port 0 --test-endpoints --log-level warn
if [ -n "$NODE_OK" ]; then
    fan_server "Node.js ws $(node -e 'process.stdout.write(require(process.argv[1]+"/package.json").version)' "$ROOT/bench/net/node_modules/ws")" node \
        node "$ROOT/bench/net/server.js"
else
    echo "   Node.js ws             (skipped: node/npm or the ws package unavailable)"
fi
echo
fv() { # VAR index
    local v=${!1:-}
    [ -z "$v" ] && { echo 0; return; }
    local a
    read -ra a <<<"$v"
    echo "${a[$2]}"
}
cpuratio() { # server-key floor-key
    awk -v a="$(fv "FAN_burst_$1" 7)" -v ac="$(fv "FAN_burst_$1" 5)" -v b="$(fv "FAN_burst_$2" 7)" \
        -v bc="$(fv "FAN_burst_$2" 5)" 'BEGIN { if (ac > 0 && bc > 0 && b > 0) printf "%.2f", (a / ac) / (b / bc); else printf "-" }'
}
echo "   vortexd vs C floor, burst:  deliveries/s $(ratio "$(fv FAN_burst_vortexd 0)" "$(fv FAN_burst_floor 0)"), per CPU second $(cpuratio vortexd floor)  (target >= 0.8)"
if [ -n "$NODE_OK" ]; then
    echo "   vortexd vs Node ws, burst:  deliveries/s $(ratio "$(fv FAN_burst_vortexd 0)" "$(fv FAN_burst_node 0)"), per CPU second $(cpuratio vortexd node)  (target >= 1.5)"
    echo "   paced p99 ms: vortexd $(fv FAN_paced_vortexd 2), Node ws $(fv FAN_paced_node 2), floor $(fv FAN_paced_floor 2)  (target < 50)"
else
    echo "   paced p99 ms: vortexd $(fv FAN_paced_vortexd 2), floor $(fv FAN_paced_floor 2)  (target < 50)"
fi
echo

# ---- 3. idle memory ---------------------------------------------------------------

echo "3. vortexd RSS per idle WebSocket connection ($IDLE_CONNS connections, clients in"
echo "   another process; each got its hello, i.e. is registered)"
echo
start idle "$BUILD/vortexd" --port 0 --log-level warn
VPID=$SPID
sleep 0.3
RSS0=$(awk '/^VmRSS/ { print $2 }' "/proc/$VPID/status")
mkfifo "$TMP/hold"
"$BUILD/bench_net_idle" "$SPORT" "$IDLE_CONNS" <"$TMP/hold" >"$TMP/idle.out" 2>"$TMP/idle.err" &
IPID=$!
PIDS+=("$IPID")
exec 9>"$TMP/hold" # keeps the clients' stdin open until we close it
for _ in $(seq 600); do
    grep -q READY "$TMP/idle.out" && break
    kill -0 "$IPID" 2>/dev/null || break
    sleep 0.05
done
if grep -q READY "$TMP/idle.out"; then
    sleep 1
    RSS1=$(awk '/^VmRSS/ { print $2 }' "/proc/$VPID/status")
    printf '   %-28s %10s\n' "VmRSS before (KiB)" "$RSS0" "VmRSS with $IDLE_CONNS (KiB)" "$RSS1"
    printf '   %-28s %10s   (target <= 4)\n' "KiB per connection" \
        "$(awk -v a="$RSS0" -v b="$RSS1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (b - a) / n }')"
    printf '   %-28s %10s\n' "connect + hello, all (s)" "$(cut -d' ' -f3 "$TMP/idle.out")"
else
    echo "   FAILED: $(tail -1 "$TMP/idle.err")"
fi
exec 9>&-
wait "$IPID" 2>/dev/null
stop "$VPID"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
