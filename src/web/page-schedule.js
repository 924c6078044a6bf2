// page-schedule.js - one scheduled import: its settings, the next five fire
// times, its actions, and its fire history (GET .../history, keyset pages).

import {get, poller} from './api.js';
import {badge, h, replace, table} from './dom.js';
import * as fmt from './format.js';
import {scheduleActions} from './page-schedules.js';

export async function render(main, {params}) {
  const id = params.id;
  const head = h('div'), info = h('div', {class: 'grid2'}), history = h('div');
  replace(main, head, info, h('h2', null, 'Fire history'), history);
  let shown = '';
  const refresh = async () => {
    const s = await get('/scheduled-imports/' + id);
    const hist = await get('/scheduled-imports/' + id + '/history', {limit: 50});
    const key = JSON.stringify([s.updated_at, s.last_run_at, s.enabled, hist.items]);
    if (key === shown) return;
    shown = key;
    const preview = await get('/scheduled-imports/preview', {cron: s.cron, timezone: s.timezone, count: 5})
      .catch(() => ({times: []}));
    replace(head, h('div', {class: 'toolbar'}, h('h1', {class: 'wrap-anywhere'}, s.name || 'Schedule'),
      h('a', {href: '#/schedules'}, 'All schedules')), scheduleActions(s, () => { shown = ''; refresh(); }));
    replace(info,
      h('section', {class: 'card'}, h('h2', null, 'Settings'), h('dl', {class: 'kv'}, [
        ['Cron', h('span', {class: 'mono'}, s.cron)], ['Time zone', s.timezone],
        ['State', s.enabled ? 'active' : 'paused'], ['Misfire', s.misfire], ['Overlap', s.overlap],
        ['Last run', fmt.dateTime(s.last_run_at)], ['Last status', s.last_status ? badge(s.last_status) : '—'],
        ['Runs', `${s.run_count} (${s.success_count} ok, ${s.failure_count} failed)`],
        ['Created', fmt.dateTime(s.created_at) + ' by ' + s.created_by],
      ].map(([k, v]) => [h('dt', null, k), h('dd', null, v)]))),
      h('section', {class: 'card'}, h('h2', null, 'Next fire times'),
        s.enabled ? h('ol', {class: 'times', id: 'next-times'}, preview.times.map((t) =>
          h('li', null, h('time', {datetime: t}, fmt.zoned(t, s.timezone)))))
          : h('p', {class: 'muted'}, 'Paused: resume to fire again.'),
        h('h2', null, 'Job'), h('pre', null, JSON.stringify(s.job, null, 2))));
    replace(history, table([
      {label: 'Fire time', cell: (r) => fmt.dateTime(r.fire_time)},
      {label: 'Outcome', cell: (r) => badge(r.outcome)},
      {label: 'Job', cell: (r) => r.job_id ? h('a', {href: '#/jobs/' + r.job_id}, fmt.shortId(r.job_id)) : '—'},
      {label: 'Detail', cell: (r) => r.detail || ''},
    ], hist.items, {empty: 'It has not fired yet.'}));
  };
  await refresh();
  return poller(refresh, 5000);
}
