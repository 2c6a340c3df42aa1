"""A committed baseline: the slice of a results folder that regressions are checked against.

A full ``releases`` aggregate has one row per (case, tensor, env pair): about 200,000 rows and
80 MB for 26 envs. Every per-env fact sits in the rows *against the float64 truth*: each env's
error, status and limit there. A row between two framework envs is derived from those two
errors (the calibrated verdict compares each side with the truth), so the baseline keeps only the
rows against the truth (25 x 606 for ``releases``), gzip-compressed with a fixed timestamp so the
same results give the same bytes. ``envs.csv`` and ``bisect.csv`` come along, and
``baseline.json`` says where it came from.

Each row carries ``isa``: the kernel instruction-set class of its framework env
(:mod:`wgan_parity.core.isa`), since float32 results follow it. ``--add`` merges another machine
class's results into an existing baseline: rows of the same env and ISA are replaced, the others
kept, so one baseline can serve AVX2 and AVX-512 CI machines like for like.

:func:`rejudge` re-derives the verdict columns of every row with the current thresholds and
calibration, one kernel ISA at a time, and rewrites the file in the current units
(:mod:`~wgan_parity.report.pairs_upgrade`): after a change of the verdict, the baseline then
records what the current code says of the same measurements.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Tuple, Union

import pandas as pd

from wgan_parity import __version__, atomic
from wgan_parity.compare import localize
from wgan_parity.report import csvfiles, regress, resultset

if TYPE_CHECKING:
    from wgan_parity.compare.calibration import Calibration
    from wgan_parity.compare.thresholds import Thresholds

PAIRS = "pairs.csv.gz"
META = "baseline.json"
CARRIED = ("envs.csv", "bisect.csv")
CHECK = "baseline_check.json"  # in a results folder: what a --baseline check covered


class BaselineError(ValueError):
    """A folder that cannot serve as (or be made into) a baseline."""


def pairs_file(folder: Path) -> Path:
    """The baseline's pairs file; :class:`BaselineError` (saying what to do) when none."""
    path = resultset.pairs_path(folder)
    if path is None:
        raise BaselineError(
            f"{folder}: expected a baseline folder holding {PAIRS} (from `wgan-parity baseline`) "
            "or pairs.csv (from `wgan-parity aggregate --out`), found neither; make one with "
            f"`wgan-parity baseline RESULTS_DIR --out {folder}` or drop --baseline"
        )
    return path


def load(folder: Union[str, Path]) -> pd.DataFrame:
    """The baseline's normalized pairs (from ``pairs.csv.gz`` or a plain ``pairs.csv``).

    A pairs file without an ``isa`` column takes it from the folder's ``envs.csv`` ("" where
    that has none either: such rows match no current row of a recorded ISA).
    """
    folder = Path(folder)
    raw = resultset.read_pairs(pairs_file(folder))
    if "isa" not in raw.columns:
        envs = resultset.read_envs(folder)
        raw["isa"] = regress.isa_column(raw, envs, resultset.from_frames(raw, envs, folder).truth)
    return resultset.normalize(raw)


def truth_rows(raw: pd.DataFrame, truth: str, folder: Path) -> pd.DataFrame:
    """The rows of ``raw`` (pairs.csv read as text) with ``truth`` on one side."""
    if not truth:
        raise BaselineError(
            f"{folder}: expected results with a float64 reference env (its rows are what a "
            "baseline keeps), found none; aggregate a set that includes `reference`"
        )
    return raw[(raw["env_a"] == truth) | (raw["env_b"] == truth)].reset_index(drop=True)


def gzip_csv(df: pd.DataFrame) -> bytes:
    """``df`` (text cells) as gzip'd CSV with mtime 0: the same rows give the same bytes."""
    text = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return gzip.compress(text, compresslevel=9, mtime=0)


def _env_side(rows: pd.DataFrame, truth: str) -> List[str]:
    """Per row against the truth: the label of its framework env (the side that is not it)."""
    return [b if a == truth else a for a, b in zip(rows["env_a"], rows["env_b"])]


def _merged(new: pd.DataFrame, old: pd.DataFrame, key: List[str]) -> pd.DataFrame:
    """``old`` (as text) without the ``key`` groups that ``new`` has, then ``new``'s rows."""
    old, new = old.astype(str), new.astype(str)
    replaced = set(zip(*(new[k] for k in key)))
    kept = [group not in replaced for group in zip(*(old[k] for k in key))]
    return pd.concat([old[kept], new], ignore_index=True).fillna("")


def write(results_dir: Union[str, Path], out: Union[str, Path], add: bool = False) -> List[Path]:
    """Make ``out`` a baseline of the aggregate in ``results_dir``; return the files written.

    ``add``: merge into the baseline already in ``out`` (rows of the same env and ISA replaced).
    """
    source, out = Path(results_dir), Path(out)
    if not (source / "pairs.csv").is_file():
        raise BaselineError(
            f"{source}: expected an aggregate's results folder with pairs.csv, found none; run "
            "`nox -s compare -- --set releases` (or `wgan-parity aggregate --out`) first"
        )
    raw = csvfiles.read_csv(source / "pairs.csv")  # read once, as text: values keep their digits
    res = resultset.from_frames(raw, resultset.read_envs(source), source)
    rows = truth_rows(raw, res.truth, source)
    rows["isa"] = regress.isa_column(rows, res.envs, res.truth)
    envs = res.envs.copy()
    if "isa" not in envs.columns:
        envs["isa"] = ""
    if add and resultset.pairs_path(out) is not None:
        old, old_envs = resultset.read_pairs(pairs_file(out)), resultset.read_envs(out)
        if "isa" not in old.columns:
            old["isa"] = regress.isa_column(old, old_envs, res.truth)
        if "isa" not in old_envs.columns:
            old_envs["isa"] = ""
        old["_env"], rows["_env"] = _env_side(old, res.truth), _env_side(rows, res.truth)
        rows = _merged(rows, old, ["_env", "isa"]).drop(columns="_env")
        rows = rows.sort_values([*regress.MATCH], kind="stable").reset_index(drop=True)
        envs = _merged(envs, old_envs, ["env", "isa"])
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic.write_bytes(out / PAIRS, gzip_csv(rows))]
    written.append(csvfiles.write_csv(envs, out / "envs.csv"))
    written += [  # --add keeps the bisection of the run the baseline was made from
        atomic.write_bytes(out / n, (source / n).read_bytes())
        for n in CARRIED
        if n != "envs.csv" and (source / n).is_file() and not (add and (out / n).is_file())
    ]
    stale = out / "pairs.csv"
    if stale.is_file():  # a plain pairs.csv would shadow nothing but confuse readers
        stale.unlink()
    before = read_meta(out) if add else {}
    meta = {
        **before,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "from": before.get("from", str(source)) if add else str(source),
        "added": [*before.get("added", []), str(source)] if add else [],
        "truth": res.truth,
        "envs": resultset.order_envs([*rows["env_a"], *rows["env_b"]], envs, res.truth),
        "isas": sorted({i for i in rows["isa"] if i}),
        "rows": len(rows),
        "rows_in_source": len(res.pairs) if not add else before.get("rows_in_source"),
        "kept": "rows with the truth on one side",
        "wgan_parity": __version__,
    }
    written.append(atomic.write_json(out / META, meta))
    return written


def write_check(path: Path, baseline: Path, counts: Dict[str, Any]) -> Path:
    """Record (in a results folder) which baseline was checked and how many rows it covered."""
    return atomic.write_json(path, {"baseline": str(baseline), **counts})


def read_check(folder: Path) -> Dict[str, Any]:
    """The :data:`CHECK` record of a results folder ({} when none)."""
    path = Path(folder) / CHECK
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_meta(folder: Path) -> Dict[str, Any]:
    """The baseline's :data:`META` record ({} when none)."""
    path = Path(folder) / META
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


JUDGED_COLUMNS = (
    *resultset.VERDICT_COLUMNS,
    "seed_ok",
    localize.COLUMN,
    *localize.SIDE_COLUMNS.values(),
)


def judged_by_isa(
    raw: pd.DataFrame, envs: pd.DataFrame, folder: Path, th: Thresholds, calibration: Calibration
) -> Iterator[Tuple[pd.Index, resultset.Results]]:
    """``raw`` (a pairs table as text) re-judged one kernel ISA at a time, each with that ISA's
    envs (all at once without an ``isa`` column): each part's index in ``raw`` and its results."""
    for isa in sorted(set(raw["isa"])) if "isa" in raw.columns else [None]:
        part = raw if isa is None else raw[raw["isa"] == isa]
        same = envs
        if isa is not None and "isa" in envs.columns:
            same = envs[(envs["isa"] == isa) | (envs["role"] == "truth")]
        res = resultset.from_frames(part, same, folder)
        resultset.rejudge(res, th, calibration)
        yield part.index, res


def rejudged(
    raw: pd.DataFrame, envs: pd.DataFrame, folder: Path, th: Thresholds, calibration: Calibration
) -> Tuple[pd.DataFrame, Dict[str, int]]:
    """A copy of ``raw`` (a pairs table as text) with its verdict columns re-derived, one kernel
    ISA at a time, and the ``"old -> new"`` status counts of the rows that changed."""
    new = raw.copy()
    for index, res in judged_by_isa(raw, envs, folder, th, calibration):
        for column in JUDGED_COLUMNS:
            new.loc[index, column] = [csvfiles.cell(v) for v in res.pairs[column]]
    changed: Dict[str, int] = {}
    for old, now in zip(raw["status"], new["status"]):
        if old != now:
            key = f"{old} -> {now}"
            changed[key] = changed.get(key, 0) + 1
    return new, changed


def rejudge(folder: Union[str, Path], th: Thresholds, calibration: Calibration) -> Dict[str, int]:
    """Re-derive the verdict columns of the baseline in ``folder``; return ``"old -> new"`` status
    counts of the rows that changed. The measured columns are kept as they are (upgraded to the
    current units where the file predates them)."""
    folder = Path(folder)
    raw = resultset.read_pairs(pairs_file(folder)).reset_index(drop=True)
    envs = resultset.read_envs(folder)
    if "isa" not in raw.columns:
        raw["isa"] = regress.isa_column(raw, envs, resultset.from_frames(raw, envs, folder).truth)
    new, changed = rejudged(raw, envs, folder, th, calibration)
    atomic.write_bytes(folder / PAIRS, gzip_csv(new))
    meta = read_meta(folder)
    meta["judged_with"] = {"thresholds": th.source, "calibration": calibration.source}
    atomic.write_json(folder / META, meta)
    return changed
