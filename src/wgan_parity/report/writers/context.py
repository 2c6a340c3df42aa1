"""What the writers share: the rows in memory, and what is computed from them once."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import pandas as pd

from wgan_parity.compare.aggregate import Aggregate
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.report import baseline as baselines
from wgan_parity.report import csvfiles, outcome, regress
from wgan_parity.report import precision as precision_table
from wgan_parity.report.resultset import Results

STEPS, BISECT, REGRESSIONS = "steps.csv", "bisect.csv", "regressions.csv"
PRECISION = "precision.csv"
STAMP = "stamp.json"
PAIRS_FILES = ("pairs.csv", "pairs.csv.gz")


def _quiet(line: str) -> None:
    del line


@dataclass
class Context:
    """One run's rows and settings. ``found`` is the live aggregate (``None`` when redrawing a
    folder); ``judged_by`` the stamp of the code, thresholds and calibration that judged the rows;
    ``pairs_kept`` "all", or "truth" when the folder keeps only the rows against the truth (its
    steps and bisection then come from the run that had every row, as inputs)."""

    res: Results
    th: Thresholds
    found: Optional[Aggregate] = None
    table: Optional[csvfiles.PairTable] = None
    matrices: Sequence[str] = ()
    baseline: Optional[Path] = None
    judged: bool = False
    judged_by: Mapping[str, Any] = field(default_factory=dict)
    pairs_kept: str = "all"
    say: Callable[[str], None] = _quiet
    pictures: List[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """The results folder."""
        return self.res.folder

    def _input(self, name: str) -> pd.DataFrame:
        path = self.folder / name
        return csvfiles.read_csv(path) if path.is_file() else pd.DataFrame()

    @functools.cached_property
    def steps(self) -> pd.DataFrame:
        """Release-by-release steps: from the rows, or the folder's own when it keeps fewer."""
        return regress.steps(self.res) if self.pairs_kept == "all" else self._input(STEPS)

    @functools.cached_property
    def bisect(self) -> pd.DataFrame:
        """The first release that changed each tensor beyond its limit (as :attr:`steps`)."""
        return regress.bisect(self.res) if self.pairs_kept == "all" else self._input(BISECT)

    @functools.cached_property
    def regressions(self) -> Optional[pd.DataFrame]:
        """Rows worse than the baseline (None: no baseline checked); see :attr:`check`."""
        return self._checked[0]

    @functools.cached_property
    def check(self) -> Optional[outcome.RegressionCheck]:
        """The counts of the check against the baseline."""
        return self._checked[1]

    @functools.cached_property
    def _checked(self) -> tuple:
        if self.baseline is None:
            if self.found is not None:
                return None, None  # a live run without a baseline checks nothing
            return self._recorded_check()
        base = baselines.load(self.baseline)
        res = self.res
        pairs = res.pairs.assign(isa=regress.isa_column(res.pairs, res.envs, res.truth))
        found = regress.regressions(pairs, base, self.th, res.traits())
        counts: Dict[str, Any] = {**regress.coverage(pairs, base, res.truth)}
        counts["regressed"] = len(found)
        name = Path(self.baseline).name
        return found, outcome.regression_check(name, counts, found, res.truth)

    def _recorded_check(self) -> tuple:
        """A redrawn folder's check, as the aggregate that checked it recorded it."""
        counts = baselines.read_check(self.folder)
        if not counts:
            return None, None
        found = self._input(REGRESSIONS)
        name = Path(str(counts.get("baseline", ""))).name
        return found, outcome.regression_check(name, counts, found, self.res.truth)

    @functools.cached_property
    def outcome(self) -> outcome.Outcome:
        """The verdict first: what summary.md, verdict.json and report.html lead with."""
        return outcome.build(self.res, self.check, self.judged_by, self.pairs_kept)

    def file_names(self) -> List[str]:
        """The files a reader can open: what this run writes, and the inputs the folder holds."""
        live, folder = self.found is not None, self.folder

        def there(name: str) -> bool:
            return (folder / name).is_file()

        names = ["pairs.csv"] if live else [n for n in PAIRS_FILES if there(n)][:1]
        if live:
            names += [f"matrix_{m}.csv" for m in dict.fromkeys(["cosine_distance", *self.matrices])]
        else:
            names += sorted(p.name for p in folder.glob("matrix_*.csv"))
        names += [n for n in ("envs.csv", "cases.csv") if live or there(n)]
        names += [n for n in (STEPS, BISECT) if self.pairs_kept == "all" or there(n)]
        if self.check is not None:
            names += [REGRESSIONS, baselines.CHECK]
        names += [PRECISION] if precision_table.has_precisions(self.res) else []
        names += [n for n in (STAMP,) if self.judged or there(n)]
        return [*names, "verdict.json", "report.html", *(p.name for p in self.pictures)]
