"""An aggregate's results folder read back: ``pairs.csv`` and ``envs.csv`` as typed frames.

This is what the pictures and the summary are made from, so ``wgan-parity report`` can redo them
from the CSV files alone. :func:`rejudge` re-derives the verdict columns with other thresholds
(the measured columns never change), with the same
:func:`~wgan_parity.compare.verdict.judge` that the aggregator uses. Envs are ordered by
framework (the truth first, then TensorFlow, PyTorch, other backends), then by numeric version,
then by label.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import pandas as pd

from wgan_parity import frameworks
from wgan_parity.compare import calibration as calibration_module
from wgan_parity.compare import localize, own_error, pairschema, verdict
from wgan_parity.compare import traits as traits_module
from wgan_parity.compare.thresholds import SideLimit, Thresholds
from wgan_parity.report import cases as cases_module
from wgan_parity.report import csvfiles, pairs_upgrade

TEXT = csvfiles.TEXT_COLUMNS  # one list of text columns, owned by the CSV module
FLAGS = pairschema.FLAGS
JUDGED = verdict.JUDGED
LIMIT_COLUMNS = ("noise_limit_a", "noise_limit_b", "clean_limit_a", "clean_limit_b")
VERDICT_COLUMNS = pairschema.names(group="verdict")  # the fields of compare.verdict.Verdict
PRECISION_NOISE = ("precision_noise_a", "precision_noise_b")
LATER_NOISE = (*PRECISION_NOISE, "kink_rel_l2")  # columns younger than some committed tables


@dataclass
class Results:
    """Typed ``pairs`` (one row per case, tensor, env pair), ``envs``, the env order and the
    cases (order, groups, seed rows: :mod:`~wgan_parity.report.cases`)."""

    pairs: pd.DataFrame
    envs: pd.DataFrame
    folder: Path
    truth: str = ""
    order: List[str] = field(default_factory=list)
    thresholds_source: str = ""
    cases: cases_module.Cases = field(default_factory=cases_module.Cases)

    @property
    def others(self) -> List[str]:
        """The ordered envs other than the truth."""
        return [e for e in self.order if e != self.truth]

    def traits(self) -> Dict[str, traits_module.EnvTraits]:
        """What each env label runs, from ``envs.csv`` (label-only traits when not recorded)."""
        return env_traits(self.envs)


def env_traits(envs: pd.DataFrame) -> Dict[str, traits_module.EnvTraits]:
    """label -> traits for the rows of an ``envs.csv`` frame."""
    if "env" not in envs.columns:
        return {}
    return {str(row["env"]): traits_module.from_env_row(row) for row in envs.to_dict("records")}


def _flag(value: Any) -> Optional[bool]:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def normalize(pairs: pd.DataFrame) -> pd.DataFrame:
    """A copy with text columns as ``str`` ("" for empty), flags as bool/None, the rest float."""
    df = pairs.copy()
    for column in (localize.COLUMN, *localize.SIDE_COLUMNS.values()):
        if column not in df.columns:  # results older than the column
            df[column] = ""
    for column in (*pairs_upgrade.RATIO_COLUMNS, *own_error.COLUMNS, *LATER_NOISE):
        if column not in df.columns:  # not derivable (see pairs_upgrade), made without replay,
            # or before reduced-precision envs
            df[column] = math.nan
    for name in df.columns:
        if name in TEXT:
            df[name] = df[name].astype(object).where(df[name].notna(), "").astype(str)
        elif name in FLAGS:
            df[name] = df[name].map(_flag).astype(object)
        else:
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("float64")
    return df.reset_index(drop=True)


def version_key(version: str) -> Tuple[int, ...]:
    """``"2.13.0+cpu"`` -> ``(2, 13, 0)``: the numeric release, local suffixes ignored."""
    head = re.split(r"[+ ]", str(version).strip(), maxsplit=1)[0]
    return tuple(int(n) for n in re.findall(r"\d+", head)[:4])


def framework_of(label: str, envs: pd.DataFrame) -> Tuple[str, str]:
    """Env ``label``'s framework and version: envs.csv's, else what its label names."""
    row = envs[envs["env"] == label] if "env" in envs.columns else envs.iloc[0:0]
    if len(row):
        framework = str(row.iloc[0].get("framework") or "")
        version = str(row.iloc[0].get("framework_version") or "")
        if framework and framework != "nan":
            return framework, "" if version == "nan" else version
    base = label.split("@", 1)[-1]
    found = frameworks.framework_of_label(base)
    return (found[0].name, found[1]) if found else ("", base)


def order_envs(labels: List[str], envs: pd.DataFrame, truth: str = "") -> List[str]:
    """``labels`` sorted: the truth, then by framework (TF, torch, others), version, label."""

    unknown_rank = 1 + max(fw.rank for fw in frameworks.all_frameworks())

    def key(label: str) -> tuple:
        framework, version = framework_of(label, envs)
        known = frameworks.find(framework)
        rank = -1 if label == truth else known.rank if known else unknown_rank
        return (rank, framework, version_key(version), label)

    return sorted(dict.fromkeys(labels), key=key)


def _truth_label(envs: pd.DataFrame, pairs: pd.DataFrame) -> str:
    if "role" in envs.columns:
        found = envs.loc[envs["role"] == "truth", "env"]
        if len(found):
            return str(found.iloc[0])
    return pairs_upgrade.truth_label(pairs)


def from_frames(
    pairs: pd.DataFrame,
    envs: pd.DataFrame,
    folder: Union[str, Path],
    cases: Optional[cases_module.Cases] = None,
) -> Results:
    """:class:`Results` from in-memory frames (``cases``: else the fallback of old results)."""
    df = normalize(pairs_upgrade.upgrade(pairs))
    truth = _truth_label(envs, df)
    labels = list(df["env_a"]) + list(df["env_b"])
    if "env" in envs.columns:
        labels += [str(e) for e, s in zip(envs["env"], envs.get("status", [])) if s == "ok"]
    order = order_envs(labels, envs, truth)
    found = cases if cases is not None else cases_module.fallback(df)
    return Results(df, envs, Path(folder), truth, order, cases=found)


PAIRS_FILES = ("pairs.csv", "pairs.csv.gz")  # as aggregate writes it; gzip'd for committing


def pairs_path(folder: Union[str, Path]) -> Optional[Path]:
    """``folder``'s pairs table: ``pairs.csv``, else ``pairs.csv.gz``; None when neither."""
    return next((Path(folder) / n for n in PAIRS_FILES if (Path(folder) / n).is_file()), None)


def read_pairs(path: Union[str, Path]) -> pd.DataFrame:
    """A pairs table as text, in the current units (:mod:`~wgan_parity.report.pairs_upgrade`)."""
    return pairs_upgrade.upgrade(csvfiles.read_csv(Path(path)))


def read_envs(folder: Union[str, Path]) -> pd.DataFrame:
    """``folder``'s ``envs.csv`` as text, or an empty frame with its key columns when none."""
    path = Path(folder) / "envs.csv"
    if path.exists():
        return csvfiles.read_csv(path)
    return pd.DataFrame(columns=["env", "role", "status", "framework", "framework_version"])


def load(folder: Union[str, Path]) -> Results:
    """Read ``pairs.csv`` (or ``pairs.csv.gz``; required), ``envs.csv`` and ``cases.csv``
    (optional)."""
    folder = Path(folder)
    path = pairs_path(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no pairs.csv or pairs.csv.gz")
    pairs = read_pairs(path)
    return from_frames(pairs, read_envs(folder), folder, cases_module.read(folder, pairs))


def calibrated(df: pd.DataFrame) -> pd.Series:
    """Each row's :func:`~wgan_parity.compare.localize.pair_error`, vectorized.

    That is ``rel_l2 / min(limits)``, and against the truth (a side whose ``err`` is 0) the other
    side's unbounded ``err / limit``.
    """
    limit_a = df["limit_a"].where(df["limit_a"] > 0)
    limit_b = df["limit_b"].where(df["limit_b"] > 0)
    measure = df["rel_l2"].where(~(df["err_b"] == 0.0) | df["err_a"].isna(), df["err_a"])
    measure = measure.where(~(df["err_a"] == 0.0) | df["err_b"].isna(), df["err_b"])
    value = measure / np.fmin(limit_a, limit_b)
    value = value.where(df["status"].isin(verdict.MEASURED), math.nan)
    return value.mask(df["status"].isin(verdict.BROKEN), math.inf)


def _shape(text: str) -> Tuple[int, ...]:
    return () if text in ("", "scalar") else tuple(int(n) for n in text.split("x"))


def rejudge(
    res: Results, th: Thresholds, calibration: Optional[calibration_module.Calibration] = None
) -> None:
    """Re-derive status, blame, closer, known, flags and limits of judged rows with ``th``.

    The clean limits come from ``calibration`` (none: the run's own built-in envs only) and the
    rows of the run's clean envs against the truth, as in the aggregator.
    """
    calibration = calibration if calibration is not None else calibration_module.none()
    df = res.pairs
    for column in LIMIT_COLUMNS:
        if column not in df.columns:
            df[column] = math.nan
    labels = res.traits()

    def traits_of(label: str) -> traits_module.EnvTraits:
        return labels.get(label) or traits_module.EnvTraits(label)

    truth_rows = df[df["env_b"] == res.truth] if res.truth else df.iloc[0:0]
    truths: Dict[Tuple[str, str], verdict.Truth] = {}
    clean_run: Dict[Tuple[str, str], List[Tuple[traits_module.EnvTraits, float]]] = {}
    for r in truth_rows.itertuples(index=False):
        if r.status in JUDGED:
            truths[(r.case, r.tensor)] = verdict.Truth(
                r.noise_rel_l2, _shape(r.shape_b), bool(r.abs_mean_b == 0.0), r.kink_rel_l2
            )
            clean_run.setdefault((r.case, r.tensor), []).append((traits_of(r.env_a), r.err_a))
    updates: Dict[str, List[Any]] = {k: [] for k in VERDICT_COLUMNS}

    @functools.cache  # each env meets every other env on a tensor: reuse
    def limit_of(
        case: str, tensor: str, label: str, reduced_noise: Optional[float]
    ) -> Optional[SideLimit]:
        if label == res.truth:
            return None
        run = calibration_module.run_errors(clean_run.get((case, tensor), []))
        noise = math.nan if reduced_noise is None else reduced_noise
        env = traits_of(label)
        return calibration_module.side_limit(th, calibration, case, tensor, env, run, noise)

    def reduced_noise(value: Any) -> Optional[float]:
        """A side's recorded noise at its precision (None: float32, or before the column)."""
        return None if value is None or value != value else float(value)

    for r in df.itertuples(index=False):
        values: Tuple[Any, ...]
        if r.status not in JUDGED:
            values = tuple(getattr(r, k) for k in VERDICT_COLUMNS)
        else:
            truth = truths.get((r.case, r.tensor))
            if truth is not None and _shape(r.shape_a) != truth.shape:
                truth = None
            if truth is not None and r.noise_rel_l2 == r.noise_rel_l2:
                # the noise of the reference this row was measured against: a baseline merges
                # runs whose reference dumps measured it apart (1.3e-2 and 1.4e-2 on one tensor)
                truth = replace(truth, noise_rel_l2=r.noise_rel_l2)
            sides = [
                verdict.Side(
                    label,
                    label == res.truth,
                    err=err,
                    limit=limit_of(r.case, r.tensor, label, reduced_noise(noise)),
                    norm_ratio=ratio,
                )
                for label, err, ratio, noise in (
                    (r.env_a, r.err_a, r.norm_ratio_a, getattr(r, "precision_noise_a", None)),
                    (r.env_b, r.err_b, r.norm_ratio_b, getattr(r, "precision_noise_b", None)),
                )
            ]
            v = verdict.judge(sides[0], sides[1], r.rel_l2, truth, th)
            values = tuple(getattr(v, k) for k in VERDICT_COLUMNS)
        for key, value in zip(updates, values):
            updates[key].append(value)
    for name, judged in updates.items():
        df[name] = pd.Series(judged, index=df.index, dtype=df[name].dtype)
    df["seed_ok"] = [None if c != c else bool(c < th.seed_cosine) for c in df["cosine_distance"]]
    res.thresholds_source = th.source
    relocalize(res)


def relocalize(res: Results) -> None:
    """Recompute ``first_divergent_tap`` (after :func:`rejudge`) for cases that have taps."""
    df = res.pairs
    tapped = df.loc[df["tensor"].str.startswith(localize.TAP_PREFIX), "case"].unique()
    part = df[df["case"].isin(tapped)]
    records = part.to_dict("records")
    localize.annotate_all(records)
    for column in (localize.COLUMN, *localize.SIDE_COLUMNS.values()):
        df[column] = ""
        df.loc[part.index, column] = [r[column] for r in records]
