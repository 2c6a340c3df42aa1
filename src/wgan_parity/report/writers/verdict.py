"""``verdict.json``: the first screen of the summary, machine-readable
(:class:`~wgan_parity.report.outcome.Outcome`)."""

from __future__ import annotations

from pathlib import Path
from typing import List

from wgan_parity import atomic
from wgan_parity.report import writers
from wgan_parity.report.writers.context import Context

FILE = "verdict.json"


def write(ctx: Context) -> List[Path]:
    """Write the verdict."""
    return [atomic.write_json(ctx.folder / FILE, ctx.outcome.to_json())]


OUTPUT = writers.Output("verdict", 85, frozenset(), write, drawing=True)
