"""``steps.csv`` (each release against the previous one) and ``bisect.csv`` (the first release
that changed each tensor beyond its limit): they need every env pair, not only the truth's rows."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import csvfiles, writers
from wgan_parity.report.writers.context import BISECT, STEPS, Context


def write(ctx: Context) -> List[Path]:
    """Write both tables."""
    return [
        csvfiles.write_csv(ctx.bisect, ctx.folder / BISECT),
        csvfiles.write_csv(ctx.steps, ctx.folder / STEPS),
    ]


OUTPUT = writers.Output("releases", 50, frozenset({writers.ALL_PAIRS}), write)
