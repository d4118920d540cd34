// Push latency in real browsers: the time from an edit in one demo page to
// its appearance in N other open pages (default 20), over WebSocket and over
// HTTP long-poll. Not a test: prints a table.
//
//   node bench/browser_push.mjs BUILD_DIR [--pages 20] [--edits 40]
//   (needs `sh scripts/deps.sh --browser`; uses tests/browser/lib.mjs)
//
// Each page runs in its own browser context, as separate users would: a
// context has its own connection pool, so 20 long-poll pages are not held to
// the browser's six connections per host. Times are wall-clock
// (performance.timeOrigin + now()) taken in the pages themselves: the editor
// when it sends, each receiver when its subscription callback applies the
// row, so Playwright's own round trips are not counted.
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const build = process.argv[2];
if (!build || build.startsWith('--')) {
  console.error('usage: node bench/browser_push.mjs BUILD_DIR [--pages 20] [--edits 40]');
  process.exit(2);
}
process.env.VORTEXD = path.resolve(build, 'vortexd');
const PAGES = arg('pages', 20);
const EDITS = arg('edits', 40);
const WARMUP = 3; // first edits not counted (JIT, connection warm-up)

const { tempDir, startVortexd, launchBrowser, openDemo, stats } = await import('../tests/browser/lib.mjs');

// In a receiver: a promise that resolves with the time its page applied
// row 1 with name `v` (event-driven: polling 20 pages would load the CPU
// being measured).
function armWaiter(v) {
  const input = () => document.querySelector('#grid tr[data-id="1"] input[data-col="name"]');
  window.__vxWait = new Promise((resolve) => {
    const check = () => {
      if (input().value !== v) return false;
      document.removeEventListener('vxdemo:rows', check);
      resolve(window.vxDemo.state.timing.applied.get('1'));
      return true;
    };
    if (!check()) document.addEventListener('vxdemo:rows', check);
  });
}

async function run(browser, server, transport) {
  const log = [];
  // reducedMotion: the page's row highlight is a 0.8 s animation; 21 pages
  // animating on one small machine would measure the compositor, not the push.
  const open = async (name) => openDemo(await browser.newContext({ reducedMotion: 'reduce' }), server, { transport, name, log });
  const editor = await open('editor');
  const receivers = [];
  // A few at a time: opening pages is the slow part on a small machine.
  for (let i = 0; i < PAGES; i += 4) {
    const batch = [];
    for (let j = i; j < Math.min(PAGES, i + 4); j++) batch.push(open(`r${j}`));
    receivers.push(...await Promise.all(batch));
  }
  const delays = [], replies = [];
  const t0 = Date.now();
  for (let e = -WARMUP; e < EDITS; e++) {
    const value = `${transport || 'ws'} edit ${e}`;
    await Promise.all(receivers.map((p) => p.evaluate(armWaiter, value)));
    // Commit straight through the page's own edit path (what Enter does).
    await editor.evaluate((v) => {
      const input = document.querySelector('#grid tr[data-id="1"] input[data-col="name"]');
      input.value = v;
      return window.vxDemo.commitCell('1', input);
    }, value);
    const [sent, replied] = await editor.evaluate(() => [window.vxDemo.state.timing.lastCommit.at, window.vxDemo.state.timing.lastReply]);
    const got = await Promise.all(receivers.map((p) => p.evaluate(() => window.__vxWait)));
    if (e >= 0) {
      for (const g of got) delays.push(g - sent);
      replies.push(replied - sent);
    }
  }
  const wall = (Date.now() - t0) / 1000;
  for (const p of [editor, ...receivers]) await p.context().close();
  if (log.length) console.error(log.slice(0, 20).join('\n'));
  return { ...stats(delays), reply: stats(replies).p50, wall };
}

const dir = tempDir('vxbench-');
const server = await startVortexd({ db: path.join(dir, 'bench.db') });
const browser = await launchBrowser();
const rows = [];
try {
  for (const [label, transport] of [['WebSocket', undefined], ['HTTP long-poll', 'longpoll']]) {
    rows.push([label, await run(browser, server, transport)]);
  }
} finally {
  await browser.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

const f = (x) => x.toFixed(1).padStart(8);
const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
console.log(`\nbrowser push: 1 editing page -> ${PAGES} other pages, ${EDITS} edits each ` +
  `(${os.cpus().length} cores, load average ${load} at the end; Chromium headless, vortexd --db --demo)`);
console.log('| transport      | samples |  p50 ms  |  p99 ms  |  max ms  |  min ms  | editor reply p50 ms |');
console.log('|----------------|---------|----------|----------|----------|----------|---------------------|');
for (const [label, s] of rows) {
  console.log(`| ${label.padEnd(14)} | ${String(s.n).padStart(7)} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${f(s.min)} | ${f(s.reply).padStart(19)} |`);
}
