#!/bin/sh
# Run every libFuzzer target in BUILD_DIR for SECONDS each, seeded from
# tests/vectors. Exits non-zero if any target crashes, leaks, times out or
# breaks an invariant; crash inputs are kept in BUILD_DIR/fuzz-artifacts/.
#
#   sh scripts/run-fuzz.sh BUILD_DIR SECONDS
#
# Plain POSIX sh: CI machines have neither python nor jq, so the seeds are
# written by fuzz/seed/make_seeds.c, built here against BUILD_DIR's library.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
BUILD=$1
SECONDS_EACH=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$BUILD"
BUILD=$(pwd)
CC=${FUZZ_CC:-clang} # not $CC: the library in BUILD_DIR was built by clang

targets=$(find . -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sed 's|^\./||' | sort)
if [ -z "$targets" ]; then
    echo "run-fuzz: no fuzz_* executables in $BUILD (build with -DVX_FUZZ=ON)" >&2
    exit 1
fi

# Seeds. The library was built with sanitizer coverage (fuzzer-no-link), so
# link the helper with the sanitizers too.
echo "run-fuzz: building seed writer"
# shellcheck disable=SC2046
$CC -std=c17 -D_GNU_SOURCE -O1 -g -fsanitize=address,undefined \
    -I"$ROOT/include" -o "$BUILD/make_seeds" "$ROOT/fuzz/seed/make_seeds.c" \
    "$BUILD/libvortexc.a" $(pkg-config --libs libdeflate zlib) -lm
ASAN_OPTIONS=detect_leaks=1 "$BUILD/make_seeds" "$ROOT/tests/vectors" "$BUILD/corpus"

mkdir -p "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"
failed=""
summary=""
for t in $targets; do
    name=${t#fuzz_}
    corpus="$BUILD/corpus/$name"
    mkdir -p "$corpus" "$BUILD/fuzz-artifacts/$name"
    # -max_len: 64 KiB covers every seed; bigger inputs only slow mutation.
    # The network targets run a whole node per input: 16 KiB is plenty.
    dict=""
    max_len=65536
    case $name in
    json_*) dict="-dict=$ROOT/fuzz/json.dict" ;;
    http_* | ws_*)
        dict="-dict=$ROOT/fuzz/http.dict"
        max_len=16384
        ;;
    esac
    log="$BUILD/fuzz-logs/$name.log"
    echo "run-fuzz: $t for ${SECONDS_EACH}s (log: $log)"
    set +e
    # shellcheck disable=SC2086
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "./$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -max_len="$max_len" -print_final_stats=1 \
        -artifact_prefix="$BUILD/fuzz-artifacts/$name/" $dict "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    # Last coverage line, e.g. "#123456 DONE cov: 812 ft: 3021 corp: 455/90Kb ..."
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | tail -n 1 | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        status=ok
    else
        status="FAILED (exit $rc)"
        failed="$failed $t"
        echo "---- $t: last 60 lines of $log ----"
        tail -n 60 "$log"
        echo "---- crash inputs: $(ls "$BUILD/fuzz-artifacts/$name" 2>/dev/null | tr '\n' ' ')"
    fi
    line=$(printf '%-18s %-18s execs=%-10s cov=%-6s ft=%-6s corpus=%s' "$t" "$status" \
        "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    echo "$line"
    summary="$summary$line
"
done

echo "==== fuzz summary (${SECONDS_EACH}s per target) ===="
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "run-fuzz: FAILED:$failed (inputs in $BUILD/fuzz-artifacts/, see fuzz/README.md)"
    exit 1
fi
echo "run-fuzz: all targets passed"
