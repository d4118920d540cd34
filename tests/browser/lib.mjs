// Shared helpers of the real-browser tests (tests/browser/test_*.mjs) and the
// push benchmark (bench/browser_push.mjs): start vortexd with a fresh demo
// database, launch Debian's Chromium through playwright-core, open the demo
// page and wait until it is live.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WEB = path.join(ROOT, 'web');
export const ARTIFACTS = path.join(ROOT, 'tests/browser/artifacts');

// The launch line known to work here: Debian's build, no sandbox (root), and
// no background networking (this machine's closed network refuses it).
export const CHROMIUM = process.env.VX_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

export function vortexdPath() {
  const p = process.env.VORTEXD;
  if (!p) throw new Error('set VORTEXD to the vortexd binary (tests/browser/run.sh BUILD_DIR does)');
  if (!fs.existsSync(p)) throw new Error(`VORTEXD=${p} does not exist`);
  return p;
}

export function tempDir(prefix = 'vxdemo-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Servers still running when the test process exits (a failed or timed-out
// test) are killed, so none outlives the run.
const live = new Set();
process.on('exit', () => { for (const p of live) p.kill('SIGKILL'); });

const LISTEN_RE = /^vortexd listening on http:\/\/([^\s]+):(\d+) /;

// Start `vortexd --db DB --demo --static web` on `port` (0 = a free one) and
// resolve once it prints its listening line. The returned object has url,
// port, kill9() and stop().
export async function startVortexd({ db, port = 0, extra = [] } = {}) {
  const args = ['--host', '127.0.0.1', '--port', String(port), '--db', db, '--demo',
    '--static', WEB, '--log-level', 'warn', ...extra];
  const proc = spawn(vortexdPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; if (stderr.length > 65536) stderr = stderr.slice(-32768); });
  const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error(`vortexd printed no listening line in 10 s; stderr: ${stderr}`)), 10000);
    rl.once('line', (l) => { clearTimeout(timer); resolve(l); });
    exited.then(({ code, sig }) => {
      clearTimeout(timer);
      reject(new Error(`vortexd exited (${code ?? sig}) before listening; stderr: ${stderr}`));
    });
  });
  const m = LISTEN_RE.exec(line);
  if (!m) throw new Error(`unexpected listening line: ${line}`);
  const server = {
    proc,
    port: Number(m[2]),
    url: `http://127.0.0.1:${m[2]}`,
    exited,
    stderr: () => stderr,
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  return server;
}

// SIGTERM and check vortexd shut down cleanly (exit 0; under ASan a leak or
// error report makes it non-zero).
export async function stopClean(server) {
  const r = await server.stop();
  if (r.code !== 0) throw new Error(`vortexd exit ${JSON.stringify(r)}; stderr: ${server.stderr()}`);
}

export async function launchBrowser() {
  // launch() gives every run a fresh, empty profile (user-data-dir) of its own.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// Console errors and uncaught exceptions of a page, printed if a test fails.
export function watchPage(page, name, log) {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.push(`[${name} console.${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => log.push(`[${name} pageerror] ${e.message}`));
}

// Open the demo on `table`; resolve when the page is online and shows rows.
export async function openDemo(context, server, { table = 'employee', transport, name = 'page', log = [] } = {}) {
  const page = await context.newPage();
  watchPage(page, name, log);
  const q = transport ? `?transport=${transport}` : '';
  await page.goto(`${server.url}/demo/${q}#${table}`);
  await page.waitForSelector('#conn[data-state="online"]', { timeout: 15000 });
  await page.waitForSelector('#grid tbody tr[data-id]', { timeout: 15000 });
  return page;
}

export function cell(page, id, col) {
  return page.locator(`#grid tbody tr[data-id="${id}"] input[data-col="${col}"]`);
}

// Rows of the SQLite file, read with the sqlite3 command-line shell: what is
// really stored, independent of vortexd and the page.
export function sqlRows(db, sql) {
  if (!db) throw new Error('sqlRows: no database file');
  const out = execFileSync('sqlite3', ['-json', db, sql], { encoding: 'utf8' });
  return out.trim() === '' ? [] : JSON.parse(out);
}

export function saveScreenshot(page, file) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
}

export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, min: s[0], p50: q(0.5), p99: q(0.99), max: s[s.length - 1] };
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;
