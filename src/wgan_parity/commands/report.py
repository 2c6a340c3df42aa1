"""``wgan-parity report RESULTS_DIR``: redo the pictures and ``summary.md`` from the CSVs alone.

Reads ``pairs.csv`` and ``envs.csv`` of an aggregate's results folder and writes the heatmaps
(``heatmap_*.png``) and ``summary.md`` next to them. No framework is imported and no dump is read.
With ``--thresholds FILE`` the verdict columns (status, blame, known, limits...) and the first
divergent taps are re-derived from the measured columns first; ``pairs.csv`` itself is left as the
aggregate wrote it. ``wgan-parity aggregate`` ends with the same call.

Exit codes: 0 written; 2 usage error (no pairs.csv or pairs.csv.gz, unreadable thresholds file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional

from wgan_parity.exitcodes import ExitCode

if TYPE_CHECKING:  # pandas is imported only when the command runs
    from wgan_parity.compare.thresholds import Thresholds
    from wgan_parity.report.resultset import Results

USAGE_ERROR = ExitCode.USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "results",
        type=Path,
        metavar="RESULTS_DIR",
        help="folder holding pairs.csv and envs.csv (what aggregate --out wrote)",
    )
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        help="re-derive the verdicts with this thresholds TOML first",
    )


def render(
    folder: Path,
    th: Optional[Thresholds] = None,
    current: Optional[Results] = None,
    rejudge: bool = False,
) -> List[Path]:
    """Write the heatmaps and ``summary.md`` into ``folder``; return the paths written.

    ``current`` is the aggregate's in-memory :class:`~wgan_parity.report.resultset.Results` (else
    ``pairs.csv`` and ``envs.csv`` are read); ``rejudge`` applies ``th`` to the measured columns
    first.
    """

    from wgan_parity.compare import calibration
    from wgan_parity.report import heatmap, resultset, summary

    res = resultset.load(folder) if current is None else current
    if rejudge and th is not None:
        resultset.rejudge(res, th, calibration.load())
    pictures = heatmap.write(res, folder)
    return [*pictures, summary.write(res, th, pictures)]


def after_aggregate(
    folder: Path, th: Thresholds, current: Results, say: Callable[[str], None]
) -> List[Path]:
    """:func:`render` at the end of ``aggregate``: a drawing failure never costs the CSVs."""
    try:
        return render(folder, th, current)
    except Exception as exc:  # the CSVs and the exit code are already decided: keep them
        say(
            f"could not write the pictures and summary.md ({type(exc).__name__}: {exc}); "
            f"the CSVs are complete: run `wgan-parity report {folder}` once it is fixed"
        )
        return []


def run(args: argparse.Namespace) -> int:
    """Render; return the exit code described in the module docstring."""
    from wgan_parity.compare import thresholds

    def say(line: str) -> None:
        print(f"wgan-parity report: {line}", file=sys.stderr, flush=True)

    from wgan_parity.report.resultset import pairs_path

    folder: Path = args.results
    if pairs_path(folder) is None:
        say(
            f"expected pairs.csv (or pairs.csv.gz) in {folder}, found neither: pass the folder "
            "that `wgan-parity aggregate --out` wrote"
        )
        return USAGE_ERROR
    try:
        th = thresholds.load(args.thresholds)
    except thresholds.ThresholdsError as exc:
        say(str(exc))
        return USAGE_ERROR
    written = render(folder, th, rejudge=args.thresholds is not None)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
