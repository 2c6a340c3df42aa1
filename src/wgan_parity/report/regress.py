"""Regressions against a committed baseline, and bisection of changes across releases.

**Regression** (``--baseline DIR``): a row of the current ``pairs.csv`` regressed when, against the
same (case, tensor, env_a, env_b) row of the baseline's ``pairs.csv`` *made with the same kernel
ISA* (``isa``: the instruction-set class of the row's framework env, :mod:`wgan_parity.core.isa`),

- its status worsened: ok / degenerate / known divergence / not-run (the case was not selected
  this time: nothing to compare, never a regression) < diverged < missing, shape-mismatch,
  non-finite, error; or
- a side's error against the float64 truth grew past ``max(regression_growth x baseline error,
  limit)``, where ``limit`` is that side's calibrated limit and ``regression_growth`` comes from
  the thresholds file (so growth inside float32 noise never counts); a ``[[rule]]`` may lift it
  (``regression_growth = inf``) for tensors whose error is a measured rounding lottery.

A baseline row made on another ISA (AVX2 against AVX-512: other kernels, other summation orders)
is not like for like: such rows are counted as ``other_isa`` and judged by the calibrated limits
alone. A baseline may hold rows of several ISAs (``wgan-parity baseline --add``).

Rows or envs that the baseline does not have are new, not regressions: a committed baseline
(:mod:`wgan_parity.report.baseline`) keeps only the rows against the float64 truth, so a pair of two
framework envs is checked through each side's row against the truth.

**Bisection**: within each framework and release series (:func:`series_of`: ``tf-{v}``, but
``tf-{v}-onednn0`` apart), releases are ordered by version; for every (case, tensor) the first
release whose values differ from the previous release's by more than the pair's calibrated limit
is where the value changed (``bisect.csv``). ``steps.csv`` sums up each consecutive step.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.compare.traits import EnvTraits
from wgan_parity.compare.verdict import DEGENERATE, DIVERGED, MEASURED, NOT_RUN, OK, UNJUDGED
from wgan_parity.report import resultset

KEY = ["case", "tensor", "env_a", "env_b"]
MATCH = [*KEY, "isa"]
_RANK = {OK: 0, DEGENERATE: 0, UNJUDGED: 0, NOT_RUN: 0, DIVERGED: 1}
_WORST = 2  # missing, shape-mismatch, non-finite, error


def status_rank(status: str, known: str) -> int:
    """0 for fine (or a known divergence), 1 for diverged, 2 for anything that broke."""
    if status == DIVERGED and known:
        return 0
    return _RANK.get(status, _WORST)


def _ranks(df: pd.DataFrame) -> pd.Series:
    return pd.Series([status_rank(s, k) for s, k in zip(df["status"], df["known"])], index=df.index)


def isa_column(pairs: pd.DataFrame, envs: pd.DataFrame, truth: str) -> pd.Series:
    """Per row: the kernel ISA of its framework env(s) (``;``-joined), "" when not recorded."""
    known: Dict[str, str] = {}
    if "isa" in envs.columns and "env" in envs.columns:
        known = {str(e): str(i) for e, i in zip(envs["env"], envs["isa"]) if isinstance(i, str)}
    values = []
    for a, b in zip(pairs["env_a"], pairs["env_b"]):
        sides = [known.get(label, "") for label in (a, b) if label != truth]
        values.append(";".join(sides))
    return pd.Series(values, index=pairs.index, dtype=object)


def _with_isa(df: pd.DataFrame) -> pd.DataFrame:
    return df if "isa" in df.columns else df.assign(isa="")


def regressions(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    th: Thresholds,
    env_traits: Optional[Dict[str, EnvTraits]] = None,
) -> pd.DataFrame:
    """Rows of ``current`` that regressed against ``baseline`` (both normalized pairs frames).

    Rows match on (case, tensor, env_a, env_b, isa): a baseline row of another kernel ISA is
    never applied (a frame without an ``isa`` column counts as ISA ""). ``env_traits`` (label
    -> what it runs) lets rules lift the growth rule for some tensors.
    """
    env_traits = env_traits or {}
    current, baseline = _with_isa(current), _with_isa(baseline)
    merged = current.merge(baseline, on=MATCH, how="inner", suffixes=("", "_baseline"))
    if merged.empty:
        return merged.assign(reason=pd.Series(dtype=str))[[*KEY, "reason"]]
    now = _ranks(merged)
    before = pd.Series(
        [status_rank(s, k) for s, k in zip(merged["status_baseline"], merged["known_baseline"])],
        index=merged.index,
    )
    reasons: List[str] = []
    for i, row in merged.iterrows():
        why = []
        if now[i] > before[i]:
            why.append(f"status {row['status_baseline']} -> {row['status']}")
        for side in ("a", "b"):
            err, old, limit = row[f"err_{side}"], row[f"err_{side}_baseline"], row[f"limit_{side}"]
            if any(map(math.isnan, (err, old))) or math.isnan(limit):
                continue
            env = env_traits.get(row[f"env_{side}"]) or EnvTraits(row[f"env_{side}"])
            growth = th.side(row["case"], row["tensor"], env).regression_growth
            growth = th.regression_growth if growth is None else growth
            bound = max(growth * old, limit)
            if err > bound:
                why.append(f"err_{side} {old:.3e} -> {err:.3e} (> {bound:.3e})")
        reasons.append("; ".join(why))
    merged["reason"] = reasons
    found = merged[merged["reason"] != ""]
    columns = [
        *KEY,
        "status_baseline",
        "status",
        "err_a_baseline",
        "err_a",
        "err_b_baseline",
        "err_b",
        "reason",
    ]
    return found[columns].sort_values(KEY).reset_index(drop=True)


def bisect(res: resultset.Results) -> pd.DataFrame:
    """Per (case, tensor, framework): the first release whose values changed beyond noise."""
    df = res.pairs
    rows = []
    chains = _release_chains(res)
    runtime, kernels = runtimes(res.envs), kernel_isas(res.envs)
    index = {(r.case, r.tensor, r.env_a, r.env_b): r for r in df.itertuples(index=False)}
    cases = df[["case", "tensor"]].drop_duplicates().itertuples(index=False)
    for case, tensor in cases:
        for (framework, series), labels in chains.items():
            for older, newer in zip(labels, labels[1:]):
                row = index.get((case, tensor, older, newer))
                row = row if row is not None else index.get((case, tensor, newer, older))
                if row is None or row.status not in MEASURED:
                    continue
                limits = [x for x in (row.limit_a, row.limit_b) if not math.isnan(x)]
                limit = min(limits) if limits else math.nan
                if limits and row.rel_l2 > limit:
                    rows.append(
                        {
                            "case": case,
                            "tensor": tensor,
                            "framework": framework,
                            "series": series,
                            "first_changed_in": newer,
                            "previous": older,
                            "step_rel_l2": row.rel_l2,
                            "step_limit": limit,
                            "runtime_change": runtime_change(runtime, older, newer),
                            "isa_change": runtime_change(kernels, older, newer),
                        }
                    )
                    break
    columns = [
        "case",
        "tensor",
        "framework",
        "series",
        "first_changed_in",
        "previous",
        "step_rel_l2",
        "step_limit",
        "runtime_change",
        "isa_change",
    ]
    return pd.DataFrame(rows, columns=columns)


def runtimes(envs: pd.DataFrame) -> Dict[str, str]:
    """env label -> ``"py3.7.16 numpy 1.21.6"``: what :func:`runtime_change` compares."""
    found: Dict[str, str] = {}
    for row in envs.to_dict("records") if "env" in envs.columns else ():
        runtime = f"py{row.get('python', '') or '?'} numpy {row.get('numpy', '') or '?'}"
        found.setdefault(str(row["env"]), runtime)  # an env listed twice (two ISAs): its first
    return found


def kernel_isas(envs: pd.DataFrame) -> Dict[str, str]:
    """env label -> ``"isa avx2"``: the kernel ISA its dump ran (a CI runner's CPU, or a cap).

    Two releases dumped on runners of different CPUs differ by their kernels too: ``bisect`` and
    ``steps`` mark such a step in ``isa_change`` as they mark a Python/NumPy one.
    """
    found: Dict[str, str] = {}
    for row in envs.to_dict("records") if "env" in envs.columns else ():
        found.setdefault(str(row["env"]), f"isa {row.get('isa', '') or '?'}")
    return found


def runtime_change(runtime: Mapping[str, str], older: str, newer: str) -> str:
    """``"py3.7.16 numpy 1.21.6 -> py3.11.7 numpy 1.24.3"`` when the Python or NumPy under two
    consecutive releases differ (a step across it is not the framework's alone), else ``""``."""
    if older not in runtime or newer not in runtime or runtime[older] == runtime[newer]:
        return ""
    return f"{runtime[older]} -> {runtime[newer]}"


_VERSION_RE = re.compile(r"\d+(?:\.\d+)+")


def series_of(label: str) -> str:
    """The release series of an env label: its first version replaced by ``{v}``.

    ``tf-2.20.0`` and ``tf-2.21.0`` are one series (``tf-{v}``); ``tf-2.21.0-onednn0`` (a switch),
    ``torch-2.14.1-cuda`` (a device) or ``tf-2.21.0@5ff81f5a`` (another machine) each start their
    own, so a variant is never taken for the next release.
    """
    return _VERSION_RE.sub("{v}", label, count=1)


def _release_chains(res: resultset.Results) -> Dict[Tuple[str, str], List[str]]:
    """Per (framework, series), its env labels in version order (the truth left out)."""
    chains: Dict[Tuple[str, str], List[str]] = {}
    for label in res.others:  # already in framework, then version order
        framework, _ = resultset.framework_of(label, res.envs)
        chains.setdefault((framework, series_of(label)), []).append(label)
    return chains


def steps(res: resultset.Results) -> pd.DataFrame:
    """One row per consecutive release pair of a series: how much of the catalog moved.

    ``identical``: tensors whose values are bit-identical (rel_l2 == 0); ``changed``: the rest
    of the compared ones; ``max_step_over_limit``: the largest rel_l2 between the two releases in
    units of the tensor's calibrated limit (>= 1 is what :func:`bisect` reports), and where;
    ``runtime_change``: the Python/NumPy boundary the step crosses, if any (:func:`runtime_change`);
    ``isa_change``: the kernel ISA boundary it crosses, if any (:func:`kernel_isas`).
    """
    df = res.pairs
    rows = []
    runtime, kernels = runtimes(res.envs), kernel_isas(res.envs)
    for (framework, series), labels in _release_chains(res).items():
        for older, newer in zip(labels, labels[1:]):
            pair = df[
                ((df["env_a"] == older) & (df["env_b"] == newer))
                | ((df["env_a"] == newer) & (df["env_b"] == older))
            ]
            judged = pair[pair["status"].isin(MEASURED)]
            ratio = judged["rel_l2"] / np.fmin(judged["limit_a"], judged["limit_b"])
            worst = ratio.idxmax() if (ratio > 0).any() else None  # no "where" for no change
            compared = pair["rel_l2"].notna()
            rows.append(
                {
                    "framework": framework,
                    "series": series,
                    "previous": older,
                    "release": newer,
                    "tensors": int(compared.sum()),
                    "identical": int((pair["rel_l2"] == 0).sum()),
                    "changed": int((pair["rel_l2"] > 0).sum()),
                    "max_step_over_limit": float(ratio.max()) if len(ratio) else math.nan,
                    "where": ""
                    if worst is None
                    else f"{judged.at[worst, 'case']}/{judged.at[worst, 'tensor']}",
                    "runtime_change": runtime_change(runtime, older, newer),
                    "isa_change": runtime_change(kernels, older, newer),
                }
            )
    columns = ["framework", "series", "previous", "release", "tensors", "identical", "changed"]
    tail = ["max_step_over_limit", "where", "runtime_change", "isa_change"]
    return pd.DataFrame(rows, columns=[*columns, *tail])


def coverage(current: pd.DataFrame, baseline: pd.DataFrame, truth: str = "") -> Dict[str, Any]:
    """How many rows of ``current`` the baseline has at the same ISA (``checked``), has only at
    another ISA (``other_isa``, judged by the calibrated limits alone), or lacks (``new``);
    ``other_isa_envs`` lists those envs as ``env (isa now; baseline: isas)``."""
    current, baseline = _with_isa(current), _with_isa(baseline)
    same = current[MATCH].merge(
        baseline[MATCH].drop_duplicates(), on=MATCH, how="left", indicator=True
    )
    checked = (same["_merge"] == "both").to_numpy()
    any_isa = current[KEY].merge(
        baseline[KEY].drop_duplicates(), on=KEY, how="left", indicator=True
    )
    in_base = (any_isa["_merge"] == "both").to_numpy()
    other = in_base & ~checked
    envs = []
    labels = [
        a if b == truth else b if a == truth else a
        for a, b in zip(current["env_a"], current["env_b"])
    ]
    current = current.assign(_env=labels)
    for label, isa in sorted(set(zip(current["_env"][other], current["isa"][other]))):
        mine = (baseline["env_a"] == label) | (baseline["env_b"] == label)
        seen = baseline.loc[mine, "isa"].drop_duplicates()
        envs.append(
            f"{label} ({isa or 'unrecorded'}; baseline: "
            f"{', '.join(sorted(i or 'unrecorded' for i in seen))})"
        )
    return {
        "checked": int(checked.sum()),
        "other_isa": int(other.sum()),
        "new": int((~in_base).sum()),
        "other_isa_envs": envs,
    }
