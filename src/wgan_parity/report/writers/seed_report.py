"""``seed_report_<A>_vs_<B>.txt``: one pair laid out like the seed README (``--seed-report``)."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity import atomic
from wgan_parity.report import cases, seedreport, writers
from wgan_parity.report.writers.context import Context


def write(ctx: Context) -> List[Path]:
    """Write the seed report when a pair was asked for."""
    found, table = ctx.found, ctx.table
    if found is None or table is None or found.seed_pair is None:
        return []
    a, b = found.seed_pair
    rows = cases.from_infos(found.cases).seed_rows
    text = seedreport.render(table.records(a, b), a, b, rows, seed_cosine=ctx.th.seed_cosine)
    return [atomic.write_text(ctx.folder / seedreport.file_name(a, b), text)]


OUTPUT = writers.Output("seed_report", 40, frozenset({writers.LIVE}), write)
