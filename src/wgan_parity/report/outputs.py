"""Write what one aggregation found: the CSV tables, the seed report and the regression checks.

Everything here takes the :class:`~wgan_parity.compare.aggregate.Aggregate` that
:func:`~wgan_parity.compare.aggregate.aggregate` returned (and the in-memory
:class:`~wgan_parity.report.resultset.Results` built from it), so the rows flow once, in memory,
from the comparison to the files. Each function returns the paths it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pandas as pd

from wgan_parity import atomic
from wgan_parity.compare.aggregate import Aggregate
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.report import baseline as baselines
from wgan_parity.report import cases, csvfiles, regress, resultset, seedreport


def pair_table(found: Aggregate) -> csvfiles.PairTable:
    """The rows as one typed table (built once)."""
    return csvfiles.PairTable.from_store(found.rows)


def current(found: Aggregate, table: csvfiles.PairTable, folder: Path) -> resultset.Results:
    """The :class:`~wgan_parity.report.resultset.Results` the reports draw, from memory."""
    envs = csvfiles.env_frame(found.envs, found.reference)
    return resultset.from_frames(table.frame, envs, folder, cases.from_infos(found.cases))


def write_tables(
    found: Aggregate,
    table: csvfiles.PairTable,
    out: Path,
    matrices: Sequence[str] = (),
    seed_cosine: float = 1.5e-4,
) -> List[Path]:
    """``pairs.csv``, ``matrix_*.csv``, ``envs.csv``, ``cases.csv`` and the seed report."""
    written = [csvfiles.write_pairs(table, out / "pairs.csv")]
    for metric in dict.fromkeys(["cosine_distance", *matrices]):
        written.append(csvfiles.write_matrix(table, metric, out))
    written.append(csvfiles.write_envs(found.envs, found.reference, out / "envs.csv"))
    written.append(cases.write(found.cases, out))
    if found.seed_pair is not None:
        a, b = found.seed_pair
        rows = cases.from_infos(found.cases).seed_rows
        text = seedreport.render(table.records(a, b), a, b, rows, seed_cosine=seed_cosine)
        written.append(atomic.write_text(out / seedreport.file_name(a, b), text))
    return written


@dataclass
class Regressions:
    """What :func:`write_regressions` found: the rows, the coverage counts, the paths written."""

    found: pd.DataFrame = field(default_factory=pd.DataFrame)
    counts: Dict[str, Any] = field(default_factory=dict)
    written: List[Path] = field(default_factory=list)

    @property
    def regressed(self) -> int:
        """How many rows regressed (they set exit bit 1)."""
        return len(self.found)


def write_regressions(
    baseline: Optional[Path], out: Path, th: Thresholds, res: resultset.Results
) -> Regressions:
    """``bisect.csv``, ``steps.csv``, and against ``baseline`` ``regressions.csv`` and
    ``baseline_check.json``. Raises :class:`~wgan_parity.report.baseline.BaselineError` when
    ``baseline`` is not a baseline folder."""
    written = [
        csvfiles.write_csv(regress.bisect(res), out / "bisect.csv"),
        csvfiles.write_csv(regress.steps(res), out / "steps.csv"),
    ]
    check = out / baselines.CHECK
    if baseline is None:
        check.unlink(missing_ok=True)  # a check of an earlier run no longer applies
        (out / "regressions.csv").unlink(missing_ok=True)
        return Regressions(written=written)
    base = baselines.load(baseline)
    pairs = res.pairs.assign(isa=regress.isa_column(res.pairs, res.envs, res.truth))
    found = regress.regressions(pairs, base, th, res.traits())
    written.append(csvfiles.write_csv(found, out / "regressions.csv"))
    counts = {**regress.coverage(pairs, base, res.truth), "regressed": len(found)}
    written.append(baselines.write_check(check, baseline, counts))
    return Regressions(found, counts, written)
