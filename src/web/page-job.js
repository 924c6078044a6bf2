// page-job.js - one job: its state and actions, the phase timeline (a bar
// per phase), attempts with their errors, locks held, dependencies as a
// small graph (upstream from depends_on, downstream from the job's
// dependents), the rejects (CSV download), its audit entries and spec.

import {download, get, livePoller, poller, server} from './api.js';
import {badge, h, replace, table} from './dom.js';
import {dagSvg} from './dag.js';
import * as fmt from './format.js';
import {jobActions, progressCell} from './jobview.js';

const MAX_UPSTREAM_SHOWN = 20;
const MAX_DOWNSTREAM_SHOWN = 20;

function timeline(job) {
  const phases = (job.phases || []).filter((p) => p.attempt === job.attempt || !job.attempt);
  if (!phases.length) return h('p', {class: 'muted'}, 'No phase has run yet.');
  const start = Math.min(...phases.map((p) => new Date(p.started_at).getTime()));
  const end = Math.max(...phases.map((p) => new Date(p.started_at).getTime() + (p.duration_ms || 0)));
  const span = Math.max(1, end - start);
  return h('div', {class: 'timeline', role: 'list', 'aria-label': 'Phase timeline'},
    phases.map((p) => {
      const seg = h('div', {class: 'seg'});
      seg.style.left = ((new Date(p.started_at).getTime() - start) / span * 100) + '%';
      seg.style.width = Math.max(0.5, (p.duration_ms || 0) / span * 100) + '%';
      return h('div', {class: 'row', role: 'listitem'},
        h('span', null, p.phase), h('div', {class: 'track', 'aria-hidden': 'true'}, seg),
        h('span', {class: 'num muted'}, fmt.milliseconds(p.duration_ms)));
    }));
}

async function dependencyGraph(job) {
  const nodes = [{id: job.id, label: job.name || fmt.shortId(job.id), status: job.status,
    deps: job.depends_on || [], current: true}];
  const upstream = (job.depends_on || []).slice(0, MAX_UPSTREAM_SHOWN);
  const ups = await Promise.all(upstream.map((id) => get('/import-queue/' + id).catch(() => null)));
  for (const u of ups) if (u) nodes.push({id: u.id, label: u.name || fmt.shortId(u.id), status: u.status, deps: []});
  // downstream: the server lists the direct dependants (the first 100)
  const downstream = job.dependents || [];
  for (const d of downstream.slice(0, MAX_DOWNSTREAM_SHOWN))
    nodes.push({id: d.id, label: d.name || fmt.shortId(d.id), status: d.status, deps: [job.id]});
  if (nodes.length === 1) return h('p', {class: 'muted'}, 'No dependencies and no dependants.');
  const notShown = [];
  if ((job.depends_on || []).length > upstream.length)
    notShown.push(`${job.depends_on.length - upstream.length} more dependencies`);
  if (downstream.length > MAX_DOWNSTREAM_SHOWN || job.dependents_truncated)
    notShown.push(job.dependents_truncated ? 'more dependants'
      : `${downstream.length - MAX_DOWNSTREAM_SHOWN} more dependants`);
  return h('div', null, dagSvg(nodes, 'Dependencies (left) and dependants (right) of this job'),
    h('p', {class: 'hint'}, `${fmt.count((job.depends_on || []).length)} upstream, ` +
      `${fmt.count(downstream.length)}${job.dependents_truncated ? '+' : ''} downstream` +
      (notShown.length ? ' (not drawn: ' + notShown.join(', ') + ')' : '') + '.'));
}

export async function render(main, {params}) {
  const id = params.id;
  const head = h('div');
  const body = h('div');
  replace(main, head, body);
  let graphFor = '';
  let graph = h('div');
  let audit = h('div');

  let shown = '';
  let related = new Set(); // its dependencies and dependants: their events redraw the graph
  let specOpen = false;
  const refresh = async () => {
    const job = await get('/import-queue/' + id);
    related = new Set([...(job.depends_on || []), ...(job.dependents || []).map((d) => d.id)]);
    const now = JSON.stringify([job.status, job.updated_at, job.progress, job.cancel_requested, job.locks,
      job.dependents]);
    if (now === shown) return; // unchanged: keep the page (and its focus) as it is
    shown = now;
    replace(head, h('div', {class: 'toolbar'},
      h('h1', {class: 'wrap-anywhere'}, job.name || 'Job ' + fmt.shortId(job.id), ' ', badge(job.status))),
    h('div', {class: 'card'}, progressCell(job), jobActions(job, refresh)));
    // The graph and audit only change with the status: fetched again then.
    const key = job.status + job.updated_at + (job.dependents || []).map((d) => d.status).join();
    if (key !== graphFor) {
      graphFor = key;
      graph = await dependencyGraph(job);
      const entries = await get('/import-audit', {entity: 'job', entity_id: job.id, limit: 100});
      audit = table([
        {label: 'When', cell: (a) => fmt.dateTime(a.at)},
        {label: 'Action', cell: (a) => a.action},
        {label: 'Actor', cell: (a) => a.actor},
        {label: 'Request', cell: (a) => h('span', {class: 'mono wrap-anywhere'}, a.request_id || '—')},
      ], entries.items, {empty: 'No audit entries.'});
    }
    const result = job.result || {};
    const rejected = result.rows_rejected || 0;
    replace(body,
      h('div', {class: 'grid2'},
        h('section', {class: 'card'}, h('h2', null, 'Summary'), h('dl', {class: 'kv'}, [
          ['ID', h('span', {class: 'mono'}, job.id)], ['Table', job.target && job.target.table],
          ['Mode', job.target && job.target.mode], ['Priority', String(job.priority)],
          ['Attempt', job.attempt + ' of ' + job.max_attempts], ['Created', fmt.dateTime(job.created_at) + ' by ' + job.created_by],
          ['Scheduled', fmt.dateTime(job.scheduled_at)], ['Started', fmt.dateTime(job.started_at)],
          ['Finished', fmt.dateTime(job.finished_at)], ['Worker', job.worker || '—'],
          ['Rows', `${fmt.count(result.rows_read)} read, ${fmt.count(result.rows_inserted)} inserted, ` +
            `${fmt.count(result.rows_updated)} updated, ${fmt.count(rejected)} rejected`],
          ['Error', job.error ? h('span', {class: 'error'}, (job.error.code ? job.error.code + ': ' : '') + (job.error.message || '')) : '—'],
          job.orchestration_id ? ['Orchestration', h('a', {href: '#/orchestrations/' + job.orchestration_id}, fmt.shortId(job.orchestration_id))] : null,
          job.schedule_id ? ['Schedule', h('a', {href: '#/schedules/' + job.schedule_id}, fmt.shortId(job.schedule_id))] : null,
        ].filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]))),
        h('section', {class: 'card'}, h('h2', null, 'Phases'), timeline(job),
          h('h2', null, 'Dependencies'), graph)),
      h('h2', null, 'Attempts'),
      table([
        {label: '#', cell: (a) => String(a.attempt)},
        {label: 'Status', cell: (a) => badge(a.status)},
        {label: 'Started', cell: (a) => fmt.dateTime(a.started_at)},
        {label: 'Finished', cell: (a) => fmt.dateTime(a.finished_at)},
        {label: 'Worker', cell: (a) => h('span', {class: 'mono wrap-anywhere'}, a.worker || '—')},
        {label: 'Error', cell: (a) => a.error ? h('span', {class: 'error wrap-anywhere'},
          (a.error.code ? a.error.code + ': ' : '') + (a.error.message || '')) : '—'},
      ], job.attempts || [], {empty: 'No attempt yet.'}),
      h('h2', null, 'Locks held'),
      table([
        {label: 'Resource', cell: (l) => h('span', {class: 'mono'}, l.name)},
        {label: 'Mode', cell: (l) => l.mode},
        {label: 'Expires', cell: (l) => fmt.ago(l.expires_at)},
      ], job.locks || [], {empty: 'No locks held.'}),
      h('h2', null, 'Rejected rows'),
      h('div', {class: 'actions'},
        h('span', null, fmt.count(rejected) + ' rows rejected in the latest attempt.'),
        h('button', {type: 'button', id: 'download-rejects', disabled: !job.attempt,
          on: {click: () => download('/import-queue/' + job.id + '/rejects', `rejects-${job.id}.csv`)}},
        'Download rejects (CSV)')),
      h('h2', null, 'Audit'), audit,
      h('h2', null, 'Spec'),
      h('details', {open: specOpen, on: {toggle: (ev) => { specOpen = ev.target.open; }}}, h('summary', null, 'Source, target and options as submitted'),
        h('pre', null, JSON.stringify({name: job.name, priority: job.priority, depends_on: job.depends_on,
          scheduled_at: job.scheduled_at, max_attempts: job.max_attempts, timeout_s: job.timeout_s,
          resources: job.resources, source: job.source, target: job.target, on_error: job.on_error}, null, 2))));
  };
  await refresh(); // a 404 shows as the page's error
  // soon after an event about this job or one of its locks; progress polls
  return server.has('/events')
    ? livePoller(refresh, 2000, (e) => e.data && (e.data.entity_id === params.id || e.data.entity === 'lock' ||
      related.has(e.data.entity_id)))
    : poller(refresh, 2000);
}
