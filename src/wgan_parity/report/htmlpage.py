"""``report.html``: one static, self-contained page of a results folder.

Sections, each an element with a stable id: ``#verdict`` (verdict.json: headline, counts,
regressions, causes, next steps), ``#heatmap`` (env × env; env × case group against the truth when
the folder keeps only rows against the truth; a click lists the cell's rows), ``#timelines``
(each tensor's error against the truth across releases), ``#taps`` (the tap chain of each
localized divergence), ``#rules`` (the known rules, what they excused) and ``#envs``. The rows'
data is :mod:`~wgan_parity.report.htmldata`'s, the markup :mod:`~wgan_parity.report.svgplot`'s,
the page shell, CSS and script :mod:`~wgan_parity.report.pagescript`'s; the data is inline JSON.
No network, no external assets; every string from the data is escaped; the same input gives the
same bytes.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from wgan_parity.compare import verdict as vd
from wgan_parity.compare.localize import OUTPUT, TAP_PREFIX
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.report import pagescript
from wgan_parity.report import svgplot as svg
from wgan_parity.report.heatmap import GROUPS
from wgan_parity.report.htmldata import (
    Json,
    bisected,
    cell_rows,
    framework_of,
    row_counts,
    truth_frame,
)
from wgan_parity.report.resultset import Results, calibrated
from wgan_parity.report.svgplot import Markup, esc, fmt, num, table

STATIC_TIMELINES, TAP_CHAINS = 12, 12
SECTIONS = ("verdict", "heatmap", "timelines", "taps", "rules", "envs")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _heatmap(
    res: Results, tf: pd.DataFrame, truth_only: bool, names: Dict[str, Dict[str, int]]
) -> Any:
    """The ``#heatmap`` section and its cells' JSON (``first``: the cell listed on load)."""
    if truth_only:  # env × case group (× case, when the results recorded no groups)
        groups = set(map(res.cases.group, tf["case"]))
        by_case = not res.cases.recorded or len(groups) < 2
        df = tf.assign(col=tf["case"] if by_case else tf["case"].map(res.cases.group))
        named = [*GROUPS, *sorted(groups - {*GROUPS, "other"}), "other"]
        cols = res.cases.sort(df["col"]) if by_case else [g for g in named if g in groups]
        labels, keys = [e for e in res.others if e in set(df["env"])], ["env", "col"]
        what = "case" if by_case else "case group"
        caption = (
            f"This folder keeps only rows against the truth (<code>{esc(res.truth)}</code>): env "
            f"× {what}, each cell the env's worst error against the truth in units of its limit."
        )
    else:
        df = res.pairs.assign(over=calibrated(res.pairs))
        labels = cols = [e for e in res.order if e in {*df["env_a"], *df["env_b"]}]
        keys = ["env_a", "env_b"]
        caption = (
            "Env × env: each cell is the pair's worst error in units of its limit (against the "
            f"truth <code>{esc(res.truth)}</code>: the env's own error)."
        )
    index, cindex = {e: k for k, e in enumerate(labels)}, {c: k for k, c in enumerate(cols)}
    cells: Dict[Tuple[int, int], Json] = {}
    data: Json = {}
    rank: Dict[str, Tuple[int, float, str]] = {}
    stats, listed = cell_rows(df, keys, not truth_only, names)
    for (a, b), st in zip(stats.index, stats.to_dict("records")):
        if a not in index or b not in cindex:
            continue
        bad, known, worst, rows = int(st["bad"]), int(st["known"]), float(st["worst"]), listed[a, b]
        key = f"{a} | {b}" if truth_only else " vs ".join(sorted((a, b), key=index.__getitem__))
        title = f"{key}: {st['n']} rows, worst {fmt(worst)} × limit, {bad} unexplained"
        data[key] = {"t": f"{title}, {known} known", "rows": rows, "more": st["n"] - len(rows)}
        rank[key] = (bad, worst if worst == worst else -1.0, key)
        spots = {(index[a], cindex[b])} | (set() if truth_only else {(index[b], index[a])})
        for spot in spots:
            cells[spot] = {"key": key, "value": worst, "bad": bad, "known": known, "title": title}
    drawn = svg.heatmap_svg(labels, cols, cells) if cells else "<p>No rows to draw.</p>"
    text = (
        f'<p class="caption">{caption} Red outline and number: unexplained divergent rows; blue '
        "outline: rows a known rule excuses. A click lists the cell's rows.</p>"
    )
    body = f'{text}{svg.scale_svg()}<div class="scroll">{drawn}</div><div id="cell-rows"></div>'
    first = max(rank, key=rank.__getitem__, default="")
    return f'<section id="heatmap"><h2>Heatmap</h2>{body}</section>', {
        "cells": data,
        "first": first,
    }


def _timelines(res: Results, tf: pd.DataFrame, bisect: pd.DataFrame, steps: pd.DataFrame) -> Any:
    """The ``#timelines`` section (static SVGs of the worst tensors), every series' JSON and
    the axis they share."""
    envs = [e for e in res.others if e in set(tf["env"])]
    layout = svg.timeline_layout([(e, framework_of(res, e)) for e in envs])
    at = {e: k for k, e in enumerate(envs)}
    changed, series = bisected(bisect, at), []
    for (case, tensor), part in tf.groupby(["case", "tensor"], sort=True):
        e, lim, codes = [None] * len(envs), [None] * len(envs), ["-"] * len(envs)
        for k, err, limit, c in zip(part["env"].map(at), part["err"], part["limit"], part["code"]):
            e[k], lim[k], codes[k] = num(err), num(limit), c
        worst, name = float(part["over"].max()), f"{case}/{tensor}"
        score = (-int((part["prio"] == 0).sum()), -(worst if worst == worst else -1.0), name)
        s = {"name": name, "e": e, "l": lim, "s": "".join(codes), "w": num(worst)}
        series.append((score, {**s, "b": sorted(changed.get((case, tensor), []))}))
    ordered = [s for _, s in sorted(series, key=lambda item: item[0])]
    options = "".join(
        f'<option value="{k}">{esc(s["name"])} (worst {fmt(s["w"])} × limit)</option>'
        for k, s in enumerate(ordered)
    )
    static = "".join(
        f"<figure><figcaption>{esc(s['name'])}</figcaption>{svg.timeline_svg(layout, s)}</figure>"
        for s in ordered[:STATIC_TIMELINES]
    )
    names = ["release", "previous", "identical", "changed", "max_step_over_limit", "where"]
    step_rows = [[r.get(n) for n in names] for r in steps.to_dict("records")]
    steps_html = "<h3>Release steps</h3>" + table(names, step_rows) if step_rows else ""
    legend = " ".join(f'<span class="p{c}">●</span> {t}' for c, t in svg.CODES.items() if c != "-")
    html_text = (
        '<section id="timelines"><h2>Timelines</h2><p class="caption">Each tensor\'s error '
        "against the truth per env, in release order within each framework (log10 y). Dashes: "
        "the env's limit; dotted verticals: the first changed release a bisect found "
        f"({len(changed)} tensors). {legend}</p><label>Tensor (worst first): "
        f'<select id="tl-select">{options}</select></label><div class="scroll">'
        '<svg class="timeline" id="tl-pick"></svg></div><h3>The worst tensors</h3>'
        f'<div class="tiles">{static}</div>{steps_html}</section>'
    )
    axis = layout.pop("axis")
    return html_text, {"layout": layout, "series": ordered}, axis


def _taps(res: Results, tf: pd.DataFrame, verdict: Mapping[str, Any]) -> str:
    """The ``#taps`` section: each localized divergence's tap chain against the truth (the
    verdict's causes first, then the worst)."""
    bad = tf[(tf["prio"] <= 1) & (tf["tap"] != "")]
    wanted: List[Tuple[str, str, str]] = []
    for cause in verdict.get("causes") or []:
        worst, where = _map(_map(cause).get("worst")), str(_map(cause).get("where", ""))
        hit = bad[(bad["case"] == worst.get("case")) & (bad["env"] == worst.get("env"))]
        hit = hit.sort_values("tap", key=lambda t: t != where.partition(": ")[2], kind="stable")
        wanted += [(r.case, r.env, r.tap) for r in hit.head(1).itertuples()]
    ordered = bad.sort_values(["prio", "over", "case", "env"], ascending=[True, False, True, True])
    wanted += [(r.case, r.env, r.tap) for r in ordered.itertuples()]
    out = [
        '<section id="taps"><h2>Where divergences start</h2><p class="caption">The tap chain of '
        "each localized divergence in layer order, each step's error against the truth in units "
        "of its limit, the first divergent tap highlighted.</p>"
    ]
    for case, env, tap in list(dict.fromkeys(wanted))[:TAP_CHAINS]:
        part = tf[(tf["case"] == case) & (tf["env"] == env)]
        rows = {r["tensor"]: r for r in part.to_dict("records")}
        tensors = dict.fromkeys(res.pairs.loc[res.pairs["case"] == case, "tensor"])
        chain = [t for t in tensors if t.startswith(TAP_PREFIX) and t in rows]
        body = []
        for r in (rows[t] for t in chain + [OUTPUT] * (OUTPUT in rows)):
            name = r["tensor"][len(TAP_PREFIX) :] if r["tensor"] in chain else r["tensor"]
            over = min(r["over"], 1e6) if r["over"] > 0 else 1e-3  # NaN: no bar; inf: full
            width = min(120, max(2, round(20 * (math.log10(over) + 3))))
            bar = f'<span class="bar{" off" * (over > 1)}" style="width:{width}px"></span>'
            step = Markup(f'<span class="first">{esc(name)}</span>') if name == tap else name
            body.append([step, r["status"], r["err"], r["limit"], r["over"], Markup(bar)])
        out.append(
            f"<div><h3><code>{esc(case)}</code> in <code>{esc(env)}</code>: first divergent tap "
            f"<code>{esc(tap)}</code></h3>"
        )
        out[-1] += (
            table(["step", "status", "err", "limit", "× limit", ""], body, "chain") + "</div>"
        )
    chains = f'<div class="tiles">{"".join(out[1:])}</div>' if out[1:] else ""
    none = "" if chains else "<p>No divergence was localized to a tap.</p>"
    return f"{out[0]}{chains}{none}</section>"


def _rules(res: Results, th: Optional[Thresholds]) -> str:
    """The ``#rules`` section: each known rule, its bounds, what it excused in these results."""
    df = res.pairs[res.pairs["known"] != ""]
    over_a = df["err_a"] / df["limit_a"].where(df["limit_a"] > 0)
    over = np.fmax(over_a, df["err_b"] / df["limit_b"].where(df["limit_b"] > 0))
    stats = {k: (len(g), g.max()) for k, g in over.groupby(df["known"], sort=True)}
    body: List[List[Any]] = []
    for r in [r for r in th.rules if r.known] if th else []:
        web = r.reference.startswith(("https://", "http://"))
        ref = f'<a href="{esc(r.reference)}">{esc(r.reference)}</a>' if web else esc(r.reference)
        globs = [(k, getattr(r, k)) for k in ("case", "tensor", "framework")]
        match = [f"{k}: {esc(', '.join([g] if isinstance(g, str) else g))}" for k, g in globs]
        bounds = [(k, getattr(r, k)) for k in ("max_err", "max_over_limit", "max_over_clean")]
        bound = "<br>".join(f"{k} {fmt(v)}" for k, v in bounds if v is not None)
        n, worst = stats.pop(r.reason, (0, math.nan))
        text = Markup(f"{esc(r.reason)}<br>{ref}" if ref else esc(r.reason))
        body.append([Markup(f"<code>{esc(r.name)}</code>"), text, Markup("<br>".join(match))])
        body[-1] += [Markup(bound), n, worst]
    body += [["–", reason, "", "", n, w] for reason, (n, w) in stats.items()]
    header = ["rule", "reason, reference", "matches", "bounds", "rows excused", "worst × limit"]
    source = f"<code>{esc(th.source)}</code>" if th else "none given: the reasons the rows hold"
    caption = (
        f'<p class="caption">Thresholds: {source}. Rows excused in these results, and the worst '
        "excused side in units of its limit.</p>"
    )
    return (
        f'<section id="rules"><h2>Known rules</h2>{caption}{table(header, body, "rules")}</section>'
    )


def headline(res: Results, verdict: Mapping[str, Any]) -> Tuple[bool, str]:
    """(passed, headline): verdict.json's, else counted from the rows."""
    counts = _map(verdict.get("rows")) or row_counts(res)
    passed = bool(verdict.get("passed", counts.get("unexplained", 0) == 0))
    fail = f"FAIL: {counts.get('unexplained')} unexplained divergent rows"
    return passed, str(verdict.get("headline") or ("PASS" if passed else fail))


def _verdict(res: Results, verdict: Mapping[str, Any]) -> str:
    """The ``#verdict`` section: headline, counts, failed envs, regressions, causes, next steps."""
    passed, head = headline(res, verdict)
    counts, envs = _map(verdict.get("rows")) or row_counts(res), _map(verdict.get("envs"))
    by_status = sorted(_map(counts.get("by_status")).items())
    facts = [
        ("envs compared", envs.get("compared", len(res.others))),
        ("truth", envs.get("truth", res.truth)),
        *[(f"rows {k}", counts.get(k)) for k in ("total", "unexplained", "known", "unjudged")],
        ("rows by status", ", ".join(f"{k} {v}" for k, v in by_status)),
        *[(k, verdict[k]) for k in ("exit_code", "pairs_kept") if k in verdict],
        *sorted(_map(verdict.get("judged_by")).items()),
    ]
    cls = "pass" if passed else "fail"
    out = [f'<p class="headline {cls}">{esc(head)}</p>', table(["", ""], facts, "facts")]
    failed = [[_map(f).get(k) for k in ("env", "stage", "error")] for f in envs.get("failed") or []]
    if failed:
        out.append("<h3>Failed envs</h3>" + table(["env", "stage", "error"], failed))
    reg = _map(verdict.get("regressions"))
    if reg:
        counts_text = f"{reg.get('regressed')} of {reg.get('checked')} rows regressed"
        out.append(f"<h3>Regressions against <code>{esc(reg.get('baseline'))}</code></h3>")
        out.append(f"<p>{esc(counts_text)}; {esc(reg.get('other_isa'))} of another ISA.</p>")
        keys = ("case", "tensor", "env", "reason")
        worst = [[_map(w).get(k) for k in keys] for w in reg.get("worst") or []]
        out.append(table(keys, worst) if worst else "")
    causes = []
    for c in map(_map, verdict.get("causes") or []):
        w = _map(c.get("worst"))
        row = [c.get(k) for k in ("where", "framework", "envs", "rows", "tensors")]
        row += [f"{w.get('case')}/{w.get('tensor')}", f"{w.get('env')} vs {w.get('vs')}"]
        causes.append(row + [w.get(k) for k in ("status", "err", "limit", "over_limit")])
    header = ["where", "framework", "envs", "rows", "tensors", "worst row", "env vs", "status"]
    if causes:
        out.append("<h3>Causes</h3>" + table([*header, "err", "limit", "× limit"], causes))
    steps = [_map(s) or {"command": s} for s in verdict.get("next") or []]  # or bare commands
    out += ["<h3>Next</h3>"] if steps else []
    for step in steps:
        out.append(f"<p>{esc(step['do'])}</p>" if step.get("do") else "")
        out.append(f"<pre><code>{esc(step['command'])}</code></pre>" if step.get("command") else "")
    return f'<section id="verdict"><h2>Verdict</h2>{"".join(out)}</section>'


def _envs(res: Results) -> str:
    """The ``#envs`` section: envs.csv's rows in the reports' order."""
    records = res.envs.to_dict("records") if "env" in res.envs.columns else []
    rank = {e: k for k, e in enumerate(res.order)}
    records.sort(key=lambda r: (rank.get(str(r["env"]), len(rank)), str(r["env"])))
    names = ["env", "role", "framework", "framework_version", "python", "isa", "status", "stage"]
    values = [[r.get(n) for n in [*names, "error"]] for r in records]
    body = [["" if v is None or v != v else str(v) for v in row] for row in values]
    return f'<section id="envs"><h2>Environments</h2>{table([*names, "error"], body)}</section>'


def render(
    res: Results,
    verdict: Mapping[str, Any],
    steps: pd.DataFrame,
    bisect: pd.DataFrame,
    th: Optional[Thresholds],
) -> str:
    """The whole report.html text: one static self-contained page (inline SVG, CSS and a little
    vanilla JS, JSON data inline), no server, no network, no external assets."""
    verdict, tf = _map(verdict), truth_frame(res)
    crossed = ((res.pairs["env_a"] != res.truth) & (res.pairs["env_b"] != res.truth)).any()
    truth_only = verdict.get("pairs_kept") == "truth" or (not crossed and len(tf) > 0)
    names: Dict[str, Dict[str, int]] = {"reasons": {}, "tensors": {}}
    heat, heat_data = _heatmap(res, tf, truth_only, names)
    lines, line_data, axis = _timelines(res, tf, bisect, steps)
    rules = {r.reason: r.name for r in th.rules if r.known} if th else {}
    reasons = [[rules.get(r, "known"), r] for r in names["reasons"]]
    data = {**heat_data, "timeline": line_data, "codes": svg.CODES, "reasons": reasons}
    data.update(divergent=list(vd.DIVERGENT), tensors=list(names["tensors"]))
    body = [_verdict(res, verdict), heat, lines, _taps(res, tf, verdict), _rules(res, th)]
    title = f"wgan-parity: {headline(res, verdict)[1]}"
    return pagescript.page(title, SECTIONS, [*body, _envs(res)], data, axis)
