#!/usr/bin/env bash
# CRUD benchmark (issue 4 item 7): RETRIEVE and UPDATE through a live
# `vortexd --db` over WebSocket with 1 and 50 clients, on SQLite and on
# PostgreSQL, against the same store calls made in-process and against
# vortexd's echo; push latency from commit to 1,000 subscribers against a
# plain vortexd broadcast. Prints tables with ratios against baselines
# measured in the same run; never pass/fail (exit 0 unless a tool is missing
# or breaks).
#
#   bash scripts/bench-crud.sh [BUILD_DIR]     # default build-release
#
# Needs vortexd and bench_crud in BUILD_DIR (a Release build; `make
# bench-crud` builds it). PostgreSQL: $VX_TEST_PG_URL, else the URL that
# scripts/pg-test.sh prints; without one the PostgreSQL rows are skipped.
# Knobs: VX_BENCH_CRUD_SECONDS (3) per throughput row, VX_BENCH_CRUD_SUBS
# (1000) subscribers, VX_BENCH_CRUD_UPDATES (50) pushed updates.
# Loopback only; every process and table made here is removed on exit.
# About 3-4 minutes. See bench/README.md, section CRUD.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build-release}
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SECS=${VX_BENCH_CRUD_SECONDS:-3}
SUBS=${VX_BENCH_CRUD_SUBS:-1000}
UPDATES=${VX_BENCH_CRUD_UPDATES:-50}
INTERVAL_MS=100 # between pushed updates: each push has the fan-out to itself
ROWS=1000
MANY=50    # clients of the "many" rows
THREADS=4  # store threads of the "many" rows: vortexd's pool (libuv's 4 threads)

for b in vortexd bench_crud; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "bench-crud: $BUILD/$b missing (build Release first: make bench-crud)" >&2
        exit 1
    fi
done

TMP=$(mktemp -d /tmp/vx-bench-crud.XXXXXX)
PIDS=()
DROP=() # "URL TABLE" pairs to drop on exit
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for d in "${DROP[@]}"; do
        # shellcheck disable=SC2086
        "$BUILD/bench_crud" drop $d >/dev/null 2>&1
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- helpers ------------------------------------------------------------------

# start NAME CMD...: run in the background, wait for vortexd's start-up line,
# set SPID and SPORT.
start() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    for _ in $(seq 200); do
        SPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out")
        [ -n "$SPORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-crud: $name did not start:" >&2
    cat "$TMP/$name.err" >&2
    exit 1
}

# field LINE KEY: the value of KEY=... in a RESULT line.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=\(.*\)/\1/p" | head -1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }

# run ARGS...: bench_crud with its RESULT line in $OUT ("" on failure; its
# stderr is kept in $TMP/run.err and its first line shown under the row).
run() {
    OUT=$("$BUILD/bench_crud" "$@" 2>"$TMP/run.err" | grep '^RESULT' | tail -1)
}

say_err() {
    [ -s "$TMP/run.err" ] && sed -n 's/^/     ! /; 1,2p' "$TMP/run.err"
}

ROWFMT='   %-10s %-8s %-24s %-10s %8s %6s %9s %9s %8s %7s\n'

# row BACKEND OP PATH CONC STORE_RATE ECHO_RATE: print $OUT as a table row.
row() {
    if [ -z "$OUT" ]; then
        printf '   %-10s %-8s %-24s %-10s %8s\n' "$1" "$2" "$3" "$4" FAILED
        say_err
        return
    fi
    local r
    r=$(field "$OUT" ops_per_s)
    # shellcheck disable=SC2059
    printf "$ROWFMT" "$1" "$2" "$3" "$4" "$r" "$(field "$OUT" spread)" "$(field "$OUT" p50_us)" \
        "$(field "$OUT" p99_us)" "$([ -n "$5" ] && ratio "$r" "$5")" "$([ -n "$6" ] && ratio "$r" "$6")"
    [ "$(field "$OUT" bad)" != 0 ] && echo "     ! $(field "$OUT" bad) replies not as the contract says"
    return 0
}

# ---- header -------------------------------------------------------------------

PG_URL=${VX_TEST_PG_URL:-}
[ -z "$PG_URL" ] && PG_URL=$(sh "$ROOT/scripts/pg-test.sh" 2>/dev/null)
PG_TABLE="benchcrud_$$" # the test database is shared: a name of our own

echo "VortexC CRUD benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "SQLite: a file in $(df -T /tmp | awk 'NR == 2 { print $2 }') /tmp (WAL); PostgreSQL: ${PG_URL:-none}$(
    [ -n "$PG_URL" ] && psql "$PG_URL" -Atc 'show server_version' 2>/dev/null | sed 's/ .*//; s/^/ (server /; s/$/)/')"
echo "table: id INTEGER PRIMARY KEY, name TEXT, value REAL, updated TIMESTAMP; $ROWS rows"
echo "loopback only; ratios are against baselines measured in this run; no pass/fail"
echo

# ---- 1. throughput --------------------------------------------------------------

echo "1. Closed-loop throughput, ${SECS} s per row (each client or thread sends its next"
echo "   request when the previous reply has arrived)"
echo "   vortexd: a vx_node + ws:// vx_client per client, vx_node_request; RETRIEVE = filt"
echo "   {\"key\": \"crud.T\", \"id\": random}, UPDATE = filt {\"key\": \"crud.T\"} + one row"
echo "   (random id, new name, value, updated); echo = the same row to vortexd.echo."
echo "   store: the same work in-process: acquire a pooled session, vx_sql_load, or"
echo "   check + begin + vx_sql_merge + commit, release; 1 thread, and $THREADS threads (the"
echo "   size of vortexd's pool). vs store: vortexd / store (1 client / 1 thread, $MANY"
echo "   clients / $THREADS threads); vs echo: vortexd / echo at the same client count."
echo "   ops/s: median of 5 equal parts of the row; spread (max - min) / median (above"
echo "   ~0.2 other processes took the CPU: rerun before concluding)."
echo
# shellcheck disable=SC2059
printf "$ROWFMT" backend op path conc "ops/s" spread "p50 us" "p99 us" "vs store" "vs echo"

declare -A PORT_OF
throughput() { # backend url table
    local be=$1 url=$2 table=$3 e1 eN op s1 sN
    run setup "$url" "$table" "$ROWS"
    if [ -z "$OUT" ]; then
        printf '   %-10s setup FAILED\n' "$be"
        say_err
        return 1
    fi
    DROP+=("$url $table")
    start "vortexd-$be" "$BUILD/vortexd" --port 0 --db "$url" --tables "$table" --echo \
        --test-endpoints --log-level warn
    PORT_OF[$be]=$SPORT
    run client "$SPORT" "$table" echo 1 "$SECS" "$ROWS"
    e1=$(field "$OUT" ops_per_s)
    row "$be" echo "vortexd (floor)" "1 client" "" ""
    run client "$SPORT" "$table" echo "$MANY" "$SECS" "$ROWS"
    eN=$(field "$OUT" ops_per_s)
    row "$be" echo "vortexd (floor)" "$MANY clients" "" ""
    for op in retrieve update; do
        run direct "$url" "$table" "$op" 1 "$SECS" "$ROWS"
        s1=$(field "$OUT" ops_per_s)
        row "$be" "$op" "store in-process" "1 thread" "" ""
        run direct "$url" "$table" "$op" "$THREADS" "$SECS" "$ROWS"
        sN=$(field "$OUT" ops_per_s)
        row "$be" "$op" "store in-process" "$THREADS threads" "" ""
        run client "$SPORT" "$table" "$op" 1 "$SECS" "$ROWS"
        row "$be" "$op" "vortexd WS vx_client" "1 client" "$s1" "$e1"
        run client "$SPORT" "$table" "$op" "$MANY" "$SECS" "$ROWS"
        row "$be" "$op" "vortexd WS vx_client" "$MANY clients" "$sN" "$eN"
    done
}

BACKENDS=()
SQLITE_URL="$TMP/bench.db"
throughput sqlite "$SQLITE_URL" bench && BACKENDS+=(sqlite)
if [ -n "$PG_URL" ]; then
    throughput postgresql "$PG_URL" "$PG_TABLE" && BACKENDS+=(postgresql)
else
    echo "   postgresql (skipped: no server; set VX_TEST_PG_URL or install PostgreSQL)"
fi
echo

# ---- 2. push latency --------------------------------------------------------------

echo "2. Push latency to $SUBS WebSocket subscribers (vx_client each, all in one process"
echo "   and one loop; the writer is another process). The writer sends $UPDATES updates, one"
echo "   per ${INTERVAL_MS} ms, each row carrying its send time (CLOCK_REALTIME) in name; every"
echo "   subscriber records arrival - send time of each pushed row."
echo "   crud: subscribed with {\"key\": \"crud.T\", \"subscribe\": true}; the update is an UPDATE"
echo "   of one row; vortexd commits, replies, pushes the stored row to all. broadcast: the"
echo "   same row to vortexd.broadcast (--test-endpoints), sent to every connection at once:"
echo "   the fan-out without the database (the baseline)."
echo "   from send (writer's clock -> arrival): p50, p99, max over all deliveries (update x"
echo "   subscriber); first / last: median over updates of the first / the last subscriber"
echo "   (this one client loop decodes every copy in turn, so last - first is mostly the"
echo "   client process); rtt: the writer's request -> reply p50 (the reply leaves at commit)."
echo "   from commit: arrival - the push's \"date\", stamped by vortexd when it makes the"
echo "   push right after the commit (broadcast: when it makes the broadcast); same clock."
echo "   vs bcast: from-commit p50 and p99 over the broadcast row's."
echo
PFMT='   %-22s %11s | %7s %7s %7s %7s %7s %7s | %7s %7s %11s\n'
# shellcheck disable=SC2059
printf "$PFMT" "" "" "from send" "" "" "" "" "" "from commit" "" ""
# shellcheck disable=SC2059
printf "$PFMT" row delivered "p50 ms" "p99 ms" "max ms" first last "rtt ms" "p50 ms" "p99 ms" "vs bcast"

BC_P50="" BC_P99=""
push_row() { # label backend table mode
    local label=$1 be=$2 table=$3 mode=$4 p50 p99 rtt c50 c99 vs=""
    run push "${PORT_OF[$be]}" "$table" "$mode" "$SUBS" "$UPDATES" "$INTERVAL_MS" "$ROWS"
    if [ -z "$OUT" ]; then
        printf '   %-22s %11s\n' "$label" FAILED
        say_err
        return
    fi
    p50=$(field "$OUT" p50_ms)
    p99=$(field "$OUT" p99_ms)
    rtt=$(field "$OUT" rtt_p50_ms)
    c50=$(field "$OUT" commit_p50_ms)
    c99=$(field "$OUT" commit_p99_ms)
    if [ "$mode" = broadcast ]; then
        BC_P50=$c50
        BC_P99=$c99
    elif [ -n "$BC_P50" ]; then
        vs="$(ratio "$c50" "$BC_P50") $(ratio "$c99" "$BC_P99")"
    fi
    # shellcheck disable=SC2059
    printf "$PFMT" "$label" "$(field "$OUT" delivered)/$(field "$OUT" expected)" "$p50" "$p99" \
        "$(field "$OUT" max_ms)" "$(field "$OUT" first_p50_ms)" "$(field "$OUT" last_p50_ms)" "$rtt" "$c50" "$c99" "$vs"
    local off dup
    off=$(field "$OUT" offline)
    dup=$(field "$OUT" dup)
    [ "$off" != 0 ] && echo "     ! $off subscribers went offline during the row"
    [ "$dup" != 0 ] && echo "     ! $dup duplicate deliveries"
    echo "     (subscribing all: $(field "$OUT" subscribe_s) s; writer: $(field "$OUT" writes) updates, rtt p99 $(field "$OUT" rtt_p99_ms) ms)"
}

if [ ${#BACKENDS[@]} -gt 0 ]; then
    push_row "vortexd broadcast" "${BACKENDS[0]}" bench broadcast
    for be in "${BACKENDS[@]}"; do
        if [ "$be" = sqlite ]; then t=bench; else t=$PG_TABLE; fi
        push_row "crud push, $be" "$be" "$t" crud
    done
fi
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0
