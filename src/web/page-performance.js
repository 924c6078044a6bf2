// page-performance.js - per-table import performance over a window
// (GET /import-performance): bar charts of each table's p50/p95 duration
// and rows/s, then the figures as a table, then the recommendations
// (GET /import-performance/recommendations) with their evidence. Shown
// only on a server whose OpenAPI document has these endpoints (app.js).

import {get} from './api.js';
import {barChart} from './chart.js';
import {h, replace, table} from './dom.js';
import {count, milliseconds} from './format.js';

const WINDOWS = [['24 hours', 24], ['7 days', 24 * 7], ['31 days', 24 * 31]];

function perTable(items) {
  return table([
    {label: 'Table', cell: (t) => t.table},
    {label: 'Attempts', cell: (t) => count(t.count)},
    {label: 'Completed', cell: (t) => count(t.completed)},
    {label: 'Failed', cell: (t) => count(t.failed)},
    {label: 'p50', cell: (t) => (t.p50_ms == null ? '—' : milliseconds(t.p50_ms))},
    {label: 'p95', cell: (t) => (t.p95_ms == null ? '—' : milliseconds(t.p95_ms))},
    {label: 'p99', cell: (t) => (t.p99_ms == null ? '—' : milliseconds(t.p99_ms))},
    {label: 'Rows/s', cell: (t) => (t.rows_per_s == null ? '—' : count(Math.round(t.rows_per_s)))},
    {label: 'Rows read', cell: (t) => count(t.rows_read)},
    {label: 'Rejected', cell: (t) => count(t.rows_rejected)},
  ], items, {empty: 'No import ran in this window.'});
}

function recommendations(items) {
  if (!items.length)
    return h('p', {class: 'muted', id: 'recommendations'}, 'Nothing to change: the history looks healthy.');
  return h('ul', {class: 'recommendations', id: 'recommendations'}, items.map((r) =>
    h('li', null, h('strong', null, r.kind.replace(/_/g, ' ')), ': ', r.message,
      h('details', null, h('summary', null, 'Evidence'), h('pre', null, JSON.stringify(r.evidence, null, 2))))));
}

export async function render(main) {
  const picker = h('select', {id: 'perf-window', 'aria-label': 'Window'},
    WINDOWS.map(([label, hours]) => h('option', {value: String(hours)}, 'last ' + label)));
  const body = h('div', null, h('p', {class: 'muted'}, 'Loading…'));
  async function load() {
    const hours = Number(picker.value);
    const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
    const [perf, recs] = await Promise.all([
      get('/import-performance', {since}),
      get('/import-performance/recommendations', {since}).catch(() => ({items: []})),
    ]);
    const items = perf.items || [];
    const charts = items.length
      ? h('div', {class: 'grid2'},
          h('div', {class: 'card'}, barChart(items.map((t) => ({name: t.table, values: [t.p50_ms, t.p95_ms]})),
            'Duration of a completed import (p50, p95)',
            [{label: 'p50', format: milliseconds}, {label: 'p95', format: milliseconds}])),
          h('div', {class: 'card'}, barChart(items.map((t) => ({name: t.table, values: [t.rows_per_s]})),
            'Rows per second of work (mean)',
            [{label: '', format: (v) => count(Math.round(v)) + ' rows/s'}])))
      : null;
    replace(body, charts, h('h2', null, 'Per table'), perTable(items),
      perf.truncated ? h('p', {class: 'muted'}, 'Only the newest 100,000 attempts of this window were read.') : null,
      h('h2', null, 'Recommendations'), recommendations(recs.items || []));
  }
  picker.addEventListener('change', () => load().catch((e) => replace(body, h('p', {class: 'error'}, e.message))));
  replace(main, h('h1', null, 'Performance'), h('label', {class: 'inline'}, 'Window ', picker), body);
  await load();
}
