"""``wgan-parity aggregate``: compare every pair of dumps and write the CSV tables.

Reads ``.npz`` dumps and ``<env_id>.status.json`` failure records (a directory stands for every
such file in it), compares every pair of compatible dumps plus every dump against the float64
reference on every (case, tensor), and writes into ``--out``: ``pairs.csv``, ``matrix_cosine.csv``
(and ``matrix_<metric>.csv`` for each ``--matrix``), ``envs.csv``, and with ``--seed-report A B``
``seed_report_<A>_vs_<B>.txt``. The verdict rule is in :mod:`wgan_parity.compare.verdict`.

Exit codes (bits, so 5 = both):
  0  everything was compared and nothing diverged;
  1  some row is diverged, shape-mismatch or non-finite (rows covered by a ``known`` rule excepted);
  4  some environment failed, or a dump was refused (corrupt, unknown schema, other catalog), or a
     case failed / a tensor is missing in a dump;
  2  usage error: bad arguments, an unreadable thresholds file, unknown labels, no input at all.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

from wgan_parity.exitcodes import ExitCode

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
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for the CSV files (created)"
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


def _resolve(label: str, labels: List[str], truth: str) -> str:
    if label in labels:
        return label
    if label == "reference" and truth:
        return truth
    raise KeyError(label)


def run(args: argparse.Namespace) -> int:
    """Aggregate; return the exit code described in the module docstring."""
    _single_threaded_blas()
    from wgan_parity import atomic
    from wgan_parity.commands import report
    from wgan_parity.compare import calibration, dumpset, localize, thresholds, verdict
    from wgan_parity.compare import rows as compare
    from wgan_parity.report import baseline as baselines
    from wgan_parity.report import seedreport, tables

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
    bad = [
        m
        for m in args.matrix
        if m not in compare.COLUMNS or m in {"case", "tensor", "env_a", "env_b"}
    ]
    if bad:
        say(f"unknown --matrix column(s) {bad}; choose from {list(compare.COLUMNS[4:])}")
        return USAGE_ERROR
    missing = [str(p) for p in args.inputs if not p.exists()]
    if missing:
        say(f"no such file or folder: {', '.join(missing)}")
        return USAGE_ERROR
    unwritable = atomic.writable_folder(args.out)  # before the long part, not after it
    if unwritable:
        say(unwritable)
        return USAGE_ERROR
    dumps = dumpset.load(args.inputs)
    try:
        if len(dumps.envs) < 2:
            found = ", ".join(e.file for e in dumps.envs) or "none"
            say(
                "expected at least two dumps (or status records) to compare, e.g. the reference "
                f"and one framework, in {[str(p) for p in args.inputs]}; found {found}"
            )
            return USAGE_ERROR
        for message in dumps.messages:
            say(message)
        labels = [e.label for e in dumps.compared]
        truth = dumps.reference.label if dumps.reference else ""
        pair = None
        if args.seed_report:
            try:
                pair = tuple(_resolve(x, labels, truth) for x in args.seed_report)
            except KeyError as exc:
                say(f"--seed-report: no compared environment is labelled {exc}; labels: {labels}")
                return USAGE_ERROR
        table = tables.PairTable()
        progress = None if args.quiet else (lambda line: say(line))
        rows_out = compare.compare(
            dumps, th, jobs=max(1, args.jobs), progress=progress, calibration=calib
        )
        for rows in localize.annotated(rows_out):  # where each divergence starts
            table.add(rows)
    finally:
        dumps.close()
    out: Path = args.out
    written = [tables.write_pairs(table, out / "pairs.csv")]
    for metric in dict.fromkeys(["cosine_distance", *args.matrix]):
        written.append(tables.write_matrix(table, metric, out))
    written.append(tables.write_envs(dumps.envs, dumps.reference, out / "envs.csv"))
    if pair is not None:
        text = seedreport.render(table.records(*pair), *pair, seed_cosine=th.seed_cosine)
        written.append(atomic.write_text(out / seedreport.file_name(*pair), text))
    from wgan_parity.report import results

    envs = tables.env_frame(dumps.envs, dumps.reference)
    current = results.from_frames(table.frame, envs, out)  # the rows flow on in memory
    regressed = _regressions(args.baseline, out, th, written, say, current)
    say(f"clean limits from {calib.source} and this run's built-in envs")
    if regressed < 0:
        return USAGE_ERROR
    written += report.after_aggregate(out, th, current, say)  # never costs the CSVs
    df = table.frame
    divergent = df[
        [
            verdict.is_divergence(s, k if isinstance(k, str) else "")
            for s, k in zip(df["status"], df["known"])
        ]
    ]
    problems = [e for e in dumps.envs if e.status != "ok"]
    env_rows = df["status"].map(verdict.is_env_problem)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(table.status_counts().items())) or "no rows"
    print(f"{len(dumps.compared)} dumps compared ({len(problems)} not), {len(df)} rows: {counts}")
    for row in divergent.head(20).itertuples():
        print(
            f"  {row.status}: {row.case}/{row.tensor} {row.env_a} vs {row.env_b}"
            + (f" (blame {row.blame})" if row.blame else "")
        )
    if len(divergent) > 20:
        print(f"  ... and {len(divergent) - 20} more rows in pairs.csv")
    removed = atomic.replace_outputs(out, written)
    print("wrote " + ", ".join(str(p) for p in written))
    if removed:
        print("removed from an earlier run into the same --out: " + ", ".join(removed))
    diverged = len(divergent) or regressed
    return (DIVERGED if diverged else 0) | (ENV_PROBLEM if problems or env_rows.any() else 0)


def _regressions(
    baseline: Optional[Path], out: Path, th: Any, written: List[Path], say: Any, current: Any
) -> int:
    """Write bisect.csv, steps.csv (and regressions.csv + baseline_check.json against ``baseline``);
    return the number of regressions, or -1 when ``baseline`` is not a baseline folder."""
    from wgan_parity.report import baseline as baselines
    from wgan_parity.report import regress, tables

    written.append(tables.write_csv(regress.bisect(current), out / "bisect.csv"))
    written.append(tables.write_csv(regress.steps(current), out / "steps.csv"))
    check = out / baselines.CHECK
    if baseline is None:
        check.unlink(missing_ok=True)  # a check of an earlier run no longer applies
        (out / "regressions.csv").unlink(missing_ok=True)
        return 0
    try:
        base = baselines.load(baseline)
    except baselines.BaselineError as exc:
        say(str(exc))
        return -1
    pairs = current.pairs.assign(isa=regress.isa_column(current.pairs, current.envs, current.truth))
    found = regress.regressions(pairs, base, th, current.traits())
    written.append(tables.write_csv(found, out / "regressions.csv"))
    counts = {**regress.coverage(pairs, base, current.truth), "regressed": len(found)}
    written.append(baselines.write_check(check, baseline, counts))
    say(
        f"baseline {baseline}: {counts['checked']} rows checked, {counts['regressed']} regressed; "
        f"{counts['other_isa']} rows have a baseline row of another kernel ISA only (judged by "
        f"the calibrated limits alone); {counts['new']} rows have no baseline row (new envs, or "
        "pairs of two framework envs: those are checked through each side's row against the truth)"
    )
    for env in counts["other_isa_envs"]:
        say(f"  no like-for-like baseline: {env}")
    for row in found.head(20).itertuples():
        print(f"  regressed: {row.case}/{row.tensor} {row.env_a} vs {row.env_b}: {row.reason}")
    return len(found)
