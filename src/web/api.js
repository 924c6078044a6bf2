// api.js - the only way the console talks to the server: the public API
// under /api/v2 with the session's bearer token. Every failure becomes an
// ApiError carrying the RFC 9457 problem (status, detail, field errors).

const TOKEN_KEY = 'importq.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : 'HTTP ' + status);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || [];
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  who: null, // {name, role, can: {read, operate, administer}} from /whoami
  onUnauthorized: () => {},
};

// The API paths this server documents (its openapi.json, without /api/v2):
// pages for APIs that are not there yet stay hidden.
export const server = {
  paths: new Set(),
  has(path) { return this.paths.has(path); },
};

export const can = {
  get operate() { return !!(session.who && session.who.can.operate); },
  get administer() { return !!(session.who && session.who.can.administer); },
};

// query(params): "?a=1&b=2" without empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const text = q.toString();
  return text ? '?' + text : '';
}

// request(method, path, body, opts): the parsed JSON answer (or the
// Response itself with opts.raw); throws ApiError.
export async function request(method, path, body, opts = {}) {
  const headers = {Authorization: 'Bearer ' + (opts.token || session.token)};
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch('/api/v2' + path, {method, headers, body: payload, cache: 'no-store'});
  } catch (e) {
    throw new ApiError(0, {detail: 'the server cannot be reached'});
  }
  if (res.status === 401 && !opts.token) session.onUnauthorized();
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch (e) { problem = {detail: res.statusText}; }
    throw new ApiError(res.status, problem);
  }
  if (opts.raw) return res;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path, params) => request('GET', path + query(params));
export const post = (path, body) => request('POST', path, body);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

// whoami(token): the token's name and role, or ApiError (401 for a bad one).
export function whoami(token) {
  return request('GET', '/whoami', undefined, {token});
}

// download(path, filename): fetch with the token and save as filename.
export async function download(path, filename) {
  const res = await request('GET', path, undefined, {raw: true});
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// poller(fn, everyMs): calls fn now and every everyMs while the tab is
// visible; a hidden tab pauses it, showing the tab again polls at once.
// Returns stop(). A slow answer is never overlapped by the next call.
export function poller(fn, everyMs) {
  let timer = 0, stopped = false, busy = false;
  const tick = async () => {
    clearTimeout(timer);
    if (stopped || document.hidden || busy) return;
    busy = true;
    try { await fn(); } catch (e) { /* the page shows its own error */ }
    busy = false;
    if (!stopped && !document.hidden) timer = setTimeout(tick, everyMs);
  };
  const onVisibility = () => { if (!document.hidden) tick(); else clearTimeout(timer); };
  document.addEventListener('visibilitychange', onVisibility);
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
