"""``wgan-parity lock``: re-resolve ``locks/<env_id>.txt`` with uv (what ``nox -s lock`` runs).

    wgan-parity lock                     # every env of matrix.toml and the report env
    wgan-parity lock --env tf-2.21.0     # one env (--set NAME, --tags T: some)

Standard library only: noxfile.py calls it before any framework is installed.
"""

from __future__ import annotations

import argparse
import sys

from wgan_parity.commands.run import add_selection_arguments, selection_of
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import locks
from wgan_parity.matrix.envtable import TableError, load_table
from wgan_parity.matrix.pipeline import RunOptions
from wgan_parity.matrix.runner import lock_envs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    add_selection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Lock the selection; 4 when some lock could not be resolved, 2 on a table error."""
    try:
        table = load_table(args.table)
        opts = RunOptions(dump_dir=table.root / "dumps", envs_dir=table.root / args.envs_dir)
        return lock_envs(table, selection_of(args), opts)
    except (TableError, locks.LockError) as exc:
        print(f"wgan-parity lock: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
