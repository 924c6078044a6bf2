// page-alerts.js - alerts (GET /import-monitoring/alerts?state=...), newest
// first, with acknowledge for operators. Refreshed soon after each alert
// event of GET /events (opened, acknowledged, resolved) and polled as the
// fallback: every 5 s without the stream, every 30 s with it. Shown only
// on a server whose OpenAPI document has the monitoring API (app.js).

import {can, get, livePoller, poller, post, server} from './api.js';
import {badge, h, replace, table, toast} from './dom.js';
import * as fmt from './format.js';

const STATES = ['open', 'acked', 'resolved'];

// about(alert): what the alert is about, a link where that has a page.
function about(a) {
  if (a.entity === 'job') return h('a', {href: '#/jobs/' + a.entity_id, class: 'mono'}, 'job ' + fmt.shortId(a.entity_id));
  if (a.entity === 'queue') return 'the queue';
  return h('span', {class: 'wrap-anywhere'}, a.entity + ' ' + a.entity_id);
}

function severity(a) {
  return h('span', {class: 'badge sev-' + a.severity}, a.severity);
}

export async function render(main, {query}) {
  const state = STATES.includes(query.get('state')) ? query.get('state') : 'open';
  const box = h('div');
  replace(main, h('h1', null, 'Alerts'),
    h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Alert state'}, STATES.map((s) =>
      h('a', {class: 'button', role: 'tab', href: '#/alerts?state=' + s, 'aria-selected': String(s === state)}, s))),
    box);
  let shown = '';
  const refresh = async () => {
    let items;
    try {
      items = (await get('/import-monitoring/alerts', {state, limit: 100})).items || [];
    } catch (e) {
      replace(box, h('p', {class: 'error'}, 'The alerts cannot be read: ' + e.message));
      shown = '';
      return;
    }
    const now = JSON.stringify(items);
    if (now === shown) return; // unchanged: keep focus where it is
    shown = now;
    replace(box, table([
      {label: 'Severity', cell: severity},
      {label: 'Rule', cell: (a) => h('span', {class: 'mono'}, a.rule)},
      {label: 'Message', cell: (a) => h('span', {class: 'wrap-anywhere'}, a.message)},
      {label: 'About', cell: about},
      {label: 'Opened', cell: (a) => h('span', {title: fmt.dateTime(a.created_at)}, fmt.ago(a.created_at))},
      state === 'open' ? null
        : {label: 'Acknowledged', cell: (a) => a.acked_at ? `${fmt.ago(a.acked_at)} by ${a.acked_by}` : '—'},
      state === 'resolved' ? {label: 'Resolved', cell: (a) => fmt.ago(a.resolved_at)} : null,
      {label: 'Actions', cell: (a) => h('button', {type: 'button', class: 'small',
        disabled: !can.operate || a.state !== 'open', title: can.operate ? null : 'Needs the operator role',
        'aria-label': 'Acknowledge alert ' + a.id, on: {click: async () => {
          try { await post('/import-monitoring/alerts/' + a.id + '/ack'); toast('Acknowledged', 'ok'); } catch (e) { toast(e.message, 'error'); }
          refresh();
        }}}, 'Acknowledge')},
    ].filter(Boolean), items, {empty: 'No ' + state + ' alert.', rowAttrs: (a) => ({'data-alert-id': String(a.id)})}));
  };
  await refresh();
  return server.has('/events')
    ? livePoller(refresh, 5000, (e) => e.data && e.data.entity === 'alert', 30000)
    : poller(refresh, 5000);
}
