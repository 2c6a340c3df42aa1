"""``wgan-parity report RESULTS_DIR``: redraw a results folder from its pairs table alone.

Reads ``pairs.csv`` (or ``pairs.csv.gz``), ``envs.csv``, ``cases.csv`` and ``stamp.json`` of a
results folder and writes every output that does not need the dumps: the heatmaps,
``summary.md``, ``verdict.json``, ``report.html``, and ``steps.csv``/``bisect.csv`` when the folder
keeps every env pair. No framework is imported and no dump is read.

``--rejudge`` first re-derives the verdict columns with the current thresholds (or
``--thresholds``) and calibration (or ``--calibration``), writes them back into the pairs table
and stamps the folder (``stamp.json``): that is how a committed folder is refreshed.
``--truth-rows-only`` (with ``--rejudge``) then keeps only the rows against the truth, after
writing ``steps.csv`` and ``bisect.csv`` from every row. ``--thresholds`` alone re-derives the
verdicts in memory only: the pairs table is left as it is, and the summary says so.

Exit codes: 0 written; 2 usage error (no pairs.csv or pairs.csv.gz, an unreadable thresholds or
calibration file); 8 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List

from wgan_parity.exitcodes import ExitCode

if TYPE_CHECKING:  # pandas is imported only when the command runs
    from wgan_parity.report.writers import Context

USAGE_ERROR = ExitCode.USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "results",
        type=Path,
        metavar="RESULTS_DIR",
        help="folder holding pairs.csv (or pairs.csv.gz) and envs.csv (what aggregate --out wrote)",
    )
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        help="re-derive the verdicts with this thresholds TOML first (in memory, unless --rejudge)",
    )
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="re-derive the verdicts with the current thresholds and calibration, write them back "
        "into the pairs table and stamp.json, then redraw (refreshes a committed folder)",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="FILE|none",
        help="with --rejudge: the clean-release calibration (default: the committed one)",
    )
    parser.add_argument(
        "--truth-rows-only",
        action="store_true",
        help="with --rejudge: keep only the rows against the truth (steps.csv and bisect.csv are "
        "written from every row first); for committing a large set",
    )


def read_stamp(folder: Path) -> Dict[str, Any]:
    """The folder's ``stamp.json`` ({} when none)."""
    path = folder / "stamp.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def context(folder: Path, args: argparse.Namespace, say: Any) -> Context:
    """The writers' context for a folder (re-judged in place first with ``--rejudge``)."""
    from wgan_parity.commands.aggregate import judged_by
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.report import refresh, resultset, writers

    th = thresholds.load(args.thresholds)
    stamp = read_stamp(folder)
    if args.rejudge:
        calib = calibration.optional(args.calibration)
        changed, before = refresh.rejudge(folder, th, calib, args.truth_rows_only)
        for change, count in sorted(changed.items()):
            say(f"{count} rows {change}")
        kept = "truth" if before is not None else stamp.get("pairs_kept", "all")
        stamp = {**stamp, **judged_by(args.thresholds, args.calibration), "pairs_kept": kept}
    res = resultset.load(folder)
    if args.thresholds is not None and not args.rejudge:
        resultset.rejudge(res, th, calibration.load())
    return writers.Context(
        res,
        th,
        judged=bool(args.rejudge),
        judged_by={k: v for k, v in stamp.items() if k not in ("pairs_kept", "rows")},
        pairs_kept=str(stamp.get("pairs_kept", "all")),
        say=say,
    )


def run(args: argparse.Namespace) -> int:
    """Redraw; return the exit code described in the module docstring."""
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.report import writers
    from wgan_parity.report.resultset import pairs_path

    def say(line: str) -> None:
        print(f"wgan-parity report: {line}", file=sys.stderr, flush=True)

    folder: Path = args.results
    if pairs_path(folder) is None:
        say(
            f"expected pairs.csv (or pairs.csv.gz) in {folder}, found neither: pass the folder "
            "that `wgan-parity aggregate --out` wrote"
        )
        return USAGE_ERROR
    if args.truth_rows_only and not args.rejudge:
        say("--truth-rows-only rewrites the pairs table: pass --rejudge with it")
        return USAGE_ERROR
    try:
        ctx = context(folder, args, say)
    except (thresholds.ThresholdsError, calibration.CalibrationError) as exc:
        say(str(exc))
        return USAGE_ERROR
    written: List[Path] = writers.write_all(ctx)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
