// jobview.js - what the dashboard, the job list and the job page show of
// a job the same way: its progress (bar, phase, rows, MB/s, ETA) and its
// actions (cancel, execute, priority), each disabled where the token's role
// or the job's status does not allow it.

import {can, del, post, put} from './api.js';
import {confirmDialog, h, progressBar, promptDialog, toast} from './dom.js';
import * as fmt from './format.js';

const FINISHED = ['COMPLETED', 'FAILED', 'CANCELLED'];

// progressCell(job): the bar and one line of figures.
export function progressCell(job, now = Date.now()) {
  const p = job.progress || {};
  const status = job.status;
  let percent = p.percent;
  if (status === 'COMPLETED') percent = 100;
  else if (status === 'RUNNING' && !p.bytes_total && !(p.percent > 0)) percent = null;
  else if (status !== 'RUNNING') percent = FINISHED.includes(status) ? (percent || 0) : 0;
  const meta = [];
  if (status === 'RUNNING') {
    const r = fmt.rates(job, now);
    meta.push(p.phase || 'running');
    meta.push(fmt.count(p.rows_read) + ' rows');
    if (r.mbPerS !== null) meta.push(r.mbPerS.toFixed(r.mbPerS < 10 ? 2 : 0) + ' MB/s');
    if (r.etaS !== null) meta.push('ETA ' + fmt.duration(r.etaS));
    if (job.cancel_requested) meta.push('cancelling');
  } else if (FINISHED.includes(status)) {
    meta.push(status.toLowerCase(), fmt.count(p.rows_read) + ' rows');
  } else {
    meta.push(p.phase || status.toLowerCase());
  }
  const label = status + ': ' + meta.join(', ');
  return h('div', {class: 'progress', dataset: {status}},
    progressBar(percent === null ? null : percent, label, status),
    h('span', {class: 'meta'}, meta.join(' · ')));
}

// jobActions(job, onDone): Cancel / Execute / Priority buttons.
export function jobActions(job, onDone, opts = {}) {
  const operate = can.operate;
  const why = operate ? null : 'Needs the operator role';
  const name = job.name || fmt.shortId(job.id);
  const cancellable = !FINISHED.includes(job.status) && !job.cancel_requested;
  const executable = ['HELD', 'QUEUED', 'FAILED', 'CANCELLED'].includes(job.status);
  const editable = ['HELD', 'QUEUED'].includes(job.status);
  const run = async (fn, message) => {
    try { await fn(); toast(message, 'ok'); } catch (e) { toast(e.message, 'error'); }
    if (onDone) onDone();
  };
  const size = opts.small ? 'small ' : '';
  return h('div', {class: 'actions'},
    h('button', {type: 'button', class: size + 'danger', disabled: !operate || !cancellable,
      title: why || (cancellable ? 'Cancel this job' : 'Already finished'),
      'aria-label': 'Cancel ' + name,
      on: {click: async () => {
        const running = job.status === 'RUNNING';
        if (await confirmDialog('Cancel job?', `Cancel “${name}”?` +
            (running ? ' It is running: it stops within seconds and nothing it read lands.' : ''),
        'Cancel job'))
          run(() => del('/import-queue/' + job.id), 'Cancel requested for ' + name);
      }}}, 'Cancel'),
    h('button', {type: 'button', class: size, disabled: !operate || !executable,
      title: why || 'Run now (or again)', 'aria-label': 'Execute ' + name,
      on: {click: async () => {
        const again = ['FAILED', 'CANCELLED'].includes(job.status);
        if (await confirmDialog('Execute job?', again
          ? `Start a new attempt of “${name}”?` : `Run “${name}” as soon as resources allow?`,
        'Execute', false))
          run(() => post('/import-queue/' + job.id + '/execute'), 'Execution requested');
      }}}, 'Execute'),
    h('button', {type: 'button', class: size, disabled: !operate || !editable,
      title: why || (editable ? 'Change the priority' : 'Only while HELD or QUEUED'),
      'aria-label': 'Priority of ' + name,
      on: {click: async () => {
        const value = await promptDialog('Priority of “' + name + '”', 'Priority (1 runs first, 10 last)',
          {type: 'number', min: 1, max: 10, value: String(job.priority)});
        if (value !== null && value !== '')
          run(() => put('/import-queue/' + job.id, {priority: Number(value)}), 'Priority set to ' + value);
      }}}, 'Priority'));
}
