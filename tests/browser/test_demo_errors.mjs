// Server errors reach the user in words: a visible message (role=alert) that
// names the problem, the cell marked, the stored row unchanged, and the page
// still usable afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { tempDir, startVortexd, stopClean, launchBrowser, openDemo, cell, sqlRows, saveScreenshot } from './lib.mjs';

// No test may hang the run: a browser or server that stops answering fails it.
const T = { timeout: 120000 };

let dir, db, server, browser, page;
const log = [];

before(async () => {
  dir = tempDir();
  db = path.join(dir, 'demo.db');
  server = await startVortexd({ db });
  browser = await launchBrowser();
  page = await openDemo(await browser.newContext(), server, { name: 'E', log });
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

const alert = () => page.locator('#messages[role="alert"] .msg').last();

test('C-78 in the browser: clearing a NOT NULL name is refused by the server and shown in words', T, async () => {
  const before = sqlRows(db, 'SELECT * FROM employee WHERE id = 3')[0];
  await cell(page, 3, 'name').fill('');
  await cell(page, 3, 'name').press('Enter');
  await alert().waitFor({ timeout: 10000 });
  const text = await alert().innerText();
  assert.match(text, /Could not save name of employee 3/);
  assert.match(text, /name/i, 'the server message names the column');
  assert.ok(await alert().isVisible());
  assert.ok(await cell(page, 3, 'name').evaluate((e) => e.classList.contains('failed')));
  assert.deepEqual(sqlRows(db, 'SELECT * FROM employee WHERE id = 3')[0], before, 'row unchanged');
  // Escape puts back the stored value; the page goes on working.
  await cell(page, 3, 'name').press('Escape');
  assert.equal(await cell(page, 3, 'name').inputValue(), before.name);
  console.log(`shown: ${text.replace(/\s*Dismiss$/, '')}`);
});

test('C-78 in the browser: text in a number column (a crafted edit) is refused and shown in words', T, async () => {
  const before = sqlRows(db, 'SELECT * FROM employee WHERE id = 2')[0];
  // The number input would not take letters; a crafted edit turns it into a
  // text field, as a script or an old browser could.
  await cell(page, 2, 'salary').evaluate((e) => { e.type = 'text'; });
  await cell(page, 2, 'salary').fill('a lot');
  await cell(page, 2, 'salary').press('Enter');
  await page.waitForFunction(() => /salary of employee 2/.test(document.getElementById('messages').textContent), null, { timeout: 10000 });
  const text = await alert().innerText();
  assert.match(text, /salary/);
  assert.match(text, /float|number|real/i, 'the message says what the column expects');
  assert.deepEqual(sqlRows(db, 'SELECT * FROM employee WHERE id = 2')[0], before, 'row unchanged');
  // What was typed stays in the focused field, marked, to be corrected.
  assert.equal(await cell(page, 2, 'salary').inputValue(), 'a lot');
  assert.ok(await cell(page, 2, 'salary').evaluate((e) => e.classList.contains('failed')));
  await saveScreenshot(page, 'demo-error.png');
  console.log(`shown: ${text.replace(/\s*Dismiss$/, '')}`);

  // Dismissable, and a valid edit afterwards still works.
  const n = await page.locator('#messages .msg').count();
  await alert().getByRole('button', { name: /Dismiss/ }).click();
  assert.equal(await page.locator('#messages .msg').count(), n - 1);
  await cell(page, 2, 'salary').fill('7300');
  await cell(page, 2, 'salary').press('Enter');
  await page.waitForFunction(() => !document.querySelector('#grid tr[data-id="2"] input[data-col="salary"]').classList.contains('pending'));
  assert.equal(sqlRows(db, 'SELECT salary FROM employee WHERE id = 2')[0].salary, 7300);
});

test('adding a row without its required name is refused in words and the form keeps what was typed', T, async () => {
  const count = sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n;
  // Bypass the browser's own required check to reach the server.
  await page.locator('#add-form').evaluate((f) => { f.noValidate = true; });
  await page.locator('#add-email').fill('nobody@example.org');
  await page.locator('#add-form button[type="submit"]').click();
  await page.waitForFunction(() => /Could not add a row to employee/.test(document.getElementById('messages').textContent), null, { timeout: 10000 });
  assert.equal(await page.locator('#add-email').inputValue(), 'nobody@example.org');
  assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n, count);
});
