"""``wgan-parity calibrate RESULTS_OR_BASELINE --out FILE``: the clean-release calibration.

Reads a results folder or a baseline (``pairs.csv``/``pairs.csv.gz`` and ``envs.csv``) and keeps,
per (case, tensor, kernel configuration), the largest error against the float64 truth of its
clean built-in TensorFlow and PyTorch envs: what good float32 implementations achieve
(docs/verdict.md, "clean limit"). The committed ``data/calibration.csv.gz`` is made this way from
``results/baseline``; a test fails when the two drift apart. No framework is imported.

Exit codes: 0 written; 2 usage error (no results there, no reference env in them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wgan_parity.exitcodes import ExitCode

USAGE_ERROR = ExitCode.USAGE
COMMITTED_SETS = ("releases", "switches")  # `wgan-parity calibrate results/baseline --sets ...`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "results",
        type=Path,
        metavar="RESULTS_DIR",
        help="a results folder or baseline (pairs.csv[.gz] and envs.csv), e.g. results/baseline",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the file to write (default: the package's data/calibration.csv.gz)",
    )
    parser.add_argument(
        "--sets",
        nargs="+",
        default=None,
        metavar="SET",
        help="only envs of these matrix.toml sets set clean limits (the committed calibration: "
        f"{' '.join(COMMITTED_SETS)}; the era's older releases are checked against the baseline "
        "but must not loosen the limits of current ones); default: every env",
    )


def run(args: argparse.Namespace) -> int:
    """Write the calibration; return the exit code."""
    from wgan_parity import atomic
    from wgan_parity.compare import calibration
    from wgan_parity.report import calibration_table, resultset

    path = resultset.pairs_path(args.results)
    if path is None:
        print(
            f"wgan-parity calibrate: expected pairs.csv or pairs.csv.gz in {args.results}, found "
            "neither; pass a results folder (`aggregate --out`) or a baseline",
            file=sys.stderr,
        )
        return USAGE_ERROR
    raw = resultset.read_pairs(path)
    envs = resultset.read_envs(args.results)
    truth = resultset.from_frames(raw, envs, args.results).truth
    if not truth:
        print(
            f"wgan-parity calibrate: {args.results} has no float64 reference env; the "
            "calibration is made of errors against it: aggregate a set that includes `reference`",
            file=sys.stderr,
        )
        return USAGE_ERROR
    if args.sets:
        from wgan_parity.matrix.envtable import TableError, load_table

        try:
            table_envs = load_table()
            chosen = {env.id for name in args.sets for env in table_envs.in_set(name)}
        except TableError as exc:
            print(
                f"wgan-parity calibrate: --sets {' '.join(args.sets)}: expected sets of the "
                f"project's matrix.toml, found an error: {exc}; run it from the project folder",
                file=sys.stderr,
            )
            return USAGE_ERROR
        envs = envs[envs["env"].isin(chosen) | (envs["role"] == "truth")]
    table = calibration_table.derive(raw, envs, truth)
    out = args.out or calibration.DEFAULT_FILE
    atomic.write_bytes(out, calibration_table.to_bytes(table))
    kernels = sorted(set(table["kernels"]))
    print(
        f"wrote {out}: {len(table)} tensors x kernels, from {table['envs'].max()} envs at most; "
        f"kernels: {', '.join(kernels)}"
        + (f"; envs of sets {', '.join(args.sets)}" if args.sets else "")
    )
    return 0
