// gui.test.mjs - the admin GUI end to end: a real `importq serve` on a
// fresh SQLite database, driven through Debian's Chromium by playwright-core
// (no browser is ever downloaded). Each scenario is what an operator does:
// sign in, submit an import and watch it complete, cancel a running job,
// create a schedule and read its next fire times, force-release a lock as
// admin (a viewer cannot), download rejects, see field errors, watch a real
// alert open live and acknowledge it, read real health samples in the
// dashboard's charts, see a job's dependencies and dependants. A tour of
// every page at desktop and phone width saves screenshots (the artefacts
// directory), and checks that no page logs a console error, scrolls
// sideways on a phone, or has a serious or critical axe-core violation.
// A second server with 100k jobs seeded straight into SQLite times the
// dashboard's first render (printed, not asserted).
//
// Jobs that must stay RUNNING read from a FIFO in the import root: they
// wait for the test's own writes, so no timing decides what is seen.
//
// Usage (tests/e2e/run.sh does this for ctest):
//   IMPORTQ_BIN=build/importq E2E_ARTEFACTS=build/e2e-artefacts node --test gui.test.mjs

import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = path.resolve(process.env.IMPORTQ_BIN || path.join(root, 'build/importq'));
const artefacts = path.resolve(process.env.E2E_ARTEFACTS || path.join(root, 'build/e2e-artefacts'));
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 60000; // a bound on a hang, never a speed assertion
const GUI_BUDGET_BYTES = 250 * 1000;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'importq-e2e-'));
const importRoot = path.join(work, 'imports');
const db = 'sqlite:' + path.join(work, 'importq.db');
let server, base, browser;
const tokens = {};
const fifoWriters = [];

function sh(...args) {
  return execFileSync(bin, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
}

// launch(dbUrl, logName, extra): `importq serve` on dbUrl; {proc, base, log}
// once it says where it listens.
async function launch(dbUrl, logName, extra = []) {
  const log = path.join(work, logName);
  const out = fs.openSync(log, 'w');
  const proc = spawn(bin, ['serve', '--db', dbUrl, '--listen', '127.0.0.1:0', '--import-root', importRoot,
    '--spool-dir', path.join(work, 'spool'), ...extra], {stdio: ['ignore', out, out]});
  const end = Date.now() + WAIT_MS;
  while (Date.now() < end) {
    const m = fs.readFileSync(log, 'utf8').match(/msg="serving the API".* port=(\d+)/);
    if (m) return {proc, base: 'http://127.0.0.1:' + m[1], log};
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('importq serve did not start:\n' + fs.readFileSync(log, 'utf8'));
}

// stop(proc): SIGTERM and its exit code (or signal).
async function stop(proc) {
  if (!proc) return 0;
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode ?? proc.signalCode;
  const exited = new Promise((r) => proc.once('exit', (c, signal) => r(signal || c)));
  proc.kill('SIGTERM');
  return exited;
}

async function startServer() {
  fs.mkdirSync(importRoot);
  sh('migrate', '--db', db);
  for (const role of ['admin', 'operator', 'viewer'])
    tokens[role] = sh('token', 'create', '--name', 'e2e-' + role, '--role', role, '--db', db).trim();
  // a health sample every second (the charts have real points soon) and
  // an alert look every 200 ms (a failed job's alert opens soon)
  const started = await launch(db, 'serve.log', ['--health-interval', '1s', '--alert-every', '200ms']);
  server = started.proc;
  base = started.base;
}

async function api(method, p, body, token = tokens.admin) {
  const res = await fetch(base + '/api/v2' + p, {method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: Object.assign({Authorization: 'Bearer ' + token}, body === undefined ? {} : {'Content-Type': 'application/json'})});
  const text = await res.text();
  return {status: res.status, body: text && (res.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : text};
}

async function waitFor(what, fn) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// fifoJob(name, table): a job reading a FIFO, RUNNING until end() is called.
async function fifoJob(name, table) {
  const file = name + '.csv';
  execFileSync('mkfifo', [path.join(importRoot, file)]);
  const r = await api('POST', '/import-queue', {name, source: {format: 'csv', path: file},
    target: {table, mode: 'append', create: true, columns: [{name: 'a', type: 'integer'}, {name: 'b', type: 'text'}]}});
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const writer = fs.createWriteStream(path.join(importRoot, file));
  writer.on('error', () => {}); // EPIPE once the job stops reading
  fifoWriters.push(writer);
  writer.write('a,b\n1,one\n2,two\n');
  await waitFor(name + ' RUNNING with its lock', async () => {
    const j = (await api('GET', '/import-queue/' + r.body.id)).body;
    return j.status === 'RUNNING' && j.locks.length > 0 && j;
  });
  const rows = Array.from({length: 2100}, (_, i) => `${i},row ${i}\n`).join('');
  return {
    id: r.body.id,
    end: () => new Promise((resolve) => writer.end(resolve)),
    // Batches of rows, never the end of the file, until the job stops: a
    // cancelled job sees its cancel at a batch boundary (the worker learns
    // of it within a heartbeat), so it can only end CANCELLED.
    feedUntilFinished: () => waitFor(name + ' finished', async () => {
      const j = (await api('GET', '/import-queue/' + r.body.id)).body;
      if (j.status !== 'RUNNING') return j;
      if (!writer.destroyed) writer.write(rows);
      return null;
    }),
  };
}

// Console errors of a page; allowed: HTTP errors a scenario provokes on purpose.
function watchConsole(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push('uncaught: ' + e.message));
  return errors;
}

// settling(page): a function that waits until no request but the event
// stream has been in flight for 500 ms (Playwright's 'networkidle' never
// comes while the page holds GET /events open).
function settling(page) {
  const open = new Set();
  page.on('request', (r) => { if (!r.url().endsWith('/api/v2/events')) open.add(r); });
  page.on('requestfinished', (r) => open.delete(r));
  page.on('requestfailed', (r) => open.delete(r));
  return async () => {
    let quietSince = 0;
    await waitFor('the page to settle', () => {
      if (open.size) quietSince = 0;
      else if (!quietSince) quietSince = Date.now();
      return quietSince && Date.now() - quietSince >= 500;
    });
  };
}

async function signedIn(role, viewport = {width: 1280, height: 860}, colorScheme = 'light') {
  const context = await browser.newContext({viewport, colorScheme, acceptDownloads: true});
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(base + '/');
  await page.fill('#token', tokens[role]);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('#who').getByText(role).waitFor();
  return {context, page, errors};
}

before(async () => {
  fs.mkdirSync(artefacts, {recursive: true});
  await startServer();
  browser = await chromium.launch({executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']});
});

after(async () => {
  for (const w of fifoWriters) w.destroy();
  if (browser) await browser.close();
  const code = await stop(server);
  // A clean stop: under ASan a leak or error report makes it non-zero.
  const log = fs.existsSync(path.join(work, 'serve.log')) ? fs.readFileSync(path.join(work, 'serve.log'), 'utf8') : '';
  fs.rmSync(work, {recursive: true, force: true});
  assert.equal(code, 0, 'importq serve stopped with ' + code + ':\n' + log.slice(-4000));
});

describe('admin GUI', () => {
  test('the whole GUI is within its size budget, gzipped', () => {
    let total = 0;
    for (const name of fs.readdirSync(path.join(root, 'src/web')))
      total += zlib.gzipSync(fs.readFileSync(path.join(root, 'src/web', name)), {level: 9}).length;
    assert.ok(total > 5000 && total <= GUI_BUDGET_BYTES, `the GUI is ${total} bytes gzipped (budget ${GUI_BUDGET_BYTES})`);
  });

  test('sign in: a bad token is refused, a good one shows the dashboard and survives a reload', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(base + '/');
    await page.fill('#token', 'iq_not-a-token');
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.getByText('That token is unknown or revoked.').waitFor();
    await page.fill('#token', tokens.operator);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.locator('[data-card="queued"] .value').filter({hasText: /^\d+$/}).waitFor();
    await page.reload();
    await page.locator('#who').getByText('operator').waitFor();
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.locator('#token').waitFor();
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
    await context.close();
  });

  test('submit an import from the form and watch its progress bar reach COMPLETED', async () => {
    fs.writeFileSync(path.join(importRoot, 'teams.csv'), 'team_id,name\n1,Alpha\n2,Beta\n3,Gamma\n');
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/jobs/new');
    await page.getByLabel('Name', {exact: true}).fill('e2e teams <b>not bold</b>');
    await page.getByLabel('Source file path').fill('teams.csv');
    await page.getByLabel('Target table').fill('e2e_teams');
    await page.getByLabel('Create the table').check();
    await page.getByLabel('Columns', {exact: true}).fill('team_id:integer, name:text');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    const bar = page.locator('.progress[data-status="COMPLETED"] [role="progressbar"]').first();
    await bar.waitFor({timeout: WAIT_MS});
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');
    // The name is text, never markup.
    assert.equal(await page.locator('h1 b').count(), 0);
    await page.locator('h1').getByText('e2e teams <b>not bold</b>').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('upload a file from the form; what only the JSON editor holds survives the form', async () => {
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/jobs/new');
    await page.getByRole('tab', {name: 'JSON'}).click();
    await page.locator('#job-json').fill(JSON.stringify({name: 'e2e upload', source: {format: 'csv', path: 'x.csv'},
      target: {table: 'e2e_upload', mode: 'append', create: true,
        columns: [{name: 'n', type: 'integer', min: 1}, {name: 'label', type: 'text', max_length: 10}]},
      on_error: {action: 'skip', max_rejects: 5}}));
    await page.getByRole('tab', {name: 'Form'}).click();
    assert.equal(await page.getByLabel('Columns', {exact: true}).inputValue(), 'n:integer, label:text');
    await page.getByLabel('Source file path').fill('');
    await page.getByLabel('…or upload a file').setInputFiles({name: 'up.csv', mimeType: 'text/csv',
      buffer: Buffer.from('n,label\n1,one\n0,zero\n2,two\n')});
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    await page.locator('h1 .badge').getByText('COMPLETED').waitFor({timeout: WAIT_MS});
    const id = page.url().split('/').pop();
    const job = (await api('GET', '/import-queue/' + id)).body;
    assert.match(job.source.upload, /^[0-9a-f-]{36}$/);
    assert.equal(job.source.path, undefined);
    assert.equal(job.target.columns[0].min, 1, 'the editor-only check was kept');
    assert.deepEqual([job.result.rows_inserted, job.result.rows_rejected], [2, 1]);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('jobs: filters in the address, sorting within the page, keyset pages', async () => {
    for (let i = 1; i <= 53; i++) {
      const r = await api('POST', '/import-queue', {name: `e2e page ${String(i).padStart(2, '0')}`, hold: true,
        priority: 1 + (i % 10), source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_page', mode: 'append'}});
      assert.equal(r.status, 201);
    }
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/jobs');
    await page.getByLabel('HELD', {exact: true}).check();
    await page.getByLabel('Name contains').fill('e2e page');
    await page.getByLabel('Priority from').fill('1');
    await page.getByLabel('Priority to').fill('10');
    await page.getByLabel('Table').fill('e2e_page');
    await page.getByRole('button', {name: 'Apply'}).click();
    await page.waitForURL(/status=HELD/);
    assert.match(page.url(), /q=e2e\+page/);
    const names = () => page.locator('#job-list tbody tr td:first-child a').allTextContents();
    await waitFor('a full first page', async () => (await names()).length === 50);
    const first = await names();
    assert.ok(first.every((n) => n.startsWith('e2e page')), 'only matching jobs');
    assert.equal(first[0], 'e2e page 53', 'newest first');
    await page.getByRole('button', {name: 'Older →'}).click();
    await waitFor('the second page', async () => (await names()).join() === 'e2e page 03,e2e page 02,e2e page 01');
    assert.equal(await page.getByRole('button', {name: 'Older →'}).isDisabled(), true);
    await page.getByRole('button', {name: '← Newer'}).click();
    await waitFor('the first page again', async () => (await names())[0] === 'e2e page 53');
    await page.getByRole('button', {name: 'Priority', exact: true}).click();
    const priorities = await page.locator('#job-list tbody tr td:nth-child(3)').allTextContents();
    assert.deepEqual(priorities.map(Number), priorities.map(Number).slice().sort((a, b) => a - b));
    assert.equal(await page.locator('th[aria-sort="ascending"]').textContent(), 'Priority ▲');
    // The date filter: nothing was created tomorrow.
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    await page.goto(base + '/#/jobs?q=e2e+page&from=' + tomorrow);
    await page.locator('#job-list').getByText('No job matches these filters.').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a running job shows its progress and can be cancelled from the job list', async () => {
    const job = await fifoJob('e2e-cancel', 'e2e_cancel');
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/jobs?status=RUNNING');
    const row = page.locator(`tr[data-job-id="${job.id}"]`);
    await row.locator('.progress[data-status="RUNNING"]').waitFor();
    assert.match(await row.locator('.progress .meta').textContent(), /read|stage|locking/);
    await row.getByRole('button', {name: /^Cancel /}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Cancel job'}).click();
    await page.locator('.toast').getByText(/Cancel requested/).waitFor();
    assert.equal((await job.feedUntilFinished()).status, 'CANCELLED');
    await page.goto(base + '/#/jobs/' + job.id);
    await page.locator('h1 .badge').getByText('CANCELLED').waitFor({timeout: WAIT_MS});
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('create a schedule and see its next five fire times', async () => {
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/schedules/new');
    await page.getByLabel('Name', {exact: true}).fill('e2e nightly');
    await page.getByLabel('Time zone').fill('UTC');
    await page.getByLabel('Cron expression').fill('30 2 * * *');
    // The preview follows the typing (the form's default expression was
    // previewed first): wait for the new expression's times.
    await page.locator('#preview-times time[datetime*="T02:30:00"]').nth(4).waitFor();
    const times = await page.locator('#preview-times time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')));
    assert.equal(times.length, 5);
    for (const t of times) assert.match(t, /T02:30:00(\.000)?Z$/);
    await page.getByRole('button', {name: 'Create schedule'}).click();
    await page.waitForURL(/#\/schedules\/[0-9a-f-]{36}$/);
    await page.locator('#next-times li').nth(4).waitFor();
    await page.goto(base + '/#/schedules');
    await page.getByRole('link', {name: 'e2e nightly', exact: true}).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a schedule: pause, resume, run now, and the fire in its history', async () => {
    fs.writeFileSync(path.join(importRoot, 'teams.csv'), 'team_id,name\n1,Alpha\n2,Beta\n3,Gamma\n');
    const created = await api('POST', '/scheduled-imports', {name: 'e2e actions', cron: '0 4 1 1 *', timezone: 'UTC',
      job: {source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_sched', mode: 'append', create: true,
        columns: [{name: 'team_id', type: 'integer'}, {name: 'name', type: 'text'}]}}}, tokens.operator);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/schedules/' + created.body.id);
    const state = page.locator('dl.kv dd').nth(2);
    await state.getByText('active').waitFor();
    await page.getByRole('button', {name: 'Pause e2e actions'}).click();
    await state.getByText('paused').waitFor();
    await page.getByText('Paused: resume to fire again.').waitFor();
    await page.getByRole('button', {name: 'Resume e2e actions'}).click();
    await state.getByText('active').waitFor();
    await page.getByRole('button', {name: 'Run now: e2e actions'}).click();
    await page.getByRole('dialog').getByRole('button', {name: 'Run now'}).click();
    const fired = page.locator('table.data tbody tr a[href^="#/jobs/"]').first();
    await fired.waitFor({timeout: WAIT_MS});
    await fired.click();
    await page.locator('h1 .badge').getByText('COMPLETED').waitFor({timeout: WAIT_MS});
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('audit: filtered by entity, each entry\'s change on demand', async () => {
    assert.equal((await api('POST', '/scheduled-imports', {name: 'e2e audited', cron: '0 5 * * *', timezone: 'UTC',
      job: {source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_sched', mode: 'append'}}})).status, 201);
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/audit');
    await page.getByLabel('Entity', {exact: true}).fill('schedule');
    await page.getByRole('button', {name: 'Apply'}).click();
    await page.waitForURL(/#\/audit\?entity=schedule$/);
    const entities = page.locator('table.data tbody td:nth-child(4)');
    await waitFor('schedule entries only', async () => {
      const texts = await entities.allTextContents();
      return texts.length > 0 && texts.every((t) => t.startsWith('schedule '));
    });
    await page.locator('table.data tbody details summary').first().click();
    assert.match(await page.locator('table.data tbody details pre').first().textContent(), /"after"/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('performance: per-table bar charts of p50/p95 duration and rows/s from the real runs, then the recommendations', async () => {
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/performance');
    await page.locator('figure.bar-chart').nth(1).waitFor({timeout: WAIT_MS});
    // e2e_teams was imported (and completed) by an earlier test of this run.
    const row = page.locator('figure.bar-chart').first().locator('li', {has: page.locator('.hbar-name', {hasText: /^e2e_teams$/})});
    await row.waitFor();
    assert.match(await row.locator('.hbar-value').first().textContent(), /^p50 \d/);
    // Its bars are drawn to the chart's shared scale (a tiny import may take 0 ms: a zero-length bar).
    assert.match(await row.locator('.hbar-0 .hbar-fill').evaluate((el) => el.style.width), /^\d+(\.\d+)?%$/);
    assert.match(await page.locator('figure.bar-chart').nth(1).locator('li', {hasText: 'e2e_teams'}).textContent(),
      /rows\/s|—/);
    await page.locator('table.data tbody td', {hasText: /^e2e_teams$/}).first().waitFor();
    await page.locator('#recommendations').waitFor();
    await page.locator('#perf-window').selectOption({label: 'last 7 days'});
    await page.locator('figure.bar-chart').first().waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a viewer cannot force-release a lock; an admin can', async () => {
    const job = await fifoJob('e2e-lock', 'e2e_lock');
    const lock = (await api('GET', '/import-queue/' + job.id)).body.locks[0];
    const viewer = await signedIn('viewer');
    await viewer.page.goto(base + '/#/resources');
    const vRow = viewer.page.locator(`tr[data-lock-id="${lock.id}"]`);
    await vRow.waitFor();
    const vButton = vRow.getByRole('button', {name: /Force-release/});
    assert.equal(await vButton.isDisabled(), true);
    assert.equal(await vButton.getAttribute('title'), 'Needs the admin role');
    // And the server refuses the viewer's token whatever the page shows.
    assert.equal((await api('DELETE', '/import-resources/' + lock.id, undefined, tokens.viewer)).status, 403);
    await viewer.context.close();

    const admin = await signedIn('admin');
    await admin.page.goto(base + '/#/resources');
    const row = admin.page.locator(`tr[data-lock-id="${lock.id}"]`);
    assert.match(await row.locator('.countdown').textContent(), /min|s/);
    await row.getByRole('button', {name: /Force-release/}).click();
    await admin.page.getByRole('dialog').getByRole('button', {name: 'Release'}).click();
    await admin.page.locator('.toast').getByText(/Released/).waitFor();
    await row.waitFor({state: 'detached'});
    const audit = (await api('GET', '/import-audit?entity_id=' + lock.id)).body.items;
    assert.ok(audit.length >= 1, 'the release is audited');
    await job.end();
    assert.deepEqual(admin.errors, []);
    await admin.context.close();
  });

  test('download the rejects of a job as CSV', async () => {
    fs.writeFileSync(path.join(importRoot, 'bad.csv'), 'n,label\n1,ok\nnot-a-number,bad\n3,ok\n');
    const r = await api('POST', '/import-queue', {name: 'e2e rejects', source: {format: 'csv', path: 'bad.csv'},
      target: {table: 'e2e_rejects', mode: 'append', create: true,
        columns: [{name: 'n', type: 'integer'}, {name: 'label', type: 'text'}]},
      on_error: {action: 'skip', max_rejects: 10}}, tokens.operator);
    assert.equal(r.status, 201);
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/jobs/' + r.body.id);
    await page.locator('h1 .badge').getByText('COMPLETED').waitFor({timeout: WAIT_MS});
    const [download] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('button', {name: 'Download rejects (CSV)'}).click()]);
    const text = fs.readFileSync(await download.path(), 'utf8');
    assert.match(text, /^line,column,value,error/);
    assert.match(text, /not-a-number/);
    assert.equal(download.suggestedFilename(), `rejects-${r.body.id}.csv`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the server’s field errors appear next to the fields', async () => {
    const {context, page, errors} = await signedIn('operator');
    await page.goto(base + '/#/jobs/new');
    await page.getByLabel('Source file path').fill('teams.csv');
    await page.getByLabel('Target table').fill('1-not-a-table');
    await page.getByLabel('Priority').fill('42');
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('[data-field="target.table"] .field-error').filter({hasText: /table/}).waitFor();
    await page.locator('[data-field="priority"] .field-error').filter({hasText: /between 1 and 10/}).waitFor();
    assert.equal(await page.getByLabel('Target table').getAttribute('aria-invalid'), 'true');
    // The JSON editor lists them too.
    await page.getByRole('tab', {name: 'JSON'}).click();
    await page.getByRole('button', {name: 'Submit job'}).click();
    await page.locator('#json-errors li').first().waitFor();
    assert.deepEqual(errors.filter((e) => !/status of 422/.test(e)), []);
    await context.close();
  });

  test('a viewer sees the actions it cannot take disabled', async () => {
    const held = await api('POST', '/import-queue', {name: 'e2e held', hold: true,
      source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_held', mode: 'append'}});
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/jobs?status=HELD');
    const row = page.locator(`tr[data-job-id="${held.body.id}"]`);
    for (const name of [/^Cancel /, /^Execute /, /^Priority of /])
      assert.equal(await row.getByRole('button', {name}).isDisabled(), true);
    await page.goto(base + '/#/audit');
    assert.equal(await page.getByRole('button', {name: 'Verify the hash chain'}).isDisabled(), true);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('keyboard: skip link, navigation and a confirmation dialog work without a mouse', async () => {
    const {context, page, errors} = await signedIn('admin');
    await page.goto(base + '/#/audit');
    await page.reload();
    await page.locator('#verify').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
    await page.locator('#verify').focus();
    await page.keyboard.press('Enter');
    await page.locator('#verify-result').getByText(/The chain is intact/).waitFor();
    await page.locator('#nav a', {hasText: 'Jobs'}).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/jobs$/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  // withoutEvents(page): the server's OpenAPI document without GET /events,
  // as an older server's: the pages fall back to polling alone. A canned
  // answer because this binary always has the stream: an older server
  // cannot be made here.
  async function withoutEvents(page) {
    await page.route('**/api/v2/openapi.json', async (route) => {
      const response = await route.fetch();
      const doc = await response.json();
      delete doc.paths['/api/v2/events'];
      await route.fulfill({response, json: doc});
    });
  }

  test('without the event stream the dashboard polls every 2 s while visible and pauses while the tab is hidden', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await withoutEvents(page);
    await page.clock.install(); // the page's timers are the test's to advance
    let polls = 0;
    page.on('requestfinished', (r) => { if (r.url().endsWith('/import-queue/status')) polls++; });
    const setHidden = (hidden) => page.evaluate((value) => {
      Object.defineProperty(document, 'hidden', {value, configurable: true});
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    await page.goto(base + '/');
    await page.fill('#token', tokens.viewer);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await waitFor('the first poll', () => polls === 1);
    await page.clock.runFor(2100);
    await waitFor('the second poll', () => polls === 2);
    await setHidden(true);
    await page.clock.runFor(20000);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
    assert.equal(polls, 2, 'no poll while hidden');
    await setHidden(false); // shown again: a poll at once
    await waitFor('a poll on showing the tab', () => polls === 3);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the dashboard refreshes on a change event of GET /events, sooner than it polls', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.clock.install(); // polls happen only when the test advances the clock
    let polls = 0, streams = 0;
    page.on('requestfinished', (r) => { if (r.url().endsWith('/import-queue/status')) polls++; });
    page.on('response', (r) => { if (r.url().endsWith('/api/v2/events') && r.status() === 200) streams++; });
    await page.goto(base + '/');
    await page.fill('#token', tokens.viewer);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await waitFor('the first poll and the stream', () => polls >= 1 && streams === 1);
    // the stream's opening refresh (150 ms) and the first 2 s poll; the
    // next poll is 5 s later, the stream being open
    await page.clock.runFor(2100);
    await waitFor('the refreshes so far', () => polls >= 2);
    const held = page.locator('[data-card="held"] .value');
    await waitFor('stable figures', async () => /^\d+$/.test(await held.textContent()));
    const before = Number(await held.textContent());
    const seen = polls;
    const r = await api('POST', '/import-queue', {name: 'evented', hold: true,
      source: {format: 'csv', path: 'evented.csv'}, target: {table: 'evented', mode: 'append'}});
    assert.equal(r.status, 201, JSON.stringify(r.body));
    let advanced = 0;
    await waitFor('the held card to count the new job', async () => {
      if (advanced < 2500) { await page.clock.runFor(100); advanced += 100; } // never up to the 5 s poll
      return Number(await held.textContent()) === before + 1;
    });
    assert.ok(polls > seen && advanced < 5000, `refreshed by the event (polls ${seen} -> ${polls}, clock +${advanced} ms)`);
    await api('DELETE', '/import-queue/' + r.body.id);
    assert.deepEqual(errors, []);
    await context.close();
  });

  // health(): the server's health history (GET /import-monitoring/health, its defaults).
  const health = async () => (await api('GET', '/import-monitoring/health')).body.points || [];

  test('the dashboard charts real health samples: a running job shows in "Running jobs"', async () => {
    const job = await fifoJob('e2e-health', 'e2e_health');
    // the sampler (every 1 s) has seen it RUNNING: the bucket's peak is 1 or more
    await waitFor('a health sample with the job running', async () => (await health()).some((p) => p.running >= 1));
    const context = await browser.newContext({viewport: {width: 1280, height: 860}});
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(base + '/');
    await page.fill('#token', tokens.viewer);
    await page.getByRole('button', {name: 'Sign in'}).click();
    const running = page.locator('[data-chart="Running jobs"] svg.chart title');
    await running.waitFor({state: 'attached'}); // an SVG <title> is never visible
    assert.match(await running.textContent(), /^Running jobs: now \d+, between 0 and [1-9]\d* over the period shown$/);
    for (const title of ['Queue depth', 'Running jobs', 'Rows per second'])
      assert.equal(await page.locator(`[data-chart="${title}"] polyline`).count(), 1, title);
    const points = (await page.locator('[data-chart="Queue depth"] polyline').getAttribute('points')).split(' ');
    assert.ok(points.length >= 1, 'the queue depth chart has points');
    await page.screenshot({path: path.join(artefacts, 'dashboard-charts-desktop.png'), fullPage: true});
    await job.end();
    await waitFor('the health job to complete', async () =>
      (await api('GET', '/import-queue/' + job.id)).body.status === 'COMPLETED');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('alerts: a job that fails after its last attempt opens a job_failed alert, shown live; an operator acknowledges it', async () => {
    const context = await browser.newContext({viewport: {width: 1280, height: 860}});
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.clock.install(); // the page polls only when the test advances its clock
    await page.goto(base + '/');
    await page.fill('#token', tokens.operator);
    await page.getByRole('button', {name: 'Sign in'}).click();
    await page.locator('#nav').getByRole('link', {name: 'Alerts'}).click();
    // the alerts page's own table (the dashboard's two may still be there a moment after the click)
    await page.getByRole('tab', {name: 'acked'}).waitFor();
    await page.locator('main table.data').waitFor();
    // A real failure: its file is missing and it has one attempt.
    const r = await api('POST', '/import-queue', {name: 'e2e failing', max_attempts: 1,
      source: {format: 'csv', path: 'missing-<b>e2e</b>.csv'}, target: {table: 'e2e_failing', mode: 'append'}},
      tokens.operator);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const alert = await waitFor('the job_failed alert', async () =>
      (await api('GET', '/import-monitoring/alerts?state=open')).body.items
        .find((a) => a.rule === 'job_failed' && a.entity_id === r.body.id));
    // Its alert.opened event refreshes the page; the fallback poll is 30 s
    // away while the stream is open, and the clock never gets that far.
    const row = page.locator(`tr[data-alert-id="${alert.id}"]`);
    let advanced = 0;
    await waitFor('the alert on the page', async () => {
      if (advanced < 25000) { await page.clock.runFor(100); advanced += 100; }
      return row.isVisible();
    });
    assert.ok(advanced < 30000, `shown by the event (clock +${advanced} ms)`);
    assert.match(await row.textContent(), new RegExp(r.body.id));
    assert.equal(await row.locator('b').count(), 0, 'the message is text, never markup');
    assert.equal(await row.getByRole('link', {name: /^job /}).getAttribute('href'), '#/jobs/' + r.body.id);
    await page.screenshot({path: path.join(artefacts, 'alerts-open-desktop.png'), fullPage: true});
    await page.getByRole('button', {name: 'Acknowledge alert ' + alert.id}).click();
    await page.locator('.toast').getByText('Acknowledged').waitFor();
    await row.waitFor({state: 'detached'});
    const acked = (await api('GET', '/import-monitoring/alerts?state=acked')).body.items.find((a) => a.id === alert.id);
    assert.deepEqual([acked.state, acked.acked_by], ['acked', 'e2e-operator']);
    await page.getByRole('tab', {name: 'acked'}).click();
    await page.locator(`tr[data-alert-id="${alert.id}"]`).getByText(/by e2e-operator/).waitFor();
    // Acknowledged, still firing (for alert-event-window): the dashboard counts it apart from the open ones.
    await page.locator('#nav').getByRole('link', {name: 'Dashboard'}).click();
    const ackedCard = page.locator('[data-card="acked_alerts"] .value');
    await waitFor('the acked alert counted on the dashboard', async () => {
      if (Number(await ackedCard.textContent().catch(() => '0')) >= 1) return true;
      await page.clock.runFor(2000); // the next poll (the status figures are cached for a moment)
      return false;
    });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('job detail: the dependency graph shows upstream and downstream jobs with their statuses, live', async () => {
    const spec = (name, extra) => Object.assign({name, hold: true, source: {format: 'csv', path: 'teams.csv'},
      target: {table: 'e2e_deps', mode: 'append'}}, extra);
    const root = (await api('POST', '/import-queue', spec('e2e deps root'))).body;
    const mid = (await api('POST', '/import-queue', spec('e2e deps mid', {depends_on: [root.id]}))).body;
    const leaf = (await api('POST', '/import-queue', spec('e2e deps leaf', {depends_on: [mid.id]}))).body;
    const {context, page, errors} = await signedIn('viewer');
    await page.goto(base + '/#/jobs/' + mid.id);
    const node = (id) => page.locator(`svg.dag a[href="#/jobs/${id}"]`);
    await node(leaf.id).waitFor();
    assert.equal(await node(root.id).locator('text.status').textContent(), 'HELD');
    assert.equal(await node(leaf.id).locator('text.status').textContent(), 'HELD');
    assert.match(await node(mid.id).getAttribute('class'), /current/);
    // upstream left of the job, downstream right of it
    const x = async (id) => Number(await node(id).locator('rect').getAttribute('x'));
    assert.ok(await x(root.id) < await x(mid.id) && await x(mid.id) < await x(leaf.id), 'left to right');
    await page.getByText('1 upstream, 1 downstream.').waitFor();
    await page.screenshot({path: path.join(artefacts, 'job-dependencies-desktop.png'), fullPage: true});
    // cancelling the root fails both: the page follows through the stream
    assert.equal((await api('DELETE', '/import-queue/' + root.id, undefined, tokens.operator)).status, 200);
    await node(leaf.id).locator('text.status').getByText('FAILED').waitFor();
    assert.equal(await node(root.id).locator('text.status').textContent(), 'CANCELLED');
    // the root's page shows its dependant
    await page.goto(base + '/#/jobs/' + root.id);
    await node(mid.id).locator('text.status').getByText('FAILED').waitFor();
    await page.getByText('0 upstream, 1 downstream.').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('every page: screenshots at desktop and phone width and in dark mode, no console error, no sideways scroll, no serious axe violation', async () => {
    const axeSource = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
    fs.writeFileSync(path.join(importRoot, 'teams.csv'), 'team_id,name\n1,Alpha\n2,Beta\n3,Gamma\n');
    const orch = await api('POST', '/import-orchestrations', {name: 'e2e orchestration', jobs: [
      {key: 'teams', source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_orch', mode: 'append', create: true,
        columns: [{name: 'team_id', type: 'integer'}, {name: 'name', type: 'text'}]}},
      {key: 'again', after: ['teams'], hold: true, source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_orch', mode: 'append'}}]});
    assert.equal(orch.status, 201, JSON.stringify(orch.body));
    // Its own job and schedule, so that the tour also runs alone (--test-name-pattern).
    const job = (await api('POST', '/import-queue', {name: 'e2e tour', depends_on: [orch.body.jobs[0].id],
      source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_orch', mode: 'append'}})).body;
    const schedule = (await api('POST', '/scheduled-imports', {name: 'e2e tour', cron: '0 3 * * 1-5', timezone: 'Europe/Zurich',
      job: {source: {format: 'csv', path: 'teams.csv'}, target: {table: 'e2e_orch', mode: 'append'}}})).body;
    const done = await waitFor('the tour job to finish', async () => {
      const j = (await api('GET', '/import-queue/' + job.id)).body;
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(j.status) && j;
    }).catch(async (e) => {
      const all = (await api('GET', '/import-queue?status=QUEUED,RUNNING&view=full')).body.items;
      const resources = (await api('GET', '/import-resources')).body;
      throw new Error(e.message + ': ' + JSON.stringify({waiting: all.map((j) => [j.name, j.status, j.depends_on,
        j.progress, j.attempts]), resources}));
    });
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
    const schedules = [schedule];
    const pages = {
      dashboard: '#/', jobs: '#/jobs', job: '#/jobs/' + job.id, create: '#/jobs/new',
      orchestrations: '#/orchestrations', orchestration: '#/orchestrations/' + orch.body.id,
      schedules: '#/schedules', schedule: '#/schedules/' + schedules[0].id,
      'schedule-edit': '#/schedules/' + schedules[0].id + '/edit', resources: '#/resources', alerts: '#/alerts',
      performance: '#/performance', audit: '#/audit',
    };
    const problems = [];
    for (const [width, height, label, colorScheme] of [[1280, 860, 'desktop', 'light'], [390, 844, 'phone', 'light'],
      [1280, 860, 'desktop-dark', 'dark']]) {
      const {context, page, errors} = await signedIn('admin', {width, height}, colorScheme);
      const settled = settling(page);
      for (const [name, hash] of Object.entries(pages)) {
        await page.goto(base + '/' + hash);
        await page.locator('main h1').first().waitFor();
        await settled();
        await page.screenshot({path: path.join(artefacts, `${name}-${label}.png`), fullPage: true});
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        if (overflow > 0) problems.push(`${name} (${label}) scrolls sideways by ${overflow}px`);
        if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(axeSource);
        const result = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
        for (const v of result.violations.filter((x) => ['serious', 'critical'].includes(x.impact)))
          problems.push(`${name} (${label}): axe ${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
        for (const e of errors.splice(0)) problems.push(`${name} (${label}): console: ${e}`);
      }
      await context.close();
    }
    assert.deepEqual(problems, []);
  });

  // seed100k(file): 100,000 jobs written straight into a migrated SQLite
  // database in one statement (the store's path writes an audit row per job
  // and would take minutes): finished in the last 22 h (75 % COMPLETED,
  // 15 % FAILED, 9.5 % CANCELLED), 0.5 % HELD, over 8 tables; ids in
  // uuid7's shape, ordered as their creation times.
  function seed100k(file) {
    execFileSync('sqlite3', ['-batch', '-cmd', '.timeout 30000', file, `
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000),
      j AS (SELECT i,
        CASE WHEN i % 200 = 199 THEN 'HELD' WHEN i % 20 < 15 THEN 'COMPLETED'
             WHEN i % 20 < 18 THEN 'FAILED' ELSE 'CANCELLED' END AS status,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (i * 0.8) || ' seconds') AS at
        FROM n)
      INSERT INTO stg_import_queue (id, name, status, priority, available_at, attempt, max_attempts,
        source, target, on_error, target_table, progress_phase, rows_read, rows_inserted, error,
        created_by, created_at, updated_at, started_at, finished_at)
      SELECT printf('01000000-0000-7000-8000-%012x', 200000 - i), 'seeded job ' || i, status, 1 + i % 10, at,
        CASE status WHEN 'HELD' THEN 0 ELSE 1 END, 3,
        '{"format":"csv","path":"seed.csv"}', '{"table":"seed_t' || (i % 8) || '","mode":"append"}',
        '{"action":"abort","max_rejects":0}', 'seed_t' || (i % 8),
        CASE status WHEN 'HELD' THEN 'queued' ELSE 'done' END,
        CASE status WHEN 'COMPLETED' THEN 1000 ELSE 0 END, CASE status WHEN 'COMPLETED' THEN 1000 ELSE 0 END,
        CASE status WHEN 'FAILED' THEN '{"code":"import_failed","message":"seeded"}' END,
        'seed', at, at, CASE status WHEN 'HELD' THEN NULL ELSE at END, CASE status WHEN 'HELD' THEN NULL ELSE at END
      FROM j;`], {stdio: ['ignore', 'pipe', 'pipe']});
  }

  test('first render of the dashboard with 100k jobs stored (measured, printed, not asserted)', async () => {
    const file = path.join(work, 'big.db');
    const bigDb = 'sqlite:' + file;
    sh('migrate', '--db', bigDb);
    const token = sh('token', 'create', '--name', 'e2e-big', '--role', 'viewer', '--db', bigDb).trim();
    const seeded = Date.now();
    seed100k(file);
    const seedMs = Date.now() - seeded;
    const big = await launch(bigDb, 'serve-big.log', ['--health-interval', '1s', '--alerts', 'false']);
    try {
      const get = async (p) => (await fetch(big.base + '/api/v2' + p, {headers: {Authorization: 'Bearer ' + token}})).json();
      const status = await get('/import-queue/status');
      assert.equal(status.held + status.completed_24h + status.failed_24h, 100000 - 9500,
        'the seeded jobs are counted: ' + JSON.stringify(status));
      await waitFor('a health sample', async () => ((await get('/import-monitoring/health')).points || []).length > 0);
      const context = await browser.newContext({viewport: {width: 1280, height: 860}});
      await context.addInitScript((t) => sessionStorage.setItem('importq.token', t), token);
      const page = await context.newPage();
      const errors = watchConsole(page);
      await page.goto(big.base + '/');
      // from navigation start to every card's figure and all three charts drawn
      const rendered = await page.waitForFunction(() => {
        const values = [...document.querySelectorAll('#status-cards .value')];
        const charts = document.querySelectorAll('.chart-slot svg.chart polyline');
        return values.length > 0 && values.length === document.querySelectorAll('#status-cards .card').length &&
          values.every((v) => v.textContent !== '—') && charts.length === 3 &&
          Math.round(performance.now());
      }, null, {timeout: WAIT_MS, polling: 'raf'});
      const ms = await rendered.jsonValue();
      console.log(`GUI first render: ${ms} ms (100k jobs)`);
      console.log(`(seeding 100k jobs into SQLite took ${seedMs} ms)`);
      await page.screenshot({path: path.join(artefacts, 'dashboard-100k-desktop.png'), fullPage: true});
      assert.equal(await page.locator('[data-card="completed_24h"] .value').textContent(), (75000).toLocaleString('en-US'));
      assert.deepEqual(errors, []);
      await context.close();
    } finally {
      const code = await stop(big.proc);
      assert.equal(code, 0, 'the 100k server stopped with ' + code + ':\n' + fs.readFileSync(big.log, 'utf8').slice(-4000));
    }
  });
});
