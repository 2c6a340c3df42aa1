"""``wgan-parity baseline RESULTS_DIR --out DIR``: make a committable regression baseline.

Keeps the rows of ``RESULTS_DIR/pairs.csv`` against the float64 truth (gzip'd, reproducible
bytes), ``envs.csv``, ``bisect.csv`` and a ``baseline.json`` of where they came from. Check a later
run against it with ``nox -s compare -- --baseline DIR`` (or ``wgan-parity aggregate --baseline``).
No framework is imported and no dump is read.

``wgan-parity baseline --rejudge [--out DIR]`` re-derives the verdict columns of the baseline in
DIR with the current thresholds and calibration (after a change of the verdict), in place.

Exit codes: 0 written; 2 usage error (no results there, no reference env in them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wgan_parity.exitcodes import ExitCode

USAGE_ERROR = ExitCode.USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "results",
        type=Path,
        nargs="?",
        metavar="RESULTS_DIR",
        help="an aggregate's results folder (pairs.csv, envs.csv), e.g. results/default",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results/baseline"), help="default: results/baseline"
    )
    parser.add_argument(
        "--add",
        action="store_true",
        help="merge into the baseline in --out (e.g. another CPU ISA's rows): rows of the same "
        "env and kernel ISA are replaced, the rest kept",
    )
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="instead of reading RESULTS_DIR: re-derive the verdict columns of the baseline in "
        "--out with the current thresholds and calibration, in place",
    )


def run(args: argparse.Namespace) -> int:
    """Write the baseline; return the exit code."""
    from wgan_parity.report import baseline

    if args.rejudge:
        return _rejudge(args.out)
    if args.results is None:
        print(
            "wgan-parity baseline: expected RESULTS_DIR (an aggregate's results folder) or "
            "--rejudge, found neither",
            file=sys.stderr,
        )
        return USAGE_ERROR
    try:
        written = baseline.write(args.results, args.out, add=args.add)
    except baseline.BaselineError as exc:
        print(f"wgan-parity baseline: {exc}", file=sys.stderr)
        return USAGE_ERROR
    meta = baseline.read_meta(args.out)
    print(
        f"baseline {args.out}: {meta['rows']} rows against `{meta['truth']}` "
        f"(of {meta['rows_in_source']}), {len(meta['envs'])} envs, ISAs "
        f"{', '.join(meta.get('isas') or ['unrecorded'])}; wrote "
        + ", ".join(p.name for p in written)
    )
    return 0


def _rejudge(folder: Path) -> int:
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.report import baseline

    try:
        changed = baseline.rejudge(folder, thresholds.load(), calibration.load())
    except (
        baseline.BaselineError,
        thresholds.ThresholdsError,
        calibration.CalibrationError,
    ) as exc:
        print(f"wgan-parity baseline: {exc}", file=sys.stderr)
        return USAGE_ERROR
    moves = ", ".join(f"{k}: {n}" for k, n in sorted(changed.items())) or "none"
    print(f"baseline {folder}: verdicts re-derived; rows that changed status: {moves}")
    return 0
