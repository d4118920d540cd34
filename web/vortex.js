// vortex.js — the browser client of VortexC (the role vortexjs plays for
// vortexpy). One ES module, no dependencies, no build step; runs in current
// browsers and in Node 20. The normative spec is docs/PROTOCOL.md; section
// numbers below (§n) point into it. Sections of this file:
//   1. errors            6. JSON decoder (typed)     11. client (transports)
//   2. values & tuples   7. msg: zlib + base64        12. CRUD loader
//   3. datetimes         8. stream splitter
//   4. base64            9. router (§7)
//   5. JSON encoder     10. request helpers

// ---- 1. Errors (§6.2) -------------------------------------------------------

const CODES = {
  VX_E_MSG_TOO_BIG: 1, VX_E_BASE64: 2, VX_E_ZLIB: 3, VX_E_INFLATE_LIMIT: 4, VX_E_UTF8: 5,
  VX_E_JSON: 6, VX_E_DEPTH: 7, VX_E_NOT_OBJECT: 8, VX_E_CT_MISSING: 9, VX_E_CT_WRONG: 10,
  VX_E_FIELD_TYPE: 11, VX_E_UNKNOWN_CT: 12, VX_E_UNKNOWN_FT: 13, VX_E_BAD_VALUE: 14,
  VX_E_INT_RANGE: 15, VX_E_TUPLE_NO_TYPE: 16, VX_E_UNKNOWN_TUPLE: 17, VX_E_TUPLE_FIELD: 18,
  VX_E_UNSUPPORTED: 19, VX_E_GENERATION: 20, VX_E_NONFINITE: 30, VX_E_RESERVED_KEY: 31,
  VX_E_UNENCODABLE: 32, VX_E_NO_SUCH_VORTEX: 40, VX_E_TIMEOUT: 41, VX_E_QUEUE_FULL: 42,
  VX_E_CLOSED: 43, VX_E_REMOTE: 44, VX_E_NO_KEY: 45, VX_E_HANDLER: 46,
};
export const ERROR_CODES = Object.freeze({ ...CODES });

/** Every failure of this module: `code` is the §6.2 name, `errno` its number. */
export class VortexError extends Error {
  constructor(code, message) {
    super(message);
    this.name = code;
    this.code = code;
    this.errno = CODES[code] ?? 0;
  }
}
/** A msg or JSON text that could not be decoded (codes 1-20). */
export class DecodeError extends VortexError {}
/** A value that could not be encoded (codes 30-32, and depth/size limits). */
export class EncodeError extends VortexError {}

// ---- 2. Values and tuples (§4, §5) ------------------------------------------
// JS has one number type, so ints and floats are kept apart by this rule:
//   decode: int -> number (BigInt beyond ±(2^53-1)); float -> number, except
//           integral floats (2.0, -0.0, 1e16) -> VxFloat, so they re-encode as floats;
//   encode: a safe integer number or a BigInt -> int; any other number, or a
//           VxFloat -> float. Write vxFloat(2) to send the float 2.0.

/** A float whose value is integral (or any float the application wants sent as one). */
export class VxFloat {
  constructor(value) { this.value = Number(value); }
  valueOf() { return this.value; }
  toString() { return String(this.value); }
  toJSON() { return this.value; }
}
export const vxFloat = (v) => new VxFloat(v);

/** `_ft` "wkb": geometry bytes relayed unchanged (§4.3 step 4). */
export class VxGeometry {
  constructor(bytes, b64) { this.bytes = bytes; this.b64 = b64 ?? base64Encode(bytes); }
}

const TUPLE_TYPE = Symbol('vortex.tupleType');
const KEY_ORDER = Symbol('vortex.keyOrder');

/** Base class for registered tuple classes: `new Person({name: 'Ada'})` starts
 * from the registered defaults. Registered classes need not extend it, but
 * must be constructible without arguments. */
export class Tuple {
  constructor(fields) {
    const info = Object.hasOwn(this.constructor, TUPLE_TYPE) ? this.constructor[TUPLE_TYPE] : null;
    if (info) for (const [k, d] of info.fields) this[k] = cloneValue(d);
    if (fields) Object.assign(this, fields);
  }
  get _tupleType() { return tupleTypeName(this); }
}

/** A tuple of a type this side has not registered (§5.3): kept so it re-encodes identically. */
export class VxTuple {
  constructor(typeName, fields) {
    Object.defineProperty(this, '_tupleType', { value: typeName, writable: true });
    if (fields) Object.assign(this, fields);
  }
}

function tupleInfo(v) {
  const c = v?.constructor;
  return c && Object.hasOwn(c, TUPLE_TYPE) ? c[TUPLE_TYPE] : null;
}
/** The wire type name (`_c`) of a tuple value, or null if `v` is no tuple. */
export function tupleTypeName(v) {
  if (v instanceof VxTuple) return v._tupleType;
  return tupleInfo(v)?.name ?? null;
}

/** Tuple types by wire name (§5.1). The codec only needs one to decode. */
export class TupleRegistry {
  constructor() { this._types = new Map(); }
  /** Register `name` with `Class` (a fresh subclass of Tuple if omitted) and its
   * fields `{field: default}`; returns the class. Fails naming type and field. */
  register(name, Class, fields = {}) {
    if (typeof name !== 'string' || !name) throw new VortexError('VX_E_UNENCODABLE', 'tuple type name must be a non-empty string');
    if (this._types.has(name)) throw new VortexError('VX_E_UNENCODABLE', `tuple type "${name}" is already registered`);
    if (!Class) Class = class extends Tuple {};
    const list = [];
    for (const [k, d] of fields instanceof Map ? fields : Object.entries(fields)) {
      if (typeof k !== 'string' || !k || k[0] === '_') {
        throw new VortexError('VX_E_UNENCODABLE', `tuple type "${name}": field name "${k}" must be non-empty and not start with '_'`);
      }
      list.push([k, d ?? null]);
    }
    if (Object.hasOwn(Class, TUPLE_TYPE) && Class[TUPLE_TYPE].name !== name) {
      throw new VortexError('VX_E_UNENCODABLE', `class already registered as "${Class[TUPLE_TYPE].name}", not "${name}"`);
    }
    const info = { name, Class, fields: list, index: new Map(list), sorted: list.map((f) => f[0]).sort(cmpCodePoints) };
    Object.defineProperty(Class, TUPLE_TYPE, { value: info, configurable: true });
    this._types.set(name, info);
    return Class;
  }
  get(name) { return this._types.get(name)?.Class ?? null; }
  _info(name) { return this._types.get(name) ?? null; }
}

/** The process-wide convenience registry used when options name none. */
export const defaultRegistry = new TupleRegistry();
export const register = (name, Class, fields) => defaultRegistry.register(name, Class, fields);

/** The gen1 payload (§3). A new payload gets the current date; decoded ones keep theirs. */
export class Payload {
  constructor({ filt = {}, replyFilt = {}, tuples = [], result = null, date } = {}) {
    this.filt = filt;
    this.replyFilt = replyFilt;
    this.tuples = tuples;
    this.result = result;
    this.date = date === undefined ? VxDateTime.now() : date;
  }
  /** §3.2: hellos and heartbeats; never routed. */
  isEmpty() {
    for (const k of Object.keys(this.filt ?? {})) if (k !== '__vortexUuid__' && k !== '__vortexName__') return false;
    return Object.keys(this.replyFilt ?? {}).length === 0 && (this.tuples ?? []).length === 0 && (this.result ?? null) === null;
  }
}

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
const isDict = (v) => isPlainObject(v) || v instanceof Map;

function cmpCodePoints(a, b) {
  // UTF-16 order differs from code point order only around surrogates.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i), y = b.codePointAt(i);
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function isIndexKey(k) { return /^(?:0|[1-9][0-9]{0,9})$/.test(k) && Number(k) < 4294967295; }
function setKey(o, k, v) {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
/** Keys of a dict in wire order. JS lists integer-like keys first; decoded dicts
 * remember the received order so they re-encode byte-identically (§4.5). */
function dictKeys(o) {
  const order = o[KEY_ORDER];
  if (!order) return Object.keys(o);
  const seen = new Set();
  const out = order.filter((k) => Object.hasOwn(o, k) && !seen.has(k) && seen.add(k));
  for (const k of Object.keys(o)) if (!seen.has(k)) out.push(k);
  return out;
}

/** Deep copy of lists and dicts (endpoint filts and tuple defaults must not share). */
export function cloneValue(v) {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, cloneValue(x)]));
  if (isPlainObject(v)) {
    const o = {};
    for (const k of Object.keys(v)) setKey(o, k, cloneValue(v[k]));
    if (v[KEY_ORDER]) Object.defineProperty(o, KEY_ORDER, { value: v[KEY_ORDER] });
    return o;
  }
  if (v instanceof Uint8Array) return v.slice();
  return v;
}

// ---- 3. Datetimes (§4.4) --------------------------------------------------------
// JS Dates hold milliseconds; the wire has microseconds. VxDateTime is a Date
// plus `usec` (0-999 µs past the millisecond). Parsing is our own, never Date.parse.

const MS_DAY = 86400000;
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400), yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}
function civilFromDays(z) {
  z += 719468;
  const era = Math.floor(z / 146097), doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153), m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, doy - Math.floor((153 * mp + 2) / 5) + 1];
}
const MIN_MS = daysFromCivil(1, 1, 1) * MS_DAY, MAX_MS = daysFromCivil(10000, 1, 1) * MS_DAY - 1;
let lastNowUs = 0;

export class VxDateTime extends Date {
  /** `new VxDateTime()` is now; `new VxDateTime(ms, usec)` an instant. */
  constructor(ms, usec = 0) {
    super(ms === undefined ? Date.now() : ms);
    this.usec = usec;
  }
  /** UTC parts; `micro` is 0-999999. */
  static fromParts(y, mo, d, h = 0, mi = 0, s = 0, micro = 0) {
    const ms = daysFromCivil(y, mo, d) * MS_DAY + ((h * 60 + mi) * 60 + s) * 1000 + Math.floor(micro / 1000);
    return new VxDateTime(ms, micro % 1000);
  }
  /** Current time, strictly increasing within this process (§3.1). */
  static now() {
    let us = Date.now() * 1000;
    if (us <= lastNowUs) us = lastNowUs + 1;
    lastNowUs = us;
    return new VxDateTime(Math.floor(us / 1000), us % 1000);
  }
  static fromDate(d) { return d instanceof VxDateTime ? d : new VxDateTime(d.getTime(), 0); }
  /** "YYYY-MM-DD HH:MM:SS.ffffff", UTC (the encoder's form). */
  toVortexString() { return formatDateTime(this.getTime(), this.usec); }
  /** Parse the §4.4 grammar; throws DecodeError VX_E_BAD_VALUE. */
  static parse(text) { return parseDateTime(text); }
}

const p2 = (n) => String(n).padStart(2, '0');
function formatDateTime(ms, usec) {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms > MAX_MS) throw new EncodeError('VX_E_UNENCODABLE', 'datetime outside years 0001-9999');
  const days = Math.floor(ms / MS_DAY), rem = ms - days * MS_DAY;
  const [y, m, d] = civilFromDays(days);
  const micro = (rem % 1000) * 1000 + (usec | 0);
  return `${String(y).padStart(4, '0')}-${p2(m)}-${p2(d)} ${p2(Math.floor(rem / 3600000))}:${p2(Math.floor(rem / 60000) % 60)}:` +
    `${p2(Math.floor(rem / 1000) % 60)}.${String(micro).padStart(6, '0')}`;
}

const DT_RE = /^([0-9]{1,4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(?:(Z)|([+-])([0-9]{2}):?([0-9]{2}))?)?$/;
function parseDateTime(text) {
  const bad = (why) => new DecodeError('VX_E_BAD_VALUE', `datetime "${String(text).slice(0, 40)}": ${why}`);
  if (typeof text !== 'string') throw bad('not a string');
  const m = DT_RE.exec(text);
  if (!m) throw bad('does not match YYYY-MM-DD[ HH:MM:SS[.ffffff][zone]]');
  const [y, mo, d, h = 0, mi = 0, s = 0] = [1, 2, 3, 4, 5, 6].map((i) => (m[i] === undefined ? undefined : Number(m[i])));
  const dim = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] || h > 23 || mi > 59 || s > 59) throw bad('field out of range');
  const micro = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  let offMin = 0;
  if (m[9]) {
    const oh = Number(m[10]), om = Number(m[11]);
    if (oh > 23 || om > 59) throw bad('zone offset out of range');
    offMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = daysFromCivil(y, mo, d) * MS_DAY + ((h * 60 + mi - offMin) * 60 + s) * 1000 + Math.floor(micro / 1000);
  if (ms < MIN_MS || ms > MAX_MS) throw bad('outside years 0001-9999');
  return new VxDateTime(ms, micro % 1000);
}

// ---- 4. Base64 (RFC 4648 §4, strict per §2.2 step 2) ------------------------

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_REV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_REV[B64.charCodeAt(i)] = i;
B64_REV[32] = B64_REV[9] = B64_REV[10] = B64_REV[13] = -2; // skipped whitespace
B64_REV[61] = -3; // '='

export function base64Encode(bytes) {
  const parts = [];
  let s = '';
  const n = bytes.length;
  for (let i = 0; i < n; i += 3) {
    const a = bytes[i], b = i + 1 < n ? bytes[i + 1] : 0, c = i + 2 < n ? bytes[i + 2] : 0;
    s += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)] + (i + 1 < n ? B64[((b & 15) << 2) | (c >> 6)] : '=') + (i + 2 < n ? B64[c & 63] : '=');
    if (s.length >= 8192) { parts.push(s); s = ''; }
  }
  parts.push(s);
  return parts.join('');
}

/** Strict decode; throws Error with `.at` (character index) on bad input. */
export function base64Decode(text) {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let acc = 0, bits = 0, o = 0, data = 0, pads = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i), v = c < 128 ? B64_REV[c] : -1;
    if (v === -2) continue;
    const fail = (why) => Object.assign(new Error(`${why} at character ${i}`), { at: i });
    if (v === -1) throw fail('invalid base64 character');
    if (v === -3) { pads++; data++; continue; }
    if (pads) throw fail("data after '='");
    data++;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 0xff; }
  }
  if (data % 4 !== 0) throw Object.assign(new Error(`base64 length ${data} is not a multiple of 4`), { at: text.length });
  if (pads > 2 || (pads && data - pads < 2)) throw Object.assign(new Error("'=' outside the last two positions"), { at: text.length });
  return out.slice(0, o);
}

// ---- 5. JSON encoder (§2.1, §3.1, §4, §5.2) ---------------------------------
// Python's json.dumps(ensure_ascii=True) byte for byte, so msgs match vortexpy's.

const HEX = '0123456789abcdef';
const uesc = (c) => '\\u' + HEX[(c >> 12) & 15] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
const SHORT_ESC = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };
const PLAIN_RE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(s) {
  if (PLAIN_RE.test(s)) return '"' + s + '"';
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) out += s[i];
    else if (SHORT_ESC[c]) out += SHORT_ESC[c];
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) out += uesc(c) + uesc(s.charCodeAt(++i));
    else if (c >= 0xd800 && c <= 0xdfff) throw new EncodeError('VX_E_UTF8', `unpaired surrogate at index ${i} of a string`);
    else out += uesc(c);
  }
  return out + '"';
}

/** Python repr of a finite double: shortest round-trip digits (§4.2). */
export function floatRepr(x) {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const neg = x < 0, s = String(Math.abs(x));
  let digits, exp;
  const e = s.indexOf('e');
  if (e >= 0) {
    digits = s.slice(0, e).replace('.', '');
    exp = Number(s.slice(e + 1));
  } else {
    const [ip, fp = ''] = s.split('.');
    if (ip !== '0') { digits = ip + fp; exp = ip.length - 1; }
    else { const lz = fp.length - fp.replace(/^0+/, '').length; digits = fp.slice(lz); exp = -(lz + 1); }
  }
  digits = digits.replace(/0+$/, '') || '0';
  let out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) out = digits.slice(0, exp + 1).padEnd(exp + 1, '0') + '.' + (digits.slice(exp + 1) || '0');
    else out = '0.' + '0'.repeat(-exp - 1) + digits;
  } else {
    out = digits[0] + (digits.length > 1 ? '.' + digits.slice(1) : '') + 'e' + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
  }
  return neg ? '-' + out : out;
}

const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;

class JsonEncoder {
  constructor(opts) {
    this.maxDepth = Math.min(opts?.maxDepth ?? 64, 10000); // the cap also stops cycles
    this.sep = opts?.compact ? ',' : ', ';
    this.colon = opts?.compact ? ':' : ': ';
  }
  fail(code, msg) { return new EncodeError(code, msg); }
  depth(d) { if (d > this.maxDepth) throw this.fail('VX_E_DEPTH', `nesting deeper than max_depth ${this.maxDepth}`); }
  wrap(ft, fd) { return `{"_ft"${this.colon}"${ft}"${this.sep}"_fd"${this.colon}${fd}}`; }
  // Errors get the path of the offending value ("tuples[3].price") while unwinding.
  at(seg, fn) {
    try { return fn(); } catch (e) {
      if (e instanceof EncodeError) { e.path = seg + (e.path ?? ''); }
      throw e;
    }
  }
  value(v, d) {
    switch (typeof v) {
      case 'undefined': return 'null';
      case 'boolean': return v ? 'true' : 'false';
      case 'string': return jsonString(v);
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) { this.depth(d); return this.wrap('int', String(v)); }
        if (!Number.isFinite(v)) throw this.fail('VX_E_NONFINITE', `cannot encode ${v} (not finite)`);
        return floatRepr(v);
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) throw this.fail('VX_E_INT_RANGE', `int ${v} is outside the 64-bit range`);
        this.depth(d);
        return this.wrap('int', v.toString());
      case 'object': break;
      default: throw this.fail('VX_E_UNENCODABLE', `cannot encode a ${typeof v}`);
    }
    if (v === null) return 'null';
    if (v instanceof VxFloat) {
      if (!Number.isFinite(v.value)) throw this.fail('VX_E_NONFINITE', `cannot encode ${v.value} (not finite)`);
      return floatRepr(v.value);
    }
    if (Array.isArray(v)) {
      this.depth(d);
      return '[' + v.map((x, i) => this.at(`[${i}]`, () => this.value(x, d + 1))).join(this.sep) + ']';
    }
    if (v instanceof Date) {
      this.depth(d);
      return this.wrap('datetime', '"' + formatDateTime(v.getTime(), v instanceof VxDateTime ? v.usec : 0) + '"');
    }
    if (v instanceof Uint8Array) { this.depth(d); return this.wrap('bytes', '"' + base64Encode(v) + '"'); }
    if (v instanceof VxGeometry) { this.depth(d); return this.wrap('wkb', jsonString(v.b64)); }
    if (v instanceof Payload) return this.payload(v, d);
    if (v instanceof VxTuple) {
      this.depth(d);
      const keys = Object.keys(v).filter((k) => k[0] !== '_').sort(cmpCodePoints);
      return this.tuple(v._tupleType, keys.map((k) => [k, v[k]]), d);
    }
    const info = tupleInfo(v);
    if (info) {
      this.depth(d);
      return this.tuple(info.name, info.sorted.map((k) => [k, v[k] === undefined ? info.index.get(k) : v[k]]), d);
    }
    if (v instanceof Map) return this.dict([...v], d);
    if (isPlainObject(v)) return this.dict(dictKeys(v).map((k) => [k, v[k]]), d);
    throw this.fail('VX_E_UNENCODABLE', `cannot encode a ${v.constructor?.name ?? 'object'}`);
  }
  members(entries, d) {
    return entries.map(([k, x]) => this.at('.' + k, () => jsonString(k) + this.colon + this.value(x, d + 1)));
  }
  dict(entries, d) {
    this.depth(d);
    for (const [k] of entries) {
      if (typeof k !== 'string') throw this.fail('VX_E_UNENCODABLE', `dict key ${String(k)} is not a string`);
      if (k === '_ct' || k === '_ft') throw this.fail('VX_E_RESERVED_KEY', `dict key "${k}" is reserved for typed values`);
    }
    return '{' + this.members(entries, d).join(this.sep) + '}';
  }
  tuple(name, entries, d) {
    const head = `{"_ct"${this.colon}"rt"${this.sep}"_c"${this.colon}${jsonString(name)}`;
    return head + this.members(entries, d).map((m) => this.sep + m).join('') + '}';
  }
  payload(p, d) {
    this.depth(d);
    const f = (name, v) => this.sep + `"${name}"` + this.colon + this.at('.' + name, () => this.value(v, d + 1));
    const need = (name, v, ok) => { if (!ok) throw this.fail('VX_E_UNENCODABLE', `payload field "${name}" has the wrong type`); return v; };
    return `{"_ct"${this.colon}"rp"${this.sep}"_c"${this.colon}"vortex.Payload.Payload"` +
      f('filt', need('filt', p.filt ?? {}, isDict(p.filt ?? {}))) +
      f('replyFilt', need('replyFilt', p.replyFilt ?? {}, isDict(p.replyFilt ?? {}))) +
      f('tuples', need('tuples', p.tuples ?? [], Array.isArray(p.tuples ?? []))) +
      f('result', p.result ?? null) +
      f('date', need('date', p.date ?? null, p.date == null || p.date instanceof Date)) + '}';
  }
}

function runEncoder(fn) {
  try { return fn(); } catch (e) {
    if (e instanceof EncodeError && e.path) e.message += ` at ${e.path.replace(/^\./, '')}`;
    throw e;
  }
}
/** Payload -> JSON text (sync). Options: compact, maxDepth. */
export function encodeJson(payload, opts) { return runEncoder(() => new JsonEncoder(opts).payload(payload, 1)); }
/** Any value -> JSON text (sync). */
export function encodeValue(value, opts) { return runEncoder(() => new JsonEncoder(opts).value(value, 1)); }

// ---- 6. JSON decoder (§2.2 steps 6-8, §4.3, §5.3) ---------------------------
// Our own parser: JSON.parse cannot tell 1 from 1.0, loses big ints and has no
// depth limit. Iterative (an explicit stack), so deep input cannot overflow.

class NumTok { constructor(text, isInt) { this.text = text; this.isInt = isInt; } }
const WS_RE = /[ \t\n\r]*/y;
const NUM_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STR_RE = /[^"\\\u0000-\u001f]*/y;
const ESC = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const PAYLOAD_KEYS = new Set(['filt', 'replyFilt', 'tuples', 'result', 'date']);
const FTS = new Set(['int', 'float', 'bool', 'str', 'bytes', 'datetime', 'null', 'list', 'dict', 'wkb']);

class JsonDecoder {
  constructor(opts) {
    this.maxDepth = opts?.maxDepth ?? 64;
    this.strict = !!(opts?.strict ?? opts?.strictDecode);
    this.registry = opts?.registry ?? defaultRegistry;
  }
  err(code, msg) { return new DecodeError(code, msg); }

  // payloadRoot: values under top-level keys a payload ignores are skipped
  // undecoded (§3.1), as the C decoder does.
  parse(text, payloadRoot = false) {
    const n = text.length, stack = [];
    let i = 0, val, have = false;
    const syntax = (what) => this.err('VX_E_JSON', `JSON syntax error at offset ${i}: ${what}`);
    const ws = () => { WS_RE.lastIndex = i; WS_RE.test(text); i = WS_RE.lastIndex; };
    const str = () => { // at the opening quote
      i++;
      let out = '';
      for (;;) {
        STR_RE.lastIndex = i; STR_RE.test(text);
        out += text.slice(i, STR_RE.lastIndex);
        i = STR_RE.lastIndex;
        const c = text[i];
        if (c === '"') { i++; return out; }
        if (c !== '\\') throw syntax(i >= n ? 'unterminated string' : 'control character in string');
        const e = text[i + 1];
        if (ESC[e]) { out += ESC[e]; i += 2; continue; }
        if (e !== 'u') throw syntax('bad escape');
        const hex = (at) => { const h = text.slice(at, at + 4); if (!/^[0-9a-fA-F]{4}$/.test(h)) throw syntax('bad \\u escape'); return parseInt(h, 16); };
        const u = hex(i + 2);
        i += 6;
        if (u >= 0xdc00 && u <= 0xdfff) throw syntax('unpaired surrogate escape');
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') throw syntax('unpaired surrogate escape');
          const lo = hex(i + 2);
          if (lo < 0xdc00 || lo > 0xdfff) throw syntax('unpaired surrogate escape');
          out += String.fromCharCode(u, lo);
          i += 6;
        } else out += String.fromCharCode(u);
      }
    };
    const open = (frame) => {
      const up = stack[stack.length - 1];
      frame.skip = !!up && (up.skip || (payloadRoot && stack.length === 1 && !PAYLOAD_KEYS.has(up.key)));
      if (stack.length + 1 > this.maxDepth) throw this.err('VX_E_DEPTH', `JSON nesting deeper than max_depth ${this.maxDepth} at offset ${i}`);
      stack.push(frame);
      i++;
    };
    const key = (f) => {
      ws();
      if (text[i] !== '"') throw syntax('expected a string key');
      f.key = str();
      ws();
      if (text[i] !== ':') throw syntax("expected ':'");
      i++;
    };
    for (;;) {
      if (!have) {
        ws();
        const c = text[i];
        if (c === '{') {
          open({ obj: new Map(), key: null, at: i });
          ws();
          if (text[i] === '}') { i++; const f = stack.pop(); val = f.skip ? null : this.object(f.obj, stack.length === 0); have = true; }
          else key(stack[stack.length - 1]);
          continue;
        }
        if (c === '[') {
          open({ arr: [] });
          ws();
          if (text[i] === ']') { i++; stack.pop(); val = []; have = true; }
          continue;
        }
        if (c === '"') val = str();
        else if (text.startsWith('true', i)) { val = true; i += 4; }
        else if (text.startsWith('false', i)) { val = false; i += 5; }
        else if (text.startsWith('null', i)) { val = null; i += 4; }
        else {
          NUM_RE.lastIndex = i;
          const m = NUM_RE.exec(text);
          if (!m) throw syntax(i >= n ? 'unexpected end of text' : `unexpected character ${JSON.stringify(text[i])}`);
          val = new NumTok(m[0], !m[1] && !m[2]);
          i = NUM_RE.lastIndex;
        }
        have = true;
      }
      // A complete value: attach it to its container, or finish.
      const f = stack[stack.length - 1];
      if (!f) {
        ws();
        if (i < n) throw syntax('data after the JSON value');
        return val;
      }
      if (f.arr) f.arr.push(val);
      else {
        if (this.strict && f.obj.has(f.key)) throw this.err('VX_E_JSON', `duplicate key "${f.key}" (strict mode) at offset ${i}`);
        f.obj.set(f.key, val);
      }
      have = false;
      ws();
      const c = text[i];
      if (c === ',') { i++; if (f.obj) key(f); continue; }
      if (f.arr && c === ']') { i++; stack.pop(); val = f.skip ? null : f.arr.map((x) => this.num(x)); have = true; continue; }
      if (f.obj && c === '}') { i++; stack.pop(); val = f.skip ? null : this.object(f.obj, stack.length === 0); have = true; continue; }
      throw syntax(i >= n ? 'unexpected end of text' : f.arr ? "expected ',' or ']'" : "expected ',' or '}'");
    }
  }

  // A bare number: no fraction/exponent -> int (float beyond int64), else float (§4.1).
  num(v) {
    if (!(v instanceof NumTok)) return v;
    if (v.isInt) {
      if (v.text.length < 16) return Number(v.text);
      const b = BigInt(v.text);
      if (b >= INT64_MIN && b <= INT64_MAX) return Number.isSafeInteger(Number(b)) && BigInt(Number(b)) === b ? Number(b) : b;
    }
    const d = Number(v.text);
    if (!Number.isFinite(d)) throw this.err('VX_E_JSON', `number ${v.text.slice(0, 30)} overflows a double`);
    return Number.isInteger(d) ? new VxFloat(d) : d;
  }

  // An object closed: payload, tuple, wrapped value or dict (§4.3). The root
  // object stays a Map for payloadFromRoot().
  object(map, root) {
    if (root) return map;
    if (map.has('_ct')) {
      const ct = map.get('_ct');
      if (ct === 'rp') return this.payload(map);
      if (ct === 'rt') return this.tuple(map);
      if (ct === 'gen') throw this.err('VX_E_UNSUPPORTED', '_ct "gen" (generic class) is not supported');
      throw this.err('VX_E_UNKNOWN_CT', typeof ct === 'string' ? `unknown _ct "${ct}"` : '_ct must be a string');
    }
    if (map.has('_ft')) {
      const ft = map.get('_ft');
      if (typeof ft !== 'string') throw this.err('VX_E_UNKNOWN_FT', '_ft must be a string');
      if (ft === 'geom') throw this.err('VX_E_UNSUPPORTED', '_ft "geom": receiving geometry is not supported');
      if (!FTS.has(ft)) throw this.err('VX_E_UNKNOWN_FT', `unknown _ft "${ft}"`);
      if (!map.has('_fd')) throw this.err('VX_E_BAD_VALUE', `_ft "${ft}" without _fd`);
      return this.wrapped(ft, map.get('_fd'));
    }
    const o = {};
    let idx = false;
    for (const [k, v] of map) { setKey(o, k, this.num(v)); if (!idx && isIndexKey(k)) idx = true; }
    if (idx) Object.defineProperty(o, KEY_ORDER, { value: [...map.keys()] });
    return o;
  }

  wrapped(ft, fd) {
    const bad = (why, code = 'VX_E_BAD_VALUE') => this.err(code, `_ft "${ft}": _fd ${why}`);
    switch (ft) {
      case 'int': {
        let b;
        if (fd instanceof NumTok) b = this.exactInt(fd.text, bad);
        else if (typeof fd === 'string') {
          if (!/^[+-]?[0-9]{1,19}$/.test(fd)) throw bad('is not an integer');
          b = BigInt(fd.replace('+', ''));
        } else if (typeof fd === 'bigint') b = fd;
        else if (typeof fd === 'number' && Number.isInteger(fd)) b = BigInt(fd);
        else throw bad('is not an integer');
        if (b < INT64_MIN || b > INT64_MAX) throw bad('is outside the 64-bit integer range', 'VX_E_INT_RANGE');
        const d = Number(b);
        return Number.isSafeInteger(d) ? d : b;
      }
      case 'float': {
        let d = NaN;
        if (fd instanceof NumTok) d = Number(fd.text);
        else if (typeof fd === 'string') {
          const s = fd[0] === '+' && fd[1] !== '-' ? fd.slice(1) : fd;
          if (/^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(s)) d = Number(s);
        } else if (typeof fd === 'number' || fd instanceof VxFloat || typeof fd === 'bigint') d = Number(fd);
        if (!Number.isFinite(d)) throw bad('is not a finite number');
        return Number.isInteger(d) ? new VxFloat(d) : d;
      }
      case 'bool':
        if (fd === true || fd === '1') return true;
        if (fd === false || fd === '0') return false;
        throw bad('must be "1", "0", true or false');
      case 'str':
        if (typeof fd !== 'string') throw bad('must be a string');
        return fd;
      case 'bytes': case 'wkb': {
        if (typeof fd !== 'string') throw bad('must be a base64 string');
        let bytes;
        try { bytes = base64Decode(fd); } catch (e) { throw bad(`is not valid base64 (${e.message})`); }
        return ft === 'wkb' ? new VxGeometry(bytes, fd) : bytes;
      }
      case 'datetime': return parseDateTime(fd);
      case 'null': return null;
      case 'list':
        if (!Array.isArray(fd)) throw bad('must be an array');
        return fd;
      default: // dict
        if (!isPlainObject(fd)) throw bad('must be a plain object');
        return fd;
    }
  }

  // A JSON number as an exact integer: 5.0 and 5e0 are 5; 5.7 is no integer (§4.2).
  exactInt(text, bad) {
    const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
    const frac = m[3] ?? '';
    let digits = (m[2] + frac).replace(/^0+/, '');
    let shift = Number(m[4] ?? 0) - frac.length;
    if (!digits) return 0n;
    const tz = digits.length - digits.replace(/0+$/, '').length;
    digits = digits.slice(0, digits.length - tz);
    shift += tz;
    if (shift < 0) throw bad('has a non-zero fraction');
    if (digits.length + shift > 20) throw bad('is outside the 64-bit integer range', 'VX_E_INT_RANGE');
    const b = BigInt(digits) * 10n ** BigInt(shift);
    return m[1] ? -b : b;
  }

  tuple(map) {
    const name = map.get('_c');
    if (typeof name !== 'string' || !name) throw this.err('VX_E_TUPLE_NO_TYPE', 'tuple object (_ct "rt") has no string _c naming its type');
    const info = this.registry._info(name);
    if (!info && this.strict) throw this.err('VX_E_UNKNOWN_TUPLE', `unknown tuple type "${name}"`);
    const t = info ? new info.Class() : new VxTuple(name);
    if (info) for (const [k, d] of info.fields) t[k] = cloneValue(d);
    for (const [k, v] of map) {
      if (k[0] === '_') continue;
      if (info && !info.index.has(k)) {
        if (this.strict) throw this.err('VX_E_TUPLE_FIELD', `tuple type "${name}" has no field "${k}"`);
        continue;
      }
      t[k] = this.num(v);
    }
    return t;
  }

  payload(map) {
    const p = new Payload({ date: null });
    for (const [k, raw] of map) {
      if (k !== 'filt' && k !== 'replyFilt' && k !== 'tuples' && k !== 'result' && k !== 'date') continue; // §3.1 unknown keys
      const v = this.num(raw);
      const wrong = (want) => this.err('VX_E_FIELD_TYPE', `payload field "${k}" must be ${want}`);
      if (k === 'filt' || k === 'replyFilt') {
        if (v !== null && !isPlainObject(v)) throw wrong('an object');
        p[k] = v ?? {};
      } else if (k === 'tuples') {
        if (v !== null && !Array.isArray(v)) throw wrong('an array');
        p.tuples = v ?? [];
      } else if (k === 'date') {
        if (v !== null && !(v instanceof VxDateTime)) throw wrong('a wrapped datetime or null');
        p.date = v;
      } else p.result = v;
    }
    return p;
  }

  // §2.2 step 7.
  root(text) {
    const top = this.parse(text, true);
    if (!(top instanceof Map)) throw this.err('VX_E_NOT_OBJECT', 'the top-level JSON value is not an object');
    if (!top.has('_ct')) throw this.err('VX_E_CT_MISSING', 'the top-level object has no _ct');
    if (top.get('_ct') !== 'rp') throw this.err('VX_E_CT_WRONG', 'the top-level _ct is not "rp"');
    return this.payload(top);
  }
}

/** JSON text -> Payload (sync). Options: registry, strict, maxDepth. */
export function decodeJson(text, opts) {
  if (typeof text.isWellFormed === 'function' && !text.isWellFormed()) throw new DecodeError('VX_E_UTF8', 'text holds an unpaired surrogate');
  return new JsonDecoder(opts).root(text);
}
/** JSON text of one value (not a payload) -> value (sync). */
export function decodeValue(text, opts) {
  const d = new JsonDecoder(opts);
  const v = d.parse(text);
  return v instanceof Map ? d.object(v, false) : d.num(v);
}

// ---- 7. Vortex msg: base64(zlib(JSON)) (§1.2, §2) ---------------------------

export const DEFAULTS = Object.freeze({
  maxMsgBytes: 16777216, maxJsonBytes: 67108864, maxDepth: 64,
  deadAfter: 15, backoffInitial: 0.5, backoffMax: 15, sendQueueMax: 8388608, responseTimeout: 30,
  httpPath: '/vortex', wsPath: '/vortexws',
});

async function collect(readable, limit) {
  const reader = readable.getReader(), chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw new DecodeError('VX_E_INFLATE_LIMIT', `inflated JSON exceeds max_json_bytes ${limit}`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

function pipeBytes(bytes, transform) {
  const w = transform.writable.getWriter();
  w.write(bytes).catch(() => {});
  w.close().catch(() => {});
  return transform.readable;
}

/** zlib (RFC 1950) via CompressionStream("deflate"); the level is the platform's. */
export async function deflate(bytes) { return collect(pipeBytes(bytes, new CompressionStream('deflate')), Infinity); }

// Some platforms (Node 20) ignore bytes after the zlib stream, which §2.2
// step 4 must reject. Probe once; where they are ignored, a stream that is
// exactly the input fails to inflate without its last byte (the Adler-32 is
// cut), while one followed by extra bytes still inflates.
const EMPTY_ZLIB = new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
let trailingProbe = null;
const rawInflate = (bytes, limit) => collect(pipeBytes(bytes, new DecompressionStream('deflate')), limit);
function platformRejectsTrailing() {
  trailingProbe ??= rawInflate(new Uint8Array([...EMPTY_ZLIB, 0]), 16).then(() => false, () => true);
  return trailingProbe;
}

/** Strict inflate of a zlib stream: VX_E_ZLIB or VX_E_INFLATE_LIMIT. */
export async function inflate(bytes, limit = DEFAULTS.maxJsonBytes) {
  let out;
  try { out = await rawInflate(bytes, limit); } catch (e) {
    if (e instanceof VortexError) throw e;
    throw new DecodeError('VX_E_ZLIB', `zlib: ${e.message}`);
  }
  if (!(await platformRejectsTrailing())) {
    const cut = await rawInflate(bytes.subarray(0, bytes.length - 1), limit).then(() => true, () => false);
    if (cut) throw new DecodeError('VX_E_ZLIB', 'zlib: bytes after the end of the stream');
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ENC = new TextEncoder();

/** Payload -> msg string (async; compression is). Options as encodeJson plus maxMsgBytes, maxJsonBytes. */
export async function encodeMsg(payload, opts) {
  return wrapJson(encodeJson(payload, opts), opts);
}
/** JSON text -> msg (the compress + base64 half of encodeMsg). */
export async function wrapJson(json, opts) {
  const maxJson = opts?.maxJsonBytes ?? DEFAULTS.maxJsonBytes, maxMsg = opts?.maxMsgBytes ?? DEFAULTS.maxMsgBytes;
  if (json.length > maxJson) throw new EncodeError('VX_E_MSG_TOO_BIG', `JSON of ${json.length} bytes exceeds max_json_bytes ${maxJson}`);
  const msg = base64Encode(await deflate(ENC.encode(json)));
  if (msg.length > maxMsg) throw new EncodeError('VX_E_MSG_TOO_BIG', `msg of ${msg.length} bytes exceeds max_msg_bytes ${maxMsg}`);
  return msg;
}

/** Msg -> JSON text (§2.2 steps 1-5). */
export async function unwrapMsg(msg, opts) {
  const maxMsg = opts?.maxMsgBytes ?? DEFAULTS.maxMsgBytes;
  if (msg.length > maxMsg) throw new DecodeError('VX_E_MSG_TOO_BIG', `msg of ${msg.length} bytes exceeds max_msg_bytes ${maxMsg}`);
  if (/^[ \t\r\n]*\{/.test(msg)) throw new DecodeError('VX_E_GENERATION', 'a raw gen2 msg on a gen1 connection');
  let raw;
  try { raw = base64Decode(msg); } catch (e) { throw new DecodeError('VX_E_BASE64', `base64: ${e.message}`); }
  if (raw[0] === 0x7b) throw new DecodeError('VX_E_GENERATION', 'a gen2 msg (base64 JSON) on a gen1 connection');
  if (raw.length < 2 || (raw[0] & 0x0f) !== 8 || (raw[0] * 256 + raw[1]) % 31 !== 0) {
    throw new DecodeError('VX_E_ZLIB', raw.length ? 'not a zlib header' : 'empty msg');
  }
  const json = await inflate(raw, opts?.maxJsonBytes ?? DEFAULTS.maxJsonBytes);
  try { return UTF8.decode(json); } catch { throw new DecodeError('VX_E_UTF8', 'inflated bytes are not valid UTF-8'); }
}

/** Msg string -> Payload (async). Options: registry, strict, maxDepth, maxMsgBytes, maxJsonBytes. */
export async function decodeMsg(msg, opts) { return decodeJson(await unwrapMsg(msg, opts), opts); }

// ---- 8. Stream splitter (§2.3) ---------------------------------------------------

/** Splits '.'-delimited text as it arrives: onItem(text) per item ('' = bare-dot
 * heartbeat); an item over maxMsgBytes is skipped through its '.' (onOversize). */
export class Splitter {
  constructor(onItem, { maxMsgBytes = DEFAULTS.maxMsgBytes, onOversize } = {}) {
    Object.assign(this, { onItem, maxMsgBytes, onOversize, buf: '', skipping: false });
  }
  feed(text) {
    let start = 0, dot;
    while ((dot = text.indexOf('.', start)) >= 0) {
      const item = this.buf + text.slice(start, dot);
      this.buf = '';
      start = dot + 1;
      if (this.skipping) this.skipping = false;
      else this.onItem(item);
    }
    if (!this.skipping) this.buf += text.slice(start);
    if (this.buf.length > this.maxMsgBytes) {
      this.buf = '';
      this.skipping = true;
      this.onOversize?.();
    }
  }
  /** End of stream: a final item without its '.' is discarded (§9.7); returns it. */
  finish() { const rest = this.buf; this.buf = ''; this.skipping = false; return rest; }
}

// ---- 9. Router (§7) -------------------------------------------------------------
// Values compare through a canonical string: numbers by value (1 == 1.0), bool
// apart from numbers, lists as sorted multisets. Endpoints are bucketed by the
// canonical "key" so routing cost does not grow with other keys (§7.3).

let uniq = 0;
function canon(v) {
  switch (typeof v) {
    case 'string': return 's' + JSON.stringify(v);
    case 'boolean': return v ? 'b1' : 'b0';
    case 'bigint': return 'n' + v.toString();
    case 'number': return canonNum(v);
    case 'undefined': return 'z';
    default: break;
  }
  if (v === null) return 'z';
  if (v instanceof VxFloat) return canonNum(v.value);
  if (v instanceof Date) return 'd' + v.getTime() + ':' + (v instanceof VxDateTime ? v.usec : 0);
  if (v instanceof Uint8Array) return 'y' + base64Encode(v);
  if (v instanceof VxGeometry) return 'g' + v.b64;
  if (Array.isArray(v)) return 'l[' + v.map(canon).sort().join(',') + ']';
  const tn = tupleTypeName(v);
  if (tn !== null) {
    const info = tupleInfo(v);
    const keys = info ? info.sorted : Object.keys(v).filter((k) => k[0] !== '_').sort();
    return 't' + JSON.stringify(tn) + '{' + keys.map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
  }
  if (isDict(v)) {
    const e = v instanceof Map ? [...v] : Object.keys(v).map((k) => [k, v[k]]);
    return 'o{' + e.map(([k, x]) => JSON.stringify(k) + ':' + canon(x)).sort().join(',') + '}';
  }
  return '\u0000never' + ++uniq; // payloads and other objects equal nothing
}
function canonNum(x) {
  if (Number.isNaN(x)) return '\u0000nan' + ++uniq; // NaN equals nothing
  if (Number.isInteger(x)) return 'n' + BigInt(x).toString();
  return 'n' + String(x);
}
const ignoredInFilt = (v) => isDict(v) || tupleTypeName(v) !== null || v instanceof Payload;

/** Endpoint filts matched against payload filts, in registration order. */
export class Router {
  constructor() { this._buckets = new Map(); this._seq = 0; this.size = 0; }
  /** Register `callback(payload, ctx)` on a copy of `filt`; returns the endpoint
   * ({remove()}). VX_E_NO_KEY without a usable "key" (§7.1). */
  add(filt, callback, { once = false } = {}) {
    if (!isPlainObject(filt) || !Object.hasOwn(filt, 'key') || ignoredInFilt(filt.key)) {
      throw new VortexError('VX_E_NO_KEY', 'an endpoint filt needs a "key" that is not a dict, tuple or payload');
    }
    const copy = cloneValue(filt);
    const match = Object.keys(copy).filter((k) => !ignoredInFilt(copy[k])).map((k) => [k, canon(copy[k])]);
    const bucket = canon(copy.key);
    const ep = { filt: copy, callback, once, match, bucket, seq: ++this._seq, removed: false, remove: () => this.remove(ep) };
    if (!this._buckets.has(bucket)) this._buckets.set(bucket, []);
    this._buckets.get(bucket).push(ep);
    this.size++;
    return ep;
  }
  remove(ep) {
    if (ep.removed) return;
    ep.removed = true;
    this.size--;
    const list = this._buckets.get(ep.bucket);
    const i = list ? list.indexOf(ep) : -1;
    if (i >= 0) list.splice(i, 1);
    if (list && !list.length) this._buckets.delete(ep.bucket);
  }
  /** Endpoints matching `filt`, in registration order. */
  matching(filt) {
    if (!isPlainObject(filt) || !Object.hasOwn(filt, 'key')) return [];
    const list = this._buckets.get(canon(filt.key));
    if (!list) return [];
    const cache = new Map();
    const pc = (k) => { if (!cache.has(k)) cache.set(k, canon(filt[k])); return cache.get(k); };
    return list.filter((ep) => ep.match.every(([k, c]) => Object.hasOwn(filt, k) && pc(k) === c));
  }
  /** Offer a received payload to every matching endpoint once (§7.3). Each
   * failing callback (throw or rejected promise) gets onError(error, endpoint). */
  dispatch(payload, ctx, onError = () => {}) {
    if (payload.isEmpty()) return 0;
    const eps = this.matching(payload.filt); // a snapshot: endpoints added now do not get it
    let n = 0;
    for (const ep of eps) {
      if (ep.removed) continue; // removed during this dispatch
      if (ep.once) this.remove(ep);
      n++;
      try {
        const r = ep.callback(payload, ctx);
        if (r && typeof r.then === 'function') r.then(null, (e) => onError(e, ep));
      } catch (e) { onError(e, ep); }
    }
    return n;
  }
}

// ---- 10. Request helpers (§13) ------------------------------------------------------

export function uuid4() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const resultOk = (r) => r === null || r === undefined || r === true;
function resultText(r) {
  if (typeof r === 'string') return r;
  try { return encodeValue(r, { compact: true }); } catch { return String(r); }
}

// ---- 11. VortexClient (§9.7, §10.5, §11) ----------------------------------------------
// One remote vortex (the server) over a WebSocket, falling back to HTTP
// long-poll. Msgs wait in a bounded queue until a connection takes them, so
// they survive reconnects and are sent once, in order. A dead timer watches
// every connection; reconnects back off exponentially with jitter.

class VxEvent extends Event {
  constructor(type, props) { super(type); Object.assign(this, props); }
}

export class VortexClient extends EventTarget {
  /** `url`: the server's base (http[s]:// or ws[s]://host[:port][/prefix]);
   * defaults to the page's origin in a browser. */
  constructor(url, opts = {}) {
    super();
    const base = url ?? globalThis.location?.origin;
    if (!base) throw new VortexError('VX_E_CLOSED', 'VortexClient needs a server URL');
    this.url = String(base).replace(/\/+$/, '');
    this.name = opts.name ?? 'browser';
    this.uuid = opts.uuid ?? uuid4();
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, transport: 'auto', ...given };
    this.codecOpts = { registry: opts.registry ?? defaultRegistry, strict: !!opts.strict, maxDepth: this.opts.maxDepth,
      maxMsgBytes: this.opts.maxMsgBytes, maxJsonBytes: this.opts.maxJsonBytes, compact: !!opts.compact };
    this._WS = opts.WebSocket === undefined ? globalThis.WebSocket : opts.WebSocket;
    this._fetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
    this.router = new Router();
    this.online = false;
    this.serverUuid = null;
    this.serverName = null;
    this.lastError = null;
    this.transport = null; // 'websocket' | 'longpoll' while connected
    this.stats = { decodeErrors: 0, oversizeItems: 0 };
    this._queue = [];
    this._queuedBytes = 0;
    this._inflightBytes = 0;
    this._reconnect = [];
    this._encodeChain = Promise.resolve();
    this._decodeChain = Promise.resolve();
    this._gen = 0;
    this._retry = 0;
    this._everOnline = false;
    this._wsFailed = false;
    this._closed = false;
    this._timers = { dead: null, retry: null };
    this._http = { current: null, pending: null, all: new Set() };
    this._ws = null;
    this._statusFns = new Set();
    this._requests = new Set();
    this._subs = new Map();
    if (opts.autoConnect !== false) this.connect();
  }

  /** Bytes (msg + 1 each) accepted but not yet handed over, including a POST awaiting its head. */
  get queuedBytes() { return this._queuedBytes + this._inflightBytes; }

  /** Start connecting (done by the constructor unless autoConnect: false). */
  connect() {
    if (this._closed || this._started) return;
    this._started = true;
    this._attempt();
  }

  /** Stop: no reconnects, pending requests fail with VX_E_CLOSED, the queue is dropped. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._gen++;
    this._abandon();
    clearTimeout(this._timers.retry);
    this._queue = [];
    this._queuedBytes = 0;
    this._inflightBytes = 0;
    for (const r of [...this._requests]) r.fail(new VortexError('VX_E_CLOSED', 'the client was closed'));
    this._setOnline(false);
  }

  /** Called now with the current state, then on every change; returns an unsubscribe function. */
  onStatus(fn) {
    this._statusFns.add(fn);
    fn(this.online);
    return () => this._statusFns.delete(fn);
  }

  /** Register an endpoint on `filt` (§7); callback(payload, {reply, client}). */
  on(filt, callback) { return this.router.add(filt, callback); }
  off(endpoint) { this.router.remove(endpoint); }

  /** Payload (BORROWED: encoded now) sent on every connect and reconnect, before queued msgs. */
  async addReconnectPayload(payload) {
    const json = encodeJson(payload, this.codecOpts);
    this._reconnect.push(await wrapJson(json, this.codecOpts));
  }

  /** Queue a payload (or filt + tuples) for the server; resolves once queued.
   * The payload is encoded at the call; VX_E_QUEUE_FULL when over sendQueueMax. */
  send(payloadOrFilt, tuples) {
    if (this._closed) return Promise.reject(new VortexError('VX_E_CLOSED', 'the client was closed'));
    const p = payloadOrFilt instanceof Payload ? payloadOrFilt : new Payload({ filt: payloadOrFilt, tuples: tuples ?? [] });
    let json;
    try { json = encodeJson(p, this.codecOpts); } catch (e) { return Promise.reject(e); }
    // Compression is async: one chain keeps msgs in call order.
    const done = this._encodeChain.then(() => wrapJson(json, this.codecOpts)).then((msg) => this._enqueue(msg));
    this._encodeChain = done.catch(() => {});
    return done;
  }

  /** PayloadResponse (§13): resolves with the reply payload, rejects with
   * VX_E_TIMEOUT, VX_E_REMOTE (the reply's result), VX_E_CLOSED or an encode error. */
  request(filt, tuples = [], { timeout = this.opts.responseTimeout, checkResult = true } = {}) {
    return new Promise((resolve, reject) => {
      if (this._closed) return reject(new VortexError('VX_E_CLOSED', 'the client was closed'));
      const f = { ...cloneValue(filt), 'PayloadResponse.messageId': uuid4() };
      let ep, timer;
      const req = {
        fail: (e) => { cleanup(); reject(e); },
      };
      const cleanup = () => { clearTimeout(timer); this.router.remove(ep); this._requests.delete(req); };
      try {
        ep = this.router.add(f, (p) => {
          cleanup();
          if (checkResult && !resultOk(p.result)) reject(Object.assign(new VortexError('VX_E_REMOTE', resultText(p.result)), { payload: p }));
          else resolve(p);
        }, { once: true });
      } catch (e) { return reject(e); }
      this._requests.add(req);
      timer = setTimeout(() => req.fail(new VortexError('VX_E_TIMEOUT', `no reply to "${String(f.key)}" within ${timeout} s`)), timeout * 1000);
      this.send(new Payload({ filt: f, tuples })).catch(req.fail);
    });
  }

  /** Observe rows of `key` (contract of docs/handlers.md §4): callback({kind:
   * 'snapshot'|'update'|'delete', tuples, payload}). Resolves once the snapshot
   * has been delivered (a push may come first; the snapshot includes it);
   * re-subscribes with a fresh snapshot after every reconnect. The server keeps
   * one subscription per client and key, so the latest subscribe sets its scope;
   * locally an `id` subscription gets only pushed rows with that id. */
  async subscribe(key, callback, { id, timeout } = {}) {
    let s = this._subs.get(key);
    if (!s) {
      const entries = new Set();
      const endpoint = this.router.add({ key, subscribe: true }, (p) => {
        if (Object.hasOwn(p.filt, 'PayloadResponse.messageId')) return; // the snapshot reply, not a push
        const kind = p.filt.delete === true ? 'delete' : 'update';
        for (const e of [...entries]) {
          // Pushes name no id; an id-scoped subscription sees only its row.
          const tuples = e.id === undefined ? p.tuples : p.tuples.filter((t) => t && canon(t.id) === canon(e.id));
          if (tuples.length) e.callback({ kind, tuples, payload: p });
        }
      });
      s = { entries, endpoint };
      this._subs.set(key, s);
    }
    const entry = { callback, id, timeout };
    s.entries.add(entry);
    try {
      await this._snapshot(key, entry);
    } catch (e) {
      s.entries.delete(entry);
      if (!s.entries.size) { this.router.remove(s.endpoint); this._subs.delete(key); }
      throw e;
    }
    return { key, id, unsubscribe: () => this._dropSub(key, entry) };
  }

  async _snapshot(key, entry) {
    const filt = { key, subscribe: true };
    if (entry.id !== undefined) filt.id = entry.id;
    const p = await this.request(filt, [], entry.timeout ? { timeout: entry.timeout } : {});
    entry.callback({ kind: 'snapshot', tuples: p.tuples, payload: p });
  }

  async _dropSub(key, entry) {
    const s = this._subs.get(key);
    if (!s || !s.entries.delete(entry)) return;
    if (!s.entries.size) return this.unsubscribe(key);
  }

  /** Stop every subscription of `key` here and tell the server. */
  async unsubscribe(key) {
    const s = this._subs.get(key);
    if (s) { this.router.remove(s.endpoint); this._subs.delete(key); }
    await this.request({ key, unsubscribe: true });
  }

  // -- queue ---------------------------------------------------------------------------

  _enqueue(msg) {
    if (this._closed) throw new VortexError('VX_E_CLOSED', 'the client was closed');
    const size = msg.length + 1, used = this.queuedBytes;
    if (used && used + size > this.opts.sendQueueMax) {
      throw new VortexError('VX_E_QUEUE_FULL', `send queue full (${used} of ${this.opts.sendQueueMax} bytes)`);
    }
    this._queue.push(msg);
    this._queuedBytes += size;
    this._flush();
  }
  _drain() {
    const q = this._queue;
    this._queue = [];
    this._queuedBytes = 0;
    return q;
  }
  _requeueFront(msgs) {
    if (!msgs.length || this._closed) return;
    this._queue = msgs.concat(this._queue);
    this._queuedBytes += msgs.reduce((n, m) => n + m.length + 1, 0);
  }

  // Hand queued msgs to the current connection, if it is online and ready.
  _flush() {
    if (!this.online || !this._queue.length) return;
    if (this.transport === 'websocket') {
      const ws = this._ws;
      if (!ws || ws.readyState !== 1) return;
      for (const m of this._drain()) ws.send(m + '.');
    } else if (!this._http.pending) {
      // §9.7: each send is a new POST whose response becomes the downstream;
      // at most one POST may wait for its head, later msgs wait for the next.
      this._httpPost(this._gen, [], this._drain());
    }
  }

  // -- connection lifecycle --------------------------------------------------------------

  _attempt() {
    if (this._closed) return;
    const gen = ++this._gen;
    // An attempt that yields no hello within deadAfter has failed (§11).
    this._armDead(gen, `no hello within ${this.opts.deadAfter} s`);
    if (this.opts.transport === 'websocket' && !this._WS) this._lost(gen, 'transport "websocket" but no WebSocket constructor');
    else if (this.opts.transport !== 'longpoll' && this._WS && !this._wsFailed) this._wsConnect(gen);
    else this._httpConnect(gen);
  }

  _armDead(gen, why) {
    clearTimeout(this._timers.dead);
    this._timers.dead = setTimeout(() => this._lost(gen, why), this.opts.deadAfter * 1000);
  }

  _lost(gen, reason) {
    if (gen !== this._gen || this._closed) return;
    this._gen++;
    this.lastError = String(reason?.message ?? reason);
    this._abandon();
    this._setOnline(false);
    this.dispatchEvent(new VxEvent('disconnect', { reason: this.lastError }));
    // Retry n waits uniformly in [b/2, b], b = min(max, initial * 2^(n-1)) (§11).
    const b = Math.min(this.opts.backoffMax, this.opts.backoffInitial * 2 ** this._retry++);
    const delay = b / 2 + Math.random() * (b / 2);
    clearTimeout(this._timers.retry);
    this._timers.retry = setTimeout(() => this._attempt(), delay * 1000);
  }

  _abandon() {
    clearTimeout(this._timers.dead);
    for (const r of this._http.all) r.ctrl.abort();
    this._http = { current: null, pending: null, all: new Set() };
    if (this._ws) {
      const ws = this._ws;
      this._ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch { /* closing a dead socket */ }
    }
    this.transport = null;
  }

  _setOnline(on) {
    if (this.online === on) return;
    this.online = on;
    this.dispatchEvent(new VxEvent(on ? 'online' : 'offline'));
    for (const fn of [...this._statusFns]) fn(on);
  }

  _goOnline(gen) {
    if (gen !== this._gen || this.online) return;
    this._retry = 0;
    const again = this._everOnline;
    this._everOnline = true;
    this._setOnline(true);
    this._flush();
    // The server forgot us (and our subscriptions) while we were away.
    if (again) {
      for (const [key, s] of this._subs) {
        for (const e of s.entries) this._snapshot(key, e).catch((err) => this._error(err));
      }
    }
  }

  _error(error) { this.dispatchEvent(new VxEvent('error', { error })); }

  // -- items -----------------------------------------------------------------------------

  _item(gen, text) {
    if (gen !== this._gen) return;
    this._armDead(gen, `server dead after ${this.opts.deadAfter} s without an item`);
    if (text === '') return; // bare-dot heartbeat
    // Decoding is async: one chain keeps routing in receive order (§7.3).
    this._decodeChain = this._decodeChain
      .then(() => decodeMsg(text, this.codecOpts))
      .then((p) => this._onPayload(gen, p), (e) => { this.stats.decodeErrors++; this._error(e); });
  }

  _onPayload(gen, p) {
    if (p.isEmpty()) {
      if (typeof p.filt.__vortexUuid__ === 'string') {
        this.serverUuid = p.filt.__vortexUuid__;
        this.serverName = p.filt.__vortexName__ ?? null;
        this._goOnline(gen);
      }
      return;
    }
    if (Object.hasOwn(p.filt, 'rapuiClientEcho')) { // §8: remove, send back, then route
      delete p.filt.rapuiClientEcho;
      this.send(p).catch((e) => this._error(e));
      if (p.isEmpty()) return;
    }
    const ctx = { client: this, vortexUuid: this.serverUuid, vortexName: this.serverName,
      reply: (x, tuples) => this.send(x, tuples) };
    this.router.dispatch(p, ctx, (e) => {
      this._error(e);
      // §7.4: one error reply per failing callback, unless the payload carried a result.
      if (p.result === null) {
        const msg = String(e?.message ?? e) || 'endpoint callback failed';
        this.send(new Payload({ filt: p.filt, result: msg })).catch(() => {});
      }
    });
  }

  // -- HTTP long-poll (§9.7) -----------------------------------------------------------------

  _httpUrl() {
    const q = `vortexUuid=${encodeURIComponent(this.uuid)}&vortexName=${encodeURIComponent(this.name)}`;
    return this.url.replace(/^ws/, 'http') + this.opts.httpPath + '?' + q + '&__randArg__=' + Math.random().toString(36).slice(2);
  }

  _httpConnect(gen) {
    this.transport = 'longpoll';
    this._httpPost(gen, this._reconnect, this._drain());
  }

  _httpPost(gen, extra, msgs) {
    const ctrl = new AbortController();
    const req = { ctrl };
    this._http.current = req;
    this._http.pending = req;
    this._http.all.add(req);
    const all = extra.concat(msgs);
    const body = all.length ? all.join('.') + '.' : '';
    // Until the response head arrives these msgs still count as queued.
    let inflight = msgs.reduce((n, m) => n + m.length + 1, 0);
    this._inflightBytes += inflight;
    const settle = () => { this._inflightBytes = Math.max(0, this._inflightBytes - inflight); inflight = 0; };
    const failed = (e) => {
      this._http.all.delete(req);
      if (this._http.pending === req) this._http.pending = null;
      settle();
      this._requeueFront(msgs); // no response head: not handed over (§11)
      this._lost(gen, e);
    };
    if (!this._fetch) return failed(new Error('no fetch() available'));
    this._fetch(this._httpUrl(), { method: 'POST', body, headers: { 'Content-Type': 'text/plain' }, signal: ctrl.signal, cache: 'no-store' })
      .then((res) => {
        if (res.status !== 200) {
          res.body?.cancel().catch(() => {});
          throw new Error(`HTTP status ${res.status}`);
        }
        if (this._http.pending === req) this._http.pending = null;
        settle();
        this._readHttp(gen, req, res.body);
        this._flush(); // msgs queued while this POST waited for its head
      })
      .catch(failed);
  }

  async _readHttp(gen, req, body) {
    const reader = body.getReader(), dec = new TextDecoder();
    const split = new Splitter((item) => this._item(gen, item), { maxMsgBytes: this.opts.maxMsgBytes, onOversize: () => this.stats.oversizeItems++ });
    let first = true, reason = 'the server ended the response';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || gen !== this._gen) break;
        const text = dec.decode(value, { stream: true });
        if (first && text.length) {
          first = false;
          // A body starting with '<' is a login page, not a stream (§9.2, §9.7).
          if (text[0] === '<') { reason = 'authentication required (the server answered with a page)'; this._error(new VortexError('VX_E_CLOSED', reason)); break; }
        }
        split.feed(text);
      }
    } catch (e) {
      reason = e;
    } finally {
      reader.cancel().catch(() => {});
    }
    this._http.all.delete(req);
    // Only the latest response is the downstream; older ones end on takeover.
    if (req === this._http.current) this._lost(gen, reason);
  }

  // -- WebSocket (§10.5) -----------------------------------------------------------------

  _wsConnect(gen) {
    const q = `vortexUuid=${encodeURIComponent(this.uuid)}&vortexName=${encodeURIComponent(this.name)}`;
    const url = this.url.replace(/^http/, 'ws') + this.opts.wsPath + '?' + q;
    let ws, opened = false;
    try { ws = new this._WS(url); } catch (e) { return this._wsFallback(gen, e); }
    this._ws = ws;
    this.transport = 'websocket';
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (gen !== this._gen) return;
      opened = true;
      // Send something at once (vortexpy 0.3.1 registers on the first frame).
      const msgs = this._reconnect.concat(this._drain());
      if (msgs.length) for (const m of msgs) ws.send(m + '.');
      else encodeMsg(new Payload(), this.codecOpts).then((m) => { if (this._ws === ws && ws.readyState === 1) ws.send(m + '.'); });
    };
    ws.onmessage = (ev) => {
      let d = ev.data;
      if (typeof d !== 'string') d = new TextDecoder().decode(d);
      if (d.endsWith('.')) d = d.slice(0, -1);
      if (d === '' && gen === this._gen && ws.readyState === 1) ws.send('.'); // answer a bare '.' (§10.5)
      this._item(gen, d);
    };
    // Browsers fire error then close; some implementations (Node 20) fire only
    // error when the connection is refused, so either ends an unopened socket.
    ws.onerror = () => {
      if (gen === this._gen && !opened && this._ws === ws) this._wsFallback(gen, new Error('WebSocket did not open'));
    };
    ws.onclose = (ev) => {
      if (gen !== this._gen || this._ws !== ws) return;
      if (!opened) this._wsFallback(gen, new Error(`WebSocket did not open (${ev.code})`));
      else this._lost(gen, `WebSocket closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
    };
  }

  _wsFallback(gen, err) {
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(); } catch { /* never opened */ }
    }
    if (this.opts.transport !== 'auto') return this._lost(gen, err);
    // The WebSocket cannot open here (proxy, old server): long-poll from now on.
    this._wsFailed = true;
    this._httpConnect(gen);
  }
}

// ---- 12. CRUD loader (§14.2) --------------------------------------------------------

/** Load, save, delete and create rows through a server CrudHandler. Errors in the
 * reply's result reject with VX_E_REMOTE carrying the server's message. */
export class CrudLoader {
  constructor(client, { timeout } = {}) {
    this.client = client;
    this.reqOpts = timeout ? { timeout } : {};
  }
  /** The row with `id`, or null. */
  async load(key, id) {
    const p = await this.client.request({ key, id }, [], this.reqOpts);
    return p.tuples[0] ?? null;
  }
  /** Insert (id null/"") or merge; resolves with the stored tuple(s). */
  async save(key, tuples) {
    const list = Array.isArray(tuples) ? tuples : [tuples];
    const p = await this.client.request({ key }, list, this.reqOpts);
    return Array.isArray(tuples) ? p.tuples : p.tuples[0] ?? null;
  }
  /** Delete the given tuple(s), or the row with the given id. */
  async remove(key, tuplesOrId) {
    const isTuples = Array.isArray(tuplesOrId) || tupleTypeName(tuplesOrId) !== null;
    if (isTuples) {
      const list = Array.isArray(tuplesOrId) ? tuplesOrId : [tuplesOrId];
      await this.client.request({ key, delete: true }, list, this.reqOpts);
    } else {
      await this.client.request({ key, id: tuplesOrId, delete: true }, [], this.reqOpts);
    }
    return true;
  }
  /** A new unsaved tuple with the server's defaults (or null). */
  async create(key) {
    const p = await this.client.request({ key }, [], this.reqOpts);
    return p.tuples[0] ?? null;
  }
}
