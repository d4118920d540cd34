// VortexC demo page: lists the tables vortexd serves (ModelHandler
// "crud.tables"), shows one table's rows in an editable grid backed by its
// CrudHandler ("crud.<table>"), and stays subscribed to that table so edits
// made anywhere appear here without a reload.
//
// Plain DOM, no framework, no build step. The page keeps three things:
//   rows     what the server last told us (snapshot, pushes, replies);
//   pending  edits sent but not yet answered, shown over `rows` so nothing
//            typed disappears while offline (the client queues the msgs);
//   the DOM  rendered from both; a focused input is never overwritten.
import * as vortex from '../vortex.js';

const params = new URLSearchParams(location.search);
// ?transport=longpoll forces HTTP long-poll (for browsers or proxies where
// WebSocket is blocked, and for the tests of that path).
const FORCE_LONGPOLL = params.get('transport') === 'longpoll';
// Saves wait this long for an answer: an edit typed offline must survive a
// long outage, so the usual 30 s request timeout is too short here.
const SAVE_TIMEOUT_S = 10 * 60;
const TABLES_KEY = 'crud.tables';

const $ = (id) => document.getElementById(id);

const state = {
  client: null,
  loader: null,
  tables: [],          // metadata dicts from crud.tables
  table: null,         // the shown table's metadata
  rows: new Map(),     // id (string) -> {column: value}, as the server has it
  order: [],           // ids in display order (by primary key)
  pending: new Map(),  // id -> {seq, fields: {column: value}}: unanswered edits
  deleting: new Set(), // ids with an unanswered delete
  adding: new Map(),   // temp key -> fields: unanswered inserts
  unsubscribe: null,
  seq: 0,
  // Timing hooks for the browser tests and the push benchmark: wall-clock
  // times (performance.timeOrigin-based, comparable across pages).
  timing: { lastCommit: null, lastReply: null, applied: new Map() },
};

const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------
// Client seam: everything this page needs from vortex.js, in one place.
// ---------------------------------------------------------------------------

function connect() {
  const client = new vortex.VortexClient(location.origin, {
    name: 'vortexc-demo',
    transport: FORCE_LONGPOLL ? 'longpoll' : 'auto',
  });
  client.addEventListener('online', () => showConnection());
  client.addEventListener('offline', () => showConnection());
  // A msg this page could not decode, or a re-subscribe that failed after a
  // reconnect: say so on the page rather than go quiet.
  client.addEventListener('error', (ev) => showMessage(`Connection problem: ${errorText(ev.error)}`));
  state.loader = new vortex.CrudLoader(client, { timeout: SAVE_TIMEOUT_S });
  return client;
}

function isOnline() { return Boolean(state.client?.online); }

// The client forgets its transport while offline; show the last one used.
let lastTransport = '';
function transportName() {
  const t = state.client?.transport || lastTransport;
  lastTransport = t;
  if (t === 'websocket') return 'WebSocket';
  if (t === 'longpoll') return 'HTTP long-poll';
  return t || '';
}

async function fetchTables() {
  const reply = await state.client.request({ key: TABLES_KEY });
  return reply.tuples.map((d) => ({ ...d }));
}

// A row as sent to the server: a tuple of the table's type. vortexd does not
// register its table types with the codec, so both sides use untyped tuples
// (VxTuple) named by the table's type, and an untyped tuple updates only the
// fields it carries (docs/handlers.md, "Partial tuples"): an edit sends the id
// and the edited fields, so two people editing different fields of one row
// do not undo each other.
function toTuple(table, fields) { return new vortex.VxTuple(table.type, fields); }
function fromTuple(t) { return { ...t }; }

async function saveRows(table, rowsFields) {
  const stored = await state.loader.save(table.key, rowsFields.map((f) => toTuple(table, f)));
  return stored.map(fromTuple);
}

async function removeRow(table, idValue) {
  await state.loader.remove(table.key, idValue);
}

// Resolves once the snapshot was delivered; the client re-subscribes (with a
// fresh snapshot) after every reconnect by itself.
async function subscribe(table, onChange) {
  const sub = await state.client.subscribe(table.key, (change) => {
    onChange(change.kind, change.tuples.map(fromTuple));
  });
  return () => sub.unsubscribe().catch(() => {});
}

// Values between the wire and the inputs, by column kind. Integral floats
// arrive wrapped (VxFloat) so they stay floats; datetimes are VxDateTime
// (a Date whose UTC fields are the naive protocol time).
function cellFromWire(kind, v) {
  if (v === null || v === undefined) return null;
  if (v instanceof vortex.VxFloat) return v.value;
  return v;
}

function numberToWire(kind, n) { return kind === 'int' ? n : vortex.vxFloat(n); }
function datetimeToWire(text) {
  try {
    return vortex.VxDateTime.parse(text);
  } catch {
    return text; // the server says what is wrong with it
  }
}

// ---------------------------------------------------------------------------
// Inputs: one per cell, typed by the column kind.
// ---------------------------------------------------------------------------

function inputFor(col) {
  const input = document.createElement('input');
  input.dataset.col = col.name;
  input.dataset.kind = col.kind;
  switch (col.kind) {
    case 'int': input.type = 'number'; input.step = '1'; break;
    case 'float': input.type = 'number'; input.step = 'any'; break;
    case 'bool': input.type = 'checkbox'; break;
    case 'datetime': input.type = 'datetime-local'; input.step = '1'; break;
    case 'bytes': input.type = 'text'; input.readOnly = true; break;
    default: input.type = 'text';
  }
  return input;
}

function pad(n, w = 2) { return String(n).padStart(w, '0'); }

// datetime-local wants "YYYY-MM-DDTHH:MM:SS" in the browser's zone; the
// protocol's datetimes are naive, so show their fields as they are.
function datetimeText(v) {
  if (v instanceof Date) {
    return `${v.getUTCFullYear()}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())}T` +
      `${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}`;
  }
  const s = String(v);
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d)?)/.exec(s);
  return m ? `${m[1]}T${m[2]}` : s;
}

function setInputValue(input, v) {
  const kind = input.dataset.kind;
  v = cellFromWire(kind, v);
  if (kind === 'bool') {
    input.indeterminate = v === null;
    input.checked = Boolean(v);
  } else if (kind === 'datetime') {
    input.value = v === null ? '' : datetimeText(v);
  } else if (kind === 'bytes') {
    input.value = v === null ? '' : `${v.length ?? 0} bytes`;
  } else {
    input.value = v === null ? '' : String(v);
  }
  input.dataset.shown = inputKey(input);
}

// What the input holds now, comparable with what it showed, to send nothing
// when nothing changed (change and Enter may both fire).
function inputKey(input) {
  return input.dataset.kind === 'bool' ? String(input.checked) : input.value;
}

// The value to send for an input. Empty means null (so clearing a NOT NULL
// column is refused by the server, in words). Text that is not a number in
// a number column is sent as text: the server is the one that validates,
// and its message is shown.
function inputValue(input) {
  const kind = input.dataset.kind;
  if (kind === 'bool') return input.checked;
  const text = input.value;
  if (text === '') return null;
  if (kind === 'int' || kind === 'float') {
    const n = Number(text);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) return text;
    return numberToWire(kind, n);
  }
  if (kind === 'datetime') return datetimeToWire(text.length === 16 ? `${text}:00` : text);
  return text;
}

// ---------------------------------------------------------------------------
// Messages: server errors in words, visible (role=alert), dismissible.
// ---------------------------------------------------------------------------

function showMessage(text, kind = 'error') {
  const box = $('messages');
  const div = document.createElement('div');
  div.className = `msg ${kind}`;
  const p = document.createElement('span');
  p.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'secondary';
  close.textContent = 'Dismiss';
  close.setAttribute('aria-label', `Dismiss message: ${text}`);
  close.addEventListener('click', () => div.remove());
  div.append(p, close);
  box.append(div);
  // Keep the last few: a long outage must not bury the page in messages.
  while (box.children.length > 5) box.firstElementChild.remove();
}

function errorText(e) {
  if (!e) return 'unknown error';
  return e.message || String(e);
}

// ---------------------------------------------------------------------------
// Connection state
// ---------------------------------------------------------------------------

function showConnection() {
  const el = $('conn');
  const online = isOnline();
  const started = el.dataset.state !== 'connecting' || online;
  el.dataset.state = online ? 'online' : started ? 'offline' : 'connecting';
  $('conn-text').textContent = online ? 'Online' : started ? 'Offline: reconnecting…' : 'Connecting…';
  const t = transportName();
  $('conn-transport').textContent = !t ? '' : online ? `via ${t}` : `(last via ${t})`;
  showPendingCount();
}

function showPendingCount() {
  let n = state.deleting.size + state.adding.size;
  for (const p of state.pending.values()) n += Object.keys(p.fields).length;
  $('conn-pending').textContent = n === 0 ? '' :
    `· ${n} edit${n === 1 ? '' : 's'} ${isOnline() ? 'saving' : 'waiting to be sent'}`;
}

// ---------------------------------------------------------------------------
// Table list and selection (#<table> in the address)
// ---------------------------------------------------------------------------

function renderTableList() {
  const ul = $('table-list');
  ul.replaceChildren();
  for (const t of state.tables) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `#${encodeURIComponent(t.table)}`;
    a.textContent = t.table;
    a.dataset.table = t.table;
    if (state.table && state.table.table === t.table) a.setAttribute('aria-current', 'page');
    li.append(a);
    ul.append(li);
  }
  if (state.tables.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'No tables served.';
    ul.append(li);
  }
}

function selectFromHash() {
  const name = decodeURIComponent(location.hash.slice(1));
  const t = state.tables.find((x) => x.table === name) || state.tables[0];
  if (t && t !== state.table) showTable(t);
}

function showTable(table) {
  if (state.unsubscribe) state.unsubscribe();
  state.unsubscribe = null;
  state.table = table;
  state.rows.clear();
  state.order = [];
  state.pending.clear();
  state.deleting.clear();
  state.adding.clear();
  renderTableList();
  renderGridFrame();
  showPendingCount();
  watchTable(table);
}

async function watchTable(table) {
  for (;;) {
    try {
      const unsubscribe = await subscribe(table, (kind, rows) => {
        if (state.table === table) applyChange(kind, rows);
      });
      if (state.table === table) state.unsubscribe = unsubscribe;
      else unsubscribe(); // the user moved on meanwhile
      return;
    } catch (e) {
      if (state.table !== table) return;
      showMessage(`Could not load table ${table.table}: ${errorText(e)}. Retrying…`);
      await new Promise((r) => setTimeout(r, 3000));
      if (state.table !== table) return;
    }
  }
}

// ---------------------------------------------------------------------------
// Grid
// ---------------------------------------------------------------------------

const idOf = (fields) => String(fields[state.table.primaryKey]);
const columns = () => state.table.columns;
const editableColumns = () => columns().filter((c) => c.name !== state.table.primaryKey);

function renderGridFrame() {
  const t = state.table;
  $('grid-section').hidden = false;
  $('grid-heading').textContent = t.table;
  $('grid-caption').textContent = `Rows of table ${t.table}; each field saves when it changes.`;
  const tr = document.createElement('tr');
  for (const c of columns()) {
    const th = document.createElement('th');
    th.scope = 'col';
    // Long names (department_id) may wrap after an underscore.
    c.name.split(/(?<=_)/).forEach((part, i) => {
      if (i) th.append(document.createElement('wbr'));
      th.append(part);
    });
    const k = document.createElement('span');
    k.className = 'kind';
    k.textContent = c.name === t.primaryKey ? 'key' : c.kind + (c.nullable ? '' : ', required');
    th.append(k);
    tr.append(th);
  }
  const th = document.createElement('th');
  th.scope = 'col';
  th.innerHTML = '<span class="visually-hidden">Actions</span>';
  tr.append(th);
  document.querySelector('#grid thead').replaceChildren(tr);
  document.querySelector('#grid tbody').replaceChildren();
  renderAddForm();
  renderRowCount();
}

function renderRowCount() {
  const n = state.order.length;
  $('row-count').textContent = `${n} row${n === 1 ? '' : 's'}`;
}

function rowElement(id) {
  return document.querySelector(`#grid tbody tr[data-id="${CSS.escape(id)}"]`);
}

function buildRow(id) {
  const tr = document.createElement('tr');
  tr.dataset.id = id;
  for (const c of columns()) {
    if (c.name === state.table.primaryKey) {
      const th = document.createElement('th');
      th.scope = 'row';
      th.className = 'id';
      th.dataset.col = c.name;
      tr.append(th);
      continue;
    }
    const td = document.createElement('td');
    const input = inputFor(c);
    input.setAttribute('aria-label', `${c.name} of ${state.table.table} ${id}`);
    input.addEventListener('change', () => commitCell(id, input));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') { ev.preventDefault(); commitCell(id, input); }
      if (ev.key === 'Escape') { revertCell(id, input); }
    });
    // A refused value left behind unsaved would look saved: put back the stored one.
    input.addEventListener('blur', () => { if (input.classList.contains('failed')) revertCell(id, input); });
    td.append(input);
    tr.append(td);
  }
  const td = document.createElement('td');
  const del = document.createElement('button');
  del.type = 'button';
  del.className = 'danger';
  del.textContent = 'Delete';
  del.setAttribute('aria-label', `Delete ${state.table.table} ${id}`);
  del.addEventListener('click', () => deleteRow(id));
  td.append(del);
  tr.append(td);
  return tr;
}

// Fill a row's cells from rows + pending, leaving the focused input alone
// (someone else's edit must not wipe what is being typed).
function renderRow(id, flash = false) {
  const fields = state.rows.get(id);
  let tr = rowElement(id);
  if (!fields) { tr?.remove(); renderRowCount(); return; }
  if (!tr) {
    tr = buildRow(id);
    const tbody = document.querySelector('#grid tbody');
    const pos = state.order.indexOf(id);
    const next = state.order.slice(pos + 1).map(rowElement).find(Boolean);
    tbody.insertBefore(tr, next || null);
  }
  const pend = state.pending.get(id)?.fields || {};
  for (const el of tr.querySelectorAll('[data-col]')) {
    const col = el.dataset.col;
    if (el.tagName === 'TH') { el.textContent = id; continue; }
    const isPending = Object.prototype.hasOwnProperty.call(pend, col);
    el.classList.toggle('pending', isPending);
    el.title = isPending ? 'Not yet confirmed by the server' : '';
    if (el === document.activeElement && el.dataset.shown !== inputKey(el)) continue;
    if (!isPending) setInputValue(el, fields[col]);
  }
  tr.classList.toggle('deleting', state.deleting.has(id));
  if (flash) {
    tr.classList.remove('flash');
    void tr.offsetWidth; // restart the animation
    tr.classList.add('flash');
  }
}

function sortOrder() {
  const key = (id) => { const n = Number(id); return Number.isFinite(n) ? n : id; };
  state.order.sort((a, b) => {
    const x = key(a), y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function upsertRows(rows, flash) {
  const t = now();
  for (const fields of rows) {
    const id = idOf(fields);
    if (!state.rows.has(id)) state.order.push(id);
    state.rows.set(id, fields);
    state.timing.applied.set(id, t);
  }
  sortOrder();
  for (const fields of rows) renderRow(idOf(fields), flash);
  renderRowCount();
  announceRows();
}

// Tell listeners (tests, the benchmark) that rows changed, so they can wait
// for an event instead of polling the page.
function announceRows() { document.dispatchEvent(new CustomEvent('vxdemo:rows')); }

function dropRows(rows) {
  for (const fields of rows) {
    const id = idOf(fields);
    state.rows.delete(id);
    state.pending.delete(id);
    state.deleting.delete(id);
    state.order = state.order.filter((x) => x !== id);
    state.timing.applied.set(id, now());
    renderRow(id);
  }
  renderRowCount();
  showPendingCount();
  announceRows();
}

function applyChange(kind, rows) {
  if (kind === 'snapshot') {
    // A fresh snapshot (first subscribe or after a reconnect) is the whole
    // truth: rows missing from it were deleted meanwhile.
    const seen = new Set(rows.map(idOf));
    for (const id of [...state.rows.keys()]) {
      if (!seen.has(id)) dropRows([state.rows.get(id)]);
    }
    upsertRows(rows, false);
  } else if (kind === 'delete') {
    dropRows(rows);
  } else {
    upsertRows(rows, true);
  }
}

// ---------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------

function revertCell(id, input) {
  input.classList.remove('failed');
  const fields = state.rows.get(id);
  const pend = state.pending.get(id)?.fields || {};
  const col = input.dataset.col;
  setInputValue(input, Object.hasOwn(pend, col) ? pend[col] : fields?.[col] ?? null);
}

async function commitCell(id, input) {
  if (input.readOnly || input.dataset.shown === inputKey(input)) return;
  const table = state.table;
  const col = input.dataset.col;
  const value = inputValue(input);
  input.dataset.shown = inputKey(input);
  input.classList.remove('failed');
  const seq = ++state.seq;
  const p = state.pending.get(id) || { seq, fields: {} };
  p.seq = seq;
  p.fields[col] = value;
  state.pending.set(id, p);
  renderRow(id);
  showPendingCount();
  state.timing.lastCommit = { id, col, at: now() };

  // The id and this page's unanswered edits of the row, nothing else.
  const row = { [table.primaryKey]: state.rows.get(id)?.[table.primaryKey] ?? id, ...p.fields };
  try {
    const stored = await saveRows(table, [row]);
    state.timing.lastReply = now();
    if (state.table !== table) return;
    const cur = state.pending.get(id);
    if (cur && cur.seq === seq) state.pending.delete(id);
    upsertRows(stored, false);
  } catch (e) {
    showMessage(`Could not save ${col} of ${table.table} ${id}: ${errorText(e)}`);
    if (state.table !== table) return;
    const cur = state.pending.get(id);
    if (cur && cur.seq === seq) state.pending.delete(id);
    else if (cur) delete cur.fields[col];
    // Still in the field: keep what was typed so it can be corrected (Escape
    // or leaving the field puts the stored value back). Elsewhere: revert.
    const typed = input.value;
    renderRow(id);
    if (document.activeElement === input) {
      if (input.type !== 'checkbox') input.value = typed;
      input.dataset.shown = inputKey(input);
      input.classList.add('failed');
    } else {
      revertCell(id, input);
    }
  }
  showPendingCount();
}

async function deleteRow(id) {
  const table = state.table;
  const fields = state.rows.get(id);
  if (!fields || state.deleting.has(id)) return;
  state.deleting.add(id);
  renderRow(id);
  showPendingCount();
  try {
    await removeRow(table, fields[table.primaryKey]);
    if (state.table !== table) return;
    if (state.rows.has(id)) dropRows([state.rows.get(id)]);
  } catch (e) {
    showMessage(`Could not delete ${table.table} ${id}: ${errorText(e)}`);
    if (state.table !== table) return;
    state.deleting.delete(id);
    renderRow(id);
  }
  showPendingCount();
}

// The add form: one labelled input per column but the primary key, prefilled
// with the column defaults.
function renderAddForm() {
  const box = $('add-fields');
  box.replaceChildren();
  for (const c of editableColumns()) {
    const label = document.createElement('label');
    const input = inputFor(c);
    input.name = c.name;
    input.id = `add-${c.name}`;
    label.htmlFor = input.id;
    if (c.kind === 'bool') label.className = 'check';
    const text = document.createElement('span');
    text.textContent = c.name + (c.nullable ? '' : ' (required)');
    if (!c.nullable) input.required = c.kind !== 'bool';
    if (c.kind === 'bool') label.append(input, text); else label.append(text, input);
    setInputValue(input, c.default ?? null);
    box.append(label);
  }
}

async function addRow(ev) {
  ev.preventDefault();
  const table = state.table;
  const form = $('add-form');
  const fields = { [table.primaryKey]: null };
  const typed = {};
  for (const input of form.querySelectorAll('input[data-col]')) {
    fields[input.dataset.col] = inputValue(input);
    typed[input.dataset.col] = input.type === 'checkbox' ? input.checked : input.value;
  }
  const key = `new${++state.seq}`;
  state.adding.set(key, typed);
  renderAddForm(); // ready for the next row; `typed` comes back on failure
  showPendingCount();
  try {
    const stored = await saveRows(table, [fields]);
    if (state.table !== table) return;
    upsertRows(stored, true);
  } catch (e) {
    showMessage(`Could not add a row to ${table.table}: ${errorText(e)}`);
    if (state.table !== table) return;
    // Nothing typed is lost: put the values back into the form.
    for (const input of form.querySelectorAll('input[data-col]')) {
      const v = typed[input.dataset.col];
      if (input.type === 'checkbox') input.checked = v; else input.value = v;
    }
  } finally {
    state.adding.delete(key);
    showPendingCount();
  }
}

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

async function loadTables() {
  for (;;) {
    try {
      state.tables = await fetchTables();
      renderTableList();
      selectFromHash();
      return;
    } catch (e) {
      showMessage(`Could not load the table list: ${errorText(e)}. Retrying…`);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

function start() {
  state.client = connect();
  showConnection();
  $('add-form').addEventListener('submit', addRow);
  window.addEventListener('hashchange', selectFromHash);
  // For the browser tests and the push benchmark (and a curious console).
  window.vxDemo = { state, commitCell, showMessage };
  loadTables();
}

start();
