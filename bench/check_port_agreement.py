"""Does ``check-port`` flag what the full aggregate flags, case for case? (issue #26)

    .nox/tests/bin/python bench/check_port_agreement.py
    .nox/tests/bin/python bench/check_port_agreement.py --bugs relu_leaky conv_kernel_flip

Every planted bug of :mod:`wgan_parity.bugs` is a user backend, so ``check-port`` can run it as
a port. The selftest (``wgan-parity selftest``) dumped each bug on the cases it touches and
aggregated them against the float64 reference; its full aggregate is
``results/selftest/results/pairs.csv`` (git-ignored: made locally by the selftest). For every
bug this script runs :func:`wgan_parity.commands.check_port.check` on exactly the cases the
selftest ran for it (the cases of the bug env's rows against the truth that are not
``not-run``), and compares per case:

- **full**: flagged when some row of the bug env against the truth is an unexplained divergence
  (:func:`verdict.is_divergence`: diverged, shape-mismatch or non-finite with no ``known``
  rule) or an env problem (:data:`verdict.ENV_PROBLEMS`: error, missing). This is the aggregate
  as a user reads it, not the selftest's stricter ``detected`` (which also drops rows its clean
  base shares);
- **check**: flagged when check-port's line for the case says ``diverged`` or ``error``
  (``not-run`` when check-port skipped the case: it runs none of the port's code).

``good_discriminator.*`` and ``gradient_penalty.*`` cases map to check-port's
``<block>.check`` cases, which run at batch 16 instead of the catalog's batch (the selftest
leaves those two blocks out as too slow, so none appears unless that changes).

Each bug's check runs in its own subprocess (the frameworks configure process-wide state), one
at a time. Prints a row per case as each bug finishes, then the table, the disagreements with
the rows behind them, and the totals. Exit 0 when every case agrees, 1 otherwise, 2 when the
selftest's aggregate is absent or a bug is unknown.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@check-port-agreement "
CHECK_BLOCKS = ("good_discriminator", "gradient_penalty")  # run at batch 16 as <block>.check
FLAGGED_STATES = ("diverged", "error")
MAKE_IT = (
    "make it with the selftest (about 10 minutes on 2 cores):\n"
    "    bash bench/selftest.sh\n"
    "or, with one Python that has pandas, torch and TensorFlow:\n"
    "    wgan-parity selftest --out results/selftest\n"
    "(add --torch-python/--tf-python/--reference-python PATH to dump with other Pythons, "
    "--dumps dumps/ to reuse full dumps of the clean frameworks)"
)


def check_name(case: str) -> str:
    """The check-port case that stands for the selftest's ``case``."""
    block = case.rsplit(".", 1)[0]
    return f"{block}.check" if block in CHECK_BLOCKS else case


# ---- the full aggregate ------------------------------------------------------------------


@dataclass
class FullCase:
    """One case of a bug env in the full aggregate: flagged, and the rows that flag it."""

    case: str
    flagged: bool = False
    rows: List[str] = field(default_factory=list)  # "tensor status err/limit" of flagged rows
    statuses: Dict[str, int] = field(default_factory=dict)


def truth_label(folder: Path) -> str:
    """The truth's env label from ``envs.csv`` (``reference`` when it does not say)."""
    envs = folder / "envs.csv"
    if envs.exists():
        with open(envs, newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("role") == "truth":
                    return row["env"]
    return "reference"


def read_full(pairs: Path, truth: str, envs: Sequence[str]) -> Dict[str, Dict[str, FullCase]]:
    """env -> case -> :class:`FullCase`, from the rows of each env against the truth."""
    from wgan_parity.compare import verdict

    wanted = set(envs)
    found: Dict[str, Dict[str, FullCase]] = {e: {} for e in envs}
    with open(pairs, newline="") as handle:
        for row in csv.DictReader(handle):
            a, b = row["env_a"], row["env_b"]
            if b == truth and a in wanted:
                env, side = a, "a"
            elif a == truth and b in wanted:
                env, side = b, "b"
            else:
                continue
            status = row["status"]
            if status == verdict.NOT_RUN:
                continue
            entry = found[env].setdefault(row["case"], FullCase(row["case"]))
            entry.statuses[status] = entry.statuses.get(status, 0) + 1
            known = row.get("known") or ""
            if verdict.is_divergence(status, known) or status in verdict.ENV_PROBLEMS:
                entry.flagged = True
                err, limit = row.get(f"err_{side}", ""), row.get(f"limit_{side}", "")
                entry.rows.append(f"{row['tensor']} {status} err {err} limit {limit}")
    return found


# ---- check-port ----------------------------------------------------------------------------


def worker(module: str, cases: Sequence[str]) -> int:
    """Run check() on ``cases`` and print its result as one marked JSON line."""
    from wgan_parity.commands.check_port import check

    try:
        result = check(module, cases)
        out = {
            "lines": result.lines,
            "code": result.code,
            "seconds": result.seconds,
            "printed": result.printed[-2000:],
        }
    except Exception as exc:  # reported, not raised: the bug's row says so
        out = {"failed": f"{type(exc).__name__}: {exc}"}
    print(MARK + json.dumps(out), flush=True)
    return 0


@dataclass
class CheckRun:
    """check() on one bug: per check case its state and line; or why it failed."""

    states: Dict[str, Tuple[str, str]]  # check case -> (state, line)
    code: Optional[int]
    seconds: float
    failed: str = ""
    head: List[str] = field(default_factory=list)  # lines naming no case ("not run: ...")


def parse_lines(lines: Sequence[str], cases: Sequence[str]) -> CheckRun:
    """Split check()'s lines into per-case states; the rest goes to ``head``."""
    states: Dict[str, Tuple[str, str]] = {}
    head: List[str] = []
    wanted = set(cases)
    last = ""
    for line in lines:
        name, _, rest = line.partition(": ")
        if not line.startswith(" ") and name in wanted:
            state = rest.split(";", 1)[0].split(":", 1)[0].strip()
            states[name] = (state, line)
            last = name
        elif line.startswith(" ") and last:  # "  error: gradient cut ..." under its case
            state, text = states[last]
            states[last] = (state, f"{text}\n{line}")
        else:
            head.append(line)
    return CheckRun(states, None, 0.0, head=head)


def run_check(module: str, cases: Sequence[str], timeout: float) -> CheckRun:
    """check() on ``cases`` of ``module`` in a subprocess of this Python."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", module, *cases]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
        )
    except subprocess.TimeoutExpired:
        return CheckRun({}, None, time.perf_counter() - started, f"timed out after {timeout:.0f}s")
    took = time.perf_counter() - started
    marked = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if not marked:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return CheckRun({}, None, took, f"worker exit {proc.returncode}: {tail}")
    result = json.loads(marked[-1][len(MARK) :])
    if "failed" in result:
        return CheckRun({}, None, took, result["failed"])
    parsed = parse_lines(result["lines"], cases)
    parsed.code, parsed.seconds = result["code"], took
    return parsed


# ---- comparing -----------------------------------------------------------------------------


@dataclass
class Row:
    """One case of one bug: what each side says."""

    bug: str
    case: str
    check_case: str
    full: bool
    check_state: str
    full_rows: List[str]
    check_line: str

    @property
    def check(self) -> bool:
        return self.check_state in FLAGGED_STATES

    @property
    def agree(self) -> bool:
        return self.full == self.check


def yes(flag: bool) -> str:
    return "flagged" if flag else "-"


def table(rows: Sequence[Row]) -> List[str]:
    """The per-case table as aligned text."""
    header = ("bug", "case", "check case", "full", "check", "agree")
    body = [
        (
            r.bug,
            r.case,
            r.check_case if r.check_case != r.case else "",
            yes(r.full),
            f"{yes(r.check)} ({r.check_state})",
            "yes" if r.agree else "NO",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*b) for b in body
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bugs", nargs="+", default=[], metavar="NAME", help="only these bugs")
    parser.add_argument(
        "--selftest",
        type=Path,
        default=ROOT / "results" / "selftest",
        metavar="DIR",
        help="the selftest's --out folder, holding results/pairs.csv (default results/selftest)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds per bug's check (default 1800)"
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker[0], args.worker[1:])

    from wgan_parity import bugs as bug_package
    from wgan_parity.commands import selftest_plan
    from wgan_parity.core.catalog import CATALOG

    results = args.selftest / "results"
    pairs = results / "pairs.csv"
    if not pairs.exists():
        print(
            f"check_port_agreement: {pairs} is absent: the selftest's full aggregate.",
            file=sys.stderr,
        )
        print(MAKE_IT, file=sys.stderr)
        return 2
    known = bug_package.names()
    unknown = [b for b in args.bugs if b not in known]
    if unknown:
        print(f"check_port_agreement: unknown bug(s) {unknown}; known: {known}", file=sys.stderr)
        return 2
    bugs = selftest_plan.load_bugs(args.bugs)
    truth = truth_label(results)
    order = {c.name: i for i, c in enumerate(CATALOG)}
    full = read_full(pairs, truth, [b.env_id for b in bugs])

    print(f"full aggregate: {pairs} (truth {truth!r}, {time.ctime(pairs.stat().st_mtime)})")
    print(
        "check-port: check() of the code installed now, on the cases the selftest ran per bug; "
        f"{', '.join(f'{b}.*' for b in CHECK_BLOCKS)} map to <block>.check at batch 16 "
        "(catalog batch in the full aggregate)"
    )
    print(
        "full flagged: a row of the bug env vs the truth that is diverged/shape-mismatch/"
        "non-finite with no known rule, or error/missing; check flagged: line state "
        "diverged or error"
    )
    print()

    rows: List[Row] = []
    notes: List[str] = []
    runs: Dict[str, CheckRun] = {}
    started = time.perf_counter()
    for bug in bugs:
        ran = sorted(full[bug.env_id], key=lambda c: order.get(c, len(order)))
        if not ran:
            notes.append(f"{bug.name}: no rows in the full aggregate (not in this selftest run)")
            print(f"[{bug.name}] no rows in the full aggregate: skipped", flush=True)
            continue
        planned = selftest_plan.cases(bug)
        if set(planned) != set(ran):
            notes.append(
                f"{bug.name}: the selftest ran {ran}, its TOUCHES now give {planned} "
                "(the bug changed since the run): compared on what the selftest ran"
            )
        wanted = list(dict.fromkeys(check_name(c) for c in ran))
        print(f"[{bug.name}] check() on {len(wanted)} cases ...", flush=True)
        run = run_check(selftest_plan.backend(bug), wanted, args.timeout)
        runs[bug.name] = run
        for case in ran:
            name = check_name(case)
            if run.failed:
                state, line = "failed", run.failed
            else:
                state, line = run.states.get(name, ("not-run", "; ".join(run.head)))
            entry = full[bug.env_id][case]
            rows.append(Row(bug.name, case, name, entry.flagged, state, entry.rows, line))
        mine = [r for r in rows if r.bug == bug.name]
        agreeing = sum(r.agree for r in mine)
        print(
            f"[{bug.name}] {run.seconds:.1f}s, exit {run.code}"
            + (f", FAILED: {run.failed}" if run.failed else "")
            + f"; {agreeing}/{len(mine)} cases agree",
            flush=True,
        )
        for r in mine:
            print(
                f"    {r.case}: full {yes(r.full)}, check {r.check_state}"
                + ("" if r.agree else "  <- DISAGREE"),
                flush=True,
            )
    total = time.perf_counter() - started

    print()
    print("\n".join(table(rows)))
    disagree = [r for r in rows if not r.agree]
    if disagree:
        print()
        print("disagreements:")
        for r in disagree:
            print(f"  {r.bug} {r.case}: full {yes(r.full)}, check-port {r.check_state}")
            for text in r.full_rows[:8]:
                print(f"    full: {text}")
            if len(r.full_rows) > 8:
                print(f"    full: ... {len(r.full_rows) - 8} more flagged rows")
            for text in r.check_line.splitlines():
                print(f"    check: {text}")
    if notes:
        print()
        print("notes:")
        for note in notes:
            print(f"  {note}")

    checked = [b for b in bugs if any(r.bug == b.name for r in rows)]
    by_full = [b.name for b in checked if any(r.full for r in rows if r.bug == b.name)]
    by_check = [b.name for b in checked if any(r.check for r in rows if r.bug == b.name)]
    agreeing = sum(r.agree for r in rows)
    print()
    print("totals:")
    print(f"  cases agreeing: {agreeing}/{len(rows)}")
    flagged_full, flagged_check = sum(r.full for r in rows), sum(r.check for r in rows)
    print(f"  cases flagged: full {flagged_full}, check-port {flagged_check}")
    n = len(checked)
    print(f"  bugs detected: full aggregate {len(by_full)}/{n}, check-port {len(by_check)}/{n}")
    only_full = sorted(set(by_full) - set(by_check))
    only_check = sorted(set(by_check) - set(by_full))
    if only_full or only_check:
        print(f"  bugs only the full aggregate detects: {only_full}")
        print(f"  bugs only check-port detects: {only_check}")
    failed = [name for name, run in runs.items() if run.failed]
    if failed:
        print(f"  check() failed for: {failed}")
    spent = sum(r.seconds for r in runs.values())
    print(f"  check-port time: {spent:.1f}s over {len(runs)} bugs ({total:.1f}s wall)")
    return 0 if agreeing == len(rows) and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
