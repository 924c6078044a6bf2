// dom.js - building the page without innerHTML: every piece of data goes
// in through textContent or an attribute, so nothing a user typed (a job
// name, an error message, a file path) is ever parsed as HTML.

// h(tag, attrs, ...children): an element. attrs: plain attributes, plus
// `on: {event: fn}`, `class`, `dataset: {}`, and boolean properties
// (disabled, checked, hidden, selected) set as properties. Children may be
// strings (text nodes), numbers, nodes, arrays, null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'disabled' || key === 'checked' || key === 'hidden' ||
               key === 'selected' || key === 'value' || key === 'open') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// replace(el, ...children): el's children become children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// table(columns, rows): columns = [{label, cell(row) -> node|string,
// sort?: key fn, className?}], with an optional onSort(columnIndex).
export function table(columns, rows, opts = {}) {
  const head = h('tr', null, columns.map((c, i) => {
    const sortable = opts.onSort && c.sort;
    const dir = opts.sortIndex === i ? (opts.sortDescending ? 'descending' : 'ascending') : null;
    const label = sortable
      ? h('button', {class: 'linklike', type: 'button', on: {click: () => opts.onSort(i)}},
          c.label, dir ? (dir === 'ascending' ? ' ▲' : ' ▼') : '')
      : c.label;
    return h('th', {scope: 'col', 'aria-sort': dir, class: c.className}, label);
  }));
  const body = rows.length
    ? rows.map((row) => h('tr', opts.rowAttrs ? opts.rowAttrs(row) : null,
        columns.map((c) => h('td', {class: c.className, 'data-label': c.label}, c.cell(row)))))
    : h('tr', null, h('td', {colspan: columns.length, class: 'muted empty'}, opts.empty || 'Nothing here.'));
  return h('div', {class: 'table-wrap'},
    h('table', {class: opts.className || 'data'}, h('thead', null, head), h('tbody', null, body)));
}

// badge(status): a coloured status label.
export function badge(status) {
  return h('span', {class: 'badge st-' + String(status || '').toLowerCase()}, status || '—');
}

let toastTimer = 0;
// toast(message, kind): a short note in the live region.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', {class: 'toast ' + kind}, message);
  box.append(item);
  clearTimeout(toastTimer);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

// confirmDialog(title, text, okLabel): resolves true when confirmed. A
// native <dialog>: focus is trapped and Escape cancels.
export function confirmDialog(title, text, okLabel = 'Confirm', danger = true) {
  return new Promise((resolve) => {
    const ok = h('button', {type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary'}, okLabel);
    const dialog = h('dialog', {class: 'dialog', 'aria-labelledby': 'dialog-title'},
      h('form', {method: 'dialog'},
        h('h2', {id: 'dialog-title'}, title),
        h('p', null, text),
        h('div', {class: 'actions'},
          h('button', {type: 'submit', value: 'cancel'}, 'Back'), ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

// promptDialog(title, label, input attrs): resolves the value or null.
export function promptDialog(title, label, attrs) {
  return new Promise((resolve) => {
    const input = h('input', Object.assign({id: 'prompt-input', required: true}, attrs));
    const dialog = h('dialog', {class: 'dialog', 'aria-labelledby': 'dialog-title'},
      h('form', {method: 'dialog'},
        h('h2', {id: 'dialog-title'}, title),
        h('label', {for: 'prompt-input'}, label), input,
        h('div', {class: 'actions'},
          h('button', {type: 'button', on: {click: () => dialog.close('')}}, 'Cancel'),
          h('button', {type: 'submit', value: 'ok', class: 'primary'}, 'Save'))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? input.value : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

// field(label, input, hint): a labelled form row; the error slot is
// filled by showFieldErrors (data-field on the row names the API field).
let fieldCount = 0;
export function field(label, input, opts = {}) {
  const id = input.id || 'f' + (++fieldCount);
  input.id = id;
  const error = h('p', {class: 'field-error', id: id + '-error', hidden: true});
  input.setAttribute('aria-describedby', id + '-error');
  return h('div', {class: 'field' + (opts.wide ? ' wide' : ''), dataset: {field: opts.name || ''}},
    h('label', {for: id}, label), input,
    opts.hint ? h('p', {class: 'hint'}, opts.hint) : null, error);
}

// parentField("target.columns[0].type") is "target.columns[0]"; "" at the top.
function parentField(name) {
  const m = name.match(/^(.*?)(\.[^.[\]]+|\[\d+\])$/);
  return m ? m[1] : '';
}

// showFieldErrors(form, problem): each {field, message} of an RFC 9457
// problem next to the row whose data-field is the field or its nearest
// parent ("target.columns[0].type" falls back to "target.columns", then
// "target"); returns the errors that found no row.
export function showFieldErrors(form, errors) {
  for (const el of form.querySelectorAll('.field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const unplaced = [];
  for (const e of errors || []) {
    let name = String(e.field || '');
    let row = null;
    while (name && !row) {
      row = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
      if (!row) name = parentField(name);
    }
    if (!row) { unplaced.push(e); continue; }
    const slot = row.querySelector('.field-error');
    slot.hidden = false;
    slot.textContent = (slot.textContent ? slot.textContent + ' ' : '') +
      (name === e.field ? '' : e.field + ': ') + e.message;
    const input = row.querySelector('input, select, textarea');
    if (input) input.setAttribute('aria-invalid', 'true');
  }
  return unplaced;
}

// progressBar(value 0..100 | null, label): role=progressbar.
export function progressBar(percent, label, status) {
  const bar = h('div', {class: 'bar-fill' + (percent === null ? ' indeterminate' : '')});
  if (percent !== null) bar.style.width = Math.max(0, Math.min(100, percent)) + '%';
  return h('div', {class: 'bar st-' + String(status || '').toLowerCase(), role: 'progressbar',
    'aria-valuemin': 0, 'aria-valuemax': 100,
    'aria-valuenow': percent === null ? null : Math.round(percent), 'aria-label': label}, bar);
}
