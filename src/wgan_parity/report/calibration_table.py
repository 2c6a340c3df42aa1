"""Derive the clean-release calibration table from a results folder or baseline (pandas).

``wgan-parity calibrate`` writes it (``data/calibration.csv.gz``); the comparison reads it with
:func:`wgan_parity.compare.calibration.load`.
"""

from __future__ import annotations

import gzip
import math
from typing import Dict, List, Tuple

import pandas as pd

from wgan_parity.compare import traits, verdict
from wgan_parity.compare.calibration import COLUMNS, JUDGED, Key, is_clean


def derive(pairs: pd.DataFrame, envs: pd.DataFrame, truth: str) -> pd.DataFrame:
    """The calibration rows of a results folder (or baseline): clean envs' rows vs the truth.

    Only rows judged clean count: ``ok`` rows, and ``diverged`` rows that a known rule explains
    (a documented behaviour every release of a framework shares). A diverged row no rule explains
    is a regression or a defect: counting it would loosen the limit that caught it.

    ``pairs`` and ``envs`` are read as text; an env appearing at several ISAs (a baseline with
    ``--add``) is told apart by the rows' ``isa`` column when there is one.
    """
    by_label: Dict[Tuple[str, str], traits.EnvTraits] = {}
    for row in envs.to_dict("records"):
        env = traits.from_env_row(row)
        by_label[(env.label, env.isa)] = env
        by_label.setdefault((env.label, ""), env)
    records: Dict[Key, List[Tuple[float, str]]] = {}
    has_isa = "isa" in pairs.columns
    for row in pairs.to_dict("records"):
        if truth not in (row["env_a"], row["env_b"]) or row["status"] not in JUDGED:
            continue
        if verdict.is_divergence(row["status"], row.get("known", "")):
            continue
        side = "a" if row["env_b"] == truth else "b"
        label = row[f"env_{side}"]
        isa = str(row.get("isa") or "") if has_isa else ""
        found = by_label.get((label, isa)) or by_label.get((label, ""))
        if found is None or not is_clean(found):
            continue
        if isa and not found.isa:
            found = traits.EnvTraits(
                found.label, found.framework, found.lineage, isa, found.switches
            )
        err = float(row[f"err_{side}"])
        if math.isfinite(err):
            records.setdefault((row["case"], row["tensor"], found.kernels), []).append((err, label))
    rows = []
    for (case, tensor, kernels), errors in sorted(records.items()):
        err, worst = max(errors)
        rows.append([case, tensor, kernels, err, len(errors), worst])
    return pd.DataFrame(rows, columns=COLUMNS)


def to_bytes(table: pd.DataFrame) -> bytes:
    """The table as gzip'd CSV with mtime 0 (the same table gives the same bytes)."""
    text = table.to_csv(index=False, float_format="%.6e", lineterminator="\n").encode("utf-8")
    return gzip.compress(text, compresslevel=9, mtime=0)
