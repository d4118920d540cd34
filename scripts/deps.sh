#!/bin/sh
# The one place that installs what VortexC needs to build, test, fuzz and
# benchmark on Debian 12. Idempotent: installs only what is missing.
#   sh scripts/deps.sh              build, test, fuzz, codec bench (PostgreSQL
#                                   server included; scripts/pg-test.sh starts it)
#   sh scripts/deps.sh --bench-net  also Node.js + npm's ws for bench-net's peer server
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

if [ "${1:-}" = "--bench-net" ]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "deps.sh: installing nodejs npm"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
    fi
    if [ ! -d "$ROOT/bench/net/node_modules/ws" ]; then
        echo "deps.sh: npm install in bench/net (ws)"
        (cd "$ROOT/bench/net" && npm install --no-audit --no-fund --silent)
    fi
fi
