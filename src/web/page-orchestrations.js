// page-orchestrations.js - the orchestrations (GET /import-orchestrations)
// and one of them as a DAG of its jobs, each box coloured by status and a
// link to the job. Refreshes every 2 s while visible.

import {get, poller} from './api.js';
import {badge, h, replace, table} from './dom.js';
import {dagSvg} from './dag.js';
import * as fmt from './format.js';
import {progressCell} from './jobview.js';

function counts(jobs) {
  const by = {};
  for (const j of jobs || []) by[j.status] = (by[j.status] || 0) + 1;
  return Object.entries(by).map(([s, n]) => n + ' ' + s.toLowerCase()).join(', ') || 'no jobs';
}

async function renderList(main) {
  const box = h('div');
  const state = {cursors: [''], page: 0, next: null};
  const pager = h('div', {class: 'pager'});
  replace(main, h('h1', null, 'Orchestrations'), box, pager);
  const refresh = async () => {
    const page = await get('/import-orchestrations', {limit: 50, cursor: state.cursors[state.page]});
    state.next = page.next_cursor;
    replace(box, table([
      {label: 'Name', cell: (o) => h('a', {href: '#/orchestrations/' + o.id, class: 'wrap-anywhere'}, o.name || fmt.shortId(o.id))},
      {label: 'Status', cell: (o) => badge(o.status)},
      {label: 'Jobs', cell: (o) => counts(o.jobs)},
      {label: 'Created', cell: (o) => fmt.dateTime(o.created_at) + ' by ' + o.created_by},
    ], page.items, {empty: 'No orchestration yet (POST /api/v2/import-orchestrations).'}));
    replace(pager,
      h('button', {type: 'button', disabled: state.page === 0, on: {click: () => { state.page--; refresh(); }}}, '← Newer'),
      h('button', {type: 'button', disabled: !state.next,
        on: {click: () => { state.cursors[++state.page] = state.next; refresh(); }}}, 'Older →'));
  };
  await refresh();
  return poller(refresh, 2000);
}

async function renderOne(main, id) {
  const head = h('div'), graph = h('section', {class: 'card'}), jobs = h('div');
  replace(main, head, graph, h('h2', null, 'Jobs'), jobs);
  let shown = '';
  const refresh = async () => {
    const o = await get('/import-orchestrations/' + id);
    const key = JSON.stringify(o.jobs.map((j) => [j.status, j.progress]));
    if (key === shown) return;
    shown = key;
    replace(head, h('div', {class: 'toolbar'}, h('h1', {class: 'wrap-anywhere'}, o.name || 'Orchestration', ' ', badge(o.status)),
      h('a', {href: '#/orchestrations'}, 'All orchestrations')));
    replace(graph, h('h2', null, 'Graph'), dagSvg(o.jobs.map((j) => ({id: j.id, label: j.key || j.name || fmt.shortId(j.id),
      status: j.status, deps: j.depends_on})), 'Jobs of ' + (o.name || 'the orchestration')));
    replace(jobs, table([
      {label: 'Key', cell: (j) => h('a', {href: '#/jobs/' + j.id}, j.key || fmt.shortId(j.id))},
      {label: 'Status', cell: (j) => badge(j.status)},
      {label: 'Table', cell: (j) => h('span', {class: 'mono'}, j.target && j.target.table)},
      {label: 'After', cell: (j) => (j.depends_on || []).map((d) => {
        const up = o.jobs.find((x) => x.id === d);
        return up ? up.key || fmt.shortId(d) : fmt.shortId(d);
      }).join(', ') || '—'},
      {label: 'Progress', cell: (j) => progressCell(j)},
    ], o.jobs));
  };
  await refresh();
  return poller(refresh, 2000);
}

export function render(main, {params}) {
  return params.id ? renderOne(main, params.id) : renderList(main);
}
