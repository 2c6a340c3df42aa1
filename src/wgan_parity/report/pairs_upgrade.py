"""Pairs tables written before the truth-relative error: derive it from their recorded columns.

Until ``norm_ratio_a``/``norm_ratio_b`` existed, ``err_a``/``err_b`` held the symmetric
``‖x − t‖ / max(‖x‖, ‖t‖)``, which saturates near 1. Such a table still records, per row against
the truth, that figure (``rel_l2``), the cosine distance and both mean absolute values, which
determine ``‖x‖ / ‖t‖`` (:func:`~wgan_parity.compare.metrics.norm_ratio_from_symmetric`) and so the
unbounded ``‖x − t‖ / ‖t‖``. :func:`upgrade` adds the ratio columns and rewrites the error columns
in the current units, so a committed baseline or result folder is re-judged, calibrated and
compared like a new one. Frames are text (as :func:`~wgan_parity.report.csvfiles.read_csv` reads
them) and stay text.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import pandas as pd

from wgan_parity.compare import metrics
from wgan_parity.report.csvfiles import cell

RATIO_COLUMNS = ("norm_ratio_a", "norm_ratio_b")
NEEDED = ("env_a", "env_b", "rel_l2", "cosine_distance", "abs_mean_a", "abs_mean_b", "dtype_b")


def is_legacy(raw: pd.DataFrame) -> bool:
    """True for a pairs table whose ``err_*`` columns are the saturating symmetric error."""
    return "err_a" in raw.columns and not set(RATIO_COLUMNS) <= set(raw.columns)


def _number(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return math.nan


def truth_label(raw: pd.DataFrame) -> str:
    """The float64 env of a pairs table (the truth is always ``env_b``), "" when none."""
    if "dtype_b" not in raw.columns:
        return ""
    found = raw.loc[raw["dtype_b"] == "float64", "env_b"]
    return str(found.iloc[0]) if len(found) else ""


def upgrade(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with ``norm_ratio_*`` added and ``err_*`` relative to the truth (a copy; unchanged
    when it already has them, or has no float64 truth to derive them from)."""
    truth = truth_label(raw)
    if not is_legacy(raw) or not truth or not set(NEEDED) <= set(raw.columns):
        return raw
    df = raw.copy()
    has_isa = "isa" in df.columns
    derived: Dict[Tuple[str, str, str, str], Tuple[float, float]] = {}
    for row in df[df["env_b"] == truth].to_dict("records"):
        old = _number(row["err_a"])
        if old != old:
            continue
        mean_a, mean_b = _number(row["abs_mean_a"]), _number(row["abs_mean_b"])
        hint = mean_a / mean_b if mean_b > 0.0 else math.nan
        ratio = metrics.norm_ratio_from_symmetric(old, _number(row["cosine_distance"]), hint)
        key = (row["case"], row["tensor"], row["env_a"], row["isa"] if has_isa else "")
        # figures no vector can have (no root): keep the recorded error, a lower bound of the new
        err = metrics.rel_err_from_pair(old, ratio) if ratio == ratio else old
        derived[key] = (err, ratio)
    columns: Dict[str, list] = {"err_a": [], "err_b": [], **{c: [] for c in RATIO_COLUMNS}}
    for row in df.to_dict("records"):
        isa = row["isa"] if has_isa else ""
        for side in ("a", "b"):
            label = row[f"env_{side}"]
            if label == truth:
                err, ratio = (0.0, 1.0) if _number(row[f"err_{side}"]) == 0.0 else (math.nan,) * 2
            else:
                err, ratio = derived.get((row["case"], row["tensor"], label, isa), (math.nan,) * 2)
            columns[f"err_{side}"].append(cell(err))
            columns[f"norm_ratio_{side}"].append(cell(ratio))
    for name, values in columns.items():
        df[name] = values
    at = list(df.columns).index("err_b") + 1
    order = [c for c in df.columns if c not in RATIO_COLUMNS]
    return df[[*order[:at], *RATIO_COLUMNS, *order[at:]]]
