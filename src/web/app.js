// app.js - the console's shell: the token login, the navigation, and a
// hash router that loads one page module at a time. A page module exports
// render(main, ctx) and may return a cleanup function (stop polling).
//
// Pages for APIs that arrive later (alerts, performance, health history)
// drop in by adding a row to PAGES and a page-<name>.js file; a row whose
// `needs` endpoint answers 404 on this server stays out of the navigation.

import {ApiError, server, session, whoami} from './api.js';
import {h, replace, toast} from './dom.js';

// route pattern -> module; `nav` rows appear in the navigation.
const PAGES = [
  {path: '', module: './page-dashboard.js', nav: 'Dashboard'},
  {path: 'jobs', module: './page-jobs.js', nav: 'Jobs'},
  {path: 'jobs/new', module: './page-create.js'},
  {path: 'jobs/:id', module: './page-job.js'},
  {path: 'orchestrations', module: './page-orchestrations.js', nav: 'Orchestrations'},
  {path: 'orchestrations/:id', module: './page-orchestrations.js'},
  {path: 'schedules', module: './page-schedules.js', nav: 'Schedules'},
  {path: 'schedules/new', module: './page-schedule-edit.js'},
  {path: 'schedules/:id/edit', module: './page-schedule-edit.js'},
  {path: 'schedules/:id', module: './page-schedule.js'},
  {path: 'resources', module: './page-resources.js', nav: 'Resources'},
  {path: 'alerts', module: './page-alerts.js', nav: 'Alerts', needs: '/import-monitoring/alerts'},
  {path: 'performance', module: './page-performance.js', nav: 'Performance',
   needs: '/import-performance'},
  {path: 'audit', module: './page-audit.js', nav: 'Audit'},
];

const main = document.getElementById('main');
let cleanup = null;

// parseHash(): {path, params, query} of location.hash ("#/jobs/ID?x=1").
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart] = raw.split('?');
  const path = pathPart.replace(/\/$/, '');
  for (const page of PAGES) {
    if (page.needs && !server.has(page.needs)) continue;
    const want = page.path.split('/'), got = path ? path.split('/') : [];
    if (page.path === '' ? got.length !== 0 : want.length !== got.length) continue;
    const params = {};
    if (page.path !== '' && !want.every((seg, i) => seg.startsWith(':')
        ? (params[seg.slice(1)] = decodeURIComponent(got[i])) !== undefined
        : seg === got[i])) continue;
    return {page, params, query: new URLSearchParams(queryPart || '')};
  }
  return {page: null, params: {}, query: new URLSearchParams()};
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  const links = PAGES.filter((p) => p.nav && (!p.needs || server.has(p.needs))).map((p) => {
    const active = current && (current.path === p.path ||
      (p.path && current.path.startsWith(p.path + '/')));
    return h('a', {href: '#/' + p.path, 'aria-current': active ? 'page' : null}, p.nav);
  });
  replace(nav, links);
}

function renderWho() {
  const who = document.getElementById('who');
  if (!session.who) { replace(who); return; }
  replace(who,
    h('span', {class: 'role role-' + session.who.role, title: 'token ' + session.who.name},
      session.who.name, ' · ', session.who.role),
    h('button', {type: 'button', class: 'linklike', on: {click: logout}}, 'Sign out'));
}

async function route(focusPage) {
  if (cleanup) { try { cleanup(); } catch (e) { /* ignore */ } cleanup = null; }
  const {page, params, query} = parseHash();
  renderNav(page);
  if (!page) {
    replace(main, h('h1', null, 'Not found'), h('p', null, 'No page here. ',
      h('a', {href: '#/'}, 'Go to the dashboard.')));
    return;
  }
  const mine = {};
  cleanup = mine; // a newer route() replaces it while this one loads
  try {
    const module = await import(page.module);
    if (cleanup !== mine) return;
    replace(main);
    const done = await module.render(main, {params, query});
    // A new page: focus goes to it, so keyboard and screen reader users
    // start there (the navigation is one Shift+Tab away).
    if (focusPage && !main.contains(document.activeElement)) main.focus({preventScroll: true});
    if (cleanup === mine) cleanup = done || null;
    else if (done) done();
  } catch (e) {
    if (cleanup === mine) cleanup = null;
    replace(main, h('h1', null, 'Something went wrong'),
      h('p', {class: 'error'}, e instanceof ApiError ? e.message : String(e && e.message || e)));
  }
}

// probeOptionalPages: which later APIs this server has, from its OpenAPI
// document (asking the endpoints would log a 404 in the console).
async function probeOptionalPages() {
  try {
    const res = await fetch('/api/v2/openapi.json');
    const doc = await res.json();
    server.paths = new Set(Object.keys(doc.paths || {}).map((p) => p.replace(/^\/api\/v2/, '')));
  } catch (e) {
    server.paths = new Set();
  }
}

function logout() {
  session.token = '';
  session.who = null;
  showLogin();
}

function showLogin(message) {
  if (cleanup) { try { cleanup(); } catch (e) { /* ignore */ } cleanup = null; }
  renderWho();
  replace(document.getElementById('nav'));
  const input = h('input', {id: 'token', name: 'token', type: 'password', autocomplete: 'off',
    required: true, spellcheck: 'false', placeholder: 'iq_…'});
  const error = h('p', {class: 'field-error', id: 'token-error', role: 'alert', hidden: !message},
    message || '');
  input.setAttribute('aria-describedby', 'token-error');
  const form = h('form', {class: 'login card', on: {submit: async (ev) => {
    ev.preventDefault();
    try {
      await signIn(input.value.trim());
    } catch (e) {
      error.hidden = false;
      error.textContent = e.status === 401 ? 'That token is unknown or revoked.' : e.message;
      input.focus();
    }
  }}},
  h('h1', null, 'Sign in to importq'),
  h('p', {class: 'muted'}, 'Paste an API token (importq token create, or the one `make run` printed). ' +
    'It is kept for this browser tab only.'),
  h('label', {for: 'token'}, 'API token'), input, error,
  h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Sign in')));
  replace(main, form);
  input.focus();
}

async function signIn(token) {
  session.who = await whoami(token);
  session.token = token;
  renderWho();
  await probeOptionalPages();
  route();
}

session.onUnauthorized = () => {
  session.token = '';
  session.who = null;
  showLogin('The token was refused; sign in again.');
};

window.addEventListener('hashchange', () => { if (session.who) route(true); });
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason instanceof ApiError) { ev.preventDefault(); toast(ev.reason.message, 'error'); }
});

if (session.token) {
  signIn(session.token).catch(() => showLogin());
} else {
  showLogin();
}
