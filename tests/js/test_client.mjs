// VortexClient against a live `vortexd --echo --test-endpoints` (env VORTEXD,
// set by CTest): long-poll transport, request/response, echo, liveness,
// reconnect with queued sends, events; the WebSocket path when Node has one
// (--experimental-websocket). Skipped when VORTEXD is unset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vx from '../../web/vortex.js';

const VORTEXD = process.env.VORTEXD;
const skip = VORTEXD ? false : 'VORTEXD is not set';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Start vortexd; resolves {proc, url, port, uuid} once it prints its listening line. */
function startVortexd(extra = [], port = 0) {
  return new Promise((resolve, reject) => {
    const proc = spawn(VORTEXD, ['--port', String(port), '--echo', '--test-endpoints', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`vortexd did not start: ${err}`)); }, 10000);
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+:(\d+)) uuid=(\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1], port: Number(m[2]), uuid: m[3], stderr: () => err }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`vortexd exited ${code}: ${err}`)); });
  });
}
function stopVortexd(s, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) return resolve();
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', () => resolve());
    s.proc.kill(signal);
  });
}
/** Resolves when `pred()` holds, polling; fails after `ms`. */
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
function events(client) {
  const seen = [];
  for (const t of ['online', 'offline']) client.addEventListener(t, () => seen.push(t));
  return seen;
}
const quickOpts = { transport: 'longpoll', backoffInitial: 0.1, backoffMax: 0.4 };

test('long-poll: hello, echo request/response, results, timeouts (C-47 C-72 C-73 C-74)', { skip }, async () => {
  const s = await startVortexd();
  const c = new vx.VortexClient(s.url, { ...quickOpts, name: 'jstest' });
  try {
    const seen = events(c);
    const states = [];
    c.onStatus((on) => states.push(on)); // a late subscriber hears the state at once
    assert.deepEqual(states, [false]);
    await until(() => c.online, 5000, 'online');
    assert.equal(c.transport, 'longpoll');
    assert.equal(c.serverUuid, s.uuid);
    assert.deepEqual(seen, ['online']);
    assert.deepEqual(states, [false, true]);

    // C-72: the reply to an echo carries our messageId and tuples.
    const d = vx.VxDateTime.fromParts(2024, 3, 5, 10, 11, 12, 7);
    const reply = await c.request({ key: 'vortexd.echo', n: 7 }, ['x', 2.5, 3, d, new Uint8Array([1, 2])]);
    assert.equal(reply.filt.n, 7);
    assert.equal(typeof reply.filt['PayloadResponse.messageId'], 'string');
    assert.equal(vx.encodeValue(reply.tuples), vx.encodeValue(['x', 2.5, 3, d, new Uint8Array([1, 2])]));

    // Many requests at once: each send is a new POST taking over the stream (§9.7).
    const many = await Promise.all(Array.from({ length: 30 }, (_, i) => c.request({ key: 'vortexd.echo', i })));
    assert.deepEqual(many.map((p) => p.filt.i), Array.from({ length: 30 }, (_, i) => i));

    // C-74: an error result fails the request with the server's message.
    const e = await c.request({ key: 'vortexd.fail' }).catch((x) => x);
    assert.equal(e.code, 'VX_E_REMOTE');
    assert.equal(e.message, 'vortexd.fail: failing as asked');
    assert.equal((await c.request({ key: 'vortexd.fail' }, [], { checkResult: false })).result, 'vortexd.fail: failing as asked');

    // C-73: nobody answers -> VX_E_TIMEOUT, and no endpoint stays behind.
    const before = c.router.size;
    const t = await c.request({ key: 'nobody.home' }, [], { timeout: 0.3 }).catch((x) => x);
    assert.equal(t.code, 'VX_E_TIMEOUT');
    assert.equal(c.router.size, before);
    assert.equal(before, 0);

    // Endpoints: a send whose echo is routed to on(); once each, in order.
    const got = [];
    const ep = c.on({ key: 'vortexd.echo', tag: 'plain' }, (p) => got.push(['a', p.tuples[0]]));
    c.on({ key: 'vortexd.echo' }, (p) => { if (p.filt.tag === 'plain') got.push(['b', p.tuples[0]]); });
    for (let i = 0; i < 5; i++) await c.send({ key: 'vortexd.echo', tag: 'plain' }, [i]);
    await until(() => got.length === 10, 5000, 'echoes');
    assert.deepEqual(got, [0, 1, 2, 3, 4].flatMap((i) => [['a', i], ['b', i]]));
    ep.remove();

    // C-81-style: a send by uuid to ourselves arrives as vortexd.sent.
    const sent = new Promise((res) => c.on({ key: 'vortexd.sent' }, res));
    await c.request({ key: 'vortexd.sendUuid', uuid: c.uuid, tag: 'me' }, ['t']);
    assert.deepEqual((await sent).tuples, ['t']);
  } finally {
    c.close();
    await stopVortexd(s);
  }
  assert.equal(c.online, false);
});

test('C-45 rapuiClientEcho is sent back without the key, then routed; C-42 callback errors reply', { skip }, async () => {
  const s = await startVortexd();
  const c = new vx.VortexClient(s.url, quickOpts);
  try {
    await until(() => c.online, 5000, 'online');
    const got = [];
    c.on({ key: 'vortexd.echo', tag: 'ce' }, (p) => got.push(p.filt));
    // vortexd echoes with the key; we remove it, echo back (echoed again), then route.
    await c.send({ key: 'vortexd.echo', tag: 'ce', rapuiClientEcho: true });
    await until(() => got.length === 2, 5000, 'two deliveries');
    assert.ok(got.every((f) => !('rapuiClientEcho' in f)));

    // A failing callback makes one reply with the error as result; vortexd echoes
    // that reply, whose non-null result stops the loop (§6.3, §7.4).
    const results = [];
    c.on({ key: 'vortexd.echo', tag: 'err' }, (p) => { results.push(p.result); if (p.result === null) throw new Error('callback failed'); });
    await c.send({ key: 'vortexd.echo', tag: 'err' });
    await until(() => results.length === 2, 5000, 'error reply echo');
    await sleep(200);
    assert.deepEqual(results, [null, 'callback failed']);
  } finally {
    c.close();
    await stopVortexd(s);
  }
});

test('C-67 C-69 C-70 reconnect after vortexd is killed and restarted: queued sends once, in order', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxjs-'));
  const record = path.join(dir, 'record.txt');
  let s = await startVortexd(['--record', record]);
  const port = s.port;
  const c = new vx.VortexClient(s.url, { ...quickOpts, sendQueueMax: 4096 });
  const seen = events(c);
  try {
    await until(() => c.online, 5000, 'online');
    await c.addReconnectPayload(new vx.Payload({ filt: { key: 'vortexd.record', seq: -1 } }));
    await c.request({ key: 'vortexd.record', seq: 0 });
    await stopVortexd(s, 'SIGKILL');
    await until(() => !c.online, 5000, 'offline');
    assert.deepEqual(seen, ['online', 'offline']);

    // Offline: sends queue up; an overflow fails at once and keeps the queue.
    for (let i = 1; i <= 10; i++) await c.send({ key: 'vortexd.record', seq: i });
    const queued = c.queuedBytes;
    assert.ok(queued > 0);
    const big = await c.send({ key: 'vortexd.record', seq: 99 }, ['y'.repeat(8000).split('').map((_, i) => i).join(',')]).catch((x) => x);
    assert.equal(big.code, 'VX_E_QUEUE_FULL');
    assert.equal(c.queuedBytes, queued);
    await sleep(600); // a few failed attempts (connection refused) in between

    s = await startVortexd(['--record', record], port);
    await until(() => c.online, 8000, 'online again');
    assert.deepEqual(seen, ['online', 'offline', 'online']);
    await c.request({ key: 'vortexd.echo' }); // everything before it has been routed
    assert.equal(c.queuedBytes, 0);
    const lines = fs.readFileSync(record, 'utf8').trim().split('\n');
    // seq 0 before the kill; after the restart the reconnect payload first, then 1..10 once each.
    assert.deepEqual(lines, ['0', '-1', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  } finally {
    c.close();
    await stopVortexd(s);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('C-67 a silent server is declared dead after deadAfter, then reconnected', { skip }, async () => {
  const s = await startVortexd(['--heartbeat-period', '30']);
  const c = new vx.VortexClient(s.url, { ...quickOpts, deadAfter: 0.5 });
  const seen = events(c);
  try {
    await until(() => seen.length >= 3, 5000, 'online, offline, online');
    assert.deepEqual(seen.slice(0, 3), ['online', 'offline', 'online']);
    assert.match(c.lastError, /dead|no hello/);
  } finally {
    c.close();
    await stopVortexd(s);
  }
});

const WS = globalThis.WebSocket;
test('WebSocket transport: echo, bare-dot, reconnect', { skip: skip || (WS ? false : 'no WebSocket in this Node (run with --experimental-websocket)') }, async () => {
  let s = await startVortexd();
  const c = new vx.VortexClient(s.url, { transport: 'websocket', WebSocket: WS, backoffInitial: 0.1, backoffMax: 0.4 });
  const seen = events(c);
  try {
    await until(() => c.online, 5000, 'online');
    assert.equal(c.transport, 'websocket');
    assert.equal(c.serverUuid, s.uuid);
    const r = await c.request({ key: 'vortexd.echo', x: 'ws' }, [1, 'two']);
    assert.deepEqual([r.filt.x, r.tuples], ['ws', [1, 'two']]);
    const port = s.port;
    await stopVortexd(s, 'SIGKILL');
    await until(() => !c.online, 5000, 'offline');
    const order = [];
    c.on({ key: 'vortexd.echo', tag: 'q' }, (p) => order.push(p.filt.i));
    for (let i = 0; i < 5; i++) await c.send({ key: 'vortexd.echo', tag: 'q', i });
    s = await startVortexd([], port);
    await until(() => order.length === 5, 8000, 'queued echoes');
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.deepEqual(seen, ['online', 'offline', 'online']);
  } finally {
    c.close();
    await stopVortexd(s);
  }
});

test('auto transport falls back to long-poll when the WebSocket cannot open', { skip }, async () => {
  const s = await startVortexd();
  let tried = 0;
  class NoWebSocket { // fails like a proxy that refuses upgrades
    constructor() { tried++; setTimeout(() => this.onclose?.({ code: 1006, reason: '' }), 10); }
    close() {}
  }
  const c = new vx.VortexClient(s.url, { WebSocket: NoWebSocket });
  try {
    await until(() => c.online, 5000, 'online');
    assert.equal(tried, 1);
    assert.equal(c.transport, 'longpoll');
    assert.equal((await c.request({ key: 'vortexd.echo', via: 'fallback' })).filt.via, 'fallback');
  } finally {
    c.close();
    await stopVortexd(s);
  }
});

// A scripted fetch: each POST waits until the test answers it, so the queue
// rules can be checked at exact moments (no server needed).
function scriptedFetch() {
  const calls = [];
  const fetch = (url, init) => new Promise((resolve, reject) => {
    const call = { url, body: init.body, resolve, reject, stream: null };
    init.signal.addEventListener('abort', () => { reject(new Error('aborted')); call.stream?.error(new Error('aborted')); });
    call.open = async () => { // 200 with the hello as the first item, then kept open
      const hello = await vx.encodeMsg(new vx.Payload({ filt: { __vortexUuid__: 'scripted', __vortexName__: 's' } }));
      resolve(new Response(new ReadableStream({ start(c) { call.stream = c; c.enqueue(new TextEncoder().encode(hello + '.')); } }), { status: 200 }));
    };
    calls.push(call);
  });
  return { fetch, calls };
}
const seqs = (body) => Promise.all(body.split('.').filter(Boolean).map(async (m) => (await vx.decodeMsg(m)).filt.seq));

test('C-69 msgs of a failed POST go back to the front of the queue; one POST waits for its head at a time', async () => {
  const { fetch, calls } = scriptedFetch();
  const c = new vx.VortexClient('http://scripted.invalid', { transport: 'longpoll', fetch, backoffInitial: 0.02, backoffMax: 0.05 });
  const seen = events(c);
  try {
    await until(() => calls.length === 1, 2000, 'connect POST');
    assert.equal(calls[0].body, '');
    assert.match(calls[0].url, /^http:\/\/scripted\.invalid\/vortex\?vortexUuid=[0-9a-f-]{36}&vortexName=browser&/);
    await calls[0].open();
    await until(() => c.online, 2000, 'online');
    await c.send({ key: 'k', seq: 1 });
    await until(() => calls.length === 2, 2000, 'send POST');
    await c.send({ key: 'k', seq: 2 }); // POST 2 has no head yet: these wait
    await c.send({ key: 'k', seq: 3 });
    await sleep(50);
    assert.equal(calls.length, 2);
    assert.deepEqual(await seqs(calls[1].body), [1]);
    calls[1].reject(new TypeError('network error'));
    await until(() => calls.length === 3, 2000, 'reconnect POST');
    assert.deepEqual(seen, ['online', 'offline']);
    assert.deepEqual(await seqs(calls[2].body), [1, 2, 3]); // in order, nothing lost
    await calls[2].open();
    await until(() => c.online, 2000, 'online again');
    assert.equal(c.queuedBytes, 0);
    await c.send({ key: 'k', seq: 4 });
    await until(() => calls.length === 4, 2000, 'next POST');
    assert.deepEqual(await seqs(calls[3].body), [4]); // 1-3 were handed over: never resent
  } finally {
    c.close();
  }
});
