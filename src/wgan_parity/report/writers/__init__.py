"""Every file a results folder holds, as a registry of writers: one module per output.

Each module here defines ``OUTPUT``, an :class:`Output` with a name, an order and what it needs
from the :class:`~wgan_parity.report.writers.context.Context`. ``aggregate``, ``merge`` and
``report`` build one context and call :func:`write_all`, which runs every output whose needs
are met, in order. Adding an output is adding one module. The context computes what several
outputs share (the steps, the bisection, the regression check, the outcome) once, in memory,
so no output reads back a file that the same run wrote.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, FrozenSet, List

from wgan_parity.report.writers.context import Context

__all__ = ["Context", "Output", "registered", "write_all"]

LIVE = "live"  # the aggregate's own rows (aggregate, merge): tables only it can write
ALL_PAIRS = "all_pairs"  # every env pair is in the rows (not only the rows against the truth)
BASELINE = "baseline"  # a baseline was given to check against
JUDGED = "judged"  # this run judged the rows (aggregate, merge, report --rejudge)


@dataclass(frozen=True)
class Output:
    """One output: ``write`` returns the paths it wrote; ``drawing`` outputs may fail alone."""

    name: str
    order: int
    needs: FrozenSet[str]
    write: Callable[[Context], List[Path]]
    drawing: bool = False


def registered() -> List[Output]:
    """Every output module's ``OUTPUT``, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name != "context":
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(module.OUTPUT)
    return sorted(found, key=lambda o: (o.order, o.name))


def has(ctx: Context, need: str) -> bool:
    """Whether ``ctx`` meets one need."""
    return {
        LIVE: ctx.found is not None,
        ALL_PAIRS: ctx.pairs_kept == "all",
        BASELINE: ctx.baseline is not None,
        JUDGED: ctx.judged,
    }[need]


def write_all(ctx: Context) -> List[Path]:
    """Run every output whose needs ``ctx`` meets; a drawing that fails is reported and skipped
    (the tables and the exit code are already decided: they are never lost to a picture)."""
    written: List[Path] = []
    for output in registered():
        if not all(has(ctx, need) for need in output.needs):
            continue
        if not output.drawing:
            written += output.write(ctx)
            continue
        try:
            written += output.write(ctx)
        except Exception as exc:
            ctx.say(
                f"could not write {output.name} ({type(exc).__name__}: {exc}); the tables are "
                f"complete: run `wgan-parity report {ctx.folder}` once it is fixed"
            )
    return written
