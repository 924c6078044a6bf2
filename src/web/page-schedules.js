// page-schedules.js - the scheduled imports: next and last run, last
// status, counts, and pause / resume / run now / delete for operators.

import {can, del, get, poller, post} from './api.js';
import {badge, confirmDialog, h, replace, table, toast} from './dom.js';
import * as fmt from './format.js';

// scheduleActions(s, onDone): the buttons a schedule row and page share.
export function scheduleActions(s, onDone) {
  const why = can.operate ? null : 'Needs the operator role';
  const name = s.name || fmt.shortId(s.id);
  const run = async (fn, message) => {
    try { await fn(); toast(message, 'ok'); } catch (e) { toast(e.message, 'error'); }
    if (onDone) onDone();
  };
  return h('div', {class: 'actions'},
    s.enabled
      ? h('button', {type: 'button', class: 'small', disabled: !can.operate, title: why, 'aria-label': 'Pause ' + name,
        on: {click: () => run(() => post('/scheduled-imports/' + s.id + '/pause'), 'Paused ' + name)}}, 'Pause')
      : h('button', {type: 'button', class: 'small', disabled: !can.operate, title: why, 'aria-label': 'Resume ' + name,
        on: {click: () => run(() => post('/scheduled-imports/' + s.id + '/resume'), 'Resumed ' + name)}}, 'Resume'),
    h('button', {type: 'button', class: 'small', disabled: !can.operate, title: why, 'aria-label': 'Run now: ' + name,
      on: {click: async () => {
        if (await confirmDialog('Run now?', `Submit the job of “${name}” now, outside its schedule?`, 'Run now', false))
          run(() => post('/scheduled-imports/' + s.id + '/run'), 'Job submitted for ' + name);
      }}}, 'Run now'),
    h('a', {class: 'button small', href: '#/schedules/' + s.id + '/edit', 'aria-label': 'Edit ' + name,
      hidden: !can.operate}, 'Edit'),
    h('button', {type: 'button', class: 'small danger', disabled: !can.operate, title: why, 'aria-label': 'Delete ' + name,
      on: {click: async () => {
        if (await confirmDialog('Delete schedule?', `Delete “${name}”? Jobs it created stay.`, 'Delete'))
          run(() => del('/scheduled-imports/' + s.id), 'Deleted ' + name);
      }}}, 'Delete'));
}

export async function render(main) {
  const box = h('div');
  const state = {cursors: [''], page: 0, next: null};
  const pager = h('div', {class: 'pager'});
  replace(main, h('div', {class: 'toolbar'}, h('h1', null, 'Schedules'),
    can.operate ? h('a', {class: 'button primary', href: '#/schedules/new'}, 'New schedule') : null), box, pager);
  const refresh = async () => {
    const page = await get('/scheduled-imports', {limit: 50, cursor: state.cursors[state.page]});
    state.next = page.next_cursor;
    replace(box, table([
      {label: 'Name', cell: (s) => h('a', {href: '#/schedules/' + s.id, class: 'wrap-anywhere'}, s.name || fmt.shortId(s.id))},
      {label: 'Cron', cell: (s) => h('span', {class: 'mono'}, s.cron + ' (' + s.timezone + ')')},
      {label: 'State', cell: (s) => s.enabled ? 'active' : 'paused'},
      {label: 'Next run', cell: (s) => s.enabled ? fmt.dateTime(s.next_run_at) : '—'},
      {label: 'Last run', cell: (s) => fmt.dateTime(s.last_run_at)},
      {label: 'Last status', cell: (s) => s.last_status ? badge(s.last_status) : '—'},
      {label: 'Runs', className: 'num', cell: (s) => `${s.run_count} (${s.success_count} ok, ${s.failure_count} failed)`},
      {label: 'Actions', cell: (s) => scheduleActions(s, refresh)},
    ], page.items, {empty: 'No schedule yet.', rowAttrs: (s) => ({dataset: {scheduleId: s.id}})}));
    replace(pager,
      h('button', {type: 'button', disabled: state.page === 0, on: {click: () => { state.page--; refresh(); }}}, '← Previous'),
      h('button', {type: 'button', disabled: !state.next,
        on: {click: () => { state.cursors[++state.page] = state.next; refresh(); }}}, 'Next →'));
  };
  await refresh();
  return poller(refresh, 5000);
}
