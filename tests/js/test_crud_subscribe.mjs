// CrudLoader (§14.2) and subscribe/unsubscribe (the docs/handlers.md contract)
// against a small in-process long-poll server built from vortex.js's own codec,
// because vortexd has no CRUD or observable handler to test against yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as vx from '../../web/vortex.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const R = new vx.TupleRegistry();
const Item = R.register('mock.Item', null, { id: null, name: 'unnamed', qty: 0 });

/** A gen1 long-poll server (§9): hello first, body items routed to handle(), replies
 * to the current response of the sender. Enough of a CrudHandler (§14.2) and of the
 * subscription contract to check the client side. */
function mockServer() {
  const rows = new Map();
  let nextId = 1, current = null, chain = Promise.resolve();
  const subs = new Set();
  const log = [];
  const write = (p) => {
    chain = chain.then(() => vx.encodeMsg(p, { registry: R })).then((m) => current?.write(m + '.'));
    return chain;
  };
  const reply = (req, tuples, result) => write(new vx.Payload({ filt: req.filt, tuples, result }));
  const handle = (p) => {
    const f = p.filt;
    log.push(f);
    if (f.key === 'crud.items') {
      if (f.fail) return reply(p, [], 'constraint failed: name');
      if (f.delete === true) {
        for (const t of p.tuples.length ? p.tuples : [{ id: f.id }]) rows.delete(t.id);
        return reply(p, [], true);
      }
      if (p.tuples.length) {
        const stored = p.tuples.map((t) => {
          const row = new Item({ ...t });
          if (row.id === null || row.id === '') row.id = nextId++;
          rows.set(row.id, row);
          return row;
        });
        return reply(p, stored, true);
      }
      if (f.id !== undefined && f.id !== null) return reply(p, rows.has(f.id) ? [rows.get(f.id)] : [], null);
      return reply(p, [new Item()], null);
    }
    if (f.key === 'sub.items' && f.subscribe === true) {
      subs.add('sub.items');
      return reply(p, [...rows.values()], null);
    }
    if (f.key === 'sub.items' && f.unsubscribe === true) {
      subs.delete('sub.items');
      return reply(p, [], true);
    }
    return undefined;
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', async () => {
      if (current) current.end(); // take over (§9.4)
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' });
      current = res;
      subs.clear(); // a new POST could be a new session; the client re-subscribes anyway on reconnect
      await write(new vx.Payload({ filt: { __vortexUuid__: 'mock-uuid', __vortexName__: 'mock' } }));
      for (const item of body.split('.').filter(Boolean)) handle(await vx.decodeMsg(item, { registry: R }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    rows, log,
    push: (extra, tuples) => write(new vx.Payload({ filt: { key: 'sub.items', subscribe: true, ...extra }, tuples })),
    dropStream: () => { current?.destroy(); current = null; },
    close: () => new Promise((r) => { current?.destroy(); server.closeAllConnections?.(); server.close(r); }),
  })));
}

test('C-77 C-78 C-79 CrudLoader: create, save, load, remove; errors reject with the server message', async () => {
  const s = await mockServer();
  const c = new vx.VortexClient(s.url, { transport: 'longpoll', registry: R });
  try {
    const crud = new vx.CrudLoader(c, { timeout: 5 });
    const fresh = await crud.create('crud.items');
    assert.ok(fresh instanceof Item);
    assert.deepEqual([fresh.id, fresh.name], [null, 'unnamed']);
    fresh.name = 'widget';
    const saved = await crud.save('crud.items', fresh);
    assert.ok(saved instanceof Item);
    assert.equal(saved.id, 1);
    const two = await crud.save('crud.items', [new Item({ name: 'a' }), new Item({ name: 'b', id: 7 })]);
    assert.deepEqual(two.map((t) => [t.id, t.name]), [[2, 'a'], [7, 'b']]);
    assert.equal((await crud.load('crud.items', 1)).name, 'widget');
    assert.equal(await crud.load('crud.items', 99), null);
    assert.equal(await crud.remove('crud.items', two), true);
    assert.equal(await crud.remove('crud.items', 1), true);
    assert.deepEqual([...s.rows.keys()], []);
    const last = s.log.at(-1);
    assert.deepEqual([last.key, last.id, last.delete], ['crud.items', 1, true]);
    const e = await c.request({ key: 'crud.items', fail: true }).catch((x) => x);
    assert.equal(e.code, 'VX_E_REMOTE');
    assert.equal(e.message, 'constraint failed: name');
  } finally {
    c.close();
    await s.close();
  }
});

test('subscribe: snapshot, updates, deletes, re-subscribe after reconnect, unsubscribe', async () => {
  const s = await mockServer();
  s.rows.set(1, new Item({ id: 1, name: 'one' }));
  const c = new vx.VortexClient(s.url, { transport: 'longpoll', registry: R, backoffInitial: 0.05, backoffMax: 0.1 });
  try {
    const evs = [], one = [];
    const sub1 = await c.subscribe('sub.items', (ev) => one.push([ev.kind, ev.tuples.map((t) => t.name)]), { id: 2 });
    assert.equal(s.log.at(-1).id, 2);
    const sub = await c.subscribe('sub.items', (ev) => evs.push([ev.kind, ev.tuples.map((t) => t.name)]));
    assert.deepEqual(evs, [['snapshot', ['one']]]);
    const sent = s.log.at(-1);
    assert.equal(sent.subscribe, true);
    assert.equal(typeof sent['PayloadResponse.messageId'], 'string');
    await s.push({}, [new Item({ id: 2, name: 'two' })]);
    await s.push({ delete: true }, [new Item({ id: 1, name: 'one' })]);
    await until(() => evs.length === 3, 3000, 'pushes');
    assert.deepEqual(evs.slice(1), [['update', ['two']], ['delete', ['one']]]);
    assert.deepEqual(one, [['snapshot', ['one']], ['update', ['two']]]); // the mock ignores ids; the client filters
    await sub1.unsubscribe(); // another local subscription remains: the server is not told
    assert.notEqual(s.log.at(-1).unsubscribe, true);

    // The connection drops; after the reconnect a fresh snapshot arrives.
    s.rows.set(3, new Item({ id: 3, name: 'three' }));
    s.dropStream();
    await until(() => evs.length === 4, 5000, 'fresh snapshot');
    assert.deepEqual(evs[3], ['snapshot', ['one', 'three']]);

    await sub.unsubscribe();
    assert.equal(s.log.at(-1).unsubscribe, true);
    await s.push({}, [new Item({ id: 4, name: 'four' })]);
    await sleep(100);
    assert.equal(evs.length, 4);
    assert.equal(c.router.size, 0);
  } finally {
    c.close();
    await s.close();
  }
});
