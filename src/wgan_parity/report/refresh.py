"""Re-judge a results folder in place: what ``wgan-parity report --rejudge`` does to its files.

The measured columns never change. The verdict columns (status, blame, known, limits, first
divergent taps) are re-derived with the given thresholds and calibration, one kernel ISA at a
time when the rows record one (as :mod:`~wgan_parity.report.baseline` does), and written back
into the folder's ``pairs.csv`` or ``pairs.csv.gz`` (gzip with a fixed timestamp: the same rows
give the same bytes). ``truth_only`` keeps only the rows against the truth, for committing a
large set: ``steps.csv`` and ``bisect.csv`` are written first, from every row, since they need
the env pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

import pandas as pd

from wgan_parity import atomic
from wgan_parity.compare.calibration import Calibration
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.report import baseline as baselines
from wgan_parity.report import csvfiles, regress, resultset


def write_pairs_text(df: pd.DataFrame, path: Path) -> Path:
    """A pairs table of text cells, as ``.csv`` or as ``.csv.gz`` with mtime 0."""
    if path.suffix != ".gz":
        return csvfiles.write_csv(df, path)
    return atomic.write_bytes(path, baselines.gzip_csv(df))


def _releases(raw: pd.DataFrame, folder: Path) -> None:
    """``steps.csv`` and ``bisect.csv`` from every row, before the env pairs are dropped."""
    res = resultset.from_frames(raw, resultset.read_envs(folder), folder)
    csvfiles.write_csv(regress.bisect(res), folder / "bisect.csv")
    csvfiles.write_csv(regress.steps(res), folder / "steps.csv")


def rejudge(
    folder: Path, th: Thresholds, calibration: Calibration, truth_only: bool = False
) -> Tuple[Dict[str, int], Optional[int]]:
    """Rewrite the verdict columns of ``folder``'s pairs table; return the ``"old -> new"``
    status counts of the rows that changed, and the rows before dropping (None: nothing
    dropped)."""
    path = resultset.pairs_path(folder)
    if path is None:
        raise FileNotFoundError(f"{folder}: no pairs.csv or pairs.csv.gz")
    raw = resultset.read_pairs(path).reset_index(drop=True)
    envs = resultset.read_envs(folder)
    new, changed = baselines.rejudged(raw, envs, folder, th, calibration)
    before: Optional[int] = None
    if truth_only:
        truth = resultset.from_frames(new, envs, folder).truth
        keep = (new["env_a"] == truth) | (new["env_b"] == truth)
        if truth and not keep.all():
            _releases(new, folder)
            before, new = len(new), new[keep]
    write_pairs_text(new, path)
    return changed, before
