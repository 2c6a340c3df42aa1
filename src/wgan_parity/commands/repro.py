"""``wgan-parity repro``: a standalone reproducer of one row, shrunk while it still diverges.

From a results folder and a row (case, tensor, env), it finds the layer that makes the error (the
tap itself for a tap row; for another row of a composite case the first layer whose own error is
over its limit, else the first divergent tap), takes that layer's ops and the float64 truth's
input to it, and writes a script that needs only NumPy and the framework
(:mod:`~wgan_parity.dump.repro_script`). With the env's Python it then shrinks the script
(:mod:`~wgan_parity.dump.repro_shrink`): one op, a drawn input, a smaller shape, fewer switches,
printing each step. The gradient a script reports is its op's, under a drawn cotangent: for a
gradient row it shows the op's backward accuracy, not the case's figure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from wgan_parity import frameworks
from wgan_parity.exitcodes import ExitCode

GLOBAL_SWITCHES = ("deterministic",)


class ReproError(ValueError):
    """A row or env the command cannot build a reproducer for; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("results", type=Path, help="a results folder (pairs.csv(.gz), envs.csv)")
    parser.add_argument("--case", required=True, help="the row's case, e.g. residual_up.random")
    parser.add_argument("--tensor", required=True, help="the row's tensor, e.g. tap/norm1, out")
    parser.add_argument("--env", required=True, help="the row's env (a label of envs.csv)")
    parser.add_argument(
        "--python",
        help="the env's Python, which has its framework (default: .wgan-parity/envs/<env_id>/bin/"
        "python when it exists)",
    )
    parser.add_argument("--out", type=Path, help="folder for the script (default: repro-<env>)")
    parser.add_argument(
        "--no-shrink", action="store_true", help="write the layer's script as found, unshrunk"
    )
    parser.add_argument(
        "--max-isa",
        choices=("avx2", "avx512"),
        help="the script caps the framework's and NumPy's kernels at this instruction set, so "
        "it computes the same on a newer CPU (the env's own caps are always kept)",
    )


@dataclass(frozen=True)
class Plan:
    """Where shrinking starts: one layer's candidate, or (a gradient row of a composite case
    whose forward pass is within tolerance) every layer's, searched in forward order."""

    candidates: Tuple[Any, ...]
    python: Optional[str]


def run(args: argparse.Namespace) -> int:
    """Build, shrink and write the reproducer. Exit codes as every command's: 1 its script
    diverges (the row is reproduced), 0 it does not or was not run, 2 bad input."""
    from wgan_parity.dump import repro_shrink

    try:
        found = plan(args)
    except (ReproError, FileNotFoundError, KeyError) as exc:
        print(f"wgan-parity repro: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    final, diverges = found.candidates[0], False
    if found.python is None:
        _say("no env Python found (--python): the script is written unshrunk and not run")
    elif not args.no_shrink:
        runner = repro_shrink.Runner(found.python, _judged(args.tensor))
        start = repro_shrink.first_diverging(found.candidates, runner, _say)
        final = repro_shrink.shrink(start, runner, _say) if start is not None else final
        diverges = start is not None and runner(final).diverges
    out = args.out or Path(f"repro-{args.env}")
    script = repro_shrink.write(final, out)
    _say(f"wrote {script}" + (f" and {out / final.spec.inputs}" if final.arrays else ""))
    if found.python:
        _say(f"run it: {found.python} {script}")
    return int(ExitCode.DIVERGED) if diverges else int(ExitCode.OK)


def _judged(tensor: str) -> Tuple[str, ...]:
    """The script figures that stand for the row: its output, its input's gradient, or (for a
    parameter's gradient, named differently in a script) every gradient."""
    if tensor == "out" or tensor.startswith("tap/"):
        return ("out",)
    return ("grad/x",) if tensor.rsplit("/", 1)[-1] == "x" else ()


def _say(line: str) -> None:
    print(line, flush=True)


def plan(args: argparse.Namespace) -> Plan:
    """The candidates to shrink from and the env's Python (None if unknown)."""
    from wgan_parity.backends import load_backend
    from wgan_parity.compare.thresholds import load as load_thresholds
    from wgan_parity.core.catalog import select
    from wgan_parity.core.fixtures import make_fixtures
    from wgan_parity.dump import repro_plan, shadow
    from wgan_parity.dump.repro_script import Spec, numpy_chain
    from wgan_parity.dump.repro_shrink import INPUTS_FILE, Candidate
    from wgan_parity.report import resultset

    res = resultset.load(args.results)
    env = _env_row(res.envs, args.env)
    framework = str(env.get("framework") or "")
    if frameworks.find(framework) is None or frameworks.get(framework).truth:
        raise ReproError(f"expected an env of a compared framework, found {framework!r}")
    rows = res.pairs[(res.pairs["case"] == args.case) & (res.pairs["env_a"] == args.env)]
    rows = rows[rows["env_b"] == res.truth]
    row = rows[rows["tensor"] == args.tensor]
    if row.empty:
        raise ReproError(
            f"no row {args.case} / {args.tensor} of {args.env} against the truth in "
            f"{args.results}; pick one from pairs.csv (env_b = {res.truth})"
        )
    record = row.iloc[0].to_dict()
    matches = select([args.case])
    if not matches:
        raise ReproError(f"unknown case {args.case!r}: `wgan-parity dump --list` lists them")
    case = matches[0]
    gradient = not (args.tensor == "out" or args.tensor.startswith("tap/"))
    tap = _tap(args.tensor, record, rows.to_dict("records"), args.env, case, gradient)
    if tap is None:  # each layer alone, then ever longer chains ending at the last one
        layers = repro_plan.segments(case)
        chosen = layers + repro_plan.upstream(case, layers[-1].tap)[1:]
    else:
        chosen = repro_plan.upstream(case, tap)
    fixtures = make_fixtures(case)
    truth = {}
    if any(s.source != repro_plan.INPUT for s in chosen):
        truth = shadow.truth_taps(load_backend(frameworks.truth().name), case, fixtures)
    flags = json.loads(str(env.get("flags") or "{}"))
    th = load_thresholds()
    candidates = []
    for segment in chosen:
        x = repro_plan.segment_input(segment, fixtures, truth)
        params = repro_plan.segment_params(segment, fixtures)
        out = numpy_chain(segment.ops, x, params)[-1]
        spec = Spec(
            framework,
            segment.ops,
            tuple(x.shape),
            tuple(p.shape for p in params),
            inputs=INPUTS_FILE,
            switches=_switches(framework, flags),
            environment=_caps(env, args.max_isa),
            gradients=gradient,
            bound_factor=float(th.noise_factor),
            bound_floor=float(th.rel_l2_floor),
            title=f"{args.env}: {args.case} {args.tensor} ({_from(segment, case)})",
            row=_recorded(record, env),
        )
        g = np.random.default_rng(0).standard_normal(out.shape)
        arrays = {"x": x, "g": g, **{f"p{i}": p for i, p in enumerate(params)}}
        candidates.append(Candidate(spec, arrays))
    where = (
        "every layer, then longer chains of them"
        if tap is None
        else f"layer {tap or case.block}, then with the layers before it"
    )
    _say(f"row: {args.case} {args.tensor} of {args.env}: err {_num(record.get('err_a'))} "
         f"(limit {_num(record.get('limit_a'))}); starting from {where}")  # fmt: skip
    return Plan(tuple(candidates), _python(args, env))


def _from(segment: Any, case: Any) -> str:
    """``"conv1 -> norm2"``-style: which layers a candidate runs (its source, then its tap)."""
    tap = segment.tap or case.block
    source = "" if segment.source == "x" else f"{segment.source} -> "
    return f"{len(segment.ops)} ops from {source or 'the input -> '}{tap}"


def _env_row(envs: Any, label: str) -> Dict[str, Any]:
    found = envs[envs["env"] == label] if "env" in envs.columns else envs.iloc[0:0]
    if found.empty:
        known = ", ".join(map(str, envs.get("env", [])))
        raise ReproError(f"no env {label!r} in envs.csv; the envs are: {known}")
    return dict(found.iloc[0].to_dict())


def _tap(tensor: str, record: Mapping[str, Any], case_rows: Any, env: str, case: Any,
         gradient: bool) -> Optional[str]:  # fmt: skip
    """The tap whose layer the reproducer runs ("" a layer case's block; None: search them)."""
    from wgan_parity.compare import localize
    from wgan_parity.dump import repro_plan

    if tensor.startswith("tap/"):
        return tensor[len("tap/") :]
    if case.block not in repro_plan.COMPOSITE_BLOCKS:
        return ""
    found = localize.origin(case_rows, env)
    if found is not None and found.tap:
        return found.tap
    tap = localize.side_tap(record, env)
    if tap and tap != localize.OUTPUT:
        return tap
    if gradient:
        return None  # the forward pass is within tolerance: the backward of some layer is not
    raise ReproError(
        f"{case.name} {tensor}: no layer of it is over its limit on its own and no tap "
        "diverges first: name a tap row (--tensor tap/<name>)"
    )


def _switches(framework: str, flags: Mapping[str, Any]) -> Tuple[Tuple[str, object], ...]:
    keys = [*GLOBAL_SWITCHES, *(s.key for s in frameworks.get(framework).switches)]
    return tuple((k, flags[k]) for k in keys if isinstance(flags.get(k), bool))


def _caps(env: Mapping[str, Any], max_isa: Optional[str]) -> Tuple[Tuple[str, str], ...]:
    """The ISA cap variables the env's dump ran under (``isa_caps``: ``VAR=value, ...``), and
    those of ``max_isa`` (:func:`wgan_parity.core.isa.stack_env`)."""
    from wgan_parity.core import isa

    text = str(env.get("isa_caps") or "")
    found = dict(p.strip().split("=", 1) for p in text.split(",") if "=" in p)
    if max_isa:
        found.update(isa.stack_env(max_isa))
    return tuple(sorted(found.items()))


def _recorded(record: Mapping[str, Any], env: Mapping[str, Any]) -> Dict[str, Any]:
    keys = ("err_a", "limit_a", "own_err_a", "inherited_err_a")
    found: Dict[str, Any] = {k: float(record[k]) for k in keys if _finite(record.get(k))}
    found.update(version=str(env.get("framework_version") or ""), isa=str(env.get("isa") or ""))
    return found


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any) -> str:
    return f"{float(value):.2e}" if _finite(value) else "n/a"


def _python(args: argparse.Namespace, env: Mapping[str, Any]) -> Optional[str]:
    if args.python:
        return str(args.python)
    candidate = Path(".wgan-parity/envs") / str(env.get("env_id") or args.env) / "bin" / "python"
    return str(candidate) if candidate.exists() else None
