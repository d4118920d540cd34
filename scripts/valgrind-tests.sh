#!/bin/sh
# Run every unit test program in BUILD_DIR (test_*) under valgrind's memcheck
# and fail if any reports a memory error or a definite/indirect leak, or
# fails its own tests.
#
#   sh scripts/valgrind-tests.sh BUILD_DIR
#
# Tests run in parallel (VALGRIND_JOBS, default nproc); logs are kept in
# BUILD_DIR/valgrind/<test>.log.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$1" && pwd)
JOBS=${VALGRIND_JOBS:-$(nproc 2>/dev/null || echo 2)}
# Generous: valgrind runs code 20-50x slower than native.
TIMEOUT=${VALGRIND_TIMEOUT:-1800}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind-tests: valgrind not installed (run scripts/deps.sh)" >&2
    exit 1
fi

tests=$(find "$BUILD" -maxdepth 1 -type f -name 'test_*' -perm -u+x | sort)
if [ -z "$tests" ]; then
    echo "valgrind-tests: no test_* executables in $BUILD (build first)" >&2
    exit 1
fi

LOGS="$BUILD/valgrind"
rm -rf "$LOGS"
mkdir -p "$LOGS"

echo "valgrind-tests: $(echo "$tests" | wc -l) programs, $JOBS at a time"
export LOGS TIMEOUT
# xargs -P is a portable job pool; each job runs one test in a fresh sh.
# shellcheck disable=SC2016 # $1 etc. expand in the inner sh
echo "$tests" | xargs -P "$JOBS" -I{} sh -c '
    name=$(basename "$1")
    set +e
    timeout "$TIMEOUT" valgrind --quiet --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --error-exitcode=99 --num-callers=30 \
        --log-file="$LOGS/$name.valgrind" "$1" >"$LOGS/$name.log" 2>&1
    echo $? >"$LOGS/$name.rc"
    echo "valgrind-tests: finished $name (exit $(cat "$LOGS/$name.rc"))"
' sh {}

failed=""
summary=""
for t in $tests; do
    name=$(basename "$t")
    rc=$(cat "$LOGS/$name.rc" 2>/dev/null || echo "?")
    case $rc in
    0) status=ok ;;
    99) status="MEMORY ERRORS/LEAKS" ;;
    124) status="TIMEOUT (${TIMEOUT}s)" ;;
    *) status="TEST FAILED (exit $rc)" ;;
    esac
    if [ "$rc" != 0 ]; then
        failed="$failed $name"
        echo "---- $name: $status; valgrind log $LOGS/$name.valgrind ----"
        head -n 80 "$LOGS/$name.valgrind" 2>/dev/null || true
        echo "---- $name: last 30 lines of test output ----"
        tail -n 30 "$LOGS/$name.log" 2>/dev/null || true
    fi
    summary="$summary$(printf '%-28s %s' "$name" "$status")
"
done

echo "==== valgrind summary ===="
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "valgrind-tests: FAILED:$failed"
    exit 1
fi
echo "valgrind-tests: all $(echo "$tests" | wc -l) programs clean"
