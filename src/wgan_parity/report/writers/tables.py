"""The aggregate's own tables: ``pairs.csv``, ``matrix_*.csv``, ``envs.csv`` and ``cases.csv``."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import cases, csvfiles, writers
from wgan_parity.report.writers.context import Context


def write(ctx: Context) -> List[Path]:
    """Write the tables of the live rows."""
    found, out, table = ctx.found, ctx.folder, ctx.table
    assert found is not None
    assert table is not None
    written = [csvfiles.write_pairs(table, out / "pairs.csv")]
    for metric in dict.fromkeys(["cosine_distance", *ctx.matrices]):
        written.append(csvfiles.write_matrix(table, metric, out))
    written.append(csvfiles.write_envs(found.envs, found.reference, out / "envs.csv"))
    written.append(cases.write(found.cases, out))
    return written


OUTPUT = writers.Output("tables", 10, frozenset({writers.LIVE}), write)
