"""Command-line front end: each subcommand lives in ``wgan_parity.commands.<name>``.

Only the chosen command's module is imported, so ``wgan-parity aggregate`` never pays for
(or depends on) what ``dump`` needs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Union

from wgan_parity import __version__

# name -> (module, one-line help); each module defines
# ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "dump": ("wgan_parity.commands.dump", "run the case catalog on one backend, write one .npz"),
    "aggregate": ("wgan_parity.commands.aggregate", "compare every pair of dumps, write CSVs"),
    "report": ("wgan_parity.commands.report", "redo summary.md and heatmaps from the CSVs"),
    "baseline": (
        "wgan_parity.commands.baseline",
        "keep a results folder's rows against the truth as a regression baseline",
    ),
    "matrix": ("wgan_parity.commands.matrix", "list the envs of a set (--json: CI matrix)"),
    "selftest": (
        "wgan_parity.commands.selftest",
        "plant known bugs, compare, and score detection, blame and localization",
    ),
}


def argv(
    command: str, *args: Union[str, Path], python: Union[str, Path] = sys.executable
) -> List[str]:
    """``python -m wgan_parity COMMAND ARGS...``: how the runner, tests and benches start one."""
    return [str(python), "-m", "wgan_parity", command, *map(str, args)]


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """Top-level parser; only ``command``'s module is imported to declare its options."""
    parser = argparse.ArgumentParser(
        prog="wgan-parity",
        description="Numerical parity of the WGAN-GP 64x64 ResNet across frameworks and releases.",
    )
    parser.add_argument("--version", action="version", version=f"wgan-parity {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    return int(args._module.run(args))


if __name__ == "__main__":
    sys.exit(main())
