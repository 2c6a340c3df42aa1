"""The selftest end to end: plan, dump, aggregate, score, and write the table.

The plan is :mod:`~wgan_parity.commands.selftest_plan`, the dumps
:mod:`~wgan_parity.commands.selftest_dumps`, the scoring :mod:`wgan_parity.report.selftest`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

from wgan_parity.commands.selftest_dumps import (
    CLEAN,
    Job,
    Say,
    clean_sources,
    meta_of,
    run_dumps,
    subset_dump,
)
from wgan_parity.commands.selftest_plan import SelftestError, backend, load_bugs, plan, union
from wgan_parity.report.selftest import REFERENCE, Bug, score
from wgan_parity.report.selftest_text import markdown, totals

if TYPE_CHECKING:  # pandas only when scoring
    import pandas as pd


@dataclass
class Options:
    """What :func:`run` does; ``pythons`` maps a framework (and ``reference``) to a Python."""

    out: Path
    bugs: Sequence[str] = ()
    cases: Sequence[str] = ()
    dumps: Optional[Path] = None
    pythons: Mapping[str, str] = field(default_factory=dict)
    jobs: int = 1
    reuse: bool = False
    precision: str = "float32"  # every dump's, bug and clean: the reference measures its noise

    def dump_args(self, framework: str) -> Tuple[str, ...]:
        """The ``dump`` options that put ``framework``'s dump at :attr:`precision`."""
        if self.precision == "float32":
            return ()
        if framework == REFERENCE:
            return ("--noise-precision", self.precision)
        return ("--precision", self.precision)


def _subset_clean(options: Options, envs: Sequence[str], cases: Sequence[str]) -> Dict[str, Path]:
    """Framework -> its clean dump cut out of ``--dumps`` (those it holds)."""
    clean: Dict[str, Path] = {}
    reusable = options.dumps and options.precision == "float32"  # --dumps are float32 runs
    sources = clean_sources(options.dumps) if reusable and options.dumps else {}
    for framework in envs:
        if framework in sources:
            target = options.out / "dumps" / f"{CLEAN}{framework}.npz"
            if not (options.reuse and target.exists()):
                subset_dump(sources[framework], target, cases)
            clean[framework] = target
    return clean


def _jobs(
    options: Options,
    bugs: Sequence[Bug],
    planned: Mapping[str, Sequence[str]],
    missing: Sequence[str],
    cases: Sequence[str],
) -> List[Job]:
    """The dumps to run: the ``missing`` clean envs on ``cases``, and each bug on its own."""
    dumps = options.out / "dumps"
    python = sys.executable
    jobs = [
        Job(
            f"{CLEAN}{f}",
            f,
            options.pythons.get(f) or python,
            cases,
            dumps / f"{CLEAN}{f}.npz",
            options.dump_args(f),
        )
        for f in missing
    ]
    jobs += [
        Job(
            b.env_id,
            backend(b),
            options.pythons.get(b.base) or python,
            planned[b.name],
            dumps / f"{b.env_id}.npz",
            options.dump_args(b.base),
        )
        for b in bugs
    ]
    return [j for j in jobs if not (options.reuse and j.out.exists())]


def _same_catalog(inputs: Sequence[Path]) -> None:
    metas = {p: meta_of(p) for p in inputs}
    hashes = {str(m.get("catalog_hash")) for m in metas.values()}
    if len(hashes) > 1:
        listing = ", ".join(f"{p.name}={str(m.get('catalog_hash'))[:12]}" for p, m in metas.items())
        raise SelftestError(
            f"the dumps come from different catalogs ({listing}): the --dumps folder was made "
            "by another wgan-parity; rerun without --dumps"
        )


def _aggregate(options: Options, inputs: Sequence[Path], say: Say) -> Path:
    """``wgan-parity aggregate`` of ``inputs`` into OUT/results (kept under ``--reuse``)."""
    import contextlib

    from wgan_parity.cli import main as cli_main

    results = options.out / "results"
    done = results / "pairs.csv"
    newest = max(p.stat().st_mtime for p in inputs)
    if options.reuse and done.exists() and done.stat().st_mtime > newest:
        say(f"{done} is newer than every dump: not aggregated again (--reuse)")
    else:
        with open(options.out / "aggregate.log", "w") as log, contextlib.redirect_stdout(log):
            code = cli_main(["aggregate", *map(str, inputs), "--out", str(results), "--quiet"])
        if code == 2:
            raise SelftestError(f"wgan-parity aggregate refused the dumps; see {options.out}")
    return done


def run(options: Options, say: Say) -> Tuple[pd.DataFrame, List[str], Dict[str, str]]:
    """Dump, aggregate and score; write ``selftest.csv`` and ``selftest.md`` into ``out``.

    Returns the table, its summary lines and the failed dumps (label -> message).
    """
    import pandas as pd

    timings: Dict[str, float] = {}
    started = time.perf_counter()
    bugs = load_bugs(options.bugs)
    planned = plan(bugs, options.cases)
    if not planned:
        raise SelftestError(f"no bug touches a case matching {list(options.cases)}")
    bugs = [b for b in bugs if b.name in planned]
    cases = union(planned)
    envs = [REFERENCE, *sorted({b.base for b in bugs})]
    dumps = options.out / "dumps"
    dumps.mkdir(parents=True, exist_ok=True)
    say(f"{len(bugs)} bugs on {len(cases)} cases: {', '.join(cases)}")

    clean = _subset_clean(options, envs, cases)
    timings["subset clean dumps"] = time.perf_counter() - started
    jobs = _jobs(options, bugs, planned, [f for f in envs if f not in clean], cases)
    mark = time.perf_counter()
    failures = run_dumps(jobs, options.jobs, say)
    timings["dumps"] = time.perf_counter() - mark
    for framework in envs:
        clean.setdefault(framework, dumps / f"{CLEAN}{framework}.npz")
    if any(f"{CLEAN}{f}" in failures for f in envs):
        raise SelftestError(f"a clean dump failed: {failures}; see the logs in {dumps}")
    inputs = [clean[f] for f in envs]
    inputs += [p for b in bugs if b.env_id not in failures for p in [dumps / f"{b.env_id}.npz"]]
    _same_catalog(inputs)
    bases = {f: str(meta_of(clean[f])["env_id"]) for f in envs[1:]}
    reference = str(meta_of(clean[REFERENCE])["env_id"])

    mark = time.perf_counter()
    done = _aggregate(options, inputs, say)
    timings["aggregate"] = time.perf_counter() - mark

    mark = time.perf_counter()
    pairs = pd.read_csv(done, dtype=str, keep_default_na=False)
    table = score(pairs, bugs, bases, planned, reference)
    timings["score"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    lines = totals(table)
    lines.append(
        "runtime: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
    )
    if failures:
        lines.append("failed dumps: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    legend = [f"`{b.name}` ({b.base}): {b.summary}" for b in bugs]
    table.to_csv(options.out / "selftest.csv", index=False, float_format="%.6e")
    (options.out / "selftest.md").write_text(
        markdown(table, lines) + "\nBugs:\n\n" + "".join(f"- {line}\n" for line in legend)
    )
    return table, lines, failures
