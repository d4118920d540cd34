#!/bin/sh
# Black-box tests of the `vortex` CLI (tools/vortex, docs/cli.md).
# Usage: sh test_cli.sh <build_dir> <source_dir>   (CTest passes both)
# POSIX sh + coreutils, grep and sed only. Stops at the first failure.
set -u
BUILD=${1:?build dir}
SRC=${2:?source dir}
VORTEX=$BUILD/vortex
VEC=$SRC/tests/vectors/vortexpy-0.3.1.jsonl
TYPES=$SRC/tests/cli/types-test.json
# Vectors whose JSON VortexC does not reproduce byte for byte, by design
# (checked separately below): NaN/Infinity are refused (PROTOCOL §4.2), a
# bare date gains a time (§4.4), wrapped ints beyond int64 fail (§4.1).
NOT_IDENTICAL='tuples_nan_inf tuples_date_object tuples_ints tuples_mixed_everything'

[ -x "$VORTEX" ] || { echo "FAIL - $VORTEX not built"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vx-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
passed=0

pass() {
    passed=$((passed + 1))
    echo "ok $passed - $1"
}
fail() {
    echo "FAIL - $1"
    [ -s "$T/err" ] && sed 's/^/  stderr: /' "$T/err" | head -5
    [ $# -gt 1 ] && echo "  $2"
    echo "$passed passed, 1 failed"
    exit 1
}

# run INPUT_FILE ARGS...: run vortex; sets $rc, output in $T/out and $T/err.
run() {
    run_in=$1
    shift
    "$VORTEX" "$@" <"$run_in" >"$T/out" 2>"$T/err"
    rc=$?
}

# Vector fields, extracted once from the JSON-lines file with sed into three
# line-aligned files: names, msgs (plain base64) and JSON texts. A JSON text
# is a JSON string whose only escapes are \\ and \" (it is one ASCII line),
# undone with a newline as placeholder.
sed -n 's/^{"name": "\([^"]*\)".*/\1/p' "$VEC" >"$T/v.names"
sed -n 's/.*"vortexMsg": "\([^"]*\)".*/\1/p' "$VEC" >"$T/v.msgs"
sed -n 's/.*"json": "\(.*\)", "roundTrip".*/\1/p' "$VEC" | sed -e 's/\\\\/\
/g' -e 's/\\"/"/g' -e 's/\n/\\/g' >"$T/v.jsons"
nvec=$(wc -l <"$VEC")
[ "$nvec" -gt 40 ] && [ "$(wc -l <"$T/v.names")" -eq "$nvec" ] &&
    [ "$(wc -l <"$T/v.msgs")" -eq "$nvec" ] && [ "$(wc -l <"$T/v.jsons")" -eq "$nvec" ] ||
    fail "extract name, vortexMsg and json of every vector in $VEC"
vline_no() {
    vno=$(grep -n -x -F "$1" "$T/v.names" | cut -d: -f1)
    [ -n "$vno" ] || fail "vector $1 exists"
}
vmsg() {
    vline_no "$1"
    sed -n "${vno}p" "$T/v.msgs"
}
vjson() {
    vline_no "$1"
    sed -n "${vno}p" "$T/v.jsons"
}
# The reproducible vectors: all.in (msgs) and all.want (their JSON).
printf '%s\n' $NOT_IDENTICAL >"$T/skip"
grep -n -v -x -F -f "$T/skip" "$T/v.names" | sed 's/:.*/p/' >"$T/keep.sed"
sed -n -f "$T/keep.sed" "$T/v.msgs" >"$T/all.in"
sed -n -f "$T/keep.sed" "$T/v.jsons" >"$T/all.want"

# expect_json NAME: $T/out must be exactly the vector's JSON, one line.
expect_json() {
    vjson "$1" >"$T/want"
    cmp -s "$T/out" "$T/want" || fail "$2" "output differs from the $1 vector JSON"
}

# ---- help and usage -------------------------------------------------------
: >"$T/empty"
run "$T/empty" --help
[ $rc -eq 0 ] && grep -q '^Usage: vortex <command>' "$T/out" || fail "--help prints usage, exit 0"
pass "vortex --help prints usage and exits 0"
run "$T/empty" decode --help
[ $rc -eq 0 ] && grep -q -- '--stream' "$T/out" && grep -q -- '--types FILE' "$T/out" ||
    fail "decode --help"
pass "vortex decode --help lists --stream and --types"
run "$T/empty" encode --help
[ $rc -eq 0 ] && grep -q -- '--level N' "$T/out" || fail "encode --help"
pass "vortex encode --help lists --level"

usage_case() {
    desc=$1
    shift
    run "$T/empty" "$@"
    [ $rc -eq 2 ] || fail "usage error exits 2: $desc" "exit status was $rc"
    [ -s "$T/err" ] || fail "usage error is explained on stderr: $desc"
    [ -s "$T/out" ] && fail "usage error prints nothing on stdout: $desc"
    pass "usage error exits 2: $desc"
}
run "$T/empty"
[ $rc -eq 2 ] || fail "no command exits 2"
pass "usage error exits 2: no command"
usage_case "unknown command" frobnicate
usage_case "unknown option" decode --frob
usage_case "stray argument" decode file.txt
usage_case "--types without a value" decode --types
usage_case "--level on decode" decode --level 6
usage_case "--stream on encode" encode --stream
usage_case "--level 13" encode --level 13
usage_case "--level abc" encode --level abc
usage_case "--max-msg-bytes 0" decode --max-msg-bytes 0
usage_case "--max-msg-bytes -5" decode --max-msg-bytes -5
usage_case "--strict=yes" decode --strict=yes
usage_case "missing --types file" decode --types "$T/no-such-file.json"

# ---- --types files --------------------------------------------------------
echo '{"types": [{"name": "x.T", "feilds": {"a": 1}}]}' >"$T/typo.json"
usage_case "--types file with an unknown key" decode --types "$T/typo.json"
grep -q 'feilds' "$T/err" || fail "--types error names the unknown key"
echo '{"types": [{"name": "x.T", "fields": {"_a": 1}}]}' >"$T/under.json"
usage_case "--types field starting with _" decode --types "$T/under.json"
grep -q 'x.T' "$T/err" || fail "--types registration error names the type"
echo '{"types": [' >"$T/broken.json"
usage_case "--types file with bad JSON" decode --types "$T/broken.json"
grep -q 'VX_E_JSON' "$T/err" && grep -q 'broken.json' "$T/err" ||
    fail "--types JSON error names the code and the file"

# ---- decode vectors -------------------------------------------------------
for name in filt_key_string filt_int filt_float filt_unicode tuples_floats tuples_strings \
    tuples_dict_int_keys tuple_sqlalchemy_crud_item; do
    vmsg "$name" >"$T/in"
    [ -s "$T/in" ] || fail "vector $name found in $VEC"
    run "$T/in" decode
    [ $rc -eq 0 ] || fail "decode $name exits 0" "exit status $rc"
    expect_json "$name" "decode $name prints the vector JSON"
    pass "decode $name prints exactly the vortexpy JSON"
done

vmsg tuple_person_defaults >"$T/in"
run "$T/in" decode --types "$TYPES"
[ $rc -eq 0 ] || fail "decode --types tuple_person_defaults exits 0"
expect_json tuple_person_defaults "decode --types tuple_person_defaults"
pass "decode --types prints tuple_person_defaults exactly"

vmsg tuple_team_nested >"$T/in"
run "$T/in" decode --strict --types "$TYPES"
[ $rc -eq 0 ] || fail "decode --strict --types tuple_team_nested exits 0"
expect_json tuple_team_nested "decode --strict --types tuple_team_nested"
pass "decode --strict --types accepts registered nested tuples (tuple_team_nested)"

# Every vector at once: one msg per line in, one JSON line per msg out.
run "$T/all.in" decode --types "$TYPES"
[ $rc -eq 0 ] || fail "decode of every vector exits 0"
cmp -s "$T/out" "$T/all.want" || fail "decode of every vector" \
    "first difference: $(cmp "$T/out" "$T/all.want" 2>&1)"
pass "decode of all $(wc -l <"$T/all.want") reproducible vectors prints their exact JSON"

# The by-design differences, each with its documented outcome.
{ vmsg tuples_nan_inf; vmsg tuples_ints; vmsg tuples_mixed_everything; vmsg tuples_date_object; } >"$T/in"
run "$T/in" decode
[ $rc -eq 1 ] || fail "vectors VortexC refuses make decode exit 1"
grep -q '^vortex: msg 1: VX_E_JSON: ' "$T/err" && grep -q '^vortex: msg 2: VX_E_INT_RANGE: ' "$T/err" &&
    grep -q '^vortex: msg 3: VX_E_INT_RANGE: ' "$T/err" && [ "$(wc -l <"$T/err")" -eq 3 ] ||
    fail "NaN is VX_E_JSON and ints beyond int64 are VX_E_INT_RANGE"
vjson tuples_date_object | sed 's/"_fd": "2017-01-12"}/"_fd": "2017-01-12 00:00:00.000000"}/' >"$T/want"
cmp -s "$T/out" "$T/want" || fail "a bare date decodes as midnight UTC" "got: $(cat "$T/out")"
pass "vectors VortexC treats differently: NaN -> VX_E_JSON, int > int64 -> VX_E_INT_RANGE, date -> midnight"

# ---- errors: reported on stderr, the other msgs still printed --------------
{
    vmsg filt_key_string
    echo 'not*base64!'
    vmsg tuples_floats
    echo 'eJw='
    vmsg tuples_strings
} >"$T/in"
run "$T/in" decode
[ $rc -eq 1 ] || fail "a bad msg makes decode exit 1" "exit status $rc"
grep -q '^vortex: msg 2: VX_E_BASE64: ' "$T/err" || fail "stderr names msg 2 and VX_E_BASE64"
grep -q '^vortex: msg 4: VX_E_ZLIB: ' "$T/err" || fail "stderr names msg 4 and VX_E_ZLIB"
[ "$(wc -l <"$T/err")" -eq 2 ] || fail "exactly one stderr line per bad msg"
{ vjson filt_key_string; vjson tuples_floats; vjson tuples_strings; } >"$T/want"
cmp -s "$T/out" "$T/want" || fail "the good msgs around bad ones are still printed"
pass "bad msgs: exit 1, 'vortex: msg N: VX_E_BASE64/VX_E_ZLIB' on stderr, good msgs printed"

printf '%s\r\n\n   \n\r\n%s\n' "$(vmsg filt_key_string)" "$(vmsg tuples_floats)" >"$T/in"
run "$T/in" decode
{ vjson filt_key_string; vjson tuples_floats; } >"$T/want"
[ $rc -eq 0 ] && cmp -s "$T/out" "$T/want" || fail "CRLF line endings and blank lines"
pass "decode strips CR and skips blank lines"

printf '%s' "$(vmsg filt_key_string)" >"$T/in"
run "$T/in" decode
vjson filt_key_string >"$T/want"
[ $rc -eq 0 ] && cmp -s "$T/out" "$T/want" || fail "a last line without newline is decoded"
pass "decode reads a last line without a newline"

vmsg tuple_person_defaults >"$T/in"
run "$T/in" decode --strict
[ $rc -eq 1 ] || fail "--strict with an unregistered tuple exits 1" "exit status $rc"
grep -q '^vortex: msg 1: VX_E_UNKNOWN_TUPLE: .*test\.Person' "$T/err" ||
    fail "--strict error is VX_E_UNKNOWN_TUPLE naming test.Person"
[ -s "$T/out" ] && fail "--strict failure prints no JSON"
pass "decode --strict with an unregistered tuple fails with VX_E_UNKNOWN_TUPLE"

run "$T/in" decode
[ $rc -eq 0 ] || fail "lenient decode of an unregistered tuple"
expect_json tuple_person_defaults "lenient decode relays an unregistered tuple unchanged"
pass "decode without --strict relays an unregistered tuple unchanged"

vmsg filt_key_string >"$T/in"
run "$T/in" decode --max-msg-bytes 100
[ $rc -eq 1 ] && grep -q '^vortex: msg 1: VX_E_MSG_TOO_BIG: ' "$T/err" ||
    fail "--max-msg-bytes 100 rejects a 192-byte msg"
run "$T/in" decode --max-msg-bytes 192
[ $rc -eq 0 ] || fail "--max-msg-bytes 192 accepts a 192-byte msg"
pass "decode --max-msg-bytes: a msg over the limit fails with VX_E_MSG_TOO_BIG, one at it passes"

run "$T/in" decode --max-json-bytes 100
[ $rc -eq 1 ] && grep -q '^vortex: msg 1: VX_E_INFLATE_LIMIT: ' "$T/err" ||
    fail "--max-json-bytes 100 rejects 180 bytes of JSON"
pass "decode --max-json-bytes: too much JSON fails with VX_E_INFLATE_LIMIT"

# ---- --stream -------------------------------------------------------------
# Two 34 KB msgs push items across the reader's 64 KiB chunks; '..' is a
# bare-dot heartbeat; the last item has no '.' and is still decoded.
printf '.%s.%s..%s.%s.\n%s' "$(vmsg filt_key_string)" "$(vmsg tuples_1000_benchrow)" \
    "$(vmsg tuple_person_defaults)" "$(vmsg tuples_1000_benchrow)" \
    "$(vmsg tuples_strings)" >"$T/in"
run "$T/in" decode --stream --types "$TYPES"
{
    vjson filt_key_string
    vjson tuples_1000_benchrow
    vjson tuple_person_defaults
    vjson tuples_1000_benchrow
    vjson tuples_strings
} >"$T/want"
[ $rc -eq 0 ] || fail "decode --stream exits 0" "exit status $rc"
cmp -s "$T/out" "$T/want" || fail "decode --stream prints each msg of the stream"
pass "decode --stream splits a multi-msg stream (heartbeats, 64 KiB boundaries, last item)"

printf '%s.AAA*.%s.' "$(vmsg filt_key_string)" "$(vmsg tuples_floats)" >"$T/in"
run "$T/in" decode --stream
{ vjson filt_key_string; vjson tuples_floats; } >"$T/want"
[ $rc -eq 1 ] && grep -q '^vortex: msg 2: VX_E_BASE64: ' "$T/err" && cmp -s "$T/out" "$T/want" ||
    fail "a bad stream item is reported and skipped"
pass "decode --stream: a bad item gives VX_E_BASE64, the others are printed"

printf '%s.%s.%s.' "$(vmsg filt_key_string)" "$(vmsg tuples_1000_benchrow)" \
    "$(vmsg tuples_floats)" >"$T/in"
run "$T/in" decode --stream --max-msg-bytes 1000
{ vjson filt_key_string; vjson tuples_floats; } >"$T/want"
[ $rc -eq 1 ] && grep -q '^vortex: msg 2: VX_E_MSG_TOO_BIG: ' "$T/err" && cmp -s "$T/out" "$T/want" ||
    fail "an over-long stream item is skipped through the next '.'"
pass "decode --stream --max-msg-bytes skips an over-long item, later msgs still decode"

# ---- encode ---------------------------------------------------------------
cp "$T/all.want" "$T/json.in"
for args in "" "--level 0" "--level 9" "--compact" "--types $TYPES" "--level 1 --compact --types $TYPES"; do
    # shellcheck disable=SC2086 # word splitting of $args is intended
    run "$T/json.in" encode $args
    [ $rc -eq 0 ] || fail "encode $args exits 0" "exit status $rc"
    [ "$(wc -l <"$T/out")" -eq "$(wc -l <"$T/json.in")" ] || fail "encode $args: one msg per line"
    grep -qv '^[A-Za-z0-9+/]*=*$' "$T/out" && fail "encode $args prints only padded base64"
    cp "$T/out" "$T/msgs"
    run "$T/msgs" decode --types "$TYPES"
    [ $rc -eq 0 ] && cmp -s "$T/out" "$T/json.in" || fail "encode $args | decode round trip"
    pass "encode ${args:-(defaults)} | decode reproduces every vector JSON"
done

vmsg filt_key_string >"$T/in"
run "$T/in" decode --compact
grep -q '^{"_ct":"rp","_c":"vortex.Payload.Payload","filt":{"key":"test.echo"},' "$T/out" ||
    fail "decode --compact prints compact separators"
pass "decode --compact prints ',' and ':' separators"

{
    vjson filt_key_string
    echo '{"_ct": "rp", "filt": '
    echo '[1, 2]'
    vjson tuples_floats
} >"$T/in"
run "$T/in" encode
[ $rc -eq 1 ] || fail "a bad payload makes encode exit 1"
grep -q '^vortex: payload 2: VX_E_JSON: ' "$T/err" && grep -q '^vortex: payload 3: VX_E_NOT_OBJECT: ' "$T/err" ||
    fail "encode reports VX_E_JSON and VX_E_NOT_OBJECT with payload numbers"
[ "$(wc -l <"$T/out")" -eq 2 ] || fail "encode still prints the two good msgs"
pass "encode: bad payloads reported on stderr, good ones still encoded"

echo '{"_ct": "rp", "filt": {"_ct": 1}}' >"$T/in"
run "$T/in" encode
[ $rc -eq 1 ] || fail "encode of a filt with a _ct key exits 1"
[ -s "$T/out" ] && fail "encode of a filt with a _ct key prints nothing"
pass "encode: a filt holding a \"_ct\" key is refused"

echo '{"_ct": "rp", "tuples": [[[["x"]]]]}' >"$T/in"
run "$T/in" encode --max-msg-bytes 10
[ $rc -eq 1 ] && grep -q '^vortex: payload 1: VX_E_MSG_TOO_BIG: ' "$T/err" ||
    fail "encode --max-msg-bytes refuses a longer msg"
run "$T/in" encode --max-depth 4
[ $rc -eq 1 ] && grep -q '^vortex: payload 1: VX_E_DEPTH: ' "$T/err" ||
    fail "encode --max-depth 4 refuses 5 levels"
run "$T/in" encode --max-depth 5
[ $rc -eq 0 ] || fail "encode --max-depth 5 accepts 5 levels"
pass "encode limits: --max-msg-bytes gives VX_E_MSG_TOO_BIG, --max-depth VX_E_DEPTH"

# Typed defaults: a tuple that arrives without fields gets the defaults of
# the --types file, decoded with the wire typing rules.
cat >"$T/dt.json" <<'JSON'
{"types": [{"name": "x.Event", "fields": {"when": {"_ft": "datetime", "_fd": "2020-02-03T04:05:06Z"},
  "n": {"_ft": "int", "_fd": "7"}, "ratio": 1.5, "label": "none"}}]}
JSON
echo '{"_ct": "rp", "tuples": [{"_ct": "rt", "_c": "x.Event", "label": "set"}]}' >"$T/in"
run "$T/in" encode --types "$T/dt.json"
[ $rc -eq 0 ] || fail "encode with a typed-default --types file"
cp "$T/out" "$T/msgs"
run "$T/msgs" decode
want='{"_ct": "rp", "_c": "vortex.Payload.Payload", "filt": {}, "replyFilt": {}, "tuples": [{"_ct": "rt", "_c": "x.Event", "label": "set", "n": {"_ft": "int", "_fd": 7}, "ratio": 1.5, "when": {"_ft": "datetime", "_fd": "2020-02-03 04:05:06.000000"}}], "result": null, "date": null}'
[ $rc -eq 0 ] && [ "$(cat "$T/out")" = "$want" ] || fail "--types defaults use the wire typing rules" "got: $(cat "$T/out")"
pass "--types field defaults are typed values (datetime, wrapped int) filled in on encode"

echo '{"_ct": "rp", "tuples": [{"_ct": "rt", "_c": "x.Event", "colour": "red"}]}' >"$T/in"
run "$T/in" encode --strict --types "$T/dt.json"
[ $rc -eq 1 ] && grep -q 'VX_E_TUPLE_FIELD' "$T/err" || fail "encode --strict rejects an unknown tuple field"
pass "encode --strict --types: an unknown tuple field fails with VX_E_TUPLE_FIELD"

echo "$passed passed, 0 failed"
