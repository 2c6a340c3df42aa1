"""``wgan-parity run``: dump a selection of matrix.toml's envs, each in its own venv; aggregate.

    wgan-parity run                                  # the default set, then results/
    wgan-parity run --set releases --delete-venvs --prune-cache --out results/releases
    wgan-parity run --dump-only --env tf-2.21.0      # one env's dump only (a CI job)

What ``nox -s compare`` and ``nox -s "dump(<id>)"`` run (and tox's ``compare`` and ``dump-<id>``).
Each env is locked (``locks/<id>.txt``), installed under ``.wgan-parity/envs/``, and dumped with
``wgan-parity dump`` into ``dumps/``; a dump is reused while nothing it depends on changed. An
env that fails is recorded and the others still run. Standard library only: noxfile.py calls it
before any framework is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from wgan_parity.core import isa
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import locks
from wgan_parity.matrix.envtable import TableError, load_table
from wgan_parity.matrix.install import DEFAULT_MIN_FREE_GB
from wgan_parity.matrix.pipeline import RunOptions
from wgan_parity.matrix.runner import AggregateOptions, Selection, run_selection


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--set``, ``--tags``, ``--env`` and ``--table``: which envs (shared with ``lock``)."""
    parser.add_argument("--set", default=None, help="named set from matrix.toml (default: default)")
    parser.add_argument(
        "--tags", action="append", default=[], help="envs with any of these tags (comma-separated)"
    )
    parser.add_argument("--env", action="append", default=[], help="this env id (repeatable)")
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="matrix.toml (default: found from the current folder upwards)",
    )
    parser.add_argument("--envs-dir", default=".wgan-parity/envs", help="where venvs go")


def selection_of(args: argparse.Namespace, max_isa: Optional[str] = None) -> Selection:
    """The :class:`~wgan_parity.matrix.runner.Selection` the options name."""
    tags = tuple(t for group in args.tags for t in group.split(",") if t)
    return Selection(args.set, tags, tuple(args.env), max_isa)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_selection_arguments(parser)
    parser.add_argument(
        "--dump-only", action="store_true", help="the dumps only, no aggregation (`nox -s dump`)"
    )
    parser.add_argument(
        "--dump-dir",
        default="dumps",
        help="where dumps go, relative to the project root (default: dumps)",
    )
    parser.add_argument("--no-cache", action="store_true", help="re-run dumps even if unchanged")
    parser.add_argument(
        "--locked",
        action="store_true",
        help="fail an env whose lock is missing or stale instead of re-locking it",
    )
    parser.add_argument(
        "--delete-venvs", action="store_true", help="delete each venv right after its dump"
    )
    parser.add_argument(
        "--prune-cache",
        action="store_true",
        help="after each dump, drop from uv's cache what no later env needs",
    )
    parser.add_argument(
        "--min-free-gb",
        type=float,
        default=DEFAULT_MIN_FREE_GB,
        help=f"free disk (GiB) to keep on top of an env's size (default {DEFAULT_MIN_FREE_GB:g})",
    )
    parser.add_argument("--timeout-s", type=float, default=None, help="per-dump time limit")
    parser.add_argument(
        "--install-ahead",
        type=int,
        default=1,
        help="envs locked and installed while one dumps (default 1; 0: one at a time)",
    )
    parser.add_argument("--plain", action="store_true", help="no progress bar, plain lines only")
    parser.add_argument(
        "--max-isa",
        choices=sorted(isa.CAP_SETTINGS),
        default=None,
        help="cap every env's CPU kernels at this ISA (`wgan-parity dump --max-isa`) unless "
        "its row sets its own: runners of different CPUs then compute the same thing (CI)",
    )
    parser.add_argument(
        "--out", default="results", help="aggregator output, relative to the project root"
    )
    parser.add_argument("--baseline", default=None, help="baseline results folder to check")
    parser.add_argument(
        "--aggregate-arg",
        dest="aggregate_args",
        action="append",
        default=[],
        help="extra argument passed to `wgan-parity aggregate` (repeatable)",
    )


def options_of(root: Path, args: argparse.Namespace) -> RunOptions:
    """The runner's options (paths relative to the project root ``root``)."""
    return RunOptions(
        dump_dir=root / args.dump_dir,
        envs_dir=root / args.envs_dir,
        use_cache=not args.no_cache,
        locked=args.locked,
        delete_venvs=args.delete_venvs,
        prune_cache=args.prune_cache,
        min_free_gb=args.min_free_gb,
        timeout_s=args.timeout_s,
        install_ahead=args.install_ahead,
    )


def run(args: argparse.Namespace) -> int:
    """Dump (and aggregate) the selection; 2 on a table or lock error."""
    try:
        table = load_table(args.table)
        then = None
        if not args.dump_only:
            baseline = Path(args.baseline) if args.baseline else None
            then = AggregateOptions(Path(args.out), baseline, tuple(args.aggregate_args))
        opts = options_of(table.root, args)
        chosen = selection_of(args, args.max_isa)
        return run_selection(table, chosen, opts, then, plain=args.plain)
    except (TableError, locks.LockError) as exc:
        print(f"wgan-parity run: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
