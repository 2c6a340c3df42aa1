"""``precision.csv``: per framework, precision, block and direction, the error against the truth
(:mod:`wgan_parity.report.precision`); written only when the run holds reduced-precision envs."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import csvfiles, writers
from wgan_parity.report import precision as precision_table
from wgan_parity.report.writers.context import PRECISION, Context


def write(ctx: Context) -> List[Path]:
    """Write the table when there is something to put in it."""
    if not precision_table.has_precisions(ctx.res):
        return []
    return [csvfiles.write_csv(precision_table.table(ctx.res), ctx.folder / PRECISION)]


OUTPUT = writers.Output("precision", 55, frozenset(), write)
