"""The markup of ``report.html``: hand-written SVG plots, tables, the page shell, CSS and script.

Every string from the data reaches the markup through :func:`esc` (or :func:`cell`, which escapes
all but :class:`Markup`). A timeline is drawn here for the static plots and by :data:`PAGE_JS`
in the browser for the tensor picked in the select box, with the same geometry
(:func:`timeline_layout`, whose axis every timeline shares) and the same series JSON.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

VMIN, VMAX = -3.0, 3.0  # log10(error / limit): a fixed colour scale, as in the PNG heatmaps
STOPS = ("#000004", "#420a68", "#932667", "#dd513a", "#fca50a", "#fcffa4")  # inferno, coarse
PLOT_H, TOP, LEFT, RIGHT, GAP = 160, 22, 56, 12, 14  # timeline geometry, pixels
CODES = {  # a timeline point's code (one character per env in the series JSON) -> legend
    "o": "ok",
    "d": "unexplained divergence",
    "k": "divergence a known rule excuses",
    "u": "unjudged (a limit that cannot fail)",
    "g": "degenerate (not judged)",
    "b": "non-finite or shape mismatch",
    "-": "no value",
}


class Markup(str):
    """Text that is markup already: :func:`cell` does not escape it."""


def esc(value: Any) -> str:
    """``value`` as text safe in HTML/SVG content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A number in 3 significant digits; ``–`` for NaN/None, ``inf`` for infinity."""
    if value is None or isinstance(value, str):
        return str(value or "–")
    number = float(value)
    return "–" if number != number else str(number) if math.isinf(number) else f"{number:.3g}"


def num(value: Any) -> Optional[Any]:
    """A float for the page's JSON: 4 significant digits, None for NaN, ``"inf"`` for inf."""
    number = math.nan if value is None else float(value)
    if number != number:
        return None
    return str(number) if math.isinf(number) else float(f"{number:.4g}")


def cell(value: Any) -> str:
    """A table cell's markup: Markup as is, numbers by :func:`fmt`, lists joined, text escaped."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, (float, np.floating)) or value is None:
        return esc(fmt(value))
    return esc(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """An HTML table of ``rows`` (each value through :func:`cell`)."""
    head = "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead>{head}</thead><tbody>{body}</tbody></table>'


def colour(value: float) -> str:
    """The fill of an error/limit ratio: its log10 from VMIN (dark) to VMAX (bright)."""
    if value != value:
        return "#d9d9d9"
    t = VMAX if math.isinf(value) else VMIN if value <= 0 else math.log10(value)
    t = (min(max(t, VMIN), VMAX) - VMIN) / (VMAX - VMIN) * (len(STOPS) - 1)
    k = min(int(t), len(STOPS) - 2)
    mix = [int(STOPS[k][i : i + 2], 16) * (k + 1 - t) for i in (1, 3, 5)]
    mix = [m + int(STOPS[k + 1][i : i + 2], 16) * (t - k) for m, i in zip(mix, (1, 3, 5))]
    return "#" + "".join(f"{round(c):02x}" for c in mix)


def scale_svg() -> str:
    """The colour legend: error/limit from 10^VMIN to 10^VMAX, the limit (1) marked."""
    n = int((VMAX - VMIN) * 2) + 1
    out = [f'<svg class="scale" width="{n * 22 + 60}" height="34">']
    for k in range(n):
        value = 10 ** (VMIN + k / 2)
        out.append(f'<rect x="{k * 22}" y="0" width="22" height="14" fill="{colour(value)}"/>')
        if k % 2 == 0:
            out.append(f'<text x="{k * 22 + 11}" y="27" class="tick">{fmt(value)}</text>')
    out.append(f'<path d="M{-VMIN * 44 + 11} 0 V16" class="one"/>')
    return "".join(out) + f'<text x="{n * 22 + 4}" y="11">× limit</text></svg>'


def heatmap_svg(
    rows: Sequence[str], cols: Sequence[str], cells: Mapping[Tuple[int, int], Mapping[str, Any]]
) -> str:
    """A matrix of ``rect`` cells, ``data-cell`` naming each cell's rows in the page's JSON.

    ``cells[(r, c)]``: ``key``, ``value`` (worst error/limit), ``bad`` (unexplained rows),
    ``known`` (rows a known rule excuses), ``title``.
    """
    cw = max(14, min(60 if len(cols) < 12 else 36, 600 // max(len(cols), 1)))
    ch = max(13, min(30, 720 // max(len(rows), 1), cw))
    left = round(8 + 6.2 * max((len(r) for r in rows), default=4))
    top = round(10 + 6.2 * max((len(c) for c in cols), default=4))
    width, height = left + cw * len(cols) + 8, top + ch * len(rows) + 8
    out = [f'<svg class="heat" width="{width}" height="{height}">']
    for k, label in enumerate(rows):
        y = top + ch * k + ch // 2 + 4
        out.append(f'<text x="{left - 4}" y="{y}" class="rl">{esc(label)}</text>')
    for k, label in enumerate(cols):
        x, y = left + cw * k + cw // 2 + 4, top - 4
        turn = f"rotate(-90 {x} {y})"
        out.append(f'<text x="{x}" y="{y}" transform="{turn}">{esc(label)}</text>')
    for (r, c), spot in sorted(cells.items()):
        value, bad, x, y = float(spot["value"]), int(spot["bad"]), left + cw * c, top + ch * r
        cls = "cell bad" if bad else "cell known" if spot["known"] else "cell"
        out.append(
            f'<rect x="{x}" y="{y}" width="{cw - 1}" height="{ch - 1}" class="{cls}" '
            f'fill="{colour(value)}" data-cell="{esc(spot["key"])}" tabindex="0">'
            f"<title>{esc(spot['title'])}</title></rect>"
        )
        if bad and cw >= 18:
            ink = "#000" if value >= 10.0 else "#fff"
            out.append(f'<text x="{x + cw // 2}" y="{y + ch // 2 + 4}" class="n" fill="{ink}">')
            out.append(f"{bad}</text>")
    return "".join(out) + "</svg>"


def timeline_layout(envs: Sequence[Tuple[str, str]]) -> Dict[str, Any]:
    """x of each ``(label, framework)`` env (a gap between frameworks), the frameworks' spans,
    the size, and the axis every timeline shares (``<use href="#tl-axis">``)."""
    step = max(10.0, min(64.0, 860.0 / max(len(envs), 1)))
    xs: List[float] = []
    spans: List[Dict[str, Any]] = []
    x = LEFT + step / 2
    for _, framework in envs:
        if not spans or spans[-1]["name"] != framework:
            x += GAP if spans else 0
            spans.append({"name": framework, "x0": round(x - step / 2, 1)})
        xs.append(round(x, 1))
        spans[-1]["x1"] = round(x + step / 2, 1)
        x += step
    width = round(x - step / 2 + RIGHT, 1)
    height = round(TOP + PLOT_H + min(130, 10 + 5.6 * max((len(e[0]) for e in envs), default=4)))
    bottom = TOP + PLOT_H + 6
    axis = ['<svg class="defs" width="0" height="0"><defs><g id="tl-axis">']
    for s in spans:
        axis.append(
            f'<text x="{(s["x0"] + s["x1"]) / 2}" y="12" class="fw">{esc(s["name"])}</text>'
        )
        axis.append(f'<path d="M{s["x0"]} {TOP} V{TOP + PLOT_H}" class="sep"/>')
    for xk, (label, _) in zip(xs, envs):
        turn = f"rotate(-90 {xk + 3} {bottom})"
        axis.append(
            f'<text x="{xk + 3}" y="{bottom}" class="xl" transform="{turn}">{esc(label)}</text>'
        )
    axis.append("</g></defs></svg>")
    frames = [next(k for k, s in enumerate(spans) if s["x0"] <= xk <= s["x1"]) for xk in xs]
    labels = [e[0] for e in envs]
    return {
        "x": xs,
        "f": frames,
        "labels": labels,
        "dx": round(step / 2 - 1, 1),
        "w": width,
        "h": height,
        "axis": "".join(axis),
    }


def timeline_svg(layout: Mapping[str, Any], series: Mapping[str, Any]) -> str:
    """One tensor's error against the truth per env (log10 y), its limits and bisect marks.

    ``series``: ``name``; ``e`` and ``l``, each env's error and limit (None where unknown);
    ``s``, a :data:`CODES` character per env; ``b``, the indices of bisected first changes.
    """
    values = [v for v in (*series["e"], *series["l"]) if isinstance(v, float) and v > 0]
    lo = math.floor(math.log10(min(values))) if values else -8
    hi = max(math.ceil(math.log10(max(values))), lo + 1) if values else 0
    xs, labels, dx, bottom = layout["x"], layout["labels"], layout["dx"], TOP + PLOT_H

    def y_of(v: Any) -> float:
        v = min(max(math.log10(v) if isinstance(v, float) and v > 0 else lo, lo), hi)
        return round(TOP + PLOT_H * (hi - v) / (hi - lo), 1)

    out = [
        f'<svg class="timeline" width="{layout["w"]}" height="{layout["h"]}" role="img" '
        f'aria-label="{esc(series["name"])}"><use href="#tl-axis"/>'
    ]
    for d in range(lo, hi + 1):
        out.append(f'<path d="M{LEFT} {y_of(10.0**d)} H{layout["w"] - RIGHT}" class="grid"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y_of(10.0**d) + 3}" class="yl">1e{d}</text>')
    for k in series["b"]:
        tip = esc(f"first changed in {labels[k]}")
        out.append(f'<path d="M{xs[k]} {TOP} V{bottom}" class="bis"><title>{tip}</title></path>')
    marks = [f"M{x - dx} {y_of(v)} h{2 * dx}" for x, v in zip(xs, series["l"]) if v is not None]
    out.append(f'<path d="{" ".join(marks)} " class="limit"/>')
    lines: List[List[str]] = [[]]
    for k, (x, e) in enumerate(zip(xs, series["e"])):
        if (k and layout["f"][k] != layout["f"][k - 1]) or not isinstance(e, float):
            lines.append([])
        if isinstance(e, float):
            lines[-1].append(f"{x},{y_of(e)}")
    for line in (line for line in lines if len(line) > 1):
        out.append(f'<polyline points="{" ".join(line)}" class="err"/>')
    for k, (x, e, c) in enumerate(zip(xs, series["e"], series["s"])):
        if c != "-":
            tip = esc(f"{labels[k]}: err {fmt(e)}, limit {fmt(series['l'][k])}, {CODES[c]}")
            y = TOP if c == "b" else y_of(e)
            out.append(
                f'<circle cx="{x}" cy="{y}" r="3.2" class="p{c}"><title>{tip}</title></circle>'
            )
    return "".join(out) + "</svg>"


# The browser's copy of timeline_svg (drawTimeline) and the page's handlers.
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
