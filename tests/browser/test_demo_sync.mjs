// Two browsers on the demo page see each other's edits without reloading
// (issue 5: "within 200 ms"). Each edit's delay is measured from the moment
// page A sends it to the moment page B applies it, both on the wall clock
// (performance.timeOrigin + now()); the numbers are printed, and the assert
// uses a generous bound so a loaded CI machine does not flake.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  tempDir, startVortexd, stopClean, launchBrowser, openDemo, cell, sqlRows, saveScreenshot, stats, fmt,
} from './lib.mjs';
import path from 'node:path';
import fs from 'node:fs';

// No test may hang the run: a browser or server that stops answering fails it.
const T = { timeout: 120000 };

const BOUND_MS = 2000;
let dir, db, server, browser, ctxA, ctxB, A, B;
const log = [];

before(async () => {
  dir = tempDir();
  db = path.join(dir, 'demo.db');
  server = await startVortexd({ db });
  browser = await launchBrowser();
  ctxA = await browser.newContext({ viewport: { width: 1200, height: 720 } });
  ctxB = await browser.newContext();
  A = await openDemo(ctxA, server, { name: 'A', log });
  B = await openDemo(ctxB, server, { name: 'B', log });
}, T);

after(async () => {
  if (log.length) console.log(log.join('\n'));
  await browser?.close();
  try {
    if (server) await stopClean(server);
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}, T);

// Delay of the last edit committed in `from` until `to` applied that row.
async function delay(from, to, id) {
  const sent = await from.evaluate(() => window.vxDemo.state.timing.lastCommit.at);
  const got = await to.evaluate((i) => window.vxDemo.state.timing.applied.get(i), String(id));
  return got - sent;
}

test('both pages show the same rows, online over WebSocket', T, async () => {
  for (const p of [A, B]) {
    assert.match(await p.locator('#conn').innerText(), /Online/);
    assert.match(await p.locator('#conn-transport').innerText(), /WebSocket/);
  }
  const ids = (p) => p.locator('#grid tbody tr[data-id]').evaluateAll((trs) => trs.map((t) => t.dataset.id));
  const stored = sqlRows(db, 'SELECT id FROM employee ORDER BY id').map((r) => String(r.id));
  assert.ok(stored.length >= 3, 'the demo database has employees');
  assert.deepEqual(await ids(A), stored);
  assert.deepEqual(await ids(B), stored);
  // Typed inputs by column kind.
  assert.equal(await cell(A, 1, 'salary').getAttribute('type'), 'number');
  assert.equal(await cell(A, 1, 'active').getAttribute('type'), 'checkbox');
  assert.equal(await cell(A, 1, 'hired').getAttribute('type'), 'datetime-local');
  assert.equal(await cell(A, 1, 'name').getAttribute('type'), 'text');
  const tables = await A.locator('#table-list a').allInnerTexts();
  assert.deepEqual([...tables].sort(), ['department', 'employee', 'project']);
});

test('C-78 in the browser: an edit in one browser appears in the other (text, number, checkbox, datetime)', T, async () => {
  const delays = [];
  for (let i = 0; i < 8; i++) {
    const name = `Name ${i} ${Date.now()}`;
    await cell(A, 2, 'name').fill(name);
    await cell(A, 2, 'name').press('Enter');
    await B.waitForFunction((v) => document.querySelector('#grid tr[data-id="2"] input[data-col="name"]').value === v,
      name, { timeout: BOUND_MS * 5 });
    delays.push(await delay(A, B, 2));
  }
  // The other way round, and other kinds.
  await cell(B, 3, 'salary').fill('1234.5');
  await cell(B, 3, 'salary').press('Enter');
  await A.waitForFunction(() => document.querySelector('#grid tr[data-id="3"] input[data-col="salary"]').value === '1234.5');
  delays.push(await delay(B, A, 3));

  const wasActive = await cell(A, 4, 'active').isChecked();
  await cell(A, 4, 'active').setChecked(!wasActive);
  await B.waitForFunction((v) => document.querySelector('#grid tr[data-id="4"] input[data-col="active"]').checked === v, !wasActive);
  delays.push(await delay(A, B, 4));

  await cell(A, 1, 'hired').fill('2024-02-29T13:45:07');
  await cell(A, 1, 'hired').press('Enter');
  await B.waitForFunction(() => document.querySelector('#grid tr[data-id="1"] input[data-col="hired"]').value === '2024-02-29T13:45:07');
  delays.push(await delay(A, B, 1));

  const s = stats(delays);
  console.log(`edit-to-other-browser delay over ${s.n} edits: min ${fmt(s.min)}, p50 ${fmt(s.p50)}, max ${fmt(s.max)} (issue target 200 ms, assert < ${BOUND_MS} ms)`);
  for (const d of delays) assert.ok(d >= 0 && d < BOUND_MS, `delay ${d} ms`);

  // And it is what was stored.
  const [r2] = sqlRows(db, 'SELECT name FROM employee WHERE id = 2');
  assert.match(r2.name, /^Name 7 /);
  const [r3] = sqlRows(db, 'SELECT salary, active, hired FROM employee WHERE id IN (3)');
  assert.equal(r3.salary, 1234.5);
  const [r4] = sqlRows(db, 'SELECT active FROM employee WHERE id = 4');
  assert.equal(Boolean(r4.active), !wasActive);
  const [r1] = sqlRows(db, 'SELECT hired FROM employee WHERE id = 1');
  assert.match(String(r1.hired), /^2024-02-29[ T]13:45:07/);
});

test('C-78, C-77 in the browser: a row added in one browser appears in the other, and a delete disappears', T, async () => {
  const before = sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n;
  await A.locator('#add-name').fill('Barbara Liskov');
  await A.locator('#add-email').fill('barbara@example.org');
  await A.locator('#add-salary').fill('8100');
  await A.locator('#add-form button[type="submit"]').click();
  await B.waitForFunction(() => [...document.querySelectorAll('#grid input[data-col="name"]')].some((i) => i.value === 'Barbara Liskov'));
  const stored = sqlRows(db, "SELECT id, email, salary FROM employee WHERE name = 'Barbara Liskov'");
  assert.equal(stored.length, 1, 'added exactly once');
  assert.equal(stored[0].email, 'barbara@example.org');
  assert.equal(stored[0].salary, 8100);
  assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n, before + 1);
  const id = String(stored[0].id);
  assert.equal(await B.locator(`#grid tbody tr[data-id="${id}"]`).count(), 1);

  await B.locator(`#grid tbody tr[data-id="${id}"] button`, { hasText: 'Delete' }).click();
  await A.waitForSelector(`#grid tbody tr[data-id="${id}"]`, { state: 'detached' });
  await B.waitForSelector(`#grid tbody tr[data-id="${id}"]`, { state: 'detached' });
  assert.equal(sqlRows(db, `SELECT count(*) AS n FROM employee WHERE id = ${Number(id)}`)[0].n, 0);
});

test('another table: switching shows its rows and stays live', T, async () => {
  await A.locator('#table-list a', { hasText: 'department' }).click();
  await B.locator('#table-list a', { hasText: 'department' }).click();
  for (const p of [A, B]) {
    await p.waitForSelector('#grid tbody tr[data-id="1"] input[data-col="budget"]');
    assert.equal(await p.locator('#grid-heading').innerText(), 'department');
    assert.equal(await p.locator('#table-list a[aria-current="page"]').innerText(), 'department');
  }
  await cell(A, 2, 'budget').fill('4242');
  await cell(A, 2, 'budget').press('Enter');
  await B.waitForFunction(() => document.querySelector('#grid tr[data-id="2"] input[data-col="budget"]').value === '4242');
  assert.equal(sqlRows(db, 'SELECT budget FROM department WHERE id = 2')[0].budget, 4242);
  // Back to employees for the screenshot.
  await A.locator('#table-list a', { hasText: 'employee' }).click();
  await A.waitForSelector('#grid tbody tr[data-id="1"] input[data-col="salary"]');
  await saveScreenshot(A, 'demo.png');
});
