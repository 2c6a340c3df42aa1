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

``--precision bfloat16`` (repeatable) runs it all again at that precision, in ``OUT/<precision>``,
and the table gets a ``precision`` column: which bugs a reduced-precision run still sees.

Exit codes: 0 every bug detected in some mode at float32 and no false alarm at any precision;
1 some bug escaped in every mode at float32, or a clean env raised a false alarm; 4 a bug's dump
failed (the rest is scored); 2 usage error or a clean dump failed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from wgan_parity import frameworks
from wgan_parity.core.precision import PRECISIONS
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
    parser.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        default=[],
        help="run every dump, bug and clean, at this precision (repeatable; default float32); "
        "the table gets one block of rows per precision. At a reduced precision a bug it "
        "cannot see is reported, not an error: false alarms still are",
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
    import pandas as pd

    from wgan_parity.commands.selftest_plan import SelftestError
    from wgan_parity.commands.selftest_run import Options
    from wgan_parity.commands.selftest_run import run as run_selftest
    from wgan_parity.report.selftest_text import markdown, write_combined

    def say(line: str) -> None:
        print(f"wgan-parity selftest: {line}", file=sys.stderr, flush=True)

    pythons = {
        name: getattr(args, f"{name}_python")
        for name in frameworks.names()
        if getattr(args, f"{name}_python")
    }
    precisions = list(dict.fromkeys(args.precision or ["float32"]))
    options = Options(
        out=args.out,
        bugs=args.bugs,
        cases=args.cases,
        dumps=args.dumps,
        pythons=pythons,
        jobs=args.jobs,
        reuse=args.reuse,
    )
    tables, lines, failures = [], [], {}
    try:
        for precision in precisions:
            at = replace(
                options,
                out=args.out if precision == "float32" else args.out / precision,
                precision=precision,
            )
            found, said, failed = run_selftest(at, say)
            found.insert(0, "precision", precision)
            tables.append(found)
            lines += [f"{precision}: {line}" for line in said]
            failures.update({f"{precision}/{k}": v for k, v in failed.items()})
    except SelftestError as exc:
        say(str(exc))
        return USAGE_ERROR
    table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    if len(tables) > 1:
        write_combined(args.out, table, lines)
    print(markdown(table, lines))
    folder = args.out if len(precisions) > 1 or precisions == ["float32"] else at.out
    print(f"wrote {folder / 'selftest.csv'}, {folder / 'selftest.md'}")
    bugs = table[~table["bug"].str.startswith("(")]
    strict = bugs[bugs["precision"] == "float32"]  # reduced precision: what it sees, reported
    escaped = set(strict["bug"]) - set(strict[strict["detected"] == "yes"]["bug"])
    alarms = int(table[table["bug"].str.startswith("(")]["hits"].sum())
    return (1 if escaped or alarms else 0) | (4 if failures else 0)
