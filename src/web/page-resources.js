// page-resources.js - the locks held (with a countdown to each lease's
// end) and the jobs waiting for them; an admin can force-release a lock.
// The list is fetched every 2 s; the countdowns tick every second between.

import {can, del, get, poller} from './api.js';
import {confirmDialog, h, replace, table, toast} from './dom.js';
import * as fmt from './format.js';

function countdown(expires) {
  const s = (new Date(expires).getTime() - Date.now()) / 1000;
  return s >= 0 ? fmt.duration(s) : 'expired ' + fmt.duration(-s) + ' ago';
}

export async function render(main) {
  const locks = h('div', {id: 'locks'}), waiting = h('div', {id: 'waiting'});
  replace(main, h('h1', null, 'Resources'),
    can.administer ? null : h('p', {class: 'notice'}, 'Force-releasing a lock needs the admin role.'),
    h('h2', null, 'Locks held'), locks, h('h2', null, 'Jobs waiting'), waiting);
  const clocks = [];
  let shown = '';
  const refresh = async () => {
    const r = await get('/import-resources');
    const key = JSON.stringify(r);
    if (key === shown) return;
    shown = key;
    clocks.length = 0;
    replace(locks, table([
      {label: 'Resource', cell: (l) => h('span', {class: 'mono wrap-anywhere'}, l.name)},
      {label: 'Mode', cell: (l) => l.mode},
      {label: 'Job', cell: (l) => h('a', {href: '#/jobs/' + l.job_id}, fmt.shortId(l.job_id))},
      {label: 'Node', cell: (l) => h('span', {class: 'mono wrap-anywhere'}, fmt.shortId(l.node))},
      {label: 'Acquired', cell: (l) => fmt.dateTime(l.acquired_at)},
      {label: 'Lease ends in', cell: (l) => {
        const el = h('span', {class: 'countdown', dataset: {expires: l.expires_at}}, countdown(l.expires_at));
        clocks.push(el);
        return el;
      }},
      {label: 'Actions', cell: (l) => h('button', {type: 'button', class: 'small danger', disabled: !can.administer,
        title: can.administer ? 'Release this lock now' : 'Needs the admin role',
        'aria-label': 'Force-release ' + l.name, on: {click: async () => {
          if (!await confirmDialog('Force-release lock?', `Release “${l.name}” held by job ${fmt.shortId(l.job_id)}? ` +
            'Another job may then take it while this one still runs.', 'Release')) return;
          try { await del('/import-resources/' + l.id); toast('Released ' + l.name, 'ok'); } catch (e) { toast(e.message, 'error'); }
          shown = '';
          refresh();
        }}}, 'Force release')},
    ], r.locks, {empty: 'No lock is held.', rowAttrs: (l) => ({dataset: {lockId: l.id}})}));
    const w = r.waiting || [];
    replace(waiting, table([
      {label: 'Job', cell: (j) => h('a', {href: '#/jobs/' + j.job_id}, j.name || fmt.shortId(j.job_id))},
      {label: 'Priority', className: 'num', cell: (j) => String(j.priority)},
      {label: 'Needs', cell: (j) => h('span', {class: 'mono wrap-anywhere'},
        (j.resources || []).map((x) => x.name + ' (' + x.mode + ')').join(', '))},
      {label: 'Held by', cell: (j) => (j.blocked_by || []).map((lockId) => {
        const lock = r.locks.find((l) => l.id === lockId);
        return lock ? h('a', {href: '#/jobs/' + lock.job_id}, 'job ' + fmt.shortId(lock.job_id) + ' ') : '';
      })},
    ], w, {empty: 'No job is waiting for a resource.'}));
  };
  await refresh();
  const stop = poller(refresh, 2000);
  const tick = setInterval(() => { for (const el of clocks) el.textContent = countdown(el.dataset.expires); }, 1000);
  return () => { stop(); clearInterval(tick); };
}
