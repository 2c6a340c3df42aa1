"""Command-line front end: each subcommand lives in ``wgan_parity.commands.<name>``.

Only the chosen command's module is imported, so ``wgan-parity aggregate`` never pays for
(or depends on) what ``dump`` needs.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import tempfile
import traceback
from typing import Optional, Sequence

from wgan_parity import __version__
from wgan_parity.exitcodes import ExitCode
from wgan_parity.invocation import argv

__all__ = ["COMMANDS", "argv", "build_parser", "main"]

# name -> (module, one-line help); each module defines
# ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "dump": ("wgan_parity.commands.dump", "run the case catalog on one backend, write one .npz"),
    "aggregate": (
        "wgan_parity.commands.aggregate",
        "compare every pair of dumps; write the CSVs, summary, verdict and report",
    ),
    "shard": ("wgan_parity.commands.shard", "split dumps into case shards (sharded aggregation)"),
    "merge": ("wgan_parity.commands.merge", "join the shards' aggregate parts into one result set"),
    "check-port": (
        "wgan_parity.commands.check_port",
        "run the probe cases on a port in seconds: coverage, cut gradients, first divergent tap",
    ),
    "report": (
        "wgan_parity.commands.report",
        "redraw a results folder from its pairs table (--rejudge: judge it again first)",
    ),
    "baseline": (
        "wgan_parity.commands.baseline",
        "keep a results folder's rows against the truth as a regression baseline",
    ),
    "calibrate": (
        "wgan_parity.commands.calibrate",
        "keep the clean releases' errors per tensor and kernels (the clean limits' calibration)",
    ),
    "run": (
        "wgan_parity.commands.run",
        "dump a set of matrix.toml's envs, each in its own venv, then aggregate "
        "(--dump-only: the dumps only); what `nox -s compare` runs",
    ),
    "lock": ("wgan_parity.commands.lock", "re-resolve locks/<env_id>.txt with uv"),
    "matrix": ("wgan_parity.commands.matrix", "list the envs of a set (--json: CI matrix)"),
    "regen": (
        "wgan_parity.commands.regen",
        "rewrite a generated file: tox.ini, the parity test ids or the noise tables "
        "(--check: exit 1 when stale)",
    ),
    "repro": (
        "wgan_parity.commands.repro",
        "write a standalone script that reproduces one row, shrunk while it still diverges",
    ),
    "selftest": (
        "wgan_parity.commands.selftest",
        "plant known bugs, compare, and score detection, blame and localization",
    ),
}


#: Errors of the machine, not of the tool, when an output is written: exit 4, not 3.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


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
    """Parse ``argv`` and run the chosen command; return its exit code.

    An unexpected exception is an internal error: one line on stderr, the traceback in a log
    file, and exit 8 (:class:`~wgan_parity.exitcodes.ExitCode`), never Python's 1, which CI
    would read as "diverged".
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    try:
        return int(args._module.run(args))
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            return _internal_error(command, exc)
        print(
            f"wgan-parity {command}: cannot write {exc.filename or 'an output'}: {exc.strerror}. "
            "Free space or choose another --out, then re-run; the input dumps are untouched.",
            file=sys.stderr,
        )
        return int(ExitCode.ENV_PROBLEM)
    except Exception as exc:
        return _internal_error(command, exc)


def _internal_error(command: Optional[str], exc: BaseException) -> int:
    """One line on stderr, the traceback in a log, exit 8."""
    log = _crash_log(command or "wgan-parity")
    print(
        f"wgan-parity {command}: internal error ({type(exc).__name__}: {exc}); nothing was "
        f"decided about the numbers. Traceback: {log}. Please report it with that file.",
        file=sys.stderr,
    )
    return int(ExitCode.INTERNAL)


def _crash_log(command: str) -> str:
    """Write the current exception's traceback to a temporary file; return its path."""
    text = traceback.format_exc()
    with tempfile.NamedTemporaryFile(
        "w", prefix=f"wgan-parity-{command}-", suffix=".log", delete=False, encoding="utf-8"
    ) as fh:
        fh.write(text)
    return fh.name


if __name__ == "__main__":
    sys.exit(main())
