#!/bin/sh
# The one place that installs what VortexC needs to build, test, fuzz and
# benchmark on Debian 12. Idempotent: installs only what is missing.
#   sh scripts/deps.sh              build, test, fuzz, codec bench (PostgreSQL
#                                   server included; scripts/pg-test.sh starts it)
#   sh scripts/deps.sh --bench-net  also Node.js + npm's ws for bench-net's peer server
#   sh scripts/deps.sh --browser    also Node.js, Debian's chromium and npm's
#                                   playwright-core (tests/browser: real-browser
#                                   tests of the demo app; no browser download)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
 zlib1g-dev libdeflate-dev libcmocka-dev libyajl-dev
 libuv1-dev libhttp-parser-dev libwslay-dev libssl-dev openssl uuid-dev python3
 libsqlite3-dev sqlite3 libpq-dev postgresql"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "deps.sh: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

WANT_BENCH_NET=""
WANT_BROWSER=""
for arg in "$@"; do
    case "$arg" in
    --bench-net) WANT_BENCH_NET=1 ;;
    --browser) WANT_BROWSER=1 ;;
    esac
done

need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "deps.sh: installing nodejs npm"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
    fi
}

# Node.js runs the vortex.js tests of `make test` (tests/js; Node >= 20 for
# its WebSocket). The machines we target have it; Debian's is the fallback.
need_node

if [ -n "$WANT_BENCH_NET" ]; then
    if [ ! -d "$ROOT/bench/net/node_modules/ws" ]; then
        echo "deps.sh: npm install in bench/net (ws)"
        (cd "$ROOT/bench/net" && npm install --no-audit --no-fund --silent)
    fi
fi

if [ -n "$WANT_BROWSER" ]; then
    # Debian's build: Playwright's own browser download cannot work here.
    if [ ! -x /usr/bin/chromium ]; then
        echo "deps.sh: installing chromium"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
    fi
    if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
        echo "deps.sh: npm install in tests/browser (playwright-core)"
        (cd "$ROOT/tests/browser" && npm install --no-audit --no-fund --silent)
    fi
fi
