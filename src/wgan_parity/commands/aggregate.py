"""``wgan-parity aggregate``: compare every pair of dumps and write the CSV tables.

Reads ``.npz`` dumps and ``<env_id>.status.json`` failure records (a directory stands for every
such file in it), compares every pair of compatible dumps plus every dump against the float64
reference on every (case, tensor), and writes into ``--out``: ``pairs.csv``, ``matrix_cosine.csv``
(and ``matrix_<metric>.csv`` for each ``--matrix``), ``envs.csv``, ``cases.csv``, and with
``--seed-report A B`` ``seed_report_<A>_vs_<B>.txt``. The verdict rule is in
:mod:`wgan_parity.compare.verdict`. The work is :func:`wgan_parity.compare.aggregate.aggregate`;
:mod:`wgan_parity.report.writers` writes its result; this module parses, calls and prints.

Exit codes (bits, so 5 = both):
  0  everything was compared and nothing diverged;
  1  some row is diverged, shape-mismatch or non-finite (rows covered by a ``known`` rule excepted);
  4  some environment failed, or a dump was refused (corrupt, unknown schema, other catalog), or a
     case failed / a tensor is missing in a dump (a case a dump did not select is ``not-run``,
     not a problem);
  2  usage error: bad arguments, an unreadable thresholds file, unknown labels, no input at all;
  8  internal error of wgan-parity (a bug: nothing was decided about the numbers).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional, Sequence

from wgan_parity.exitcodes import ExitCode

if TYPE_CHECKING:  # pandas and NumPy are imported only when the command runs
    from wgan_parity.compare.aggregate import Aggregate
    from wgan_parity.compare.thresholds import Thresholds
    from wgan_parity.report.csvfiles import PairTable
    from wgan_parity.report.writers import Context

Say = Callable[[str], None]
USAGE_ERROR = ExitCode.USAGE
DIVERGED = ExitCode.DIVERGED
ENV_PROBLEM = ExitCode.ENV_PROBLEM


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = __doc__.split("Exit codes", 1)[1].join(("Exit codes", ""))
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="DUMP_OR_DIR",
        help=".npz dumps, .status.json records, or folders holding them",
    )
    parser.add_argument("--out", type=Path, help="folder for the CSV files (created)")
    parser.add_argument(
        "--partial",
        type=Path,
        default=None,
        metavar="PART",
        help="keep what one shard's aggregation found in the file PART (.npz) instead of writing "
        "reports; `wgan-parity merge` joins the parts of every shard (see `wgan-parity shard`)",
    )
    parser.add_argument(
        "--thresholds",
        type=Path,
        default=None,
        help="verdict thresholds TOML (default: the checked-in data/thresholds.toml)",
    )
    parser.add_argument(
        "--matrix",
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC",
        help="also write matrix_<METRIC>.csv for these pairs.csv columns (e.g. rel_l2 status)",
    )
    parser.add_argument(
        "--seed-report",
        nargs=2,
        metavar=("ENV_A", "ENV_B"),
        default=None,
        help="write a seed-README-style text report for this pair ('reference' = the truth)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="threads over blocks (default 1: NumPy's many short calls did not scale on 2 cores)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="DIR",
        help="a committed results folder: rows whose status worsened or whose error grew past "
        "the thresholds' regression_growth go to regressions.csv and set exit bit 1",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="FILE|none",
        help="clean-release calibration (default: the committed data/calibration.csv.gz, from "
        "`wgan-parity calibrate`); `none`: only this run's built-in envs calibrate each other",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        action="extend",
        default=[],
        metavar="GLOB",
        help="compare only the cases matching these globs (e.g. 'residual_*' '*.probe')",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _single_threaded_blas() -> None:
    """One BLAS thread per call, if NumPy is not loaded yet (an explicit setting wins).

    The engine's BLAS calls are small and interleaved with NumPy elementwise work (and with
    ``--jobs`` threads); a multi-threaded BLAS spinning beside them made the whole aggregation
    about 3x slower on a 2-core machine.
    """
    if "numpy" not in sys.modules:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")


def run(args: argparse.Namespace) -> int:
    """Aggregate; return the exit code described in the module docstring."""
    _single_threaded_blas()
    from wgan_parity import atomic
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.compare.aggregate import AggregateError, aggregate
    from wgan_parity.report import baseline as baselines

    def say(line: str) -> None:
        print(f"wgan-parity aggregate: {line}", file=sys.stderr, flush=True)

    try:
        th = thresholds.load(args.thresholds)
        calib = calibration.optional(args.calibration)
        if args.baseline is not None:  # fail before the long part, not after it
            baselines.pairs_file(args.baseline)
    except (
        thresholds.ThresholdsError,
        baselines.BaselineError,
        calibration.CalibrationError,
    ) as exc:
        say(str(exc))
        return USAGE_ERROR
    bad = matrix_problem(args.matrix)
    if bad:
        say(bad)
        return USAGE_ERROR
    if (args.out is None) == (args.partial is None):
        say("expected exactly one of --out DIR (reports) and --partial PART (one shard's part)")
        return USAGE_ERROR
    missing = [str(p) for p in args.inputs if not p.exists()]
    if missing:
        say(f"no such file or folder: {', '.join(missing)}")
        return USAGE_ERROR
    target = args.out if args.out is not None else args.partial.parent
    unwritable = atomic.writable_folder(target)  # before the long part, not after it
    if unwritable:
        say(unwritable)
        return USAGE_ERROR
    try:
        found = aggregate(
            args.inputs,
            th,
            calibration=calib,
            jobs=args.jobs,
            seed_pair=args.seed_report,
            cases=args.cases,
            progress=None if args.quiet else say,
            on_message=say,
        )
    except AggregateError as exc:
        say(str(exc))
        return USAGE_ERROR
    if args.partial is not None:
        from wgan_parity.compare import partial

        partial.save(found, args.partial, verdict_inputs(args.thresholds, args.calibration))
        counts = ", ".join(f"{k} {v}" for k, v in found.status_counts.items()) or "no rows"
        index, count = partial.shard_of(found)
        print(f"wrote {args.partial}: shard {index} of {count}, {len(found.rows)} rows ({counts})")
        return 0
    return publish(found, args, th, calib.source, say)


def matrix_problem(metrics: Sequence[str]) -> str:
    """Why ``--matrix`` cannot draw these pairs.csv columns ('' when it can)."""
    from wgan_parity.compare import pairschema

    allowed = [c for c in pairschema.COLUMNS if c not in pairschema.KEY]
    bad = [m for m in metrics if m not in allowed]
    return f"unknown --matrix column(s) {bad}; choose from {allowed}" if bad else ""


def verdict_inputs(
    thresholds_file: Optional[Path], calibration_file: Optional[str]
) -> Dict[str, str]:
    """SHA-256 of the thresholds and calibration that judged the rows (parts must agree)."""
    from wgan_parity.compare import calibration, thresholds

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    calib = calibration_file or str(calibration.DEFAULT_FILE)
    return {
        "thresholds": digest(Path(thresholds_file or thresholds.DEFAULT_FILE)),
        "calibration": "none" if calib == "none" else digest(Path(calib)),
    }


def judged_by(thresholds_file: Optional[Path], calibration_file: Optional[str]) -> Dict[str, str]:
    """The stamp of what judges the rows: the package, its commit, the thresholds and
    calibration (SHA-256)."""
    from wgan_parity import __version__
    from wgan_parity.dump.provenance import git_commit

    stamp = {"wgan_parity": __version__, "commit": git_commit() or ""}
    return {**stamp, **verdict_inputs(thresholds_file, calibration_file)}


def publish(
    found: Aggregate, args: argparse.Namespace, th: Thresholds, calib_source: str, say: Say
) -> int:
    """Write every output of ``found`` into ``args.out`` (the registry in
    :mod:`wgan_parity.report.writers`); return the exit code.

    Shared by ``aggregate`` and ``merge``: the same rows give the same files.
    """
    from wgan_parity import atomic
    from wgan_parity.report import baseline as baselines
    from wgan_parity.report import cases, csvfiles, resultset, writers

    out: Path = args.out
    table = csvfiles.PairTable.from_store(found.rows)
    envs = csvfiles.env_frame(found.envs, found.reference)
    res = resultset.from_frames(table.frame, envs, out, cases.from_infos(found.cases))
    ctx = writers.Context(
        res,
        th,
        found=found,
        table=table,
        matrices=args.matrix,
        baseline=args.baseline,
        judged=True,
        judged_by=judged_by(args.thresholds, args.calibration),
        say=say,
    )
    say(f"clean limits from {calib_source} and this run's built-in envs")
    try:
        written = writers.write_all(ctx)  # the rows flow on in memory, to every output
    except baselines.BaselineError as exc:
        say(str(exc))
        return USAGE_ERROR
    if args.baseline is not None:
        _say_baseline(args.baseline, ctx, say)
    _print_rows(found, table)
    removed = atomic.replace_outputs(out, written)
    print("wrote " + ", ".join(str(p) for p in written))
    if removed:
        print("removed from an earlier run into the same --out: " + ", ".join(removed))
    regressed = ctx.check.regressed if ctx.check is not None else 0
    diverged = found.diverged or regressed
    return (DIVERGED if diverged else 0) | (ENV_PROBLEM if found.env_problem else 0)


def _print_rows(found: Aggregate, table: PairTable) -> None:
    """The counts, and the first 20 divergent rows (the rest are in pairs.csv)."""
    counts = ", ".join(f"{k} {v}" for k, v in found.status_counts.items()) or "no rows"
    compared, problems = len(found.compared), len(found.problems)
    print(f"{compared} dumps compared ({problems} not), {len(table.frame)} rows: {counts}")
    for row in table.frame.iloc[list(found.divergent[:20])].itertuples():
        print(
            f"  {row.status}: {row.case}/{row.tensor} {row.env_a} vs {row.env_b}"
            + (f" (blame {row.blame})" if row.blame else "")
        )
    if len(found.divergent) > 20:
        print(f"  ... and {len(found.divergent) - 20} more rows in pairs.csv")


def _say_baseline(baseline: Path, ctx: Context, say: Callable[[str], None]) -> None:
    """What the baseline check found (stderr) and the first 20 regressed rows (stdout)."""
    check, found = ctx.check, ctx.regressions
    if check is None or found is None:
        return
    say(
        f"baseline {baseline}: {check.checked} rows checked, {check.regressed} regressed; "
        f"{check.other_isa} rows have a baseline row of another kernel ISA only (judged by "
        f"the calibrated limits alone); {check.new} rows have no baseline row (new envs, or "
        "pairs of two framework envs: those are checked through each side's row against the truth)"
    )
    for env in check.other_isa_envs:
        say(f"  no like-for-like baseline: {env}")
    for row in found.head(20).itertuples():
        print(f"  regressed: {row.case}/{row.tensor} {row.env_a} vs {row.env_b}: {row.reason}")
