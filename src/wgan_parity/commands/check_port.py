"""``wgan-parity check-port MODULE``: the probe cases on a port, in seconds, before a full dump.

Runs the catalog's small ``*.probe`` cases and the generator, the critic and the gradient
penalty at batch 2 on the float64 reference and on ``MODULE`` (a user backend, e.g. one built
with :mod:`wgan_parity.backends.torch_module`), compares them as ``aggregate`` does, and prints
per case: the taps covered, whether every gradient reaches its parameter, and the first
divergent tap. A parameter whose gradient is identically zero (or absent) while the truth's is
not is an ``error``: the port most likely copied the tool's tensor into a new parameter, which
cuts the graph. It is never reported as a divergence.

Exit codes: 0 everything covered and within tolerance; 1 some tensor diverged; 4 a case failed
or a gradient is cut (5: both); 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, List, Mapping, Tuple

from wgan_parity.exitcodes import ExitCode

MODEL_CASES = ("good_generator.random", "good_discriminator.random", "gradient_penalty.random")
CHECK_BATCH = 2
CUT = "the port copied the tensor into a new parameter (its gradient is identically zero)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("module", help="the port's backend module path, e.g. mypkg.my_port")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="only these of the check cases (default: every *.probe and *.check case)",
    )


def check_cases(patterns: List[str]) -> Tuple[Any, ...]:
    """The probe cases, then the model cases at batch 2 (renamed ``<block>.check``)."""
    import fnmatch

    from wgan_parity.core.catalog import CATALOG

    cases = [c for c in CATALOG if c.name.endswith(".probe")]
    for case in (c for c in CATALOG if c.name in MODEL_CASES):
        dims = tuple((k, CHECK_BATCH if k == "batch" else v) for k, v in case.dims)
        cases.append(replace(case, name=f"{case.block}.check", dims=dims, tap_samples=2))
    if patterns:
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    return tuple(cases)


def run(args: argparse.Namespace) -> int:
    """Dump both sides into a temporary folder, aggregate, print the check; the exit code."""
    from wgan_parity.backends import BackendError
    from wgan_parity.compare import calibration, thresholds
    from wgan_parity.compare.aggregate import aggregate
    from wgan_parity.dump.catalog_dump import write_catalog_dump

    cases = check_cases(args.cases)
    if not cases:
        print(
            f"wgan-parity check-port: --cases {args.cases} matched no check case", file=sys.stderr
        )
        return int(ExitCode.USAGE)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check-port-") as folder:
        try:
            port = write_catalog_dump(args.module, Path(folder, "port.npz"), cases)
        except BackendError as exc:
            print(f"wgan-parity check-port: {exc}", file=sys.stderr)
            return int(ExitCode.ENV_PROBLEM)
        write_catalog_dump("reference", Path(folder, "reference.npz"), cases)
        found = aggregate([folder], thresholds.load(None), calibration=calibration.optional(None))
    lines, code = report(found.rows.columns(), port.env_id, [c.name for c in cases])
    print("\n".join(lines))
    print(f"checked {len(cases)} cases in {time.perf_counter() - started:.1f}s")
    return code


def report(cols: Mapping[str, Any], port: str, cases: List[str]) -> Tuple[List[str], int]:
    """Per-case lines and the exit code, from the rows of the port against the truth."""
    from wgan_parity.compare import verdict

    rows = [
        {k: cols[k][i] for k in cols}
        for i in range(len(cols["case"]))
        if cols["env_a"][i] == port or cols["env_b"][i] == port
    ]
    lines, code = [], 0
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
