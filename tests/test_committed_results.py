"""Committed results say what the current verdict says, and none passes a result of the wrong size.

Every committed results folder with a pairs table (the baseline, which holds every release's rows
against the truth at both ISAs, ``switches`` and ``gpu-tf32``) is re-judged with the checked-in
thresholds and calibration, one kernel ISA at a time. No row may be ``ok`` while a side's norm is
off by ``norm_ratio_max`` (2x) or more from a non-degenerate truth (issue 23), and the baseline
must already record those verdicts (``wgan-parity baseline --rejudge`` after a verdict change).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pandas as pd
import pytest

from wgan_parity.compare import calibration, thresholds, verdict
from wgan_parity.report import baseline, resultset

pytestmark = pytest.mark.slow
RESULTS = Path(__file__).resolve().parents[1] / "results"
FOLDERS = sorted(p.parent for p in RESULTS.glob("*/pairs.csv*"))
TH = thresholds.load()


def _rejudged(folder: Path) -> List[pd.DataFrame]:
    raw = resultset.read_pairs(resultset.pairs_path(folder))
    parts = baseline.judged_by_isa(raw, resultset.read_envs(folder), folder, TH, calibration.load())
    return [res.pairs.assign(recorded=list(raw.loc[index, "status"])) for index, res in parts]


def _wrong_size_but_ok(df: pd.DataFrame) -> pd.DataFrame:
    most = TH.norm_ratio_max
    off = pd.Series(False, index=df.index)
    for side in ("a", "b"):
        ratio = df[f"norm_ratio_{side}"]
        off |= (ratio >= most) | (ratio * most <= 1.0)
    return df[off & (df["status"] == verdict.OK)]


def test_there_are_committed_pairs_tables_to_check():
    assert {f.name for f in FOLDERS} >= {"baseline", "switches", "gpu-tf32"}, FOLDERS


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_no_committed_row_is_ok_with_a_norm_off_by_two(folder: Path):
    for df in _rejudged(folder):
        assert df["norm_ratio_a"].notna().any(), f"{folder.name}: no norm ratios derived"
        bad = _wrong_size_but_ok(df)
        detail = bad[["case", "tensor", "env_a", "env_b", "norm_ratio_a", "norm_ratio_b"]]
        assert bad.empty, f"{folder.name}: {len(bad)} rows ok at a wrong size:\n{detail.head()}"


def test_the_baseline_records_the_current_verdict():
    changed = []
    for df in _rejudged(RESULTS / "baseline"):
        changed += [
            f"{r.case}/{r.tensor} {r.env_a}: {r.recorded} -> {r.status}"
            for r in df[df["status"] != df["recorded"]].itertuples()
        ]
    assert not changed, (
        f"{len(changed)} baseline rows are stale; run `wgan-parity baseline --rejudge`:\n"
        + "\n".join(changed[:10])
    )
