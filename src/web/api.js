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

// poller(fn, everyMs): calls fn now and every everyMs (a number, or a
// function giving it) while the tab is visible; a hidden tab pauses it,
// showing the tab again polls at once.
// Returns stop(). A slow answer is never overlapped by the next call.
export function poller(fn, everyMs) {
  let timer = 0, stopped = false, busy = false;
  const tick = async () => {
    clearTimeout(timer);
    if (stopped || document.hidden || busy) return;
    busy = true;
    try { await fn(); } catch (e) { /* the page shows its own error */ }
    busy = false;
    if (!stopped && !document.hidden)
      timer = setTimeout(tick, typeof everyMs === 'function' ? everyMs() : everyMs);
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

// ---- live updates: GET /api/v2/events ----
//
// One event stream per tab, shared by the pages that want it. EventSource
// cannot send the Authorization header, so the stream is read with fetch()
// and parsed here: the token stays in a header, never in a URL (where
// proxies and server logs would keep it). The stream is closed while the
// tab is hidden (it frees one of the node's events-max-streams) and
// reopened with Last-Event-ID when it shows again or after an error, so no
// change is missed; when the server has no stream to give (503, or an
// older server: 404) the pages keep polling, which they do anyway.

const liveState = {subscribers: new Set(), controller: null, lastId: '', retryTimer: 0,
  retryMs: 2000, connected: false};

function liveNotify(event) {
  for (const fn of liveState.subscribers) {
    try { fn(event); } catch (e) { /* a page's own problem */ }
  }
}

// liveParse(text, onEvent): feed SSE text; returns what is left of an
// unfinished frame.
function liveParse(text, onEvent) {
  let rest = text, at;
  while ((at = rest.indexOf('\n\n')) >= 0) {
    const frame = {event: 'message', data: '', id: null};
    for (const line of rest.slice(0, at).split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') frame.event = value;
      else if (field === 'data') frame.data += value;
      else if (field === 'id') frame.id = value;
    }
    rest = rest.slice(at + 2);
    if (frame.id !== null) liveState.lastId = frame.id;
    if (frame.data) onEvent(frame);
  }
  return rest;
}

function liveRetry(ms) {
  clearTimeout(liveState.retryTimer);
  if (liveState.subscribers.size && !document.hidden)
    liveState.retryTimer = setTimeout(liveConnect, ms);
}

async function liveConnect() {
  clearTimeout(liveState.retryTimer);
  if (liveState.controller || !liveState.subscribers.size || document.hidden || !session.token) return;
  const controller = new AbortController();
  liveState.controller = controller;
  const headers = {Authorization: 'Bearer ' + session.token, Accept: 'text/event-stream'};
  if (liveState.lastId) headers['Last-Event-ID'] = liveState.lastId;
  let wait = liveState.retryMs;
  try {
    const res = await fetch('/api/v2/events', {headers, cache: 'no-store', signal: controller.signal});
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      wait = 30000; // full (503) or not offered: polling carries on meanwhile
      return;
    }
    liveState.connected = true;
    liveState.retryMs = 2000;
    liveNotify({event: 'open'}); // catch up on what changed while closed
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer = liveParse(buffer + value.replace(/\r\n?/g, '\n'), (frame) => {
        let data = null;
        try { data = JSON.parse(frame.data); } catch (e) { /* not ours */ }
        liveNotify({event: frame.event, data});
      });
      if (buffer.length > 1 << 20) break; // a frame this big is not ours
    }
  } catch (e) {
    /* aborted, or the connection broke: retry below */
  } finally {
    liveState.connected = false;
    if (liveState.controller === controller) liveState.controller = null;
    liveState.retryMs = Math.min(liveState.retryMs * 2, 30000);
    if (!controller.signal.aborted) liveRetry(wait);
  }
}

function liveDisconnect() {
  clearTimeout(liveState.retryTimer);
  if (liveState.controller) liveState.controller.abort();
  liveState.controller = null;
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) liveDisconnect();
  else liveConnect();
});

// live(fn): fn({event, data}) for every change event (and {event: 'open'}
// when the stream (re)opens). Returns unsubscribe().
export function live(fn) {
  liveState.subscribers.add(fn);
  liveConnect();
  return () => {
    liveState.subscribers.delete(fn);
    if (!liveState.subscribers.size) liveDisconnect();
  };
}

// liveStatus(): whether the event stream is open now.
export const liveStatus = () => liveState.connected;

// livePoller(fn, everyMs, wants, liveEveryMs): poller(fn, everyMs) that
// also calls fn soon after a change event for which wants(event) holds
// (events close together bring one call), and polls only every
// liveEveryMs (default everyMs) while the stream is open. Returns stop().
export function livePoller(fn, everyMs, wants = () => true, liveEveryMs = everyMs) {
  let pending = 0, busy = false, again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await fn(); } catch (e) { /* the page shows its own error */ }
    busy = false;
    if (again) { again = false; soon(); }
  };
  const soon = () => {
    clearTimeout(pending);
    if (!document.hidden) pending = setTimeout(run, 150);
  };
  const stopPoll = poller(run, () => (liveState.connected ? liveEveryMs : everyMs));
  const stopLive = live((e) => { if (e.event === 'open' || e.event === 'reset' || wants(e)) soon(); });
  return () => { clearTimeout(pending); stopPoll(); stopLive(); };
}
