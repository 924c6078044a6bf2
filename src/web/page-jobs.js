// page-jobs.js - the job list: filters (status, priority range, table,
// created date range, name search) kept in the address so a view can be
// shared, keyset pages of the lean list (GET /import-queue), sorting of the
// page shown, progress of running jobs, and the job actions. The page
// refreshes every 2 s while visible.

import {get, livePoller, poller, server} from './api.js';
import {badge, h, replace, table} from './dom.js';
import * as fmt from './format.js';
import {jobActions, progressCell} from './jobview.js';

const STATUSES = ['HELD', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const PAGE_SIZE = 50;

// dayStart("2026-12-01", endOfDay): the local day's start (or end) as RFC 3339.
function dayBound(value, endOfDay) {
  if (!value) return '';
  const d = new Date(value + (endOfDay ? 'T23:59:59.999' : 'T00:00:00'));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(main, {query}) {
  const state = {
    cursors: [''], // cursor of each page seen: keyset pages go forward, back is the stack
    page: 0,
    items: [],
    next: null,
    sortIndex: -1,
    sortDescending: false,
    shown: '', // the page last drawn
  };
  const input = (name, attrs) => h('input', Object.assign({id: 'filter-' + name, name,
    value: query.get(name) || ''}, attrs));
  const statusBoxes = STATUSES.map((s) => h('label', null,
    h('input', {type: 'checkbox', name: 'status', value: s,
      checked: (query.get('status') || '').split(',').includes(s)}), s));
  const form = h('form', {class: 'filters card', role: 'search', 'aria-label': 'Filter jobs',
    on: {submit: (ev) => { ev.preventDefault(); applyFilters(); }}},
  h('fieldset', null, h('legend', null, 'Status'), h('div', {class: 'checks'}, statusBoxes)),
  h('div', {class: 'field'}, h('label', {for: 'filter-q'}, 'Name contains'), input('q', {type: 'search'})),
  h('div', {class: 'field'}, h('label', {for: 'filter-table'}, 'Table'), input('table', {type: 'text'})),
  h('div', {class: 'field'}, h('label', {for: 'filter-priority_min'}, 'Priority from'),
    input('priority_min', {type: 'number', min: 1, max: 10})),
  h('div', {class: 'field'}, h('label', {for: 'filter-priority_max'}, 'Priority to'),
    input('priority_max', {type: 'number', min: 1, max: 10})),
  h('div', {class: 'field'}, h('label', {for: 'filter-from'}, 'Created from'), input('from', {type: 'date'})),
  h('div', {class: 'field'}, h('label', {for: 'filter-to'}, 'Created to'), input('to', {type: 'date'})),
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply'),
    h('button', {type: 'button', on: {click: () => { location.hash = '#/jobs'; }}}, 'Clear')));

  function applyFilters() {
    const data = new FormData(form);
    const params = new URLSearchParams();
    const statuses = data.getAll('status');
    if (statuses.length) params.set('status', statuses.join(','));
    for (const key of ['q', 'table', 'priority_min', 'priority_max', 'from', 'to'])
      if (data.get(key)) params.set(key, data.get(key));
    const text = params.toString();
    location.hash = '#/jobs' + (text ? '?' + text : '');
  }

  const filters = {
    status: query.get('status') || '', q: query.get('q') || '', table: query.get('table') || '',
    priority_min: query.get('priority_min') || '', priority_max: query.get('priority_max') || '',
    created_after: dayBound(query.get('from'), false), created_before: dayBound(query.get('to'), true),
  };

  const list = h('div', {id: 'job-list'});
  const pager = h('div', {class: 'pager'});
  const message = h('p', {class: 'error', role: 'alert'});
  replace(main, h('div', {class: 'toolbar'}, h('h1', null, 'Jobs'),
    h('a', {class: 'button primary', href: '#/jobs/new'}, 'New job')), form, message, list, pager);

  const columns = [
    {label: 'Name', sort: (j) => (j.name || '').toLowerCase(),
      cell: (j) => h('a', {href: '#/jobs/' + j.id, class: 'wrap-anywhere'}, j.name || '(unnamed) ' + fmt.shortId(j.id))},
    {label: 'Status', sort: (j) => j.status, cell: (j) => badge(j.status)},
    {label: 'Priority', className: 'num', sort: (j) => j.priority, cell: (j) => String(j.priority)},
    {label: 'Table', sort: (j) => j.table, cell: (j) => h('span', {class: 'mono wrap-anywhere'}, j.table)},
    {label: 'Progress', cell: (j) => progressCell(j)},
    {label: 'Attempt', className: 'num', sort: (j) => j.attempt, cell: (j) => j.attempt + ' / ' + j.max_attempts},
    {label: 'Created', sort: (j) => j.created_at, cell: (j) => fmt.dateTime(j.created_at)},
    {label: 'Error', cell: (j) => j.error ? h('span', {class: 'error wrap-anywhere'}, j.error.message || j.error.code) : ''},
    {label: 'Actions', cell: (j) => jobActions(j, refresh, {small: true})},
  ];

  function draw() {
    let rows = state.items.slice();
    if (state.sortIndex >= 0) {
      const key = columns[state.sortIndex].sort;
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        const c = x < y ? -1 : x > y ? 1 : 0;
        return state.sortDescending ? -c : c;
      });
    }
    // Keep focus on the same button across a refresh (keyboard users).
    const focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.getAttribute('aria-label') : null;
    replace(list, table(columns, rows, {
      empty: 'No job matches these filters.', sortIndex: state.sortIndex,
      sortDescending: state.sortDescending,
      rowAttrs: (j) => ({dataset: {jobId: j.id, status: j.status}}),
      onSort: (i) => {
        state.sortDescending = state.sortIndex === i ? !state.sortDescending : false;
        state.sortIndex = i;
        draw();
      },
    }));
    if (focused) {
      const again = [...list.querySelectorAll('[aria-label]')].find((el) => el.getAttribute('aria-label') === focused);
      if (again) again.focus();
    }
    replace(pager,
      h('button', {type: 'button', disabled: state.page === 0,
        on: {click: () => { state.page--; refresh(); }}}, '← Newer'),
      h('span', {class: 'muted'}, 'Page ' + (state.page + 1) +
        (state.sortIndex >= 0 ? ' (sorted within the page; pages go newest first)' : '')),
      h('button', {type: 'button', disabled: !state.next,
        on: {click: () => { state.cursors[state.page + 1] = state.next; state.page++; refresh(); }}}, 'Older →'));
  }

  async function refresh() {
    try {
      const page = await get('/import-queue', Object.assign({limit: PAGE_SIZE,
        cursor: state.cursors[state.page]}, filters));
      const key = JSON.stringify([state.page, page]);
      message.textContent = '';
      if (key === state.shown) return; // unchanged: no redraw, no flicker
      state.shown = key;
      state.items = page.items;
      state.next = page.next_cursor;
      draw();
    } catch (e) {
      message.textContent = e.message + (e.errors.length
        ? ': ' + e.errors.map((x) => x.field + ' ' + x.message).join('; ') : '');
    }
  }
  return server.has('/events')
    ? livePoller(refresh, 2000, (e) => (e.data && e.data.entity) === 'job')
    : poller(refresh, 2000);
}
