"""``regressions.csv`` and ``baseline_check.json``: the rows worse than ``--baseline``."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import baseline as baselines
from wgan_parity.report import csvfiles, writers
from wgan_parity.report.writers.context import REGRESSIONS, Context


def write(ctx: Context) -> List[Path]:
    """Write the check; without a baseline, remove an earlier run's (it no longer applies)."""
    check, found = ctx.check, ctx.regressions
    if ctx.baseline is None or check is None or found is None:
        (ctx.folder / baselines.CHECK).unlink(missing_ok=True)
        (ctx.folder / REGRESSIONS).unlink(missing_ok=True)
        return []
    counts = {
        "checked": check.checked,
        "new": check.new,
        "other_isa": check.other_isa,
        "other_isa_envs": list(check.other_isa_envs),
        "regressed": check.regressed,
    }
    return [
        csvfiles.write_csv(found, ctx.folder / REGRESSIONS),
        baselines.write_check(ctx.folder / baselines.CHECK, ctx.baseline, counts),
    ]


OUTPUT = writers.Output("regressions", 60, frozenset({writers.LIVE}), write)
