"""Shrink a reproducer in the spirit of delta debugging, while it still diverges.

A *candidate* is a :class:`~wgan_parity.dump.repro_script.Spec` and, when its inputs are a file,
the arrays of that file. Each candidate is rendered, written to a scratch folder and run by the
env's own Python (the framework the row was measured with); it *diverges* when its figure
(``out``, or the worst gradient for a gradient row) exceeds the bound. Steps, each kept only if
the result still diverges, in this order:

1. **ops**: the segment's ops one at a time, each on its own float64 input (the chain before it
   run in NumPy), first to last;
2. **inputs**: the recorded input replaced by a seeded normal draw of the same shape;
3. **shape**: batch, height and width halved while it still diverges (random inputs only);
4. **switches**: each switch set away from its default is set back; one it cannot do without
   is kept, and said to matter.

Every attempt is reported through ``say``, so a user sees why the final reproducer is what it is.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from wgan_parity import frameworks
from wgan_parity.dump.repro_script import PARAMS, Spec, numpy_chain, render, split_params

INPUTS_FILE = "inputs.npz"
#: A shrinking step keeps a candidate only while it diverges by this much (or by as much as the
#: start, when that is less): a reproducer at 1.01x its bound would not survive another machine.
MARGIN = 1.5
Say = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """A spec and, for file inputs, its arrays: ``x``, ``g`` and ``p0``, ``p1``, ..."""

    spec: Spec
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What one run of a candidate printed (``figures``), and whether it diverged."""

    figures: Dict[str, Dict[str, float]]
    ratio: float
    error: str = ""
    margin: float = 1.0  # how far past the bound it must be to count (a shrinking step's)

    @property
    def diverges(self) -> bool:
        """Its figure exceeds the bound by the margin."""
        return not self.error and self.ratio > self.margin


def write(candidate: Candidate, folder: Path, name: str = "repro.py") -> Path:
    """The candidate's script (and its inputs file) in ``folder``; the script's path."""
    folder.mkdir(parents=True, exist_ok=True)
    if candidate.spec.inputs != "random":
        # float32: what the framework gets; the script's truth reads the same values
        arrays = {k: np.asarray(v, np.float32) for k, v in candidate.arrays.items()}
        np.savez_compressed(folder / candidate.spec.inputs, **arrays)  # type: ignore[arg-type]
    script = folder / name
    script.write_text(render(candidate.spec), encoding="utf-8")
    return script


class Runner:
    """Runs candidates with one Python. ``judged``: the figures whose worst decides (``out`` for
    a forward row, ``grad/x`` for an input gradient); empty: every gradient's (a parameter's)."""

    def __init__(self, python: str, judged: Sequence[str], timeout_s: float = 600.0) -> None:
        self.python, self.judged, self.timeout_s = python, tuple(judged), timeout_s

    def __call__(self, candidate: Candidate) -> Outcome:
        with tempfile.TemporaryDirectory(prefix="wgan-parity-repro-") as work:
            script = write(candidate, Path(work))
            try:
                done = subprocess.run([self.python, str(script)], capture_output=True, text=True,
                                      timeout=self.timeout_s, check=False)  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as exc:
                return Outcome({}, float("nan"), f"{type(exc).__name__}: {exc}")
        line = next((x for x in done.stdout.splitlines() if x.startswith("REPRO ")), "")
        if done.returncode != 0 or not line:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return Outcome({}, float("nan"), f"exit {done.returncode}: {tail[0][:300]}")
        figures = json.loads(line[len("REPRO ") :])["figures"]
        return Outcome(figures, self.ratio(figures))

    def ratio(self, figures: Dict[str, Dict[str, float]]) -> float:
        """The judged figure over its bound."""
        names = [n for n in figures if n in self.judged or (not self.judged and "/" in n)]
        return max(figures[n]["err"] / figures[n]["bound"] for n in names)


def first_diverging(candidates: Sequence[Candidate], run: Callable[[Candidate], Outcome],
                    say: Say) -> Optional[Candidate]:  # fmt: skip
    """The first candidate that diverges by :data:`MARGIN` (each layer chain of a case in
    order), else the first that diverges at all; None if none does."""
    if len(candidates) == 1:
        return candidates[0]
    say(f"step layers: the first of {len(candidates)} layer chains that diverges by "
        f"{MARGIN:g}x, each run on the truth's input")  # fmt: skip
    fallback: Optional[Candidate] = None
    for candidate in candidates:
        outcome = run(candidate)
        label = candidate.spec.title.rsplit("(", 1)[-1].rstrip(")")
        say(f"  {label}: {_describe(candidate)} -> {_result(outcome)}")
        if outcome.ratio > MARGIN and not outcome.error:
            return candidate
        if outcome.diverges and fallback is None:
            fallback = candidate
    if fallback is None:
        say("  none diverges on the truth's input: the error needs the whole case")
    return fallback


def shrink(start: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> Candidate:
    """The smallest candidate found that still diverges (``start`` itself if nothing smaller)."""
    first = run(start)
    say(f"start: {_describe(start)} -> {_result(first)}")
    if not first.diverges:
        say("start does not diverge here: nothing to shrink (see the figures above)")
        return start
    margin = min(MARGIN, first.ratio)
    if margin < MARGIN:
        say(f"  (it diverges by less than {MARGIN:g}x: each step keeps it above the bound only)")

    def kept(candidate: Candidate) -> Outcome:
        return dataclasses.replace(run(candidate), margin=margin)

    best = start
    for step in (_ops, _inputs, _shape, _switches):
        best = step(best, kept, say)
    say(f"final: {_describe(best)}")
    return best


def _try(label: str, candidate: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> bool:
    outcome = run(candidate)
    say(f"  {label}: {_describe(candidate)} -> {_result(outcome)}")
    return outcome.diverges


def _ops(best: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> Candidate:
    ops = best.spec.ops
    if len(ops) == 1 or best.spec.inputs == "random":
        return best
    say(f"step ops: which of {' -> '.join(ops)} diverges alone, on its own true input")
    params = _params(best)
    inputs, per_op = numpy_chain(ops, best.arrays["x"], params), split_params(ops, params)
    for k, op in enumerate(ops):
        if op not in EXACT:
            single = _sub(best, k, k + 1, inputs, per_op)
            if _try(op, single, run, say):
                return single
    say("  no op diverges alone; the shortest tail of the chain that does:")
    for length in range(2, len(ops)):
        start = len(ops) - length
        if ops[start] in EXACT:
            continue
        tail = _sub(best, start, len(ops), inputs, per_op)
        if _try(" -> ".join(ops[start:]), tail, run, say):
            return tail
    say("  the whole chain is kept")
    return best


#: Ops that only move or copy values (or clamp them): never the cause on their own.
EXACT = ("relu", "tile4", "depth_to_space")


def _sub(best: Candidate, start: int, stop: int, inputs: List[np.ndarray],
         per_op: List[List[np.ndarray]]) -> Candidate:  # fmt: skip
    """Ops ``start:stop`` of the chain on their own float64 input (the chain before, in NumPy)."""
    params = [p for mine in per_op[start:stop] for p in mine]
    g = np.random.default_rng(start).standard_normal(inputs[stop].shape)
    x = inputs[start]
    arrays = {"x": x, "g": g, **{f"p{i}": p for i, p in enumerate(params)}}
    spec = dataclasses.replace(
        best.spec,
        ops=best.spec.ops[start:stop],
        shape=tuple(x.shape),
        params=tuple(p.shape for p in params),
    )
    return Candidate(spec, arrays)


def _params(candidate: Candidate) -> List[np.ndarray]:
    count = sum(len(PARAMS[op]) for op in candidate.spec.ops)
    return [candidate.arrays[f"p{i}"] for i in range(count)]


def _inputs(best: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> Candidate:
    if best.spec.inputs == "random":
        return best
    say("step inputs: does a seeded normal draw of the same shape diverge too?")
    x = best.arrays["x"]
    loc, scale = float(f"{float(np.mean(x)):.3g}"), float(f"{float(np.std(x)):.3g}")
    drawn_spec = dataclasses.replace(best.spec, inputs="random", seed=0)
    tries = [("standard normal", drawn_spec)]
    if float(np.min(x)) >= 0.0:  # a ReLU's output, as most layers' inputs are
        tries.append(("rectified standard normal", dataclasses.replace(drawn_spec, x_relu=True)))
    tries.append(
        (
            f"normal, the recorded mean {loc:g} and std {scale:g}",
            dataclasses.replace(drawn_spec, x_loc=loc, x_scale=scale),
        )
    )
    for label, spec in tries:
        drawn = Candidate(spec)
        if _try(label, drawn, run, say):
            return drawn
    say("  the recorded values matter: they stay (inputs.npz)")
    return best


def _shape(best: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> Candidate:
    if best.spec.inputs != "random" or len(best.spec.shape) != 4:
        return best
    say("step shape: halve batch, height and width while it diverges")
    pools = "mean_pool" in best.spec.ops
    for axis, name in ((0, "batch"), (2, "height"), (3, "width")):
        while True:
            shape = list(best.spec.shape)
            smaller = shape[axis] // 2
            if smaller < (2 if axis == 0 or pools else 1) or (pools and axis > 0 and smaller % 2):
                break
            shape[axis] = smaller
            candidate = Candidate(dataclasses.replace(best.spec, shape=tuple(shape)))
            if not _try(f"{name} {smaller}", candidate, run, say):
                break
            best = candidate
    return best


def _switches(best: Candidate, run: Callable[[Candidate], Outcome], say: Say) -> Candidate:
    defaults = {s.key: s.default for s in frameworks.get(best.spec.framework).switches}
    off_default = [(k, v) for k, v in best.spec.switches if k in defaults and v != defaults[k]]
    if not off_default:
        return best
    say("step switches: set each non-default switch back to its default")
    for key, value in off_default:
        switches = tuple((k, defaults[k] if k == key else v) for k, v in best.spec.switches)
        candidate = dataclasses.replace(
            best, spec=dataclasses.replace(best.spec, switches=switches)
        )
        if _try(f"{key}={defaults[key]}", candidate, run, say):
            best = candidate
        else:
            say(f"  {key}={value} matters: it stays")
    return best


def _describe(candidate: Candidate) -> str:
    spec = candidate.spec
    switches = {k: v for k, v in spec.switches if v}
    shape = "x".join(map(str, spec.shape))
    return f"{' -> '.join(spec.ops)} on {shape} ({spec.inputs} inputs), switches {switches}"


def _result(outcome: Outcome) -> str:
    if outcome.error:
        return f"did not run ({outcome.error})"
    verdict = (
        "diverges"
        if outcome.diverges
        else f"below the {outcome.margin:g}x margin"
        if outcome.ratio > 1.0
        else "within the bound"
    )
    return f"{outcome.ratio:.2f} x bound, {verdict}"
