"""The shell of ``report.html``: the document around the sections, its CSS and its script.

:func:`page` wraps the sections in one self-contained document (navigation, the timelines' shared
axis, the data as inline JSON that cannot close its script). :data:`PAGE_JS` draws the timeline
picked in the select box with :mod:`~wgan_parity.report.svgplot`'s geometry and lists a heatmap
cell's rows; :data:`CSS` styles both the markup and the SVG.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from wgan_parity.report.svgplot import LEFT, PLOT_H, RIGHT, TOP, esc

# The browser's copy of svgplot.timeline_svg (drawTimeline) and the page's handlers.
PAGE_JS = (
    f"const G = {json.dumps(dict(TOP=TOP, H=PLOT_H, LEFT=LEFT, RIGHT=RIGHT))};"
    + """
const D = JSON.parse(document.getElementById('data').textContent), CODES = D.codes;
function fmt(v) {
  if (typeof v !== 'number') return v === null || v === undefined ? '–' : String(v);
  const a = Math.abs(v);
  return a && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : String(+v.toPrecision(3));
}
function drawTimeline(svg, L, s) {
  const B = G.TOP + G.H, NS = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text, parent) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return (parent || svg).appendChild(e);
  };
  svg.replaceChildren();
  svg.setAttribute('width', L.w);
  svg.setAttribute('height', L.h);
  svg.setAttribute('aria-label', s.name);
  el('use', {href: '#tl-axis'});
  const num = v => typeof v === 'number', vals = s.e.concat(s.l).filter(v => num(v) && v > 0);
  const lo = vals.length ? Math.floor(Math.log10(Math.min(...vals))) : -8;
  const hi = vals.length ? Math.max(Math.ceil(Math.log10(Math.max(...vals))), lo + 1) : 0;
  const y = v => {
    const l = Math.min(Math.max(num(v) && v > 0 ? Math.log10(v) : lo, lo), hi);
    return Math.round(10 * (G.TOP + G.H * (hi - l) / (hi - lo))) / 10;
  };
  for (let d = lo; d <= hi; d++) {
    el('path', {d: `M${G.LEFT} ${y(10 ** d)} H${L.w - G.RIGHT}`, class: 'grid'});
    el('text', {x: G.LEFT - 4, y: y(10 ** d) + 3, class: 'yl'}, `1e${d}`);
  }
  for (const k of s.b) {
    const p = el('path', {d: `M${L.x[k]} ${G.TOP} V${B}`, class: 'bis'});
    el('title', {}, `first changed in ${L.labels[k]}`, p);
  }
  const marks = L.x.map((x, k) => s.l[k] === null ? '' : `M${x - L.dx} ${y(s.l[k])} h${2 * L.dx}`);
  el('path', {d: marks.join(' '), class: 'limit'});
  let line = [];
  const flush = () => {
    if (line.length > 1) el('polyline', {points: line.join(' '), class: 'err'});
    line = [];
  };
  L.x.forEach((x, k) => {
    if ((k && L.f[k] !== L.f[k - 1]) || !num(s.e[k])) flush();
    if (num(s.e[k])) line.push(`${x},${y(s.e[k])}`);
  });
  flush();
  L.x.forEach((x, k) => {
    const c = s.s[k];
    if (c === '-') return;
    const p = el('circle', {cx: x, cy: c === 'b' ? G.TOP : y(s.e[k]), r: 3.2, class: 'p' + c});
    el('title', {}, `${L.labels[k]}: err ${fmt(s.e[k])}, limit ${fmt(s.l[k])}, ${CODES[c]}`, p);
  });
}
function add(parent, tag, text, cls) {
  const e = parent.appendChild(document.createElement(tag));
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function showCell(key) {
  const c = D.cells[key], box = document.getElementById('cell-rows');
  if (!c) return;
  box.replaceChildren();
  document.querySelectorAll('rect[data-cell]').forEach(
    r => r.classList.toggle('sel', r.dataset.cell === key));
  add(box, 'h3', c.t);
  add(box, 'p', `${c.rows.length} rows listed (problems first, then the worst by error/limit)` +
    (c.more ? `; ${c.more} more in pairs.csv` : ''), 'small');
  const t = add(box, 'table'), h = add(add(t, 'thead'), 'tr'), b = add(t, 'tbody');
  for (const n of ['case', 'tensor', 'status', 'env', 'err', 'limit', '× limit', 'known',
                   'first divergent tap']) add(h, 'th', n);
  for (const r of c.rows) {
    const known = r[6] >= 0 ? D.reasons[r[6]] : null, name = D.tensors[r[0]];
    const tr = add(b, 'tr', undefined, known ? 'kn' : D.divergent.includes(r[1]) ? 'bad' : '');
    const cells = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1), r[1], r[2]];
    cells.concat([r[3], r[4], r[5]].map(fmt)).forEach(v => add(tr, 'td', v));
    add(tr, 'td', known ? known[0] : '').title = known ? known[1] : '';
    add(tr, 'td', r[7]);
  }
}
const heat = document.getElementById('heatmap'), T = D.timeline;
const pick = document.getElementById('tl-pick'), sel = document.getElementById('tl-select');
const cellOf = e => e.target.closest && e.target.closest('rect[data-cell]');
heat.addEventListener('click', e => { if (cellOf(e)) showCell(cellOf(e).dataset.cell); });
heat.addEventListener('keydown', e => {
  if (cellOf(e) && (e.key === 'Enter' || e.key === ' ')) showCell(cellOf(e).dataset.cell);
});
if (T.series.length) drawTimeline(pick, T.layout, T.series[0]);
sel.addEventListener('change', () => drawTimeline(pick, T.layout, T.series[+sel.value]));
if (D.first) showCell(D.first);
"""
)

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}main{padding:0 16px 40px}
nav{position:sticky;top:0;background:#223;padding:6px 16px;z-index:1}
nav a{color:#fff;margin-right:14px;text-decoration:none}section{margin-top:18px}
h2{border-bottom:1px solid #ccc}h3{margin:14px 0 6px}.scroll{overflow-x:auto}
.headline{font-size:20px;font-weight:bold;padding:8px 12px;display:inline-block}
.pass{background:#d8f3dc;color:#1b4332}.fail{background:#ffe0e0;color:#8b0000}
table{border-collapse:collapse;font-size:12px;margin:4px 0}th{background:#f3f3f3}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
tr.bad td{background:#ffe6e6}tr.kn td{background:#fff4dc}.caption,.small{color:#555}
.small{font-size:12px}pre{background:#f6f6f6;padding:4px 8px;margin:4px 0}
#cell-rows{max-height:480px;overflow:auto}.rules td:nth-child(2){max-width:560px}
.tiles{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figcaption{font:12px monospace}
.chain .first{font-weight:bold;background:#ffd166;padding:0 3px}svg.defs{position:absolute}
.bar{display:inline-block;height:9px;background:#6c8ebf}.bar.off{background:#d00}
svg text{font:11px sans-serif}.rl,.yl,.xl{text-anchor:end}.xl,.tick,.n{font-size:10px}
.fw,.tick,.n{text-anchor:middle}.fw,.n{font-weight:bold}.one{stroke:#00e5ff;stroke-width:2}
rect.cell{cursor:pointer}rect.bad{stroke:#e00;stroke-width:2}rect.known{stroke:#0097a7}
rect.sel{stroke:#00e5ff;stroke-width:3}path.grid{stroke:#eee}path.sep{stroke:#bbb}
path.bis{stroke:#7b2cbf;stroke-width:2;stroke-dasharray:2 3}
path.limit{stroke:#e76f51;stroke-width:2;stroke-dasharray:4 2;fill:none}
polyline.err{fill:none;stroke:#1f5fa8;stroke-width:1.2}.po{fill:#1f5fa8}.pd,.pb{fill:#d00}
.pk{fill:#fff;stroke:#e08a00;stroke-width:2}.pu{fill:#999}.pg{fill:#ccc}
span.po{color:#1f5fa8}span.pd,span.pb{color:#d00}span.pk{color:#e08a00}span.pu{color:#999}
span.pg{color:#bbb}
"""


def page(title: str, nav: Sequence[str], sections: Sequence[str], data: Any, axis: str) -> str:
    """The document: links to the ``sections``' ids, the timelines' shared ``axis``, the sections,
    then ``data`` as JSON that cannot close its script (sorted keys; no ``<``, ``>``, ``&``)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    links = "".join(f'<a href="#{esc(k)}">{esc(k)}</a>' for k in nav)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{CSS}</style></head><body>'
        f"<nav>{links}</nav>{axis}<main>{''.join(sections)}</main>"
        f'<script type="application/json" id="data">{text}</script>'
        f"<script>{PAGE_JS}</script></body></html>\n"
    )
