// page-alerts.js - alerts (GET /import-monitoring/alerts?state=...) with
// acknowledge for operators. Shown only on a server whose OpenAPI document
// has the monitoring API (app.js); written to CONTRACT §3's shape, the
// columns beyond id and state come from the items themselves.

import {can, get, poller, post} from './api.js';
import {badge, h, replace, table, toast} from './dom.js';
import * as fmt from './format.js';

const SHOWN = ['id', 'state', 'ack'];

export async function render(main, {query}) {
  const state = query.get('state') || 'open';
  const box = h('div');
  replace(main, h('h1', null, 'Alerts'),
    h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Alert state'}, ['open', 'acked', 'resolved'].map((s) =>
      h('a', {class: 'button', role: 'tab', href: '#/alerts?state=' + s, 'aria-selected': String(s === state)}, s))),
    box);
  const refresh = async () => {
    const r = await get('/import-monitoring/alerts', {state});
    const items = r.items || [];
    const keys = [...new Set(items.flatMap((a) => Object.keys(a)))].filter((k) => !SHOWN.includes(k)).slice(0, 6);
    replace(box, table([
      {label: 'State', cell: (a) => badge(a.state)},
      ...keys.map((k) => ({label: k.replace(/_/g, ' '), cell: (a) => /_at$/.test(k) ? fmt.dateTime(a[k])
        : typeof a[k] === 'object' && a[k] !== null ? JSON.stringify(a[k]) : String(a[k] ?? '—')})),
      {label: 'Actions', cell: (a) => h('button', {type: 'button', class: 'small',
        disabled: !can.operate || a.state !== 'open', title: can.operate ? null : 'Needs the operator role',
        'aria-label': 'Acknowledge alert ' + a.id, on: {click: async () => {
          try { await post('/import-monitoring/alerts/' + a.id + '/ack'); toast('Acknowledged', 'ok'); } catch (e) { toast(e.message, 'error'); }
          refresh();
        }}}, 'Acknowledge')},
    ], items, {empty: 'No ' + state + ' alert.'}));
  };
  await refresh();
  return poller(refresh, 5000);
}
