"""The reproducers' parts: NumPy ops and VJPs, segments, and the frameworks' calls in the script.

- Each NumPy op of :mod:`wgan_parity.dump.repro_numpy` and its VJP equal the float64 reference
  backend (autograd) on the same inputs.
- Each segment of every composite case, run as a NumPy chain on the truth's input, gives the
  truth's tap (both rounded to float32, as a replay stores them; a wrong op or order is off by
  far more): the segment table is the model, not a copy that can drift from it.
- A rendered script, run by a real framework, reports the error that the built-in adapter's
  op has on the same inputs: the script's calls are the adapter's.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

from wgan_parity.backends import load_backend
from wgan_parity.core.catalog import CATALOG, Case
from wgan_parity.core.fixtures import make_fixtures
from wgan_parity.dump import repro_numpy, repro_plan, shadow
from wgan_parity.dump.repro_script import CALLS, NUMPY_OF, PARAMS, Spec, numpy_chain, render

RNG = np.random.default_rng(7)
SHAPE = (3, 8, 6, 10)


def _inputs(op: str, shape: Tuple[int, ...] = SHAPE) -> List[np.ndarray]:
    """An input and the op's parameters (conv: 8 -> 4 channels, 3x3; linear on (N, 8))."""
    if op == "linear":
        return [RNG.standard_normal((shape[0], 8)), RNG.standard_normal((8, 5)),
                RNG.standard_normal(5)]  # fmt: skip
    x = RNG.standard_normal(shape)
    if op in ("batch_norm", "layer_norm"):
        return [x, 1 + 0.1 * RNG.standard_normal(shape[1]), 0.1 * RNG.standard_normal(shape[1])]
    if op == "conv2d":
        return [x, RNG.standard_normal((4, shape[1], 3, 3)) / 8, RNG.standard_normal(4)]
    if op == "conv2d_nobias":
        return [x, RNG.standard_normal((4, shape[1], 3, 3)) / 8]
    return [x]


def _reference(op: str, args: List[np.ndarray], g: np.ndarray) -> List[np.ndarray]:
    """(out, *grads) from the float64 reference backend."""
    ref = load_backend("reference")
    call = {
        "batch_norm": lambda a: ref.batch_norm(a["x"], a["p0"], a["p1"], 1e-5),
        "layer_norm": lambda a: ref.layer_norm(a["x"], a["p0"], a["p1"], 1e-5),
        "conv2d": lambda a: ref.conv2d(a["x"], a["p0"], a["p1"]),
        "conv2d_nobias": lambda a: ref.conv2d(a["x"], a["p0"], None),
        "linear": lambda a: ref.linear(a["x"], a["p0"], a["p1"]),
        "depth_to_space": lambda a: ref.depth_to_space(a["x"], 2),
        "tile4": lambda a: ref.concat([a["x"]] * 4, 1),
        "mean_pool": lambda a: ref.mean_pool(a["x"]),
        "relu": lambda a: ref.relu(a["x"]),
    }[op]
    names = ["x", *[f"p{i}" for i in range(len(args) - 1)]]
    out, _, grads = ref.vjp(lambda a: (call(a), {}), dict(zip(names, args)), names, g)
    return [np.asarray(out), *[np.asarray(grads[n]) for n in names]]


@pytest.mark.parametrize("op", sorted(PARAMS))
def test_numpy_ops_and_vjps_equal_the_reference(op: str) -> None:
    args = _inputs(op)
    numpy_op = getattr(repro_numpy, NUMPY_OF[op])
    out = numpy_op(*args)
    g = RNG.standard_normal(out.shape)
    grads = getattr(repro_numpy, f"{NUMPY_OF[op]}_vjp")(g, *args)
    expected = _reference(op, args, g)
    for name, got, want in zip(["out", "grad/x", "grad/p0", "grad/p1"], [out, *grads], expected):
        scale = max(float(np.linalg.norm(want)), 1e-300)
        assert float(np.linalg.norm(got - want)) / scale < 1e-12, f"{op} {name}"
    assert len(grads) == len(args), f"{op}: one gradient per input"


def _small(case: Case) -> Case:
    """The case at batch 2 (the discriminator's 1024 would make NumPy's patches huge)."""
    dims = tuple((k, 2 if k == "batch" else v) for k, v in case.dims)
    return dataclasses.replace(case, dims=dims)


COMPOSITES = [c for c in CATALOG if repro_plan.segments(c) and c.weights == "random"]


@pytest.mark.parametrize("case", COMPOSITES, ids=[c.name for c in COMPOSITES])
def test_every_segment_rebuilds_the_truths_tap(case: Case) -> None:
    small = _small(case)
    fixtures = make_fixtures(small)
    truth = (
        shadow.truth_taps(load_backend("reference"), small, fixtures)
        if small.block in (repro_plan.COMPOSITE_BLOCKS)
        else {"": _reference_block(small, fixtures)}
    )
    for segment in repro_plan.segments(small):
        x = repro_plan.segment_input(segment, fixtures, truth)
        x = numpy_chain(segment.ops, x, repro_plan.segment_params(segment, fixtures))[-1]
        want = np.asarray(truth[segment.tap], np.float64).reshape(x.shape)
        rel = float(np.linalg.norm(x - want) / np.linalg.norm(want))
        assert rel < 1e-5, f"{case.name}: segment {segment.tap!r} {segment.ops} is off by {rel}"


def _reference_block(case: Case, fixtures: Any) -> np.ndarray:
    from wgan_parity.core.blocks import BLOCKS

    ref = load_backend("reference")
    return np.asarray(BLOCKS[case.block].apply(ref, fixtures.args, case.config, None))


FRAMEWORK_OPS = [(fw, op) for fw in CALLS for op in sorted(CALLS[fw])]
MODULES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}


def _op_inputs(op: str) -> Tuple[List[np.ndarray], np.ndarray]:
    """The op's inputs and a cotangent, the same in every process (seeded by the op's name)."""
    global RNG
    saved, RNG = RNG, np.random.default_rng(sorted(PARAMS).index(op))
    try:
        args = _inputs(op, (2, 8, 4, 6))
        g = RNG.standard_normal(getattr(repro_numpy, NUMPY_OF[op])(*args).shape)
    finally:
        RNG = saved
    return args, g


@functools.cache
def _adapter_outputs(framework: str, folder: str) -> Dict[str, List[np.ndarray]]:
    """Every op's adapter result, computed in a fresh process (a framework imported here
    before its adapter's ``configure`` would run with other switches than a dump)."""
    out = Path(folder) / f"{framework}-adapter.npz"
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_repro as T\n"
        "from wgan_parity.backends import load_backend\n"
        f"ops = load_backend({framework!r})\n"
        "found = {}\n"
        f"for op in sorted(T.CALLS[{framework!r}]):\n"
        "    args, g = T._op_inputs(op)\n"
        "    for i, a in enumerate(T._adapter_out(ops, op, args, g)):\n"
        "        found[f'{op}/{i}'] = a\n"
        f"np.savez({str(out)!r}, **found)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as data:
        found: Dict[str, List[np.ndarray]] = {}
        for key in sorted(data.files, key=lambda k: (k.split("/")[0], int(k.split("/")[1]))):
            found.setdefault(key.split("/")[0], []).append(data[key])
    return found


@pytest.mark.parametrize(("framework", "op"), FRAMEWORK_OPS, ids=[f"{f}-{o}" for f, o in
                                                                   FRAMEWORK_OPS])  # fmt: skip
def test_script_calls_are_the_adapters(framework: str, op: str, tmp_path_factory: Any) -> None:
    """The script's figures equal the adapter's errors on the same inputs, output and input
    gradient: the script runs the adapter's calls, with the switches a dump sets."""
    if importlib.util.find_spec(MODULES[framework]) is None:
        pytest.skip(f"{framework} is not installed here")
    folder = tmp_path_factory.getbasetemp() / "repro-adapters"
    folder.mkdir(exist_ok=True)
    args, g = _op_inputs(op)
    out = getattr(repro_numpy, NUMPY_OF[op])(*args)
    script = folder / f"{framework}-{op}.py"
    np.savez(folder / f"{framework}-{op}.npz", x=args[0], g=g,
             **{f"p{i}": a for i, a in enumerate(args[1:])})  # fmt: skip
    shapes = tuple(a.shape for a in args[1:])
    spec = Spec(framework, (op,), args[0].shape, shapes, inputs=f"{framework}-{op}.npz")
    script.write_text(render(spec))
    figures = run_script(script)
    found = _adapter_outputs(framework, str(folder))[op]
    truth = [out, *getattr(repro_numpy, f"{NUMPY_OF[op]}_vjp")(g, *args)]
    for name, x, t in zip(["out", "grad/x"], found, truth):
        want = float(np.linalg.norm(x - t) / np.linalg.norm(t))
        got = figures[name]["err"]
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12), f"{framework} {op} {name}"


def _adapter_out(ops: Any, op: str, args: List[np.ndarray], g: np.ndarray) -> List[np.ndarray]:
    """The adapter's op and its VJP, compiled together as a dump runs them (case_runner)."""
    call = {
        "batch_norm": lambda a: ops.batch_norm(a[0], a[1], a[2], 1e-5),
        "layer_norm": lambda a: ops.layer_norm(a[0], a[1], a[2], 1e-5),
        "conv2d": lambda a: ops.conv2d(a[0], a[1], a[2]),
        "conv2d_nobias": lambda a: ops.conv2d(a[0], a[1], None),
        "linear": lambda a: ops.linear(a[0], a[1], a[2]),
        "depth_to_space": lambda a: ops.depth_to_space(a[0], 2),
        "tile4": lambda a: ops.concat([a[0]] * 4, 1),
        "mean_pool": lambda a: ops.mean_pool(a[0]),
        "relu": lambda a: ops.relu(a[0]),
    }[op]
    names = [f"a{i}" for i in range(len(args))]

    def both(arguments: Dict[str, Any], cotangent: Any) -> List[Any]:
        def fn(a: Dict[str, Any]) -> Tuple[Any, Dict[str, Any]]:
            return call([a[n] for n in names]), {}

        out, _, grads = ops.vjp(fn, arguments, names, cotangent)
        return [out, *[grads[n] for n in names]]

    found = ops.compile(both)({n: ops.asarray(v) for n, v in zip(names, args)}, ops.asarray(g))
    return [np.asarray(ops.to_numpy(t), np.float64) for t in found]


def run_script(script: Path) -> Dict[str, Any]:
    """Run a rendered script with this interpreter; its figures."""
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPRO "))
    return dict(json.loads(line[len("REPRO ") :])["figures"])
