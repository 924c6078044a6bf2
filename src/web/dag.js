// dag.js - a small layered drawing of a job graph as SVG: each job a box
// (a link to its page) in the column of its depth, edges from each
// dependency to its dependant. Built with createElementNS and textContent.

const NS = 'http://www.w3.org/2000/svg';
const BOX_W = 170, BOX_H = 40, GAP_X = 50, GAP_Y = 14;

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// dagSvg(nodes, label): nodes = [{id, label, status, deps: [id], current?}];
// deps outside nodes are ignored.
export function dagSvg(nodes, label) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map();
  const depthOf = (n, seen = new Set()) => {
    if (depth.has(n.id)) return depth.get(n.id);
    if (seen.has(n.id)) return 0; // a cycle cannot be stored; stay safe anyway
    seen.add(n.id);
    const deps = (n.deps || []).filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(byId.get(x), seen))) : 0;
    depth.set(n.id, d);
    return d;
  };
  const columns = [];
  for (const n of nodes) (columns[depthOf(n)] = columns[depthOf(n)] || []).push(n);
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((n, y) =>
    pos.set(n.id, {x: x * (BOX_W + GAP_X) + 4, y: y * (BOX_H + GAP_Y) + 4})));
  const width = Math.max(1, columns.length) * (BOX_W + GAP_X) - GAP_X + 8;
  const height = Math.max(1, ...columns.map((c) => c.length)) * (BOX_H + GAP_Y) - GAP_Y + 8;
  const svg = s('svg', {class: 'dag', viewBox: `0 0 ${width} ${height}`, role: 'group',
    'aria-label': label, width, height});
  svg.style.maxWidth = width + 'px';
  for (const n of nodes) for (const d of n.deps || []) {
    if (!pos.has(d)) continue;
    const a = pos.get(d), b = pos.get(n.id);
    const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x, y2 = b.y + BOX_H / 2;
    svg.append(s('path', {class: 'edge', d: `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`}));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const link = s('a', {href: '#/jobs/' + n.id, class: 'node st-' + String(n.status).toLowerCase() +
      (n.current ? ' current' : '')});
    link.append(s('rect', {x: p.x, y: p.y, width: BOX_W, height: BOX_H, rx: 6}));
    const text = n.label.length > 24 ? n.label.slice(0, 23) + '…' : n.label;
    link.append(s('text', {x: p.x + 8, y: p.y + 16}, text));
    link.append(s('text', {x: p.x + 8, y: p.y + 31, class: 'status'}, n.status));
    link.append(s('title', null, n.label));
    svg.append(link);
  }
  return svg;
}
