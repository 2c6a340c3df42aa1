"""Every committed results folder is what the current code draws from its own files.

A folder under ``results/`` is a baseline (``baseline.json``), the selftest's table
(``selftest.csv``), or a result: a pairs table, ``envs.csv`` and a ``stamp.json`` of the code,
thresholds and calibration that judged it. For each result, ``wgan-parity report`` on a copy of its
inputs must give its ``summary.md``, ``verdict.json`` and ``report.html`` byte for byte; its stamp
must name the thresholds and calibration the package ships; and re-judging it with them must leave
its pairs table unchanged. When one fails, refresh the folder:
``wgan-parity report results/NAME --rejudge`` (and commit what changed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

import numpy as np
import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.commands.aggregate import verdict_inputs

RESULTS = Path(__file__).resolve().parents[1] / "results"
INPUTS = (
    "pairs.csv",
    "pairs.csv.gz",
    "envs.csv",
    "cases.csv",
    "steps.csv",
    "bisect.csv",
    "stamp.json",
    "regressions.csv",
    "baseline_check.json",
)
DRAWN = ("summary.md", "verdict.json", "report.html")


def _folders() -> List[Path]:
    return sorted(p for p in RESULTS.iterdir() if p.is_dir())


def _results() -> List[Path]:
    return [p for p in _folders() if (p / "stamp.json").is_file()]


def _inputs_copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / folder.name
    copy.mkdir()
    for name in INPUTS:
        if (folder / name).is_file():
            shutil.copy2(folder / name, copy / name)
    return copy


@pytest.mark.parametrize("folder", _folders(), ids=lambda p: p.name)
def test_every_results_folder_can_be_redrawn(folder: Path) -> None:
    kinds = {
        "baseline": (folder / "baseline.json").is_file(),
        "selftest": (folder / "selftest.csv").is_file(),
        "result": (folder / "stamp.json").is_file(),
    }
    assert any(kinds.values()), (
        f"{folder}: expected a baseline (baseline.json), the selftest (selftest.csv) or a result "
        "with stamp.json; remake it with `wgan-parity report DIR --rejudge`, or remove it"
    )
    if kinds["result"]:
        tables = [n for n in ("pairs.csv", "pairs.csv.gz") if (folder / n).is_file()]
        assert tables, f"{folder}: a result without its pairs table cannot be redrawn"
        assert (folder / "envs.csv").is_file(), f"{folder}: no envs.csv"


@pytest.mark.parametrize("folder", _results(), ids=lambda p: p.name)
def test_stamp_names_the_shipped_thresholds_and_calibration(folder: Path) -> None:
    stamp = json.loads((folder / "stamp.json").read_text(encoding="utf-8"))
    shipped = verdict_inputs(None, None)
    for key, digest in shipped.items():
        assert stamp.get(key) == digest, (
            f"{folder.name} was judged with other {key} ({stamp.get(key)}, shipped {digest}): "
            f"refresh it with `wgan-parity report results/{folder.name} --rejudge`"
        )
    assert stamp.get("pairs_kept") in ("all", "truth"), stamp
    assert stamp.get("wgan_parity"), stamp


@pytest.mark.parametrize("folder", _results(), ids=lambda p: p.name)
def test_report_redraws_the_committed_files_byte_for_byte(folder: Path, tmp_path: Path) -> None:
    copy = _inputs_copy(folder, tmp_path)
    assert main(["report", str(copy)]) == 0
    for name in DRAWN:
        assert (folder / name).is_file(), f"{folder.name}: {name} is not committed"
        mine, theirs = (copy / name).read_bytes(), (folder / name).read_bytes()
        assert mine == theirs, (
            f"{folder.name}/{name} differs from what the current code draws from its files: "
            f"refresh it with `wgan-parity report results/{folder.name} --rejudge`"
        )
    assert len((folder / "summary.md").read_bytes()) < 100_000


TAPS = ("first_divergent_tap", "first_divergent_tap_a", "first_divergent_tap_b")
EXACT = ("status", "blame", "closer", "known", "ill_conditioned", "note", *TAPS)
LIMITS = ("limit_a", "limit_b", "noise_limit_a", "noise_limit_b", "clean_limit_a", "clean_limit_b")


@pytest.mark.slow
@pytest.mark.parametrize("folder", _results(), ids=lambda p: p.name)
def test_rejudging_leaves_the_committed_verdicts_unchanged(folder: Path, tmp_path: Path) -> None:
    """The verdict columns are what the current code derives from the measured ones (limits to
    7 digits: the CSV keeps 7, so the first re-judge of an aggregate's file may move the last)."""
    copy = _inputs_copy(folder, tmp_path)
    assert main(["report", str(copy), "--rejudge"]) == 0
    name = next(n for n in ("pairs.csv", "pairs.csv.gz") if (folder / n).is_file())
    committed = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    now = pd.read_csv(copy / name, dtype=str, keep_default_na=False)
    assert list(now.columns) == list(committed.columns)
    refresh = f"refresh it with `wgan-parity report results/{folder.name} --rejudge`"
    for column in EXACT:
        changed = committed[column] != now[column]
        assert not changed.any(), (
            f"{folder.name}: the current verdict code changes {column} in {changed.sum()} rows, "
            f"e.g. {committed.loc[changed, ['case', 'tensor', 'env_a', 'env_b']].head(3).values}"
            f": {refresh}"
        )
    for column in LIMITS:
        old, new = (pd.to_numeric(f[column], errors="coerce") for f in (committed, now))
        assert np.allclose(old, new, rtol=1e-6, atol=0.0, equal_nan=True), f"{column}: {refresh}"
