// format.js - how numbers, sizes and times read on the page.

export function dateTime(text) {
  if (!text) return '—';
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return String(text);
  return d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

// zoned(text, zone): the time as read in an IANA zone ("Tue, Dec 8, 03:00
// Europe/Zurich"); the UTC time when this browser does not know the zone.
export function zoned(text, zone) {
  try {
    return new Date(text).toLocaleString(undefined, {timeZone: zone, weekday: 'short', month: 'short',
      day: 'numeric', year: 'numeric', hour: '2-digit', minute: '2-digit'}) + ' ' + zone;
  } catch (e) {
    return String(text);
  }
}

export function ago(text, now = Date.now()) {
  if (!text) return '—';
  const s = Math.round((now - new Date(text).getTime()) / 1000);
  return s >= 0 ? duration(s) + ' ago' : 'in ' + duration(-s);
}

// duration(seconds): "4 s", "3 min 20 s", "2 h 5 min", "3 d 4 h".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + ' s';
  const m = Math.floor(s / 60); s %= 60;
  if (m < 60) return m + ' min' + (s ? ' ' + s + ' s' : '');
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return hrs + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
  return Math.floor(hrs / 24) + ' d ' + (hrs % 24) + ' h';
}

export function milliseconds(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? ms + ' ms' : duration(ms / 1000);
}

export function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + units[i];
}

export function count(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString();
}

// rates(job, now): {mbPerS, rowsPerS, etaS} of a running job from its
// progress and started_at; null members where unknown.
export function rates(job, now = Date.now()) {
  const p = job.progress || {};
  const elapsed = job.started_at ? (now - new Date(job.started_at).getTime()) / 1000 : 0;
  const out = {mbPerS: null, rowsPerS: null, etaS: null};
  if (elapsed <= 0.5) return out;
  if (p.bytes_read) out.mbPerS = p.bytes_read / 1e6 / elapsed;
  if (p.rows_read) out.rowsPerS = p.rows_read / elapsed;
  if (p.bytes_total && p.bytes_read && p.bytes_read < p.bytes_total)
    out.etaS = (p.bytes_total - p.bytes_read) / (p.bytes_read / elapsed);
  else if (p.percent > 0 && p.percent < 100)
    out.etaS = elapsed * (100 - p.percent) / p.percent;
  return out;
}

export function shortId(id) {
  return id ? String(id).slice(-8) : '—';
}
