// page-dashboard.js - the queue at a glance: status cards from GET
// /import-queue/status, refreshed soon after each job, lock or alert event
// (GET /events) and polled every 5 s besides (2 s while no event stream is
// open: progress is not an event), while the tab is visible, and the
// running jobs with their progress. The chart slots fill from the health
// history (GET /import-monitoring/health, every 10 s) on a server whose
// OpenAPI document has it; its exact shape is read tolerantly (chart.js)
// until that API lands.

import {get, livePoller, poller, server} from './api.js';
import {badge, h, replace, table} from './dom.js';
import * as fmt from './format.js';
import {progressCell} from './jobview.js';
import {lineChart, seriesFrom} from './chart.js';

const CARDS = [
  ['queued', 'Queued'], ['held', 'Held'], ['running', 'Running'],
  ['available_slots', 'Available slots'], ['completed_24h', 'Completed (24 h)'],
  ['failed_24h', 'Failed (24 h)'], ['open_alerts', 'Open alerts'], ['acked_alerts', 'Acked alerts'],
  ['health', 'Health'],
];

function cardClass(key, value) {
  if (key === 'health') return (value === 'ok' ? 'ok' : 'bad') + ' word';
  if ((key === 'failed_24h' || key === 'open_alerts') && value > 0) return 'bad';
  if (key === 'available_slots' && value === 0) return 'warn';
  return '';
}

// The health history's charts: title, the point members that may hold
// the value (the first present is used), unit.
const CHARTS = [
  ['Queue depth', ['queue_depth', 'queued', 'depth'], ''],
  ['Running jobs', ['running', 'running_jobs'], ''],
  ['Rows per second', ['rows_per_s', 'rows_per_second', 'throughput'], ' rows/s'],
];

export async function render(main) {
  const cards = h('div', {class: 'cards', id: 'status-cards', 'aria-live': 'off'});
  const nodes = h('div');
  const running = h('div');
  const updated = h('p', {class: 'muted', id: 'updated'});
  const hasHistory = server.has('/import-monitoring/health');
  const slots = CHARTS.map(([title]) => h('div', {class: 'chart-slot', dataset: {chart: title}},
    hasHistory ? 'Loading the health history…' : 'Charts appear here once this server records the health history.'));
  const charts = h('div', {class: 'grid2'}, CHARTS.map(([title], i) =>
    h('section', {class: 'card', 'aria-label': title}, h('h2', null, title), slots[i])));
  replace(main, h('div', {class: 'toolbar'}, h('h1', null, 'Dashboard'), updated),
    cards, h('h2', null, 'Running jobs'), running, h('h2', null, 'History'), charts,
    h('h2', null, 'Nodes'), nodes);

  // Values are replaced in place: no flicker, focus stays where it was.
  const cells = {};
  for (const [key, label] of CARDS) {
    cells[key] = h('span', {class: 'value', dataset: {key}}, '—');
    cards.append(h('div', {class: 'card stat', dataset: {card: key}},
      h('span', {class: 'label'}, label), cells[key]));
  }

  const refresh = async () => {
    try {
      const [status, jobs] = await Promise.all([
        get('/import-queue/status'),
        get('/import-queue', {status: 'RUNNING', limit: 20}),
      ]);
      for (const [key] of CARDS) {
        const value = status[key];
        cells[key].textContent = typeof value === 'number' ? fmt.count(value) : String(value ?? '—');
        cells[key].parentElement.className = 'card stat ' + cardClass(key, value);
      }
      replace(running, table([
        {label: 'Job', cell: (j) => h('a', {href: '#/jobs/' + j.id}, j.name || fmt.shortId(j.id))},
        {label: 'Table', cell: (j) => j.table},
        {label: 'Progress', cell: (j) => progressCell(j)},
        {label: 'Started', cell: (j) => fmt.ago(j.started_at)},
      ], jobs.items, {empty: 'No job is running.'}));
      replace(nodes, table([
        {label: 'Host', cell: (n) => n.host},
        {label: 'PID', cell: (n) => String(n.pid)},
        {label: 'Version', cell: (n) => n.version},
        {label: 'Status', cell: (n) => badge(n.status)},
        {label: 'Heartbeat', cell: (n) => fmt.ago(n.heartbeat_at)},
      ], status.nodes || [], {empty: 'No node has reported.'}));
      updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      updated.textContent = 'Not updated: ' + e.message;
    }
  };
  const stopStatus = server.has('/events')
    ? livePoller(refresh, 2000, (e) => ['job', 'lock', 'alert'].includes(e.data && e.data.entity), 5000)
    : poller(refresh, 2000);
  if (!hasHistory) return stopStatus;
  const stopHistory = poller(async () => {
    try {
      const doc = await get('/import-monitoring/health');
      CHARTS.forEach(([title, keys, unit], i) => replace(slots[i], lineChart(seriesFrom(doc, keys), title, unit)));
    } catch (e) {
      for (const slot of slots) slot.textContent = 'The health history is not available: ' + e.message;
    }
  }, 10000);
  return () => { stopStatus(); stopHistory(); };
}
