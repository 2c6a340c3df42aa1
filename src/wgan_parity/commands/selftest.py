"""``wgan-parity selftest``: how many planted bugs does the comparison catch, blame and localize?

Dumps every planted-bug backend of ``wgan_parity.bugs`` on the cases it touches, next to clean
dumps of its base framework and the float64 reference on the same cases (or subsets of full
dumps given with ``--dumps``), aggregates them, and writes ``selftest.csv`` and ``selftest.md``
into ``--out`` (the table is printed too). The rule of each column is in
:mod:`wgan_parity.report.selftest`; the plan, the dumps and the run are
:mod:`~wgan_parity.commands.selftest_plan`, :mod:`~wgan_parity.commands.selftest_dumps` and
:mod:`~wgan_parity.commands.selftest_run`. Run it with a Python that has pandas; every dump
runs in a subprocess of ``--torch-python``/``--tf-python``/``--reference-python`` (default:
this one), with this process's ``wgan_parity`` first on PYTHONPATH.

Exit codes: 0 every bug detected in some mode and no false alarm; 1 some bug escaped in every
mode, or a clean env raised a false alarm; 4 a bug's dump failed (the rest is scored); 2 usage
error or a clean dump failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wgan_parity import frameworks
from wgan_parity.exitcodes import ExitCode

USAGE_ERROR = ExitCode.USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument(
        "--out", type=Path, default=Path("results/selftest"), help="output folder (created)"
    )
    parser.add_argument(
        "--bugs", nargs="+", default=[], metavar="NAME", help="only these bugs (default: all)"
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="only cases matching these globs, within what each bug touches (e.g. '*.probe')",
    )
    parser.add_argument(
        "--dumps",
        type=Path,
        default=None,
        metavar="DIR",
        help="reuse full-catalog dumps of the reference and the clean frameworks in DIR "
        "(their cases are copied out); what DIR lacks is dumped",
    )
    for framework in frameworks.all_frameworks():
        parser.add_argument(
            f"--{framework.short}-python",
            dest=f"{framework.name}_python",
            default=None,
            metavar="PATH",
            help=f"Python that can import {framework.import_module} (default: this one)",
        )
    parser.add_argument("--jobs", type=int, default=1, help="dumps run at a time (default 1)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep dumps already in OUT/dumps, and OUT/results/pairs.csv when newer than them "
        "(rescoring only: a changed bug module is not redumped)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the selftest; return the exit code described in the module docstring."""
    from wgan_parity.commands.selftest_plan import SelftestError
    from wgan_parity.commands.selftest_run import Options
    from wgan_parity.commands.selftest_run import run as run_selftest
    from wgan_parity.report.selftest_text import markdown

    def say(line: str) -> None:
        print(f"wgan-parity selftest: {line}", file=sys.stderr, flush=True)

    pythons = {
        name: getattr(args, f"{name}_python")
        for name in frameworks.names()
        if getattr(args, f"{name}_python")
    }
    options = Options(
        out=args.out,
        bugs=args.bugs,
        cases=args.cases,
        dumps=args.dumps,
        pythons=pythons,
        jobs=args.jobs,
        reuse=args.reuse,
    )
    try:
        table, lines, failures = run_selftest(options, say)
    except SelftestError as exc:
        say(str(exc))
        return USAGE_ERROR
    print(markdown(table, lines))
    print(f"wrote {args.out / 'selftest.csv'}, {args.out / 'selftest.md'}")
    bugs = table[~table["bug"].str.startswith("(")]
    escaped = set(bugs["bug"]) - set(bugs[bugs["detected"] == "yes"]["bug"])
    alarms = int(table[table["bug"].str.startswith("(")]["hits"].sum())
    return (1 if escaped or alarms else 0) | (4 if failures else 0)
