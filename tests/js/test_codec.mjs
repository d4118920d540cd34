// web/vortex.js codec against the vortexpy 0.3.1 vectors and PROTOCOL §2-§6,
// mirroring tests/unit/test_vectors.c and test_msg.c: the same vectors, the same
// expected codes and the same listed deltas from vortexpy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import * as vx from '../../web/vortex.js';
import { loadVectors, findNamed, testRegistry, codeOf } from './helpers.mjs';

const MAIN = loadVectors('vortexpy-0.3.1.jsonl');
const ERRORS = loadVectors('vortexpy-0.3.1-decode-errors.jsonl');
const LENIENT = loadVectors('vortexpy-0.3.1-decode-lenient.jsonl');
const ENCERR = loadVectors('vortexpy-0.3.1-encode-errors.jsonl');
const { registry, types } = testRegistry();
const opts = (strict = false) => ({ registry, strict });
const b64 = (buf) => Buffer.from(buf).toString('base64');
const msgOfJson = (json, level = 9) => b64(zlib.deflateSync(Buffer.from(json), { level }));
const dt = (y, mo, d, h = 0, mi = 0, s = 0, us = 0) => vx.VxDateTime.fromParts(y, mo, d, h, mi, s, us).toVortexString();

test('vector files load', () => {
  assert.equal(MAIN.length, 46);
  assert.equal(ERRORS.length, 41);
  assert.equal(LENIENT.length, 19);
  assert.equal(ENCERR.length, 7);
});

// ---- C-04: the 46 payload vectors -------------------------------------------------

// Where VortexC differs from vortexpy (same table as test_vectors.c): the code
// both decoders must give, and patches to the vector JSON giving the exact
// re-encoding (code 0) or the in-range remainder that must re-encode to itself.
const VEC_DELTAS = {
  tuples_ints: { code: 'VX_E_INT_RANGE', patch: [['9223372036854775808', '9223372036854775807'], ['18446744073709551621', '-9223372036854775808'],
    [', {"_ft": "int", "_fd": 1180591620717411303424}', '']] },
  tuples_mixed_everything: { code: 'VX_E_INT_RANGE', patch: [['{"_ft": "int", "_fd": 100000000000000000000}, ', '']] },
  tuples_nan_inf: { code: 'VX_E_JSON', patch: [] },
  tuples_date_object: { code: 0, patch: [['"_fd": "2017-01-12"}', '"_fd": "2017-01-12 00:00:00.000000"}']] },
};

function applyPatches(json, patch) {
  for (const [from, to] of patch) {
    assert.ok(json.includes(from), `patch "${from}" matches nothing`);
    json = json.split(from).join(to);
  }
  return json;
}

test('C-04 vortexpy vectors decode and re-encode', async () => {
  for (const name of Object.keys(VEC_DELTAS)) findNamed(MAIN, name);
  const failures = [];
  for (const rec of MAIN) {
    const d = VEC_DELTAS[rec.name];
    const want = d ? d.code : 0;
    const gotMsg = await codeOf(() => vx.decodeMsg(rec.vortexMsg, opts()));
    const gotJson = await codeOf(() => vx.decodeJson(rec.json, opts()));
    if (gotMsg !== want || gotJson !== want) { failures.push(`${rec.name}: want ${want}, got msg ${gotMsg} json ${gotJson}`); continue; }
    if (want) {
      if (d.patch.length) {
        const fixed = applyPatches(rec.json, d.patch);
        const again = vx.encodeJson(vx.decodeJson(fixed, opts()), opts());
        if (again !== fixed) failures.push(`${rec.name}: patched remainder does not re-encode to itself`);
      }
      continue;
    }
    const pm = await vx.decodeMsg(rec.vortexMsg, opts());
    const pj = vx.decodeJson(rec.json, opts());
    const expect = applyPatches(rec.json, d ? d.patch : []);
    const em = vx.encodeJson(pm, opts()), ej = vx.encodeJson(pj, opts());
    if (em !== ej) failures.push(`${rec.name}: msg and JSON decodes differ`);
    if (ej !== expect) failures.push(`${rec.name}: re-encoded JSON differs\n want ${expect.slice(0, 200)}\n got  ${ej.slice(0, 200)}`);
    // Our own msg round-trips to the same payload.
    const back = await vx.decodeMsg(await vx.encodeMsg(pm, opts()), opts());
    if (vx.encodeJson(back, opts()) !== em) failures.push(`${rec.name}: msg round trip differs`);
  }
  assert.deepEqual(failures, []);
});

test('C-04 decoded values of particular vectors', async () => {
  const get = async (name) => vx.decodeMsg(findNamed(MAIN, name).vortexMsg, opts());
  let p = await get('tuples_date_object');
  assert.ok(p.tuples[0] instanceof vx.VxDateTime);
  assert.equal(p.tuples[0].toVortexString(), dt(2017, 1, 12));
  p = await get('tuple_datawrap'); // C-30: unregistered -> untyped tuple
  assert.ok(p.tuples[0] instanceof vx.VxTuple);
  assert.equal(p.tuples[0]._tupleType, 'c.s.r.datawraptuple');
  for (const name of ['tuple_person_defaults', 'tuple_person_populated', 'tuple_address', 'tuple_team_nested', 'tuple_benchrow', 'tuple_sqlalchemy_crud_item']) {
    for (const t of (await get(name)).tuples) {
      if (vx.tupleTypeName(t) === null) continue;
      assert.equal(t.constructor, registry.get(vx.tupleTypeName(t)), `${name}: ${vx.tupleTypeName(t)} not its registered class`);
    }
  }
  p = await get('tuple_person_populated');
  assert.ok(p.tuples[0] instanceof types.Person);
  p = await get('tuples_1000_benchrow');
  assert.equal(p.tuples.length, 1000);
  assert.ok(p.tuples.every((t) => t instanceof types.BenchRow));
  p = await get('tuples_floats');
  assert.equal(p.tuples[9], 5e-324);
  assert.ok(Object.is(p.tuples[11].valueOf(), -0));
  p = await get('filt_int');
  assert.ok(Object.values(p.filt).some((v) => typeof v === 'number' && Number.isInteger(v)));
  p = await get('tuples_datetimes');
  assert.ok(p.tuples.every((t) => t instanceof vx.VxDateTime));
  assert.equal(p.date.toVortexString(), '2017-01-12 14:24:42.123456');
  assert.equal(p.date.usec, 456);
});

// ---- decode errors -------------------------------------------------------------------

// Same table as test_vectors.c k_err_cases.
const ERR_CASES = {
  b64_incorrect_padding: 'VX_E_BASE64', b64_one_extra_char: 'VX_E_BASE64', b64_truncated_good_msg: 'VX_E_BASE64',
  b64_non_ascii_str: 'VX_E_BASE64', b64_padding_in_middle: 'VX_E_BASE64', zlib_empty_input: 'VX_E_ZLIB',
  zlib_only_padding: 'VX_E_BASE64', zlib_not_zlib: 'VX_E_GENERATION', zlib_raw_deflate: 'VX_E_ZLIB',
  zlib_gzip_wrapped: 'VX_E_ZLIB', zlib_truncated: 'VX_E_ZLIB', zlib_bad_adler32: 'VX_E_ZLIB',
  zlib_bad_header_checksum: 'VX_E_ZLIB', utf8_invalid: 'VX_E_UTF8', json_empty_text: 'VX_E_JSON',
  json_truncated: 'VX_E_JSON', json_garbage: 'VX_E_JSON', json_single_quotes: 'VX_E_JSON',
  json_trailing_comma: 'VX_E_JSON', json_extra_data: 'VX_E_JSON', json_deep_nesting: 'VX_E_DEPTH',
  struct_top_level_list: 'VX_E_NOT_OBJECT', struct_top_level_null: 'VX_E_NOT_OBJECT',
  struct_top_level_string: 'VX_E_NOT_OBJECT', struct_missing_ct: 'VX_E_CT_MISSING', struct_wrong_ct_rt: 'VX_E_CT_WRONG',
  struct_wrong_ct_other: 'VX_E_CT_WRONG', tuple_missing_c: 'VX_E_TUPLE_NO_TYPE', tuple_field_bad_ft: 'VX_E_UNKNOWN_FT',
  field_unknown_ft: 'VX_E_UNKNOWN_FT', field_int_not_numeric: 'VX_E_BAD_VALUE', field_float_not_numeric: 'VX_E_BAD_VALUE',
  field_datetime_not_string: 'VX_E_BAD_VALUE', field_geom: 'VX_E_UNSUPPORTED', field_generic_class: 'VX_E_UNSUPPORTED',
  field_ft_missing_fd: 'VX_E_BAD_VALUE', payload_date_bad: 'VX_E_BAD_VALUE',
};
const ERR_ACCEPTED = ['field_datetime_no_micro', 'field_datetime_iso_T', 'tuple_field_bad_datetime', 'tuple_unknown_type'];

test('decode error vectors rejected with their stage code (lenient and strict)', async () => {
  for (const name of [...Object.keys(ERR_CASES), ...ERR_ACCEPTED]) findNamed(ERRORS, name);
  const failures = [];
  for (const rec of ERRORS) {
    const want = ERR_CASES[rec.name];
    if (!want) { if (!ERR_ACCEPTED.includes(rec.name)) failures.push(`${rec.name}: in no table`); continue; }
    for (const strict of [false, true]) {
      const got = await codeOf(() => vx.decodeMsg(rec.vortexMsg, opts(strict)));
      if (got !== want) failures.push(`${rec.name} (${strict ? 'strict' : 'lenient'}): want ${want}, got ${got}`);
    }
  }
  assert.deepEqual(failures, []);
  const e = await vx.decodeMsg(findNamed(ERRORS, 'b64_truncated_good_msg').vortexMsg).catch((x) => x);
  assert.ok(e instanceof vx.DecodeError && e instanceof Error && e.errno === 2);
});

test('C-23 datetime forms vortexpy rejects are accepted', async () => {
  for (const name of ['field_datetime_no_micro', 'field_datetime_iso_T']) {
    for (const strict of [false, true]) {
      const p = await vx.decodeMsg(findNamed(ERRORS, name).vortexMsg, opts(strict));
      assert.equal(p.tuples.length, 1);
      assert.equal(p.tuples[0].toVortexString(), dt(2017, 1, 12, 14, 24, 42));
      assert.equal(p.date, null);
    }
  }
  const p = await vx.decodeMsg(findNamed(ERRORS, 'tuple_field_bad_datetime').vortexMsg, opts());
  assert.ok(p.tuples[0] instanceof types.Person);
  assert.equal(p.tuples[0].born.toVortexString(), dt(2017, 1, 12));
  assert.equal(p.tuples[0].name, 'anon');
});

test('C-30 C-31 unknown tuple type: untyped when lenient, named error when strict', async () => {
  const msg = findNamed(ERRORS, 'tuple_unknown_type').vortexMsg;
  const p = await vx.decodeMsg(msg, opts());
  const t = p.tuples[0];
  assert.ok(t instanceof vx.VxTuple);
  assert.equal(vx.tupleTypeName(t), 'no.such.Tuple');
  assert.deepEqual(Object.keys(t), ['x']);
  assert.equal(t.x, 1);
  assert.equal(vx.encodeValue(t), '{"_ct": "rt", "_c": "no.such.Tuple", "x": {"_ft": "int", "_fd": 1}}');
  const e = await vx.decodeMsg(msg, opts(true)).catch((x) => x);
  assert.equal(e.code, 'VX_E_UNKNOWN_TUPLE');
  assert.match(e.message, /no\.such\.Tuple/);
});

// ---- lenient inputs ------------------------------------------------------------------

const DATE_123456 = '{"_ft": "datetime", "_fd": "2017-01-12 14:24:42.123456"}';
const HEAD = '{"_ct": "rp", "_c": "vortex.Payload.Payload", ';
const ECHO_JSON = HEAD + `"filt": {"key": "test.echo"}, "replyFilt": {}, "tuples": [], "result": null, "date": ${DATE_123456}}`;
const EMPTY_NULL_DATE = HEAD + '"filt": {}, "replyFilt": {}, "tuples": [], "result": null, "date": null}';
const PERSON_DEFAULTS = '{"_ct": "rt", "_c": "test.Person", "active": true, "age": {"_ft": "int", "_fd": 0}, "born": null, ' +
  '"email": null, "name": "anon", "score": 0.0, "tags": []}';
const TUPLES_ONLY = (t) => HEAD + `"filt": {}, "replyFilt": {}, "tuples": ${t}, "result": null, "date": null}`;
const K_FILT = HEAD + '"filt": {"key": "k"}, "replyFilt": {}, "tuples": [], "result": null, "date": null}';

// Same table as test_vectors.c k_lenient: [lenient code, strict code, exact re-encoding].
const LENIENT_CASES = {
  b64_garbage_chars_ignored: ['VX_E_BASE64', 'VX_E_BASE64'],
  b64_trailing_dot: ['VX_E_BASE64', 'VX_E_BASE64'],
  b64_whitespace: [0, 0, ECHO_JSON],
  zlib_trailing_garbage: ['VX_E_ZLIB', 'VX_E_ZLIB'],
  zlib_level0: [0, 0, HEAD + `"filt": {}, "replyFilt": {}, "tuples": [], "result": null, "date": ${DATE_123456}}`],
  json_minimal: [0, 0, EMPTY_NULL_DATE],
  json_unknown_field: [0, 0, K_FILT],
  json_underscore_fields_skipped: [0, 0, EMPTY_NULL_DATE],
  json_no_spaces: [0, 0, HEAD + '"filt": {"key": "k"}, "replyFilt": {}, "tuples": [{"_ft": "int", "_fd": 5}], "result": null, "date": null}'],
  field_int_as_string: [0, 0, TUPLES_ONLY('[{"_ft": "int", "_fd": 5}]')],
  field_float_integral_collapses: [0, 0, TUPLES_ONLY('[2.0]')],
  field_bool_string: ['VX_E_BAD_VALUE', 'VX_E_BAD_VALUE'],
  field_str_ft: [0, 0, TUPLES_ONLY('["x"]')],
  tuple_unknown_field: [0, 'VX_E_TUPLE_FIELD', TUPLES_ONLY(`[${PERSON_DEFAULTS}]`)],
  tuple_missing_fields: [0, 0, TUPLES_ONLY(`[${PERSON_DEFAULTS}]`)],
  dict_numeric_string_keys: [0, 0, TUPLES_ONLY('[{"1": "a", "1.5": "b", "1e3": "c", "nan": "d", "x": "e"}]')],
  json_nan_literal: ['VX_E_JSON', 'VX_E_JSON'],
  json_duplicate_keys: [0, 'VX_E_JSON', HEAD + '"filt": {"key": "b"}, "replyFilt": {}, "tuples": [], "result": null, "date": null}'],
  ct_payload_c_ignored: [0, 0, K_FILT],
};

test('lenient vectors as PROTOCOL says (lenient and strict)', async () => {
  for (const name of Object.keys(LENIENT_CASES)) findNamed(LENIENT, name);
  const failures = [];
  for (const rec of LENIENT) {
    const c = LENIENT_CASES[rec.name];
    if (!c) { failures.push(`${rec.name}: in no table`); continue; }
    for (const strict of [false, true]) {
      const want = c[strict ? 1 : 0];
      const got = await codeOf(() => vx.decodeMsg(rec.vortexMsg, opts(strict)));
      if (got !== want) { failures.push(`${rec.name} (${strict ? 'strict' : 'lenient'}): want ${want}, got ${got}`); continue; }
      if (!got) {
        const json = vx.encodeJson(await vx.decodeMsg(rec.vortexMsg, opts(strict)), opts());
        if (json !== c[2]) failures.push(`${rec.name}: re-encoded\n want ${c[2]}\n got  ${json}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('lenient vectors: decoded values (C-14, C-17, C-19, C-20, C-26)', async () => {
  const get = (name) => vx.decodeMsg(findNamed(LENIENT, name).vortexMsg, opts());
  let p = await get('json_minimal');
  assert.equal(p.date, null);
  assert.equal(p.result, null);
  assert.ok(p.isEmpty());
  p = await get('field_float_integral_collapses');
  assert.ok(p.tuples[0] instanceof vx.VxFloat);
  assert.equal(p.tuples[0].value, 2);
  p = await get('field_int_as_string');
  assert.equal(p.tuples[0], 5);
  p = await get('dict_numeric_string_keys');
  assert.deepEqual(Object.keys(p.tuples[0]).sort(), ['1', '1.5', '1e3', 'nan', 'x']);
  p = await get('json_duplicate_keys');
  assert.deepEqual(p.filt, { key: 'b' });
  p = vx.decodeJson('{"_ct": "rp", "tuples": [{"_ft": "bool", "_fd": "1"}, {"_ft": "bool", "_fd": "0"}, ' +
    '{"_ft": "bool", "_fd": true}, {"_ft": "bool", "_fd": false}]}');
  assert.deepEqual(p.tuples, [true, false, true, false]);
});

test('b64_trailing_dot: the stream splitter strips the delimiter, then it decodes', async () => {
  const msg = findNamed(LENIENT, 'b64_trailing_dot').vortexMsg;
  const items = [];
  const s = new vx.Splitter((i) => items.push(i));
  s.feed(msg.slice(0, 10));
  s.feed(msg.slice(10));
  assert.equal(s.finish(), '');
  assert.deepEqual(items, [msg.slice(0, -1)]);
  assert.equal(vx.encodeJson(await vx.decodeMsg(items[0], opts())), ECHO_JSON);
});

// ---- encode errors ---------------------------------------------------------------------

test('C-21 encode-error vectors expressible in JS encode', () => {
  // dict_bool_key/dict_tuple_key/object_value/complex_value: JS has no such keys or
  // types that reach the wire without a string conversion; ordereddict_value: a Map
  // keeps its order; bool_subclass_int_enum: an int; bytes_value: VortexC encodes bytes.
  for (const n of ['dict_bool_key', 'dict_tuple_key', 'bytes_value', 'object_value', 'complex_value', 'ordereddict_value', 'bool_subclass_int_enum']) findNamed(ENCERR, n);
  const p = new vx.Payload({ tuples: [new Uint8Array([0, 0xff, 0x10]), new Map([['z', 1], ['a', 2]]), 3], date: null });
  const json = vx.encodeJson(p);
  assert.equal(json, HEAD + '"filt": {}, "replyFilt": {}, "tuples": [{"_ft": "bytes", "_fd": "AP8Q"}, {"z": {"_ft": "int", "_fd": 1}, ' +
    '"a": {"_ft": "int", "_fd": 2}}, {"_ft": "int", "_fd": 3}], "result": null, "date": null}');
  const back = vx.decodeJson(json);
  assert.deepEqual([...back.tuples[0]], [0, 0xff, 0x10]);
  assert.equal(vx.encodeJson(back), json);
});

// ---- msg layer (test_msg.c) -----------------------------------------------------------

test('C-01 C-02 msg is padded base64 of zlib of ASCII-only JSON', async () => {
  const p = new vx.Payload({ filt: { key: 'caf\u00e9 \u{1F600}' }, tuples: ['\u65e5'] });
  const msg = await vx.encodeMsg(p);
  assert.match(msg, /^[A-Za-z0-9+/]*={0,2}$/);
  assert.equal(msg.length % 4, 0);
  const raw = Buffer.from(msg, 'base64');
  assert.equal(raw[0], 0x78);
  assert.equal((raw[0] * 256 + raw[1]) % 31, 0);
  const json = zlib.inflateSync(raw).toString('latin1');
  assert.ok(/^[\x00-\x7f]*$/.test(json));
  assert.ok(json.includes('caf\\u00e9 \\ud83d\\ude00'));
  assert.ok(json.startsWith('{"_ct": "rp", "_c": "vortex.Payload.Payload", "filt": '));
  assert.equal((await vx.decodeMsg(msg)).filt.key, 'caf\u00e9 \u{1F600}');
});

test('C-03 C-05 every separator style and zlib level decode', async () => {
  const texts = ['{"_ct":"rp","filt":{"key":"k"},"tuples":[1]}', '{ "_ct" : "rp" ,\n\t"filt" : { "key" : "k" } , "tuples" : [ 1 ] }'];
  for (const t of texts) {
    for (let level = 0; level <= 9; level++) {
      const p = await vx.decodeMsg(msgOfJson(t, level));
      assert.deepEqual(p.filt, { key: 'k' });
      assert.deepEqual(p.tuples, [1]);
    }
  }
  assert.equal(vx.encodeJson(new vx.Payload({ filt: { a: [1] }, date: null }), { compact: true }),
    '{"_ct":"rp","_c":"vortex.Payload.Payload","filt":{"a":[{"_ft":"int","_fd":1}]},"replyFilt":{},"tuples":[],"result":null,"date":null}');
});

test('C-06 non-alphabet character or 4n+1 length is VX_E_BASE64; whitespace skipped', async () => {
  const msg = await vx.encodeMsg(new vx.Payload({ filt: { key: 'x' } }));
  const bad = msg.slice(0, 10) + '!' + msg.slice(11);
  const e = await vx.decodeMsg(bad).catch((x) => x);
  assert.equal(e.code, 'VX_E_BASE64');
  assert.match(e.message, /character 10/);
  assert.equal(await codeOf(() => vx.decodeMsg(msg + 'A')), 'VX_E_BASE64');
  assert.equal(await codeOf(() => vx.decodeMsg(msg + '.')), 'VX_E_BASE64');
  assert.equal(await codeOf(() => vx.decodeMsg('\n' + msg.slice(0, 5) + '\r' + msg.slice(5) + ' ')), 0);
});

test('C-07 raw deflate, gzip, bad Adler-32, trailing bytes, truncation are VX_E_ZLIB', async () => {
  const json = Buffer.from('{"_ct": "rp", "filt": {}, "tuples": [], "result": null}');
  const z = zlib.deflateSync(json);
  assert.equal(await codeOf(() => vx.decodeMsg(b64(z))), 0);
  assert.equal(await codeOf(() => vx.decodeMsg(b64(zlib.deflateRawSync(json)))), 'VX_E_ZLIB');
  assert.equal(await codeOf(() => vx.decodeMsg(b64(zlib.gzipSync(json)))), 'VX_E_ZLIB');
  assert.equal(await codeOf(() => vx.decodeMsg(b64('[1, 2, 3]'))), 'VX_E_ZLIB');
  const adler = Buffer.from(z);
  adler[adler.length - 1] ^= 1;
  assert.equal(await codeOf(() => vx.decodeMsg(b64(adler))), 'VX_E_ZLIB');
  const trail = await vx.decodeMsg(b64(Buffer.concat([z, Buffer.from([0])]))).catch((x) => x);
  assert.equal(trail.code, 'VX_E_ZLIB');
  assert.equal(await codeOf(() => vx.decodeMsg(b64(Buffer.concat([z, z])))), 'VX_E_ZLIB');
  for (let cut = 0; cut < z.length; cut++) assert.equal(await codeOf(() => vx.decodeMsg(b64(z.subarray(0, cut)))), 'VX_E_ZLIB', `cut ${cut}`);
  assert.equal(await codeOf(() => vx.decodeMsg('')), 'VX_E_ZLIB');
  assert.equal(await codeOf(() => vx.decodeMsg(b64([0x78, 0xbb, 3, 0, 0, 0, 0, 1]))), 'VX_E_ZLIB'); // preset dictionary
  assert.equal(await codeOf(() => vx.decodeMsg(b64([0x78, 0x9d, 3, 0, 0, 0, 0, 1]))), 'VX_E_ZLIB'); // bad FCHECK
});

test('C-08 a zip bomb stops at max_json_bytes', async () => {
  const bomb = zlib.deflateSync(Buffer.alloc(20 * 1024 * 1024, 32), { level: 9 });
  const msg = b64(bomb);
  assert.ok(msg.length < 100000);
  assert.equal(await codeOf(() => vx.decodeMsg(msg, { maxJsonBytes: 1000 })), 'VX_E_INFLATE_LIMIT');
  assert.equal(await codeOf(() => vx.decodeMsg(msg, { maxJsonBytes: 0 })), 'VX_E_INFLATE_LIMIT');
  // The limit is exact: N bytes of JSON pass with N and fail with N-1.
  const p = new vx.Payload({ filt: { key: 'k' }, tuples: ['x'.repeat(500)] });
  const n = vx.encodeJson(p).length, m = await vx.encodeMsg(p);
  assert.equal(await codeOf(() => vx.decodeMsg(m, { maxJsonBytes: n })), 0);
  assert.equal(await codeOf(() => vx.decodeMsg(m, { maxJsonBytes: n - 1 })), 'VX_E_INFLATE_LIMIT');
  assert.equal(await codeOf(() => vx.encodeMsg(p, { maxJsonBytes: n - 1 })), 'VX_E_MSG_TOO_BIG');
});

test('C-09 a msg over max_msg_bytes fails before base64', async () => {
  assert.equal(await codeOf(() => vx.decodeMsg('!'.repeat(101), { maxMsgBytes: 100 })), 'VX_E_MSG_TOO_BIG');
  assert.equal(await codeOf(() => vx.decodeMsg('!'.repeat(100), { maxMsgBytes: 100 })), 'VX_E_BASE64');
  assert.equal(await codeOf(() => vx.decodeMsg('{' + '!'.repeat(100), { maxMsgBytes: 100 })), 'VX_E_MSG_TOO_BIG');
  assert.equal(await codeOf(() => vx.encodeMsg(new vx.Payload({ tuples: ['abc'] }), { maxMsgBytes: 16 })), 'VX_E_MSG_TOO_BIG');
});

test('C-84 C-85 gen2 msgs fail with VX_E_GENERATION', async () => {
  const env = '{"_ct": "rpe", "filt": {"key": "a"}, "data": null}';
  const e = await vx.decodeMsg(env).catch((x) => x);
  assert.equal(e.code, 'VX_E_GENERATION');
  assert.match(e.message, /gen2/);
  assert.equal(await codeOf(() => vx.decodeMsg(b64(env))), 'VX_E_GENERATION');
  assert.equal(await codeOf(() => vx.decodeMsg('eA==')), 'VX_E_ZLIB');
  assert.equal(await codeOf(() => vx.decodeMsg('H4sIAAAA')), 'VX_E_ZLIB');
});

// ---- JSON and values (§3-§5) ---------------------------------------------------------

const dj = (t, o) => vx.decodeJson(`{"_ct": "rp", "tuples": [${t}]}`, o).tuples[0];

test('C-10 C-11 C-12 C-13 JSON and structure errors', async () => {
  assert.equal(await codeOf(() => vx.decodeJson('{"_ct": "rp", "tuples": [NaN]}')), 'VX_E_JSON');
  assert.equal(await codeOf(() => vx.decodeJson('{"_ct": "rp"')), 'VX_E_JSON');
  assert.equal(await codeOf(() => vx.decodeJson('{"_ct": "rp", "filt": {"k": "\\ud800"}}')), 'VX_E_JSON');
  assert.equal(await codeOf(() => vx.decodeMsg(b64(zlib.deflateSync(Buffer.from([0x7b, 0xff, 0x7d]))))), 'VX_E_UTF8');
  const deep = (n) => '{"_ct": "rp", "tuples": ' + '['.repeat(n) + ']'.repeat(n) + '}';
  assert.equal(await codeOf(() => vx.decodeJson(deep(63))), 0); // 64 levels with the payload
  assert.equal(await codeOf(() => vx.decodeJson(deep(64))), 'VX_E_DEPTH');
  assert.equal(await codeOf(() => vx.decodeJson('['.repeat(100000))), 'VX_E_DEPTH');
  assert.equal(await codeOf(() => vx.decodeJson('['.repeat(100000), { maxDepth: 1e9 })), 'VX_E_JSON'); // no stack overflow
  assert.equal(await codeOf(() => vx.decodeJson('[1]')), 'VX_E_NOT_OBJECT');
  assert.equal(await codeOf(() => vx.decodeJson('{"filt": {}}')), 'VX_E_CT_MISSING');
  assert.equal(await codeOf(() => vx.decodeJson('{"_ct": "rt", "_c": "x"}')), 'VX_E_CT_WRONG');
  for (const [t, field] of [['"filt": "x"', 'filt'], ['"tuples": {}', 'tuples'], ['"replyFilt": [1]', 'replyFilt'], ['"date": "2017-01-01"', 'date']]) {
    const e = await Promise.resolve().then(() => vx.decodeJson(`{"_ct": "rp", ${t}}`)).catch((x) => x);
    assert.equal(e.code, 'VX_E_FIELD_TYPE');
    assert.ok(e.message.includes(`"${field}"`), e.message);
  }
});

test('C-14 C-15 defaults, unknown keys ignored, key order', () => {
  const p = vx.decodeJson('{"tuples": [], "evil": 1, "_ct": "rp", "__proto__": {"x": 1}}');
  assert.deepEqual([p.filt, p.replyFilt, p.tuples, p.result, p.date], [{}, {}, [], null, null]);
  assert.equal(Object.keys(p).join(), 'filt,replyFilt,tuples,result,date');
  const json = vx.encodeJson(new vx.Payload({ result: true, filt: { key: 'k' } }));
  assert.match(json, /^\{"_ct": "rp", "_c": "vortex.Payload.Payload", "filt": \{"key": "k"\}, "replyFilt": \{\}, "tuples": \[\], "result": true, "date": \{"_ft": "datetime", "_fd": "\d{4}-/);
});

test('C-16 C-17 ints, floats and bools kept apart', () => {
  assert.equal(vx.encodeValue([5, true, 2.5, vx.vxFloat(2), -0, 2 ** 60, 2n ** 60n]),
    '[{"_ft": "int", "_fd": 5}, true, 2.5, 2.0, -0.0, 1.152921504606847e+18, {"_ft": "int", "_fd": 1152921504606846976}]');
  assert.equal(dj('3'), 3);
  assert.equal(dj('2.5'), 2.5);
  assert.ok(dj('1e3') instanceof vx.VxFloat && dj('1e3').value === 1000);
  assert.ok(dj('{"_ft": "float", "_fd": "2.0"}') instanceof vx.VxFloat);
  assert.equal(dj('{"_ft": "float", "_fd": 2.5}'), 2.5);
  assert.equal(dj('9007199254740993'), 9007199254740993n); // beyond 2^53: BigInt
  assert.equal(dj('{"_ft": "int", "_fd": -9223372036854775808}'), -(2n ** 63n));
  assert.ok(dj('9223372036854775808') instanceof vx.VxFloat); // bare, beyond int64: float
  assert.equal(vx.encodeValue(dj('{"_ft": "int", "_fd": 9007199254740993}')), '{"_ft": "int", "_fd": 9007199254740993}');
});

test('C-18 NaN and Infinity are refused naming the key', async () => {
  for (const bad of [NaN, Infinity, -Infinity, vx.vxFloat(NaN)]) {
    const e = await Promise.resolve().then(() => vx.encodeJson(new vx.Payload({ filt: { key: 'k', price: bad } }))).catch((x) => x);
    assert.equal(e.code, 'VX_E_NONFINITE');
    assert.match(e.message, /filt\.price/);
  }
  assert.equal(await codeOf(() => vx.encodeValue(2n ** 63n)), 'VX_E_INT_RANGE');
});

test('C-19 C-20 wrapped ints and bools', async () => {
  assert.equal(dj('{"_ft": "int", "_fd": "5"}'), 5);
  assert.equal(dj('{"_ft": "int", "_fd": "-12"}'), -12);
  assert.equal(dj('{"_ft": "int", "_fd": 5.0}'), 5);
  assert.equal(dj('{"_ft": "int", "_fd": 5e2}'), 500);
  assert.equal(await codeOf(() => dj('{"_ft": "int", "_fd": 5.7}')), 'VX_E_BAD_VALUE');
  assert.equal(await codeOf(() => dj('{"_ft": "int", "_fd": "5.0"}')), 'VX_E_BAD_VALUE');
  assert.equal(await codeOf(() => dj('{"_ft": "int", "_fd": 9223372036854775808}')), 'VX_E_INT_RANGE');
  assert.equal(await codeOf(() => dj('{"_ft": "int", "_fd": 1e999}')), 'VX_E_INT_RANGE');
  assert.equal(await codeOf(() => dj('{"_ft": "int", "_fd": "9223372036854775808"}')), 'VX_E_INT_RANGE');
  assert.equal(dj('{"_ft": "bool", "_fd": "1"}'), true);
  assert.equal(dj('{"_ft": "bool", "_fd": "0"}'), false);
  assert.equal(await codeOf(() => dj('{"_ft": "bool", "_fd": "yes"}')), 'VX_E_BAD_VALUE');
});

test('C-21 bytes round-trip; bad base64 in _fd is VX_E_BAD_VALUE', async () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const text = vx.encodeValue(all);
  assert.equal(text, `{"_ft": "bytes", "_fd": "${b64(all)}"}`);
  assert.deepEqual([...vx.decodeValue(text)], [...all]);
  assert.equal(await codeOf(() => dj('{"_ft": "bytes", "_fd": "AP8"}')), 'VX_E_BAD_VALUE');
  const wkb = dj('{"_ft": "wkb", "_fd": "AQID"}'); // relayed exactly as received
  assert.ok(wkb instanceof vx.VxGeometry);
  assert.equal(vx.encodeValue(wkb), '{"_ft": "wkb", "_fd": "AQID"}');
});

test('C-22 C-23 C-24 datetimes', async () => {
  const d = vx.VxDateTime.fromParts(1, 1, 1, 0, 0, 0, 5);
  assert.equal(vx.encodeValue(d), '{"_ft": "datetime", "_fd": "0001-01-01 00:00:00.000005"}');
  assert.equal(vx.encodeValue(new Date(Date.UTC(2024, 2, 5, 10, 11, 12, 345))), '{"_ft": "datetime", "_fd": "2024-03-05 10:11:12.345000"}');
  const parse = (s) => vx.VxDateTime.parse(s).toVortexString();
  assert.equal(parse('2024-01-01 10:00:00'), '2024-01-01 10:00:00.000000');
  assert.equal(parse('2024-01-01 10:00:00.123'), '2024-01-01 10:00:00.123000');
  assert.equal(parse('2024-01-01T10:00:00.123456Z'), '2024-01-01 10:00:00.123456');
  assert.equal(parse('2024-01-01 10:00:00+02:00'), '2024-01-01 08:00:00.000000');
  assert.equal(parse('2024-01-01 10:00:00.000000+0200'), '2024-01-01 08:00:00.000000');
  assert.equal(parse('2024-01-01 01:00:00-0130'), '2024-01-01 02:30:00.000000');
  assert.equal(parse('1-01-01'), '0001-01-01 00:00:00.000000');
  assert.equal(parse('2024-02-29 23:59:59.999999'), '2024-02-29 23:59:59.999999');
  for (const bad of ['2024-01-01 10:00:00.1234567', '2024-13-01', '2023-02-29', '2024-01-01 24:00:00', '2024-01-01 10:60:00',
    '0000-01-01', '0001-01-01 00:30:00+01:00', '2024-01-01 10:00', '2024-01-01Z', '10000-01-01']) {
    assert.equal(await codeOf(() => vx.VxDateTime.parse(bad)), 'VX_E_BAD_VALUE', bad);
  }
  const a = vx.VxDateTime.now(), b = vx.VxDateTime.now();
  assert.ok(b.getTime() * 1000 + b.usec > a.getTime() * 1000 + a.usec); // strictly increasing
});

test('C-25 unknown or unsupported _ft/_ct', async () => {
  assert.equal(await codeOf(() => dj('{"_ft": "complex", "_fd": 1}')), 'VX_E_UNKNOWN_FT');
  assert.equal(await codeOf(() => dj('{"_ct": "xx"}')), 'VX_E_UNKNOWN_CT');
  assert.equal(await codeOf(() => dj('{"_ct": 5}')), 'VX_E_UNKNOWN_CT');
  assert.equal(await codeOf(() => dj('{"_ft": "geom", "_fd": "x"}')), 'VX_E_UNSUPPORTED');
  assert.equal(await codeOf(() => dj('{"_ct": "gen"}')), 'VX_E_UNSUPPORTED');
  assert.equal(dj('{"_ft": "null", "_fd": 7}'), null);
  assert.deepEqual(dj('{"_ft": "list", "_fd": [1, "a"]}'), [1, 'a']);
  assert.deepEqual(dj('{"_ft": "dict", "_fd": {"a": 1}}'), { a: 1 });
  assert.equal(dj('{"_ft": "str", "_fd": "s", "extra": 1}'), 's');
});

test('C-26 C-27 dict keys stay strings and keep order; reserved keys refused', async () => {
  const text = '{"12": "a", "1.5": "b", "nan": "c", "": "d", "2": "e", "__proto__": "f"}';
  const d = vx.decodeValue(text);
  assert.equal(Object.getPrototypeOf(d), Object.prototype);
  assert.equal(d.__proto__, 'f');
  assert.equal(vx.encodeValue(d), text.replace(/, /g, ', '));
  const e = await Promise.resolve().then(() => vx.encodeValue({ a: { _ct: 'rt' } })).catch((x) => x);
  assert.equal(e.code, 'VX_E_RESERVED_KEY');
  assert.equal(await codeOf(() => vx.encodeValue({ _ft: 'int' })), 'VX_E_RESERVED_KEY');
  assert.equal(dj('{"_ft": "int", "_fd": 3}'), 3); // received: a typed value
});

test('C-28 C-29 C-32 tuples: field order, defaults, strict fields, registration checks', async () => {
  const { Person } = types;
  const t = new Person({ name: 'Ada', age: 41 });
  assert.equal(vx.encodeValue(t), '{"_ct": "rt", "_c": "test.Person", "active": true, "age": {"_ft": "int", "_fd": 41}, ' +
    '"born": null, "email": null, "name": "Ada", "score": 0.0, "tags": []}');
  const u = dj('{"_ct": "rt", "_c": "test.Person", "name": "Bo", "bogus": 1}', opts());
  assert.ok(u instanceof Person);
  assert.deepEqual([u.name, u.age, u.tags, 'bogus' in u], ['Bo', 0, [], false]);
  u.tags.push('x'); // defaults are not shared between tuples
  assert.deepEqual(new Person().tags, []);
  assert.equal(await codeOf(() => dj('{"_ct": "rt", "_c": "test.Person", "bogus": 1}', opts(true))), 'VX_E_TUPLE_FIELD');
  assert.equal(await codeOf(() => dj('{"_ct": "rt", "name": "x"}')), 'VX_E_TUPLE_NO_TYPE');
  const R = new vx.TupleRegistry();
  assert.throws(() => R.register('x.Bad', null, { _hidden: 1 }), /_hidden/);
  R.register('x.Ok', null, { a: 1 });
  assert.throws(() => R.register('x.Ok', null, { a: 1 }), /x\.Ok/);
  const anon = new vx.VxTuple('x.Other', { b: 2, a: 'z' });
  assert.equal(vx.encodeValue(anon), '{"_ct": "rt", "_c": "x.Other", "a": "z", "b": {"_ft": "int", "_fd": 2}}');
  assert.equal(await codeOf(() => vx.encodeValue(new (class Foo {})())), 'VX_E_UNENCODABLE');
});

test('C-33 C-34 nested payload round-trips; isEmpty', () => {
  const inner = new vx.Payload({ filt: { key: 'inner' }, tuples: [1] });
  const outer = new vx.Payload({ tuples: [inner] });
  const json = vx.encodeJson(outer);
  const back = vx.decodeJson(json);
  assert.ok(back.tuples[0] instanceof vx.Payload);
  assert.equal(vx.encodeJson(back), json);
  assert.ok(new vx.Payload({ filt: { __vortexUuid__: 'u', __vortexName__: 'n' } }).isEmpty());
  assert.ok(new vx.Payload().isEmpty());
  assert.ok(!new vx.Payload({ result: false }).isEmpty());
  assert.ok(!new vx.Payload({ filt: { key: 'x' } }).isEmpty());
});

test('encoder refuses nesting beyond max_depth, and cycles', async () => {
  let v = [];
  for (let i = 0; i < 63; i++) v = [v];
  assert.equal(await codeOf(() => vx.encodeJson(new vx.Payload({ tuples: v }))), 'VX_E_DEPTH');
  assert.equal(await codeOf(() => vx.encodeJson(new vx.Payload({ tuples: v[0] }))), 0);
  const cyc = {};
  cyc.self = cyc;
  assert.equal(await codeOf(() => vx.encodeValue(cyc)), 'VX_E_DEPTH');
  assert.equal(await codeOf(() => vx.encodeValue('\ud800')), 'VX_E_UTF8');
});
