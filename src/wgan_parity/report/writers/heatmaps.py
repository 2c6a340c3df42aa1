"""``heatmap_*.png``: env × env per case group, and env × case against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity.report import heatmap, writers
from wgan_parity.report.writers.context import Context


def write(ctx: Context) -> List[Path]:
    """Draw the heatmaps (and remember them: the summary lists them)."""
    ctx.pictures = heatmap.write(ctx.res, ctx.folder)
    return list(ctx.pictures)


OUTPUT = writers.Output("heatmaps", 70, frozenset(), write, drawing=True)
