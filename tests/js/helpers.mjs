// Shared helpers for tests/js: the vector files and the tuple types they use
// (tests/vectors/README.md, "Tuple types used by the vectors").
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vx from '../../web/vortex.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const VECTORS = path.join(here, '..', 'vectors');

export function loadVectors(file) {
  return fs.readFileSync(path.join(VECTORS, file), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
export function findNamed(list, name) {
  const r = list.find((x) => x.name === name);
  if (!r) throw new Error(`no vector named ${name}`);
  return r;
}

export function testRegistry() {
  const R = new vx.TupleRegistry();
  const f = vx.vxFloat;
  const types = {
    Person: R.register('test.Person', class Person extends vx.Tuple {},
      { name: 'anon', age: 0, email: null, score: f(0), active: true, tags: [], born: null }),
    Address: R.register('test.Address', null, { street: '', city: '', postcode: null }),
    Team: R.register('test.Team', null, { name: 'team', leader: null, members: [], address: null, meta: {} }),
    BenchRow: R.register('test.BenchRow', null, { id: 0, name: '', code: '', qty: 0, price: f(0), ratio: f(0),
      created: null, updated: null, active: false, deleted: false }),
    CrudItem: R.register('test.CrudItem', null, { id: null, name: 'unnamed', qty: 0, price: null, active: true, created: null }),
  };
  return { registry: R, types };
}

/** The code a promise or function fails with, or 0. */
export async function codeOf(fn) {
  try { await fn(); return 0; } catch (e) {
    if (!(e instanceof vx.VortexError)) throw e;
    if (!e.message) throw new Error(`empty error message for ${e.code}`);
    return e.code;
  }
}
