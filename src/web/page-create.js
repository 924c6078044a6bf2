// page-create.js - submit a job: a form for the common spec fields (a
// source path or a file to upload, format, table, mode, key, priority,
// dependencies, scheduled time, hold, error policy) and a raw JSON editor
// for everything else. The server's field errors (422) appear next to the
// fields they name; the editor lists them under itself.

import {ApiError, can, post, request} from './api.js';
import {field, h, replace, showFieldErrors, toast} from './dom.js';

const list = (text) => String(text || '').split(',').map((s) => s.trim()).filter(Boolean);

export async function render(main, {query}) {
  const el = {};
  const input = (name, attrs) => (el[name] = h(attrs && attrs.tag || 'input',
    Object.assign({id: 'job-' + name.replace(/\W/g, '-'), name}, attrs, {tag: null})));
  const select = (name, options, value) => (el[name] = h('select', {id: 'job-' + name, name},
    options.map((o) => h('option', {value: o, selected: o === value}, o))));

  const form = h('form', {id: 'create-form', novalidate: true, on: {submit: (ev) => { ev.preventDefault(); submit(); }}},
    h('div', {class: 'form-grid'},
      field('Name', input('name', {type: 'text', maxlength: 200}), {name: 'name'}),
      field('Source file path', input('path', {type: 'text', placeholder: 'users.csv'}),
        {name: 'source.path', hint: 'Relative to the server’s import root.'}),
      field('…or upload a file', input('file', {type: 'file'}), {name: 'source.upload'}),
      field('Format', select('format', ['csv', 'ndjson', 'json'], 'csv'), {name: 'source.format'}),
      field('Target table', input('table', {type: 'text', required: true, autocomplete: 'off'}), {name: 'target.table'}),
      field('Mode', select('mode', ['insert', 'upsert', 'append', 'replace'], 'insert'), {name: 'target.mode'}),
      field('Key columns', input('key', {type: 'text', placeholder: 'user_id'}),
        {name: 'target.key', hint: 'Comma separated; needed for upsert.'}),
      field('Create the table', input('create', {type: 'checkbox'}), {name: 'target.create',
        hint: 'Needs the columns.'}),
      field('Columns', input('columns', {type: 'text', placeholder: 'user_id:bigint, email:text'}),
        {name: 'target.columns', hint: 'name:type, comma separated; empty uses the table’s own. ' +
          'Checks and more in the JSON editor.'}),
      field('Priority', input('priority', {type: 'number', min: 1, max: 10, value: '5'}), {name: 'priority',
        hint: '1 runs first, 10 last.'}),
      field('Depends on', input('depends_on', {type: 'text', placeholder: 'job id, job id',
        value: query.get('after') || ''}), {name: 'depends_on'}),
      field('Scheduled at', input('scheduled_at', {type: 'datetime-local'}), {name: 'scheduled_at',
        hint: 'Your local time; empty runs as soon as possible.'}),
      field('Hold', input('hold', {type: 'checkbox'}), {name: 'hold', hint: 'Waits for Execute.'}),
      field('On a bad row', select('on_error', ['abort', 'skip'], 'abort'), {name: 'on_error.action'}),
      field('Rejects allowed', input('max_rejects', {type: 'number', min: 0, value: '0'}),
        {name: 'on_error.max_rejects'})),
    h('p', {class: 'error', id: 'form-errors', role: 'alert'}));

  const editor = h('textarea', {id: 'job-json', spellcheck: 'false', 'aria-label': 'Job spec as JSON'});
  const editorErrors = h('ul', {class: 'error', id: 'json-errors', role: 'alert'});
  const jsonPane = h('div', {hidden: true},
    h('p', {class: 'hint'}, 'The whole spec (docs/api.md): columns, checks, children, resources, CSV options…'),
    editor, editorErrors);

  let mode = 'form';
  // What the JSON editor held beyond the form's fields (checks, resources,
  // CSV options…): the form edits its own fields on top of it.
  let baseSpec = {};
  const tabForm = h('button', {type: 'button', role: 'tab', 'aria-selected': 'true', on: {click: () => show('form')}}, 'Form');
  const tabJson = h('button', {type: 'button', role: 'tab', 'aria-selected': 'false', on: {click: () => show('json')}}, 'JSON');
  function show(which) {
    if (which === mode) return;
    if (which === 'json') editor.value = JSON.stringify(specFromForm(), null, 2);
    else {
      try {
        const parsed = JSON.parse(editor.value);
        formFromSpec(parsed);
        baseSpec = parsed;
      } catch (e) { toast('The JSON does not parse: ' + e.message, 'error'); return; }
    }
    mode = which;
    form.hidden = which !== 'form';
    jsonPane.hidden = which !== 'json';
    tabForm.setAttribute('aria-selected', String(which === 'form'));
    tabJson.setAttribute('aria-selected', String(which === 'json'));
  }

  const submitButton = h('button', {type: 'button', class: 'primary', disabled: !can.operate,
    title: can.operate ? null : 'Needs the operator role', on: {click: submit}}, 'Submit job');
  replace(main, h('h1', null, 'New job'),
    can.operate ? null : h('p', {class: 'notice'}, 'Your token is a viewer: it cannot submit jobs.'),
    h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'Editor'}, tabForm, tabJson),
    h('div', {class: 'card'}, form, jsonPane, h('div', {class: 'actions'}, submitButton)));

  // setOrDelete(obj, key, value): obj[key] = value, or no key when value is
  // undefined (an emptied form field removes the member).
  const setOrDelete = (obj, key, value) => { if (value === undefined) delete obj[key]; else obj[key] = value; };

  function specFromForm() {
    const spec = structuredClone(baseSpec);
    spec.source = Object.assign(spec.source || {}, {format: el.format.value});
    spec.target = Object.assign(spec.target || {}, {table: el.table.value.trim(), mode: el.mode.value});
    const keys = list(el.key.value), deps = list(el.depends_on.value);
    setOrDelete(spec, 'name', el.name.value.trim() || undefined);
    setOrDelete(spec.source, 'path', el.path.value.trim() || undefined);
    if (el.path.value.trim()) delete spec.source.upload;
    setOrDelete(spec.target, 'key', keys.length ? keys : undefined);
    setOrDelete(spec.target, 'create', el.create.checked || undefined);
    // Columns typed in the form replace the editor's; an unchanged text keeps
    // the editor's columns with their checks.
    if (el.columns.value !== columnsText(spec.target.columns))
      setOrDelete(spec.target, 'columns', list(el.columns.value).length ? list(el.columns.value).map((c) => {
        const [name, type] = c.split(':').map((x) => x.trim());
        return type ? {name, type} : {name};
      }) : undefined);
    setOrDelete(spec, 'priority', el.priority.value !== '' ? Number(el.priority.value) : undefined);
    setOrDelete(spec, 'depends_on', deps.length ? deps : undefined);
    setOrDelete(spec, 'scheduled_at', el.scheduled_at.value ? new Date(el.scheduled_at.value).toISOString() : undefined);
    setOrDelete(spec, 'hold', el.hold.checked || undefined);
    spec.on_error = Object.assign(spec.on_error || {}, {action: el.on_error.value,
      max_rejects: Number(el.max_rejects.value || 0)});
    return spec;
  }

  function columnsText(columns) {
    return (columns || []).map((c) => c.type ? c.name + ':' + c.type : c.name).join(', ');
  }

  function formFromSpec(spec) {
    const src = spec.source || {}, tgt = spec.target || {};
    el.name.value = spec.name || '';
    el.path.value = src.path || '';
    el.format.value = src.format || 'csv';
    el.table.value = tgt.table || '';
    el.mode.value = tgt.mode || 'insert';
    el.key.value = (tgt.key || []).join(', ');
    el.columns.value = columnsText(tgt.columns);
    el.create.checked = !!tgt.create;
    el.priority.value = spec.priority ?? 5;
    el.depends_on.value = (spec.depends_on || []).join(', ');
    el.hold.checked = !!spec.hold;
    el.scheduled_at.value = '';
    if (spec.scheduled_at) {
      const d = new Date(spec.scheduled_at);
      if (!Number.isNaN(d.getTime()))
        el.scheduled_at.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    }
    el.on_error.value = (spec.on_error && spec.on_error.action) || 'abort';
    el.max_rejects.value = (spec.on_error && spec.on_error.max_rejects) || 0;
  }

  async function submit() {
    let spec;
    if (mode === 'json') {
      try { spec = JSON.parse(editor.value); } catch (e) {
        replace(editorErrors, h('li', null, 'The JSON does not parse: ' + e.message));
        return;
      }
    } else {
      spec = specFromForm();
    }
    submitButton.disabled = true;
    try {
      if (mode === 'form' && el.file.files.length) {
        const up = await request('POST', '/uploads', el.file.files[0]);
        delete spec.source.path;
        spec.source.upload = up.id;
      }
      const job = await post('/import-queue', spec);
      toast('Job submitted', 'ok');
      location.hash = '#/jobs/' + job.id;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const errors = e.errors.length ? e.errors : [{field: '', message: e.message}];
      if (mode === 'form') {
        const rest = showFieldErrors(form, errors);
        const summary = document.getElementById('form-errors');
        summary.textContent = e.message + (rest.length ? ' — ' + rest.map((x) =>
          (x.field ? x.field + ': ' : '') + x.message).join('; ') : '');
      } else {
        replace(editorErrors, errors.map((x) => h('li', null, (x.field ? x.field + ': ' : '') + x.message)));
      }
    } finally {
      submitButton.disabled = !can.operate;
    }
  }
}
