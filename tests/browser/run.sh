#!/bin/sh
# Real-browser tests of the demo app: Debian's chromium driven by
# playwright-core, each test file starting its own vortexd (--db --demo) on a
# free port with a temp database. Screenshots land in tests/browser/artifacts/.
#   sh tests/browser/run.sh BUILD_DIR [test files...]
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [test_*.mjs ...]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd)
shift
VORTEXD="$BUILD/vortexd"
if [ ! -x "$VORTEXD" ]; then
    echo "run.sh: $VORTEXD not found: build first" >&2
    exit 1
fi
# The one installer: chromium and playwright-core if missing (a no-op when present).
sh "$ROOT/scripts/deps.sh" --browser
cd "$HERE"
rm -rf artifacts
mkdir -p artifacts
ALL=""
if [ $# -eq 0 ]; then ALL=1; set -- test_*.mjs; fi
# One file at a time: each starts a browser and a server, and the machine is small.
# The outer timeout is a last guard: each test has its own (120 s).
VORTEXD="$VORTEXD" timeout --kill-after=10 900 node --test --test-concurrency=1 "$@"
[ -z "$ALL" ] || [ -f artifacts/demo.png ] || { echo "run.sh: no screenshot saved in tests/browser/artifacts" >&2; exit 1; }
[ -z "$ALL" ] || echo "run.sh: screenshots in $HERE/artifacts: $(cd artifacts && ls *.png | tr '\n' ' ')"
