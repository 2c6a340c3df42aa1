"""``summary.md``: the verdict first, then the details (:mod:`wgan_parity.report.summary`)."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import summary, writers
from wgan_parity.report.writers.context import Context


def write(ctx: Context) -> List[Path]:
    """Write the summary."""
    note = ""
    if ctx.pairs_kept != "all":
        note = (
            "This folder keeps the rows against the truth only; steps.csv and bisect.csv were "
            "made by the run that had every env pair, and are shown as it wrote them."
        )
    extras = summary.Extras(ctx.steps, ctx.bisect, ctx.regressions, ctx.file_names(), note)
    return [summary.write(ctx.res, ctx.th, ctx.outcome, extras)]


OUTPUT = writers.Output("summary", 80, frozenset(), write, drawing=True)
