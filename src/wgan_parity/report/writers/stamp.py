"""``stamp.json``: the code, thresholds and calibration that judged the rows, and what is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from wgan_parity import atomic
from wgan_parity.report import writers
from wgan_parity.report.writers.context import STAMP, Context


def stamp(ctx: Context) -> Dict[str, Any]:
    """The stamp's content."""
    return {**dict(ctx.judged_by), "pairs_kept": ctx.pairs_kept, "rows": len(ctx.res.pairs)}


def write(ctx: Context) -> List[Path]:
    """Write the stamp."""
    return [atomic.write_json(ctx.folder / STAMP, stamp(ctx))]


OUTPUT = writers.Output("stamp", 5, frozenset({writers.JUDGED}), write)
