"""The data behind ``report.html``, from the results' frames to plain values for the page.

Each row's :func:`priority` (what the heatmap lists first and the timelines colour), the
:func:`truth_frame` (one row per env, case and tensor against the truth), each heatmap cell's
stats and listed rows (:func:`cell_rows`), the bisect marks of the timelines (:func:`bisected`),
the rows' :func:`row_counts` for a verdict without them. :mod:`~wgan_parity.report.htmlpage` turns
them into the sections.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Tuple

import numpy as np
import pandas as pd

from wgan_parity.compare import verdict as vd
from wgan_parity.compare.localize import COLUMN
from wgan_parity.report import resultset
from wgan_parity.report.resultset import Results
from wgan_parity.report.svgplot import num

CAP, FEW = 80, 10  # rows listed per heatmap cell: problems first, at least FEW (the worst)
TRUTH_COLUMNS = ["env", "case", "tensor", "status", "known", "err", "limit", "tap"]
Json = Dict[str, Any]


def priority(df: pd.DataFrame) -> np.ndarray:
    """0 unexplained divergence, 1 known, 2 env problem, 3 unjudged, 4 degenerate, 5 not run,
    6 ok."""
    status, divergent = df["status"], df["status"].isin(vd.DIVERGENT)
    problems = [divergent & (df["known"] == ""), divergent, status.isin(vd.ENV_PROBLEMS)]
    problems += [status == s for s in (vd.UNJUDGED, vd.DEGENERATE, vd.NOT_RUN)]
    return np.select(problems, [0, 1, 2, 3, 4, 5], 6)


def truth_frame(res: Results) -> pd.DataFrame:
    """One row per env, case and tensor against the truth: err, limit, ``over`` (err/limit),
    the env's first divergent tap, ``prio`` (:func:`priority`) and the timeline ``code``."""
    parts = [pd.DataFrame(columns=TRUTH_COLUMNS)]
    for side, other in (("a", "b"), ("b", "a")) if res.truth else ():
        p = res.pairs[res.pairs[f"env_{other}"] == res.truth]
        own = p[f"{COLUMN}_{side}"]
        values = [p[f"env_{side}"], p["case"], p["tensor"], p["status"], p["known"]]
        values += [p[f"err_{side}"], p[f"limit_{side}"], own.where(own != "", p[COLUMN])]
        parts.append(pd.DataFrame(dict(zip(TRUTH_COLUMNS, values))))
    df = pd.concat(parts, ignore_index=True)
    df[["err", "limit"]] = df[["err", "limit"]].astype("float64")
    over = (df["err"] / df["limit"].where(df["limit"] > 0)).where(df["status"].isin(vd.MEASURED))
    prio, broken = priority(df), df["status"].isin(vd.BROKEN)
    code = np.select([prio == p for p in (0, 1, 3, 4)] + [df["status"] == vd.OK], [*"dkugo"], "-")
    code = np.where(broken & (prio == 0), "b", code)
    return df.assign(over=over.mask(broken, math.inf), prio=prio, code=code)


def framework_of(res: Results, label: str) -> str:
    """Env ``label``'s framework: envs.csv's, else the one its label names, else ``other``."""
    return resultset.framework_of(label, res.envs)[0] or "other"


def _side(r: Mapping[str, Any]) -> List[Any]:
    """The blamed side of a pair row (else its worse side): env, err, limit, tap."""
    blamed = [s for s in str(r["blame"]).split(";") if s in (r["env_a"], r["env_b"])]
    over = [r[f"err_{k}"] / r[f"limit_{k}"] if r[f"limit_{k}"] > 0 else -1.0 for k in "ab"]
    k = "b" if blamed[:1] == [r["env_b"]] or (not blamed and over[1] > over[0]) else "a"
    return [r[f"env_{k}"], r[f"err_{k}"], r[f"limit_{k}"], r[f"{COLUMN}_{k}"] or r[COLUMN]]


def _intern(table: Dict[str, int], key: str) -> int:
    return table.setdefault(key, len(table))


def cell_rows(
    df: pd.DataFrame, keys: List[str], pair: bool, names: Dict[str, Dict[str, int]]
) -> Any:
    """Per cell (``keys``): rows ``n``, ``bad`` (unexplained), ``known``, ``worst`` error/limit;
    and the rows worth listing (problems first, at least :data:`FEW`, at most :data:`CAP`), each
    ``[case/tensor, status, env, err, limit, over, known, tap]``, the first and ``known`` interned
    (indices into ``names["tensors"]`` and ``names["reasons"]``, which grow; -1: not known)."""
    prio = priority(df)
    df = df.assign(_p=prio, _o=df["over"].fillna(-1.0), _bad=prio == 0, _kn=prio == 1)
    order = [*keys, "_p", "_o", "case", "tensor"]
    df = df.sort_values(order, ascending=[True, True, True, False, True, True], kind="stable")
    groups = df.groupby(keys, sort=False)
    size, problems = groups["_p"].transform("size"), groups["_p"].transform(lambda p: (p < 6).sum())
    keep = np.where(size <= FEW, size, np.minimum(CAP, np.maximum(problems, FEW)))
    stats = groups.agg(n=("_p", "size"), bad=("_bad", "sum"), known=("_kn", "sum"))
    stats["worst"] = groups["over"].max()
    listed: Dict[Tuple[str, str], List[List[Any]]] = {}
    for r in df[groups.cumcount().to_numpy() < keep].to_dict("records"):
        env, err, limit, tap = _side(r) if pair else [r["env"], r["err"], r["limit"], r["tap"]]
        known = _intern(names["reasons"], r["known"]) if r["known"] else -1
        row = [_intern(names["tensors"], f"{r['case']}/{r['tensor']}"), r["status"], env]
        row += [num(err), num(limit), num(r["over"]), known, tap]
        listed.setdefault((r[keys[0]], r[keys[1]]), []).append(row)
    return stats, listed


def bisected(bisect: pd.DataFrame, at: Mapping[str, int]) -> Dict[Tuple[str, str], List[int]]:
    """(case, tensor) -> the env indices a bisect found the tensor first changed in."""
    found: Dict[Tuple[str, str], List[int]] = {}
    if {"case", "tensor", "first_changed_in"} <= set(bisect.columns):
        for r in bisect.astype(str).to_dict("records"):
            if r["first_changed_in"] in at:
                found.setdefault((r["case"], r["tensor"]), []).append(at[r["first_changed_in"]])
    return found


def row_counts(res: Results) -> Json:
    """verdict.json's ``rows``, counted from the rows (for a verdict without them)."""
    prio, by_status = priority(res.pairs), res.pairs["status"].value_counts()
    counts = {k: int((prio == p).sum()) for k, p in (("unexplained", 0), ("known", 1))}
    counts.update(total=len(res.pairs), unjudged=int((prio == 3).sum()))
    return {**counts, "by_status": {str(k): int(v) for k, v in by_status.items()}}
