// chart.js - a small line chart as SVG (no library): one series of
// {t: ms, v: number}, its latest value and range in text for screen
// readers, drawn with createElementNS only.

const NS = 'http://www.w3.org/2000/svg';
const W = 400, H = 120, PAD = 4;

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// lineChart(points, label, unit): a <figure> of an <svg> (role img) whose
// title states the latest value, minimum and maximum, and a caption.
export function lineChart(points, label, unit = '') {
  const pts = points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  const svg = s('svg', {class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', preserveAspectRatio: 'none'});
  if (!pts.length) {
    svg.append(s('title', null, label + ': no data yet'));
    return svg;
  }
  const t0 = pts[0].t, t1 = pts[pts.length - 1].t || t0 + 1;
  const max = Math.max(...pts.map((p) => p.v)), min = Math.min(0, ...pts.map((p) => p.v));
  const x = (t) => PAD + (t1 === t0 ? W - 2 * PAD : (t - t0) / (t1 - t0) * (W - 2 * PAD));
  const y = (v) => H - PAD - (max === min ? 0 : (v - min) / (max - min) * (H - 2 * PAD));
  const line = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const last = pts[pts.length - 1].v;
  svg.append(s('title', null, `${label}: now ${last.toLocaleString()}${unit}, ` +
    `between ${min.toLocaleString()} and ${max.toLocaleString()}${unit} over the period shown`));
  svg.append(s('polygon', {class: 'area', points: `${x(t0)},${H - PAD} ${line} ${x(pts[pts.length - 1].t)},${H - PAD}`}));
  svg.append(s('polyline', {class: 'line', points: line}));
  const caption = document.createElement('figcaption');
  caption.className = 'muted';
  caption.textContent = `now ${last.toLocaleString()}${unit} · max ${max.toLocaleString()}${unit} · since ` +
    new Date(t0).toLocaleTimeString();
  caption.setAttribute('aria-hidden', 'true'); // the title says it
  const figure = document.createElement('figure');
  figure.className = 'chart-figure';
  figure.append(svg, caption);
  return figure;
}

// seriesFrom(doc, keys): [{t, v}] from a health document whatever its
// envelope ({items}, {points}, {series} or an array), taking the first of
// keys each point has and its time from at / time / ts / bucket.
export function seriesFrom(doc, keys) {
  const rows = Array.isArray(doc) ? doc : doc.items || doc.points || doc.series || [];
  return rows.map((r) => {
    const time = r.at ?? r.time ?? r.ts ?? r.bucket ?? r.timestamp;
    const key = keys.find((k) => typeof r[k] === 'number');
    return {t: typeof time === 'number' ? time : new Date(time).getTime(), v: key ? r[key] : NaN};
  });
}

// barChart(rows, label, bars): a <figure> of horizontal bars, one row per
// item of rows ({name, values: [number|null, ...]}), one bar per entry of
// bars ({label, format(v)}) on a scale shared by the figure: each row
// reads "name  ▬▬▬ value" and is a list item whose text says it all, for
// screen readers. Widths go through the CSSOM (the page's CSP forbids
// inline style attributes).
export function barChart(rows, label, bars) {
  const max = Math.max(0, ...rows.flatMap((r) => r.values.filter(Number.isFinite)));
  const list = document.createElement('ul');
  list.className = 'hbars';
  for (const row of rows) {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'hbar-name';
    name.textContent = row.name;
    item.append(name);
    row.values.forEach((v, i) => {
      const track = document.createElement('span');
      track.className = 'hbar hbar-' + i;
      const fill = document.createElement('span');
      fill.className = 'hbar-fill';
      fill.style.width = (Number.isFinite(v) && max > 0 ? Math.max(1, v / max * 100) : 0) + '%';
      track.append(fill);
      const text = document.createElement('span');
      text.className = 'hbar-value';
      text.textContent = bars[i].label + ' ' + (Number.isFinite(v) ? bars[i].format(v) : '—');
      item.append(track, text);
    });
    list.append(item);
  }
  const caption = document.createElement('figcaption');
  caption.textContent = label;
  const figure = document.createElement('figure');
  figure.className = 'chart-figure bar-chart';
  figure.append(caption, list);
  return figure;
}
