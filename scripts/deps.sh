#!/bin/sh
# The one place that installs what VortexC needs to build, test, fuzz and
# benchmark on Debian 12. Idempotent: installs only what is missing.
set -eu

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
 zlib1g-dev libdeflate-dev libcmocka-dev libyajl-dev
 libuv1-dev libhttp-parser-dev libwslay-dev libssl-dev uuid-dev python3"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "deps.sh: installing$missing"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
