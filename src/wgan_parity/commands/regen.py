"""``wgan-parity regen``: rewrite a file generated from the project's own data.

    wgan-parity regen tox-ini                 # tox.ini from matrix.toml
    wgan-parity regen parity-tensors          # tests/data/parity_tensors.json from the catalog
    wgan-parity regen noise-tables            # src/wgan_parity/data/noise (three reference dumps)
    wgan-parity regen tox-ini --check         # exit 1 when the file is out of date, write nothing

The files are found next to matrix.toml (the checkout); the tests that fail when one drifts name
the command that fixes it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional

from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix.envtable import EnvTable, TableError, load_table

STALE = 1  # --check: the file is out of date (what `git diff --exit-code` says)
NOISE_TABLES = Path("src") / "wgan_parity" / "data" / "noise"  # in the checkout

TARGETS = {
    "tox-ini": "tox.ini, from matrix.toml",
    "parity-tensors": "tests/data/parity_tensors.json: each case's tensors, the parity test ids",
    "noise-tables": "src/wgan_parity/data/noise: one measuring reference dump per computing stack",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "target",
        choices=sorted(TARGETS),
        help="; ".join(f"{name}: {text}" for name, text in TARGETS.items()),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the file is out of date (tox-ini, parity-tensors)",
    )
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="matrix.toml of the checkout (default: found from the current folder upwards)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="noise-tables: the Python that dumps (with the package, NumPy and autograd)",
    )


def run(args: argparse.Namespace) -> int:
    """Regenerate (or ``--check``) ``args.target``; 0 written or current, 1 stale, 2 usage."""
    try:
        table = load_table(args.table)
    except TableError as exc:
        print(f"wgan-parity regen: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    if args.target == "tox-ini":
        return _tox_ini(table, args.check)
    if args.target == "parity-tensors":
        return _parity_tensors(table.root, args.check)
    if args.check:
        print(
            "wgan-parity regen noise-tables: --check is not offered (it would take three "
            "reference dumps); run it without --check to rewrite the tables",
            file=sys.stderr,
        )
        return int(ExitCode.USAGE)
    from wgan_parity.dump import noise_regen

    return noise_regen.regenerate(table.root / NOISE_TABLES, args.python)


def _tox_ini(table: EnvTable, check: bool) -> int:
    from wgan_parity.matrix import toxgen

    def write() -> str:
        return f"wrote {toxgen.write(table)} ({len(table.envs)} dump envs)"

    return _check_or_write(check, lambda: toxgen.stale(table), write)


def _parity_tensors(root: Path, check: bool) -> int:
    from wgan_parity.dump import tensor_names

    path = root / tensor_names.TENSORS_FILE

    def write() -> str:
        return f"wrote {path} ({len(tensor_names.write(path))} cases)"

    return _check_or_write(check, lambda: tensor_names.drift(path), write)


def _check_or_write(check: bool, stale: Callable[[], Optional[str]],
                    write: Callable[[], str]) -> int:  # fmt: skip
    """``--check``: say why the file is stale (exit :data:`STALE`) or exit 0; else rewrite it."""
    if check:
        why = stale()
        if why:
            print(why, file=sys.stderr)
        return STALE if why else 0
    print(write(), file=sys.stderr)
    return 0
