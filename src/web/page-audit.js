// page-audit.js - the audit trail (GET /import-audit): filters by entity,
// entity id, actor, action and time; keyset pages; each entry's before and
// after on demand; and, for admins, the hash chain's verification.

import {can, get} from './api.js';
import {h, replace, table} from './dom.js';
import * as fmt from './format.js';

// Where an entry's entity has a page of its own.
const PAGE_OF = {job: '#/jobs/', schedule: '#/schedules/', orchestration: '#/orchestrations/'};

const KEYS = ['entity', 'entity_id', 'actor', 'action', 'since', 'until'];

function localToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(main, {query}) {
  const inputs = {};
  const labels = {entity: 'Entity', entity_id: 'Entity id', actor: 'Actor', action: 'Action', since: 'Since', until: 'Until'};
  for (const k of KEYS)
    inputs[k] = h('input', {id: 'audit-' + k, name: k, value: query.get(k) || '',
      type: k === 'since' || k === 'until' ? 'datetime-local' : 'text',
      list: k === 'entity' ? 'audit-entities' : null});
  const form = h('form', {class: 'filters card', role: 'search', 'aria-label': 'Filter the audit trail',
    on: {submit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const k of KEYS) if (inputs[k].value.trim()) q.set(k, inputs[k].value.trim());
      location.hash = '#/audit' + (q.toString() ? '?' + q : '');
    }}},
  KEYS.map((k) => h('div', {class: 'field'}, h('label', {for: 'audit-' + k}, labels[k]), inputs[k])),
  h('datalist', {id: 'audit-entities'}, ['job', 'schedule', 'lock', 'token', 'orchestration'].map((v) => h('option', {value: v}))),
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply'),
    h('button', {type: 'button', on: {click: () => { location.hash = '#/audit'; }}}, 'Clear')));

  const verifyResult = h('p', {id: 'verify-result', role: 'status'});
  const verify = h('button', {type: 'button', id: 'verify', disabled: !can.administer,
    title: can.administer ? 'Recompute every hash of the chain' : 'Needs the admin role',
    on: {click: async () => {
      verify.disabled = true;
      verifyResult.textContent = 'Verifying…';
      try {
        const r = await get('/import-audit/verify');
        verifyResult.className = r.ok ? 'st-ok' : 'error';
        verifyResult.textContent = r.ok ? `The chain is intact: ${fmt.count(r.rows_checked)} entries checked.`
          : `The chain is broken at entry ${r.first_bad_id} (${fmt.count(r.rows_checked)} checked).`;
      } catch (e) {
        verifyResult.className = 'error';
        verifyResult.textContent = e.message;
      }
      verify.disabled = false;
    }}}, 'Verify the hash chain');

  const list = h('div'), pager = h('div', {class: 'pager'}), message = h('p', {class: 'error', role: 'alert'});
  replace(main, h('h1', null, 'Audit'), h('div', {class: 'card'}, h('div', {class: 'actions'}, verify), verifyResult),
    h('h2', null, 'Entries'), form, message, list, pager);

  const filters = {};
  for (const k of KEYS) filters[k] = k === 'since' || k === 'until' ? localToIso(query.get(k)) : query.get(k) || '';
  const state = {cursors: [''], page: 0};
  const load = async () => {
    try {
      const page = await get('/import-audit', Object.assign({limit: 50, cursor: state.cursors[state.page]}, filters));
      message.textContent = '';
      replace(list, table([
        {label: 'When', cell: (a) => fmt.dateTime(a.at)},
        {label: 'Actor', cell: (a) => a.actor},
        {label: 'Action', cell: (a) => a.action},
        {label: 'Entity', cell: (a) => PAGE_OF[a.entity] && a.entity_id
          ? h('a', {href: PAGE_OF[a.entity] + a.entity_id}, a.entity + ' ' + fmt.shortId(a.entity_id))
          : h('span', {class: 'wrap-anywhere'}, a.entity + ' ' + (a.entity_id || ''))},
        {label: 'Change', cell: (a) => h('details', null, h('summary', null, 'before / after'),
          h('pre', null, JSON.stringify({before: a.before, after: a.after}, null, 2)))},
        {label: 'Hash', cell: (a) => h('span', {class: 'mono', title: a.hash}, String(a.hash || '').slice(0, 12))},
      ], page.items, {empty: 'No entry matches.'}));
      replace(pager,
        h('button', {type: 'button', disabled: state.page === 0, on: {click: () => { state.page--; load(); }}}, '← Newer'),
        h('button', {type: 'button', disabled: !page.next_cursor,
          on: {click: () => { state.cursors[++state.page] = page.next_cursor; load(); }}}, 'Older →'));
    } catch (e) {
      message.textContent = e.message;
    }
  };
  await load();
}
