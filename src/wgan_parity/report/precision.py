"""What reduced precision loses: per framework, block and precision, the error against the truth.

Built from the rows against the truth (``err_a``) when the run holds envs at more than one
precision (``compare --set precision``). One row of :func:`table` per (framework, precision,
block, direction): how many tensors, the median and worst error against the float64 truth, the
worst tensor, the median limit that judged them and how many diverged. ``direction`` is
``forward`` (out, taps) or ``backward`` (gradients, the penalty's ``aux/``). :func:`lines` draws
the summary's section: the worst error per block, float32 next to each reduced precision, the
factor lost, and how far apart the frameworks are at the same precision.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional

import pandas as pd

from wgan_parity.compare import verdict
from wgan_parity.report.mdtext import code
from wgan_parity.report.resultset import Results

ORDER = ("float32", "bfloat16", "float16")
COLUMNS = (
    "framework",
    "precision",
    "block",
    "direction",
    "tensors",
    "median_err",
    "max_err",
    "worst",
    "median_limit",
    "diverged",
    "non_finite",
)


def _annotated(res: Results) -> pd.DataFrame:
    """The truth's rows with each env's framework, precision, block and direction."""
    traits = res.traits()
    df = res.pairs
    kept = (verdict.OK, verdict.DIVERGED, verdict.NON_FINITE)
    rows = df[(df["env_b"] == res.truth) & df["status"].isin(kept)].copy()
    if rows.empty:
        return rows
    rows["framework"] = rows["env_a"].map(lambda e: traits[e].framework if e in traits else "")
    rows["precision"] = rows["env_a"].map(
        lambda e: traits[e].precision if e in traits else "float32"
    )
    rows["block"] = rows["case"].str.split(".").str[0]
    kind = rows["tensor"].str.split("/").str[0]
    rows["direction"] = kind.map(lambda k: "forward" if k in ("out", "tap") else "backward")
    return rows


def has_precisions(res: Results) -> bool:
    """True when the run holds envs at a reduced precision."""
    return any(t.precision != "float32" for t in res.traits().values())


def table(res: Results, rows: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One row per (framework, precision, block, direction); empty without reduced envs.
    ``rows``: :func:`_annotated` of ``res``, when the caller has it already."""
    rows = _annotated(res) if rows is None else rows
    if rows.empty or not has_precisions(res):
        return pd.DataFrame(columns=list(COLUMNS))
    found = []
    keys = ["framework", "precision", "block", "direction"]
    for key, group in rows.groupby(keys, sort=False):
        judged = group[group["status"] != verdict.NON_FINITE]
        errs = judged["err_a"]
        worst = judged.loc[errs.idxmax()] if errs.notna().any() else None
        found.append(
            {
                **dict(zip(keys, key)),
                "tensors": len(judged),
                "median_err": float(errs.median()),
                "max_err": float(errs.max()),
                "worst": "" if worst is None else f"{worst['case']} {worst['tensor']}",
                "median_limit": float(judged["limit_a"].median()),
                "diverged": int((judged["status"] == verdict.DIVERGED).sum()),
                "non_finite": int((group["status"] == verdict.NON_FINITE).sum()),
            }
        )
    out = pd.DataFrame(found, columns=list(COLUMNS))
    rank = {p: i for i, p in enumerate(ORDER)}
    out["_p"] = out["precision"].map(lambda p: rank.get(p, len(ORDER)))
    out = out.sort_values(["framework", "block", "direction", "_p"], kind="stable")
    return out.drop(columns="_p").reset_index(drop=True)


def spread(res: Results) -> pd.DataFrame:
    """Per precision and block: the median ``rel_l2`` between envs of different frameworks
    at that precision (how far apart the frameworks are when they round alike)."""
    traits = res.traits()
    df = res.pairs
    truth = res.truth

    def info(env: str) -> tuple:
        t = traits.get(env)
        return (t.framework, t.precision) if t else ("", "")

    mask = (df["env_a"] != truth) & (df["env_b"] != truth) & df["rel_l2"].notna()
    rows = df[mask]
    if rows.empty:
        return pd.DataFrame(columns=["precision", "block", "pairs", "median_rel_l2"])
    a = rows["env_a"].map(info)
    b = rows["env_b"].map(info)
    same = [x[1] == y[1] and x[0] != y[0] for x, y in zip(a, b)]
    rows = rows[same].assign(precision=[x[1] for x, s in zip(a, same) if s])
    rows = rows.assign(block=rows["case"].str.split(".").str[0])
    out = (
        rows.groupby(["precision", "block"], sort=False)["rel_l2"]
        .agg(pairs="count", median_rel_l2="median")
        .reset_index()
    )
    return out


def lines(res: Results) -> List[str]:
    """The summary's section (empty without reduced envs)."""
    rows = _annotated(res)
    found = table(res, rows)
    if found.empty:
        return []
    reduced = [p for p in ORDER[1:] if p in set(found["precision"])]
    head = ["framework", "block", "float32", *[f"{p} (x float32)" for p in reduced], "diverged"]
    out = [
        "## Precision: error against the truth, per framework and block",
        "",
        "The median relative error over each block's judged outputs, taps and gradients "
        "(degenerate and unjudged tensors left out); beside each reduced precision, how many "
        "times float32's it is (the worst per direction: precision.csv). `diverged` counts "
        "rows over their limit (a reduced env's limit scales the reference's noise at its "
        "precision), non-finite ones apart.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    diverged: Dict[tuple, int] = {}
    broken: Dict[tuple, int] = {}
    for r in found.itertuples(index=False):
        key = (r.framework, r.block, r.precision)
        diverged[key] = diverged.get(key, 0) + int(r.diverged)
        broken[key] = broken.get(key, 0) + int(r.non_finite)
    rows = rows[rows["status"] != verdict.NON_FINITE]
    typical = rows.groupby(["framework", "block", "precision"])["err_a"].median().to_dict()
    for framework, block in dict.fromkeys((r.framework, r.block) for r in found.itertuples()):
        base = typical.get((framework, block, "float32"), math.nan)
        cells = [code(framework), code(block), _fmt(base)]
        for p in reduced:
            value = typical.get((framework, block, p), math.nan)
            ratio = value / base if base and base == base and value == value else math.nan
            cells.append(f"{_fmt(value)} ({ratio:.0f}x)" if ratio == ratio else _fmt(value))
        counts = [
            _count(p, diverged.get((framework, block, p), 0), broken.get((framework, block, p), 0))
            for p in ORDER
            if diverged.get((framework, block, p)) or broken.get((framework, block, p))
        ]
        cells.append(", ".join(counts) or "0")
        out.append("| " + " | ".join(cells) + " |")
    apart = spread(res)
    if not apart.empty:
        out += [
            "",
            "Frameworks apart at the same precision (median rel_l2 between frameworks):",
            "",
        ]
        for precision, group in apart.groupby("precision", sort=False):
            text = ", ".join(
                f"{code(b)} {v:.2g}" for b, v in zip(group["block"], group["median_rel_l2"])
            )
            out.append(f"- {precision}: {text}")
    return [*out, ""]


def _count(precision: str, diverged: int, non_finite: int) -> str:
    return f"{precision}: {diverged}" + (f" (+{non_finite} non-finite)" if non_finite else "")


def _fmt(value: float) -> str:
    return "—" if value != value else f"{value:.2e}"
