// page-schedule-edit.js - create or edit a scheduled import: name, cron,
// time zone, misfire and overlap policies, enabled, and the job spec as
// JSON; while the cron or zone is typed, the next five fire times are
// previewed from GET /scheduled-imports/preview (or its error shown).

import {ApiError, can, get, post, put} from './api.js';
import {field, h, replace, showFieldErrors, toast} from './dom.js';
import * as fmt from './format.js';

const EXAMPLE_JOB = {source: {format: 'csv', path: 'users.csv'},
  target: {table: 'users', mode: 'upsert', key: ['user_id']}};

function zones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch (e) { return ['UTC']; }
}

export async function render(main, {params}) {
  const editing = params.id ? await get('/scheduled-imports/' + params.id) : null;
  const s = editing || {name: '', cron: '0 2 * * *', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
    misfire: 'run_once', overlap: 'skip', enabled: true, job: EXAMPLE_JOB};
  const name = h('input', {id: 'sched-name', type: 'text', value: s.name || '', maxlength: 200});
  const cron = h('input', {id: 'sched-cron', type: 'text', value: s.cron, spellcheck: 'false', class: 'mono'});
  const tz = h('input', {id: 'sched-tz', type: 'text', value: s.timezone, list: 'sched-zones', autocomplete: 'off'});
  const zoneList = h('datalist', {id: 'sched-zones'}, zones().map((z) => h('option', {value: z})));
  const choice = (id, options, value) => h('select', {id}, options.map((o) => h('option', {value: o, selected: o === value}, o)));
  const misfire = choice('sched-misfire', ['skip', 'run_once', 'catch_up'], s.misfire);
  const overlap = choice('sched-overlap', ['allow', 'skip', 'queue'], s.overlap);
  const enabled = h('input', {id: 'sched-enabled', type: 'checkbox', checked: s.enabled});
  const job = h('textarea', {id: 'sched-job', spellcheck: 'false'});
  job.value = JSON.stringify(s.job, null, 2);
  const preview = h('ol', {class: 'times', id: 'preview-times', 'aria-live': 'polite'});
  const previewError = h('p', {class: 'field-error', id: 'preview-error'});
  const formError = h('p', {class: 'error', role: 'alert', id: 'sched-errors'});

  const form = h('form', {novalidate: true, on: {submit: (ev) => { ev.preventDefault(); save(); }}},
    h('div', {class: 'form-grid'},
      field('Name', name, {name: 'name'}),
      field('Cron expression', cron, {name: 'cron', hint: 'minute hour day month weekday; @daily, L, one-off RFC 3339 times too.'}),
      field('Time zone', tz, {name: 'timezone'}), zoneList,
      field('Misfire', misfire, {name: 'misfire', hint: 'What a fire missed while down does.'}),
      field('Overlap', overlap, {name: 'overlap', hint: 'When the previous run is still going.'}),
      field('Enabled', enabled, {name: 'enabled'}),
      field('Job spec (JSON)', job, {name: 'job', wide: true})),
    formError,
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary', disabled: !can.operate,
      title: can.operate ? null : 'Needs the operator role'}, editing ? 'Save schedule' : 'Create schedule'),
    h('a', {href: editing ? '#/schedules/' + editing.id : '#/schedules'}, 'Back')));

  replace(main, h('h1', null, editing ? 'Edit schedule' : 'New schedule'),
    h('div', {class: 'grid2'}, h('section', {class: 'card'}, form),
      h('section', {class: 'card', 'aria-labelledby': 'preview-title'},
        h('h2', {id: 'preview-title'}, 'Next five fire times'), preview, previewError)));

  let timer = 0, asked = 0;
  const updatePreview = (delayMs = 250) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const r = await get('/scheduled-imports/preview', {cron: cron.value.trim(), timezone: tz.value.trim(), count: 5});
        if (mine !== asked) return;
        previewError.textContent = '';
        const zone = tz.value.trim();
        replace(preview, r.times.map((t) => h('li', null, h('time', {datetime: t}, fmt.zoned(t, zone)),
          h('span', {class: 'muted'}, ' · ' + fmt.dateTime(t) + ' your time'))));
      } catch (e) {
        if (mine !== asked) return;
        replace(preview);
        previewError.textContent = e.errors.length ? e.errors.map((x) => x.field + ': ' + x.message).join('; ') : e.message;
      }
    }, delayMs);
  };
  cron.addEventListener('input', () => updatePreview());
  tz.addEventListener('input', () => updatePreview());
  updatePreview(0);

  async function save() {
    let spec;
    try { spec = JSON.parse(job.value); } catch (e) {
      showFieldErrors(form, [{field: 'job', message: 'the JSON does not parse: ' + e.message}]);
      return;
    }
    const body = {name: name.value.trim(), cron: cron.value.trim(), timezone: tz.value.trim(),
      misfire: misfire.value, overlap: overlap.value, enabled: enabled.checked, job: spec};
    try {
      const saved = editing ? await put('/scheduled-imports/' + editing.id, body) : await post('/scheduled-imports', body);
      for (const w of saved.warnings || []) toast(typeof w === 'string' ? w : (w.message || JSON.stringify(w)), 'info');
      toast(editing ? 'Schedule saved' : 'Schedule created', 'ok');
      location.hash = '#/schedules/' + saved.id;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const rest = showFieldErrors(form, e.errors);
      formError.textContent = e.message + (rest.length ? ' — ' + rest.map((x) => x.field + ': ' + x.message).join('; ') : '');
    }
  }
  return () => clearTimeout(timer);
}
