// Types for web/vortex.js, the VortexC browser client (docs/PROTOCOL.md).
//
// VALUE MAPPING (wire <-> JS). JS has one number type, so ints and floats are
// kept apart by this rule:
//   wire int   -> number (a safe integer), or bigint beyond ±(2^53-1)
//   wire float -> number; an INTEGRAL float (2.0, -0.0, 1e16) -> VxFloat, so it
//                 re-encodes as a float
//   encoding: a safe-integer number or a bigint -> int; any other finite number
//             or a VxFloat -> float; NaN/±Infinity -> VX_E_NONFINITE. Use
//             vxFloat(2) to send the float 2.0.
//   bool <-> boolean; null <-> null (undefined encodes as null); str <-> string
//   bytes <-> Uint8Array; datetime -> VxDateTime (a Date with microseconds);
//             any Date encodes (UTC, µs = 0 for a plain Date)
//   list <-> Array; dict -> plain object (wire key order kept even for
//             integer-like keys; "__proto__" is an ordinary key); a Map also encodes
//   tuple -> an instance of its registered class, else VxTuple
//   nested payload <-> Payload; _ft "wkb" <-> VxGeometry (relayed unchanged)

export type VxValue =
  | null | boolean | number | bigint | string | VxFloat | Uint8Array | Date | VxGeometry
  | VxValue[] | { [key: string]: VxValue } | Map<string, VxValue> | Tuple | VxTuple | Payload | object;
export type Filt = { [key: string]: VxValue };

/** §6.2 code names, e.g. "VX_E_BASE64". */
export type ErrorCode =
  | 'VX_E_MSG_TOO_BIG' | 'VX_E_BASE64' | 'VX_E_ZLIB' | 'VX_E_INFLATE_LIMIT' | 'VX_E_UTF8' | 'VX_E_JSON'
  | 'VX_E_DEPTH' | 'VX_E_NOT_OBJECT' | 'VX_E_CT_MISSING' | 'VX_E_CT_WRONG' | 'VX_E_FIELD_TYPE'
  | 'VX_E_UNKNOWN_CT' | 'VX_E_UNKNOWN_FT' | 'VX_E_BAD_VALUE' | 'VX_E_INT_RANGE' | 'VX_E_TUPLE_NO_TYPE'
  | 'VX_E_UNKNOWN_TUPLE' | 'VX_E_TUPLE_FIELD' | 'VX_E_UNSUPPORTED' | 'VX_E_GENERATION' | 'VX_E_NONFINITE'
  | 'VX_E_RESERVED_KEY' | 'VX_E_UNENCODABLE' | 'VX_E_NO_SUCH_VORTEX' | 'VX_E_TIMEOUT' | 'VX_E_QUEUE_FULL'
  | 'VX_E_CLOSED' | 'VX_E_REMOTE' | 'VX_E_NO_KEY' | 'VX_E_HANDLER';
export const ERROR_CODES: Readonly<Record<ErrorCode, number>>;

/** Every failure of the module. `name` and `code` are the §6.2 name, `errno` its number. */
export class VortexError extends Error {
  constructor(code: ErrorCode, message: string);
  readonly code: ErrorCode;
  readonly errno: number;
  /** VX_E_REMOTE from request(): the reply payload. */
  payload?: Payload;
}
/** A msg or JSON text that could not be decoded. */
export class DecodeError extends VortexError {}
/** A value that could not be encoded; `path` names where ("tuples[3].price"). */
export class EncodeError extends VortexError { path?: string; }

export class VxFloat {
  constructor(value: number);
  value: number;
  valueOf(): number;
}
export function vxFloat(value: number): VxFloat;

export class VxGeometry {
  constructor(bytes: Uint8Array, b64?: string);
  bytes: Uint8Array;
  /** The _fd text as received. */
  b64: string;
}

/** A UTC instant with microseconds: a Date plus `usec` (0-999 µs past the millisecond). */
export class VxDateTime extends Date {
  /** No arguments: now. */
  constructor(msSinceEpoch?: number, usec?: number);
  usec: number;
  /** UTC parts; micro is 0-999999. */
  static fromParts(y: number, mo: number, d: number, h?: number, mi?: number, s?: number, micro?: number): VxDateTime;
  /** Current time, strictly increasing within the process (1 µs steps). */
  static now(): VxDateTime;
  static fromDate(d: Date): VxDateTime;
  /** PROTOCOL §4.4 grammar (space or T, 0-6 fraction digits, Z or ±HH[:]MM); DecodeError VX_E_BAD_VALUE. */
  static parse(text: string): VxDateTime;
  /** "YYYY-MM-DD HH:MM:SS.ffffff" (UTC). */
  toVortexString(): string;
}

/** Optional base class for registered tuple classes: `new Person({name})` starts from the defaults. */
export class Tuple {
  constructor(fields?: { [field: string]: VxValue });
  readonly _tupleType: string | null;
  [field: string]: any;
}
/** A tuple of an unregistered type; its enumerable own properties are the fields. */
export class VxTuple {
  constructor(typeName: string, fields?: { [field: string]: VxValue });
  readonly _tupleType: string;
  [field: string]: any;
}
export function tupleTypeName(v: unknown): string | null;

export class TupleRegistry {
  /** Register a type; Class defaults to a fresh subclass of Tuple and must be
   * constructible without arguments. Field names must not start with '_'.
   * Throws on a duplicate name. Returns the class. */
  register<C extends new () => object>(name: string, Class: C | null | undefined, fields?: { [field: string]: VxValue } | Map<string, VxValue>): C;
  /** The class registered under name, or null. */
  get(name: string): (new () => object) | null;
}
/** Used when no registry option is given. */
export const defaultRegistry: TupleRegistry;
export function register<C extends new () => object>(name: string, Class?: C | null, fields?: { [field: string]: VxValue }): C;

export interface PayloadInit {
  filt?: Filt; replyFilt?: Filt; tuples?: VxValue[]; result?: VxValue;
  /** Default for new payloads: VxDateTime.now(). Decoded payloads keep null. */
  date?: Date | null;
}
export class Payload {
  constructor(init?: PayloadInit);
  filt: Filt;
  replyFilt: Filt;
  tuples: VxValue[];
  result: VxValue;
  date: Date | null;
  /** §3.2: only hello keys in filt, empty replyFilt and tuples, result null. */
  isEmpty(): boolean;
}

export function cloneValue<T>(v: T): T;

export interface CodecOptions {
  registry?: TupleRegistry;
  /** §5.3 strict decoding: unknown tuple types/fields and duplicate keys fail. */
  strict?: boolean;
  /** Default 64. */
  maxDepth?: number;
  /** Default 16 MiB. */
  maxMsgBytes?: number;
  /** Default 64 MiB. */
  maxJsonBytes?: number;
  /** Encode with "," and ":" instead of ", " and ": ". */
  compact?: boolean;
}
export const DEFAULTS: Readonly<{
  maxMsgBytes: number; maxJsonBytes: number; maxDepth: number; deadAfter: number; backoffInitial: number;
  backoffMax: number; sendQueueMax: number; responseTimeout: number; httpPath: string; wsPath: string;
}>;

/** Payload -> ASCII-only JSON text, byte-identical to vortexpy's. */
export function encodeJson(payload: Payload, opts?: CodecOptions): string;
export function encodeValue(value: VxValue, opts?: CodecOptions): string;
export function decodeJson(text: string, opts?: CodecOptions): Payload;
export function decodeValue(text: string, opts?: CodecOptions): VxValue;
/** Payload -> gen1 msg (base64 of zlib via CompressionStream; the zlib level is the platform's). */
export function encodeMsg(payload: Payload, opts?: CodecOptions): Promise<string>;
export function wrapJson(json: string, opts?: CodecOptions): Promise<string>;
/** Gen1 msg -> JSON text; rejects with DecodeError (§2.2 steps 1-5). */
export function unwrapMsg(msg: string, opts?: CodecOptions): Promise<string>;
export function decodeMsg(msg: string, opts?: CodecOptions): Promise<Payload>;
export function deflate(bytes: Uint8Array): Promise<Uint8Array>;
/** Strict zlib inflate: trailing bytes, bad Adler-32 and truncation are VX_E_ZLIB. */
export function inflate(bytes: Uint8Array, limit?: number): Promise<Uint8Array>;
export function base64Encode(bytes: Uint8Array): string;
/** Strict: throws an Error with `at` (character index) on bad input. */
export function base64Decode(text: string): Uint8Array;
/** Python repr of a finite double. */
export function floatRepr(x: number): string;
export function uuid4(): string;

/** '.'-delimited stream items; '' is a bare-dot heartbeat. */
export class Splitter {
  constructor(onItem: (item: string) => void, opts?: { maxMsgBytes?: number; onOversize?: () => void });
  feed(text: string): void;
  /** End of stream: discards and returns an unterminated final item. */
  finish(): string;
}

export interface CallbackContext {
  client?: VortexClient;
  vortexUuid?: string | null;
  vortexName?: string | null;
  /** Send to the server (the sender). */
  reply?(payloadOrFilt: Payload | Filt, tuples?: VxValue[]): Promise<void>;
}
export type EndpointCallback = (payload: Payload, ctx: CallbackContext) => unknown;
export interface Endpoint {
  readonly filt: Filt;
  remove(): void;
}
/** PROTOCOL §7: numbers compare numerically, bools never equal numbers, lists
 * are multisets, dict/tuple/payload values in an endpoint filt are ignored. */
export class Router {
  readonly size: number;
  /** Throws VX_E_NO_KEY without a "key" (or with a dict/tuple/payload key). The filt is copied. */
  add(filt: Filt, callback: EndpointCallback, opts?: { once?: boolean }): Endpoint;
  remove(endpoint: Endpoint): void;
  matching(filt: Filt): Endpoint[];
  /** Calls every matching endpoint once, in registration order; empty payloads
   * reach none. A throwing or rejecting callback is passed to onError. Returns the count. */
  dispatch(payload: Payload, ctx?: CallbackContext, onError?: (error: unknown, endpoint: Endpoint) => void): number;
}

export interface ClientOptions extends CodecOptions {
  /** Sent as vortexName; default "browser". */
  name?: string;
  /** Default: a fresh v4 uuid, kept across reconnects. */
  uuid?: string;
  /** 'auto' (default): WebSocket, falling back to long-poll for good when it cannot open. */
  transport?: 'auto' | 'websocket' | 'longpoll';
  /** WebSocket constructor (default globalThis.WebSocket; null = none). */
  WebSocket?: any;
  fetch?: typeof fetch;
  /** Seconds without any item before the server is dead (15). */
  deadAfter?: number;
  /** Reconnect backoff in seconds (0.5, 15): retry n waits in [b/2, b], b = min(max, initial*2^(n-1)). */
  backoffInitial?: number;
  backoffMax?: number;
  /** Bytes of msgs (+1 each) waiting to be handed over (8 MiB). */
  sendQueueMax?: number;
  /** Default request timeout in seconds (30). */
  responseTimeout?: number;
  httpPath?: string;
  wsPath?: string;
  /** Default true: connect in the constructor. */
  autoConnect?: boolean;
}

export interface SubscriptionEvent {
  kind: 'snapshot' | 'update' | 'delete';
  tuples: VxValue[];
  payload: Payload;
}
export interface Subscription {
  key: string;
  id?: VxValue;
  unsubscribe(): Promise<void>;
}

/**
 * One server over WebSocket (`<url>/vortexws`) or HTTP long-poll (`POST <url>/vortex`).
 * Events: 'online', 'offline' (Event), 'disconnect' ({reason}), 'error' ({error}: decode
 * errors, failing callbacks, failed re-subscriptions).
 */
export class VortexClient extends EventTarget {
  /** url: http[s]:// or ws[s]:// base of the server; default location.origin. */
  constructor(url?: string, opts?: ClientOptions);
  readonly uuid: string;
  readonly name: string;
  readonly online: boolean;
  readonly transport: 'websocket' | 'longpoll' | null;
  readonly serverUuid: string | null;
  readonly serverName: string | null;
  /** Reason of the latest failed attempt or lost connection. */
  readonly lastError: string | null;
  readonly queuedBytes: number;
  readonly router: Router;
  readonly stats: { decodeErrors: number; oversizeItems: number };
  connect(): void;
  /** No more reconnects; pending requests fail with VX_E_CLOSED; the queue is dropped. */
  close(): void;
  /** fn(online) at once, then on every change; returns an unsubscribe function. */
  onStatus(fn: (online: boolean) => void): () => void;
  on(filt: Filt, callback: EndpointCallback): Endpoint;
  off(endpoint: Endpoint): void;
  /** Sent on every connect and reconnect, in order, before queued msgs. */
  addReconnectPayload(payload: Payload): Promise<void>;
  /** Encoded at the call; resolves once queued (sent once, in order, across reconnects).
   * Rejects with VX_E_QUEUE_FULL, VX_E_CLOSED or an EncodeError. */
  send(payload: Payload): Promise<void>;
  send(filt: Filt, tuples?: VxValue[]): Promise<void>;
  /** §13: adds PayloadResponse.messageId; resolves with the reply; VX_E_TIMEOUT,
   * VX_E_REMOTE (result neither null nor true, unless checkResult is false). */
  request(filt: Filt, tuples?: VxValue[], opts?: { timeout?: number; checkResult?: boolean }): Promise<Payload>;
  /** Sends {key, subscribe: true[, id]} as a request; the reply is the snapshot;
   * pushes (no messageId) arrive as 'update' or, with delete: true, 'delete'.
   * Re-subscribes with a fresh snapshot after each reconnect. */
  subscribe(key: string, callback: (ev: SubscriptionEvent) => void, opts?: { id?: VxValue; timeout?: number }): Promise<Subscription>;
  /** Sends {key, unsubscribe: true} and drops every local subscription of key. */
  unsubscribe(key: string): Promise<void>;
}

/** §14.2 CrudHandler client; a non-null, non-true result rejects with VX_E_REMOTE (the server's message). */
export class CrudLoader {
  constructor(client: VortexClient, opts?: { timeout?: number });
  load(key: string, id: VxValue): Promise<VxValue | null>;
  save<T>(key: string, tuples: T): Promise<T>;
  remove(key: string, tuplesOrId: VxValue): Promise<true>;
  create(key: string): Promise<VxValue | null>;
}
