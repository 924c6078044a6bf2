// page-performance.js - per-table import performance (GET
// /import-performance) and recommendations. Shown only on a server whose
// OpenAPI document has these endpoints (app.js); the columns come from the
// items themselves until the API's shape settles.

import {get} from './api.js';
import {h, replace, table} from './dom.js';

function generic(items) {
  const keys = [...new Set(items.flatMap((a) => Object.keys(a)))].slice(0, 8);
  return table(keys.map((k) => ({label: k.replace(/_/g, ' '), cell: (row) => {
    const v = row[k];
    return typeof v === 'number' ? v.toLocaleString(undefined, {maximumFractionDigits: 2})
      : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '—');
  }})), items, {empty: 'No data yet.'});
}

export async function render(main) {
  const perf = await get('/import-performance');
  const recs = await get('/import-performance/recommendations').catch(() => ({items: []}));
  const items = Array.isArray(perf) ? perf : perf.items || perf.tables || [];
  replace(main, h('h1', null, 'Performance'), h('h2', null, 'Per table'), generic(items),
    h('h2', null, 'Recommendations'), generic(recs.items || []));
}
