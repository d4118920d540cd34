#!/bin/sh
# Install test: `cmake --install` into a temporary prefix, then build
# examples/hello.c against the installed headers and libraries through
# pkg-config, the way a user would (examples/README.md), both against the
# shared library and statically, and run it.
# Usage: sh test_install.sh <build_dir> <source_dir>   (CTest passes both)
set -u
BUILD=${1:?build dir}
SRC=${2:?source dir}
# The compiler of the build (sanitizer runtimes must match), else cc.
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
CC=${CC:-cc}
# A -DVX_SANITIZE=ON build installs instrumented libraries: programs using
# them need the sanitizer runtime too.
SAN=
if grep -q '^VX_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/vx-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
PREFIX=$T/prefix
passed=0

pass() {
    passed=$((passed + 1))
    echo "ok $passed - $1"
}
fail() {
    echo "FAIL - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/  /' | head -20
    echo "$passed passed, 1 failed"
    exit 1
}

command -v pkg-config >/dev/null || fail "pkg-config is installed"

log=$(cmake --install "$BUILD" --prefix "$PREFIX" 2>&1) || fail "cmake --install" "$log"
[ -f "$PREFIX/include/vortexc.h" ] && [ -f "$PREFIX/include/vortexc/codec.h" ] ||
    fail "headers installed under include/"
pass "cmake --install into a fresh prefix installs the headers"

# The .pc file lives in GNUInstallDirs' libdir: lib, lib64 or
# lib/<multiarch> depending on the platform and prefix; find it.
pc=$(find "$PREFIX" -name vortexc.pc | head -n 1)
[ -n "$pc" ] || fail "vortexc.pc installed" "$(find "$PREFIX" -type f)"
PCDIR=$(dirname "$pc")
LIBDIR=$(dirname "$PCDIR")
ls "$LIBDIR"/libvortexc.so* >/dev/null 2>&1 && [ -f "$LIBDIR/libvortexc.a" ] ||
    fail "libvortexc.so and libvortexc.a installed next to pkgconfig/" "$(ls -l "$LIBDIR")"
pass "vortexc.pc, libvortexc.so and libvortexc.a installed in ${LIBDIR#"$PREFIX"/}"

# The .pc file locates the prefix relative to itself, so it must work for a
# prefix chosen only at install time.
export PKG_CONFIG_PATH="$PCDIR"
PC="pkg-config"
$PC --exists vortexc || fail "pkg-config finds vortexc" "$($PC --print-errors vortexc 2>&1)"
cflags=$($PC --cflags vortexc)
libs=$($PC --libs vortexc)
slibs=$($PC --static --libs vortexc)
ver=$($PC --modversion vortexc)
incdir=$(realpath "$($PC --variable=includedir vortexc)")
pclibdir=$(realpath "$($PC --variable=libdir vortexc)")
[ "$incdir" = "$(realpath "$PREFIX/include")" ] || fail "includedir points at the prefix" "$incdir"
[ "$pclibdir" = "$(realpath "$LIBDIR")" ] || fail "libdir points at the install libdir" "$pclibdir"
case " $slibs " in *" -ldeflate "*) ;; *) fail "--static --libs adds libdeflate" "$slibs" ;; esac
grep -q "define VORTEXC_VERSION \"$ver\"" "$PREFIX/include/vortexc.h" ||
    fail "pkg-config version $ver matches VORTEXC_VERSION"
pass "pkg-config: cflags '$cflags', libs '$libs', static libs '$slibs', version $ver"

# What hello prints after its msg line (the msg bytes depend on the zlib level).
cat >"$T/want" <<'OUT'
json: {"_ct": "rp", "_c": "vortex.Payload.Payload", "filt": {"key": "demo.people"}, "replyFilt": {}, "tuples": [{"_ct": "rt", "_c": "demo.Person", "age": {"_ft": "int", "_fd": 36}, "name": "Ada", "tags": ["math"]}], "result": null, "date": {"_ft": "datetime", "_fd": "2024-03-05 10:11:12.000001"}}
Ada is 36
OUT

# check_hello BINARY DESC [env assignments]: run it and compare its output.
check_hello() {
    bin=$1
    desc=$2
    shift 2
    out=$(env "$@" "$bin" 2>&1) || fail "$desc runs" "$out"
    printf '%s\n' "$out" | sed -n '1p' | grep -q '^msg:  [A-Za-z0-9+/]\{20,\}=*$' ||
        fail "$desc prints a msg line" "$out"
    printf '%s\n' "$out" | sed '1d' >"$T/got"
    cmp -s "$T/got" "$T/want" || fail "$desc prints the decoded payload" "$out"
    printf '%s\n' "$out" | sed -n '1s/^msg:  //p' >"$T/msg"
}

# 1. Shared: exactly the README command line.
# shellcheck disable=SC2086 # $cflags/$libs are word lists
log=$($CC -std=c17 -Wall -Wextra -Werror $SAN "$SRC/examples/hello.c" $cflags $libs -o "$T/hello" 2>&1) ||
    fail "hello.c compiles against the installed shared library" "$log"
check_hello "$T/hello" "hello (shared)" LD_LIBRARY_PATH="$LIBDIR"
if command -v ldd >/dev/null; then
    LD_LIBRARY_PATH=$LIBDIR ldd "$T/hello" | grep -q "libvortexc\.so.* => $LIBDIR/" ||
        fail "hello (shared) loads libvortexc.so from the prefix" "$(LD_LIBRARY_PATH=$LIBDIR ldd "$T/hello")"
fi
pass "hello.c built with 'cc hello.c \$(pkg-config --cflags --libs vortexc)' runs with the shared library"

# 2. Static libvortexc: libvortexc.a plus --static --libs, which adds the
# private dependencies (libdeflate, zlib, wslay, ...) that the shared library
# hides. Those stay shared: Debian ships no static libwslay.
slibs=$(printf '%s \n' "$slibs" | sed "s|-lvortexc |$LIBDIR/libvortexc.a |")
# shellcheck disable=SC2086
log=$($CC -std=c17 -Wall -Wextra -Werror $SAN "$SRC/examples/hello.c" $cflags $slibs -o "$T/hello-static" 2>&1) ||
    fail "hello.c links statically with pkg-config --static --libs" "$log"
if command -v ldd >/dev/null && ldd "$T/hello-static" 2>&1 | grep -q libvortexc; then
    fail "the static hello does not need libvortexc.so" "$(ldd "$T/hello-static" 2>&1)"
fi
check_hello "$T/hello-static" "hello (static)" LD_LIBRARY_PATH=
pass "hello.c linked with libvortexc.a and \$(pkg-config --static --libs vortexc) runs without libvortexc.so"

# 3. The installed CLI decodes what the installed library encoded.
[ -x "$PREFIX/bin/vortex" ] || fail "vortex installed in bin/"
got=$("$PREFIX/bin/vortex" decode <"$T/msg" 2>&1) || fail "installed vortex decodes hello's msg" "$got"
[ "json: $got" = "$(sed -n 1p "$T/want")" ] || fail "installed vortex prints hello's JSON" "$got"
pass "the installed vortex CLI decodes hello's msg to the same JSON"

echo "$passed passed, 0 failed"
