"""``wgan-parity merge``: join the parts of every shard into one result set.

Takes the parts that ``wgan-parity aggregate --partial`` wrote for shards 1..N of the same dumps
(files, or folders holding ``*.npz`` parts) and writes into ``--out`` exactly what one
``wgan-parity aggregate`` of the unsplit dumps writes: ``pairs.csv``, the matrices, ``envs.csv``,
``cases.csv``, ``bisect.csv``, ``steps.csv``, the baseline check, the heatmaps and
``summary.md``. Nothing is compared again. The exit codes are ``aggregate``'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List

from wgan_parity.commands import aggregate
from wgan_parity.exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options (``aggregate``'s report options, same meaning)."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("parts", nargs="+", type=Path, metavar="PART_OR_DIR", help="parts to join")
    parser.add_argument("--out", required=True, type=Path, help="folder for the results")
    parser.add_argument("--thresholds", type=Path, default=None, help="as for aggregate")
    parser.add_argument("--calibration", default=None, metavar="FILE|none", help="as for aggregate")
    parser.add_argument(
        "--matrix",
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC",
        help="as for aggregate",
    )
    parser.add_argument(
        "--seed-report",
        nargs=2,
        metavar=("ENV_A", "ENV_B"),
        default=None,
        help="as for aggregate: a seed-README-style text report for this pair",
    )
    parser.add_argument(
        "--baseline", type=Path, default=None, metavar="DIR", help="as for aggregate"
    )


def _files(inputs: List[Path]) -> List[Path]:
    files: List[Path] = []
    for item in inputs:
        files += sorted(item.glob("*.npz")) if item.is_dir() else [item]
    return files


def run(args: argparse.Namespace) -> int:
    """Merge; return the exit code of ``aggregate``."""
    from wgan_parity import atomic
    from wgan_parity.compare import calibration, partial, thresholds
    from wgan_parity.compare.aggregate import AggregateError
    from wgan_parity.report import baseline as baselines

    def say(line: str) -> None:
        print(f"wgan-parity merge: {line}", file=sys.stderr, flush=True)

    problem = aggregate.matrix_problem(args.matrix) or atomic.writable_folder(args.out)
    if problem:
        say(problem)
        return ExitCode.USAGE
    try:
        th = thresholds.load(args.thresholds)
        source = calibration.optional(args.calibration).source
        if args.baseline is not None:
            baselines.pairs_file(args.baseline)
        files = _files(args.parts)
        parts = [partial.load(path) for path in files]
        expected = aggregate.verdict_inputs(args.thresholds, args.calibration)
        for part in parts:
            if dict(part.judged_by) != expected:
                raise partial.PartError(
                    f"{part.file} was judged with other thresholds or calibration than this merge "
                    f"({part.judged_by} vs {expected}): pass the same --thresholds and "
                    "--calibration to every shard's aggregate and to merge"
                )
        found = partial.merge(parts, args.seed_report)
    except (
        partial.PartError,
        AggregateError,
        thresholds.ThresholdsError,
        calibration.CalibrationError,
        baselines.BaselineError,
        OSError,
    ) as exc:
        say(str(exc))
        return ExitCode.USAGE
    for message in found.messages:
        say(message)
    say(f"{len(parts)} parts merged: {len(found.rows)} rows")
    return aggregate.publish(found, args, th, source, say)
