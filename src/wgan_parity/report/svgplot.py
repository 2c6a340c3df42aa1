"""The markup of ``report.html``'s sections: escaping, tables and hand-written SVG plots.

Every string from the data reaches the markup through :func:`esc` (or :func:`cell`, which escapes
all but :class:`Markup`). A timeline is drawn here for the static plots and by
:data:`~wgan_parity.report.pagescript.PAGE_JS` in the browser for the tensor picked in the select
box, with the same geometry (:func:`timeline_layout`, whose axis every timeline shares) and the
same series JSON.
"""

from __future__ import annotations

import html
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
