"""``wgan-parity check-port MODULE``: the catalog on a port in about a minute, before a full dump.

Runs every catalog case at its own size (the layer cases, the residual blocks and the generator:
a defect that shows only at the full batch, such as a channels-last BatchNorm, shows here too),
and the critic and the gradient penalty at batch 16 (``<block>.check``), on the float64 reference
and on ``MODULE`` (a user backend, e.g. one built with
:mod:`wgan_parity.backends.torch_module`); compares them as ``aggregate`` does; and prints per
case: the taps covered, whether every gradient reaches its parameter, and the first divergent
tap. A parameter whose gradient is identically zero (or absent) while the truth's is not is an
``error``: the port most likely copied the tool's tensor into a new parameter, which cuts the
graph. It is never reported as a divergence. A case that runs none of the port's own code (a
layer case of a port that overrides only the model's blocks) says so instead of "ok". What the
port prints goes to stderr, after the check, never into its lines. :func:`assert_port` is the
same check for a port's own test suite.

Exit codes: 0 everything covered and within tolerance; 1 some tensor diverged; 4 a case failed
or a gradient is cut (5: both); 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wgan_parity.commands.check_port_cases import (
    OWN_SIZE_BATCH,
    ModelSize,
    check_cases,
    port_ops,
    runs_port,
)
from wgan_parity.exitcodes import ExitCode

__all__ = ["ModelSize", "PortCheck", "assert_port", "check", "check_cases", "port_ops", "runs_port"]

# Switches a port's own code can enact without the dump recording them: a memory layout. (TF32
# and oneDNN are runtime settings, not something a port's forward does.)
PORT_ENACTED = {"channels_last"}
CUT = (
    "the port copied the tensor into a new parameter, or does not use it (a dropped bias): its "
    "gradient is identically zero"
)
BASE_OPS = "base ops: the port defines none of the code this case runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("module", help="the port's backend module path, e.g. mypkg.my_port")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="only these of the check cases (default: every catalog case, the critic and the "
        "penalty as <block>.check at batch 16)",
    )
    parser.add_argument(
        "--dim",
        type=int,
        default=0,
        help="run the generator, the critic and the penalty at this width (the port's own, e.g. "
        "64: DIM of the paper; 64x64 images either way) instead of the catalog's 4",
    )
    parser.add_argument(
        "--suggest-map",
        action="store_true",
        help="run the port's factories once with hooks and print a name map (NAMES, TRANSFORMS, "
        "EXTRA) to paste above its `PORT = ModulePort(...)` line (torch ports)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the critic and the penalty, seed and random, at the catalog's batch (1024 "
        "and 512): exactly the full run's cases (about 2 minutes more on 2 cores)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help=f"the model cases' batch (default: the catalog's; {OWN_SIZE_BATCH} with --dim)",
    )


@dataclass
class PortCheck:
    """What :func:`check` found: one line per case, the exit code, and what the port printed."""

    module: str
    lines: List[str]
    code: int
    seconds: float
    printed: str = ""
    deviations: List[str] = field(default_factory=list)

    def text(self) -> str:
        """The lines, the port's declared deviations and the time, as check-port prints them."""
        out = list(self.lines)
        if self.deviations:
            out.append(f"the port has {len(self.deviations)} parameters tflib lacks:")
            out += [f"  {d}" for d in self.deviations]
        out.append(f"checked {self.module} in {self.seconds:.1f}s")
        return "\n".join(out)


def check(module: str, patterns: Sequence[str] = (), size: Optional[ModelSize] = None) -> PortCheck:
    """Dump the port and the truth into a temporary folder, aggregate and judge every case.

    Raises :class:`ValueError` when ``patterns`` match no check case, and
    :class:`~wgan_parity.backends.BackendError` when the port cannot be loaded.
    """
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.compare.aggregate import aggregate
    from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump

    size = size or ModelSize()
    selected = check_cases(patterns, size)
    if not selected:
        raise ValueError(f"--cases {list(patterns)} matched no check case")
    started = time.perf_counter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # the port's prints stay out of the lines
        ops = port_ops(module)
    cases = [c for c in selected if runs_port(c.block, ops)]
    lines: List[str] = []
    if len(cases) < len(selected):
        skipped = sorted({c.block for c in selected} - {c.block for c in cases})
        skip = len(selected) - len(cases)
        lines.append(
            f"not run: {skip} case{'' if skip == 1 else 's'} of {', '.join(skipped)} ({BASE_OPS}; "
            "the env's own dump checks the base framework)"
        )
    code, deviations = 0, []
    with tempfile.TemporaryDirectory(prefix="check-port-") as folder:
        if cases:
            with contextlib.redirect_stdout(printed):
                port = write_catalog_dump(DumpRequest(module, Path(folder, "port.npz"), cases))
            write_catalog_dump(DumpRequest("reference", Path(folder, "reference.npz"), cases))
            th, calib = thresholds.load(None), calibration.optional(None)
            found = aggregate([folder], th, calibration=calib)
            names = [c.name for c in cases]
            rows = port_rows(found.rows.columns(), port.env_id)
            lines, code = report(rows, port.env_id, names, lines)
            lines += rule_hints(rows, port.env_id, port.to_json(), th)
            deviations = list(port.port_deviations or ())
    lines.append(size.describe())
    seconds = time.perf_counter() - started
    return PortCheck(module, lines, code, seconds, printed.getvalue(), deviations)


def suggest_map(module: str, dim: int = 0) -> str:
    """The name map :func:`~wgan_parity.backends.map_suggest.suggest` proposes for the
    :class:`~wgan_parity.backends.module_port.ModulePort` of ``module`` (as Python to paste)."""
    from wgan_parity.backends import import_backend_module
    from wgan_parity.backends.map_suggest import suggest
    from wgan_parity.backends.module_port import ModulePort

    with contextlib.redirect_stdout(io.StringIO()):
        layer = import_backend_module(module)
    ports = [v for v in vars(layer).values() if isinstance(v, ModulePort)]
    if not ports:
        raise ValueError(
            f"{module} defines no ModulePort: expected `PORT = ModulePort(factories, names)` "
            "(names may be {} while you have none); then run --suggest-map again"
        )
    return suggest(ports[0], dim=dim or 4)


def assert_port(module: str, cases: Sequence[str] = ()) -> PortCheck:
    """:func:`check` for a port's own test suite: raise :class:`AssertionError` with the check's
    lines (first divergent tap, errors) unless every case passes; return the check."""
    result = check(module, cases)
    if result.code:
        failed = [line for line in result.lines if not line.split(": ", 1)[-1].startswith("ok")]
        raise AssertionError(
            f"{module} is not at parity with the tool's float64 truth (exit {result.code}):\n"
            + "\n".join(failed)
        )
    return result


def run(args: argparse.Namespace) -> int:
    """Check the port and print the result; the exit code."""
    from wgan_parity.backends import BackendError

    try:
        if args.suggest_map:
            print(suggest_map(args.module, args.dim), end="")
            return 0
        result = check(args.module, args.cases, ModelSize(args.dim, args.batch, args.full))
    except (ValueError, NotImplementedError) as exc:
        print(f"wgan-parity check-port: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except BackendError as exc:
        print(f"wgan-parity check-port: {exc}", file=sys.stderr)
        return int(ExitCode.ENV_PROBLEM)
    print(result.text())
    if result.printed:
        lines = result.printed.splitlines()
        print(f"the port printed {len(lines)} lines:", file=sys.stderr)
        print("\n".join(f"  | {line}" for line in lines[:20]), file=sys.stderr)
    return result.code


def port_rows(cols: Mapping[str, Any], port: str) -> List[Dict[str, Any]]:
    """The aggregate's rows (columns) that have the port on one side, as dicts."""
    return [
        {k: cols[k][i] for k in cols}
        for i in range(len(cols["case"]))
        if cols["env_a"][i] == port or cols["env_b"][i] == port
    ]


def rule_hints(
    rows: Sequence[Mapping[str, Any]], port: str, meta: Mapping[str, Any], th: Any
) -> List[str]:
    """A known rule that would explain a divergence but for a switch the port's run did not
    record ("this looks like X, which applies only with channels_last=True")."""
    from wgan_parity.compare import localize, traits, verdict

    env = traits.from_meta(port, meta)
    said: List[str] = []
    for row in rows:
        if not verdict.is_divergence(str(row["status"]), str(row["known"] or "")):
            continue
        case, tensor = str(row["case"]), str(row["tensor"])
        side = "a" if row["env_a"] == port else "b"
        over, err = localize.side_error(row, port), float(row[f"err_{side}"])
        for rule in th.rules:
            switches = {name for name, _ in rule.flags}
            if not (rule.known and switches) or not switches <= PORT_ENACTED:
                continue
            if rule.matches(case, tensor, env) or rule.name in said:
                continue
            within = not (rule.max_over_limit is not None and not over <= rule.max_over_limit)
            within = within and not (rule.max_err is not None and not err <= rule.max_err)
            if within and replace(rule, flags=()).matches(case, tensor, env):
                said.append(rule.name)  # it would excuse this row, at its measured bound
    return [
        f"hint: a divergence looks like the known rule {name!r}, which applies only when the "
        "dump records "
        + ", ".join(f"{k}={v}" for k, v in next(r.flags for r in th.rules if r.name == name))
        + " (a dump switch: --channels-last); the port's own code does what the rule describes "
        "without that switch (e.g. a permute that leaves tensors channels-last in memory): a "
        "real deviation to fix, e.g. with .contiguous()"
        for name in said
    ]


def report(
    rows: Sequence[Mapping[str, Any]], port: str, cases: List[str], head: Sequence[str] = ()
) -> Tuple[List[str], int]:
    """``head``, then per-case lines, and the exit code, from the rows of the port against the
    truth."""
    from wgan_parity.compare import verdict

    lines, code = list(head), 0
    for case in cases:
        mine = [r for r in rows if r["case"] == case]
        errors = sorted({str(r["note"]) for r in mine if r["status"] == verdict.ERROR})
        if errors:
            lines.append(f"{case}: error: {'; '.join(errors)}")
            code |= int(ExitCode.ENV_PROBLEM)
            continue
        side = "a" if mine and mine[0]["env_a"] == port else "b"
        truth = "b" if side == "a" else "a"
        taps = [r for r in mine if str(r["tensor"]).startswith("tap/")]
        lost = [r["tensor"][4:] for r in taps if r["status"] == verdict.MISSING]
        grads = [r for r in mine if str(r["tensor"]).startswith("grad/")]
        cut = [
            r["tensor"][5:]
            for r in grads
            if r["status"] == verdict.MISSING
            or (r[f"abs_mean_{side}"] == 0.0 and r[f"abs_mean_{truth}"] > 0.0)
        ]
        bad = [
            r
            for r in mine
            if verdict.is_divergence(r["status"], r["known"] or "") and r["tensor"][5:] not in cut
        ]
        tap = next((r[f"first_divergent_tap_{side}"] for r in bad if r["tensor"] == "out"), "")
        state = "error" if cut else verdict.DIVERGED if bad else verdict.OK
        text = (
            f"{case}: {state}; taps {len(taps) - len(lost)}/{len(taps)} covered"
            + (f" (not: {', '.join(lost)})" if lost else "")
            + f"; gradients {len(grads) - len(cut)}/{len(grads)} reach their parameter"
        )
        if bad:
            names = ", ".join(str(r["tensor"]) for r in bad[:6])
            text += f"; diverged: {names}" + (f"; first divergent tap {tap}" if tap else "")
        powerless = [str(r["tensor"]) for r in mine if r["status"] == verdict.UNJUDGED]
        if powerless:  # a limit that cannot fail: not a pass, said so
            text += f"; unjudged (limit >= 1, cannot fail): {', '.join(powerless[:6])}"
        lines.append(text)
        if cut:
            lines.append(f"  error: gradient cut for {', '.join(cut)}: {CUT}")
            code |= int(ExitCode.ENV_PROBLEM)
        if bad:
            code |= int(ExitCode.DIVERGED)
    return lines, code
