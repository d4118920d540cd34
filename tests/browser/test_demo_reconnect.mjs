// vortexd killed (SIGKILL) and restarted on the same port with the same
// database: the page shows offline, then online again; edits typed while
// offline stay on screen, are delivered after the reconnect and stored, each
// once; nothing typed is lost. Once over WebSocket, once with long-poll only
// (?transport=longpoll), and once with a server whose WebSocket path is off,
// where the page falls back to long-poll by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { tempDir, startVortexd, stopClean, launchBrowser, openDemo, cell, sqlRows } from './lib.mjs';

// No test may hang the run: a browser or server that stops answering fails it.
const T = { timeout: 120000 };

async function killAndRestart(transport, label, extra = []) {
  const dir = tempDir();
  const db = path.join(dir, 'demo.db');
  const log = [];
  let server = await startVortexd({ db, extra });
  const browser = await launchBrowser();
  try {
    const ctx = await browser.newContext();
    const page = await openDemo(ctx, server, { transport, name: label, log });
    assert.match(await page.locator('#conn-transport').innerText(), label === 'ws' ? /WebSocket/ : /long-poll/);
    const rowsBefore = sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n;
    const port = server.port;

    await server.kill9();
    await page.waitForSelector('#conn[data-state="offline"]', { timeout: 20000 });
    assert.match(await page.locator('#conn').innerText(), /Offline/);

    // Typed while offline: two cells of one row, a cell of another, a new row.
    await cell(page, 1, 'name').fill('Ada King');
    await cell(page, 1, 'name').press('Enter');
    await cell(page, 1, 'email').fill('ada.king@example.org');
    await cell(page, 1, 'email').press('Tab');
    await cell(page, 3, 'salary').fill('7777.25');
    await cell(page, 3, 'salary').press('Enter');
    await page.locator('#add-name').fill(`Offline hire ${label}`);
    await page.locator('#add-form button[type="submit"]').click();

    // Still on screen, marked as waiting, and counted in the status line.
    assert.equal(await cell(page, 1, 'name').inputValue(), 'Ada King');
    assert.equal(await cell(page, 1, 'email').inputValue(), 'ada.king@example.org');
    assert.equal(await cell(page, 3, 'salary').inputValue(), '7777.25');
    assert.ok(await cell(page, 1, 'name').evaluate((e) => e.classList.contains('pending')));
    assert.match(await page.locator('#conn-pending').innerText(), /4 edits waiting to be sent/);
    // Nothing reached the database.
    assert.equal(sqlRows(db, 'SELECT name FROM employee WHERE id = 1')[0].name, 'Ada Lovelace');

    await new Promise((r) => setTimeout(r, 500));
    server = await startVortexd({ db, port, extra });
    await page.waitForSelector('#conn[data-state="online"]', { timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('conn-pending').textContent === '', null, { timeout: 15000 });

    const [r1] = sqlRows(db, 'SELECT name, email FROM employee WHERE id = 1');
    assert.deepEqual(r1, { name: 'Ada King', email: 'ada.king@example.org' });
    assert.equal(sqlRows(db, 'SELECT salary FROM employee WHERE id = 3')[0].salary, 7777.25);
    const added = sqlRows(db, `SELECT id FROM employee WHERE name = 'Offline hire ${label}'`);
    assert.equal(added.length, 1, 'the offline insert is stored exactly once');
    assert.equal(sqlRows(db, 'SELECT count(*) AS n FROM employee')[0].n, rowsBefore + 1);

    // The page shows the stored state, the pending marks are gone, no error.
    assert.equal(await cell(page, 1, 'name').inputValue(), 'Ada King');
    assert.ok(!(await cell(page, 1, 'name').evaluate((e) => e.classList.contains('pending'))));
    await page.waitForSelector(`#grid tbody tr[data-id="${added[0].id}"]`);
    assert.equal(await page.locator('#messages .msg').count(), 0, await page.locator('#messages').innerText());

    // A fresh page after the restart sees the same (served from the store).
    const other = await openDemo(await browser.newContext(), server, { transport, name: `${label}-fresh`, log });
    assert.equal(await cell(other, 1, 'name').inputValue(), 'Ada King');
    assert.equal(await cell(other, 3, 'salary').inputValue(), '7777.25');

    // And the first page is live again: an edit from the fresh page arrives.
    await cell(other, 2, 'name').fill('Grace B. Hopper');
    await cell(other, 2, 'name').press('Enter');
    await page.waitForFunction(() => document.querySelector('#grid tr[data-id="2"] input[data-col="name"]').value === 'Grace B. Hopper');
  } catch (e) {
    if (log.length) console.log(log.join('\n'));
    console.log(`vortexd stderr: ${server.stderr()}`);
    await browser.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  await browser.close();
  try {
    await stopClean(server);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('C-69 in the browser: vortexd killed and restarted, WebSocket: offline edits delivered, nothing lost', T, () =>
  killAndRestart(undefined, 'ws'));

test('C-69 in the browser: vortexd killed and restarted, long-poll only: offline edits delivered, nothing lost', T, () =>
  killAndRestart('longpoll', 'longpoll'));

test('C-69 in the browser: server without WebSocket: the page falls back to long-poll, survives a kill and restart', T, () =>
  killAndRestart(undefined, 'fallback', ['--ws-path', '/ws-disabled']));
