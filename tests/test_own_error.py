"""Each layer's own error (shadow replay) puts a planted bug at the layer that has it.

For every planted bug of the selftest that acts inside a composite case, the real framework
runs the case twice: propagated, and replayed on the float64 truth's input at every tap. The
taps whose *own* error stands out (10x the clean framework's own error at that tap) must all be
layers built on the bugged primitive, at least one must, and a layer downstream that is not
built on it must show the error as *inherited*, not its own.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Dict, FrozenSet, Tuple

import numpy as np
import pytest

from wgan_parity import bugs
from wgan_parity.backends import load_backend
from wgan_parity.compare import localize
from wgan_parity.core.catalog import select
from wgan_parity.core.fixtures import make_fixtures
from wgan_parity.core.protocol import Ops
from wgan_parity.dump import shadow
from wgan_parity.dump.case_runner import run_case

COMPOSITE_BLOCKS = {"residual_block", "good_generator", "good_discriminator", "gradient_penalty"}
# The taps whose layer (the ops between the previous tap and this one) runs each primitive,
# read from core/model.py: a block's output tap (``res1``) only adds two tapped values.
RESIDUAL = re.compile(r"res\d$")
LAYERS_WITH: Dict[str, FrozenSet[str]] = {
    "batch_norm": frozenset({"norm1", "norm2", "output_norm"}),
    "layer_norm": frozenset({"norm1", "norm2"}),
    "conv2d": frozenset({"shortcut", "conv1", "conv2", "output_conv", "input"}),
    "depth_to_space": frozenset({"shortcut", "conv1"}),  # upsample_conv: the up block's
    "mean_pool": frozenset({"shortcut", "conv2"}),  # the down block's mean_pool_conv/conv_mean_pool
    "linear": frozenset({"input"}),
    "relu": frozenset({"conv1", "conv2", "output_conv"}),  # relu runs just before those convs
    "tanh": frozenset(),  # after the last tap: only ``out`` can show it
}
STANDS_OUT = 10.0  # own error this many times the clean framework's own error at the same tap
FLOOR = 1e-6  # ... and above float32 rounding of any layer here


def _leaf(tap: str) -> str:
    leaf = tap.rsplit(".", 1)[-1]
    return "block" if RESIDUAL.fullmatch(leaf) else leaf


def _primitive(name: str) -> str:
    module = bugs.load(name)
    defined = [p for p in LAYERS_WITH if callable(getattr(module, p, None))]
    assert len(defined) == 1, f"{name}: expected one overridden primitive, found {defined}"
    return defined[0]


def _cases(name: str) -> Tuple[str, ...]:
    """The bug's composite cases, random weights (seed mode hides kernel bugs), small first."""
    touched = [c for c in select(bugs.load(name).TOUCHES) if c.block in COMPOSITE_BLOCKS]
    names = {c.name for c in touched}
    return tuple(
        c.name
        for c in touched
        if c.weights == "random" and not (c.name.endswith(".random") and _probe(c.name) in names)
    )


def _probe(case: str) -> str:
    return case.rsplit(".", 1)[0] + ".probe"


@functools.cache
def _backend(name: str) -> Ops:
    return load_backend(name)


@functools.cache
def _truth(case_name: str) -> Dict[str, np.ndarray]:
    """The truth's whole-batch taps."""
    (case,) = select([case_name])
    return shadow.truth_taps(_backend("reference"), case, make_fixtures(case))


@functools.cache
def _errors(backend: str, case_name: str) -> Dict[str, Tuple[float, float, float]]:
    """tap -> (propagated err, own err, inherited err) against the float64 truth."""
    (case,) = select([case_name])
    fixtures, ops = make_fixtures(case), _backend(backend)
    full = _truth(case_name)
    mine = run_case(ops, case, fixtures)
    own = shadow.replay(ops, case, fixtures, full)
    out = {}
    for key, value in own.items():
        tap = key[len("own/") :]
        t = np.asarray(full[tap][: case.tap_samples], np.float64)
        x = np.asarray(mine[f"tap/{tap}"], np.float64)
        o = np.asarray(value, np.float64)
        scale = float(np.linalg.norm(t))
        out[tap] = tuple(float(np.linalg.norm(d)) / scale for d in (x - t, o - t, x - o))
    return out


PLANTED = [(name, case) for name in bugs.names() for case in _cases(name)]


@pytest.mark.parametrize(("bug", "case"), PLANTED, ids=[f"{b}-{c}" for b, c in PLANTED])
def test_own_error_sits_at_the_planted_layer(bug: str, case: str) -> None:
    module = bugs.load(bug)
    pytest.importorskip(module.BASE)
    primitive = _primitive(bug)
    planted = _errors(f"{bugs.PACKAGE}.{bug}", case)
    clean = _errors(module.BASE, case)
    assert planted, f"{case}: no taps replayed"
    assert set(planted) == set(clean)
    stands_out = [
        tap for tap, (_, own, _) in planted.items() if own > max(STANDS_OUT * clean[tap][1], FLOOR)
    ]
    table = "\n".join(
        f"  {tap:16s} err {e:.2e} own {o:.2e} inherited {i:.2e} (clean own {clean[tap][1]:.2e})"
        for tap, (e, o, i) in planted.items()
    )
    layers = LAYERS_WITH[primitive]
    wrong = [t for t in stands_out if _leaf(t) not in layers]
    assert not wrong, f"{bug} ({primitive}) on {case}: own error at {wrong}\n{table}"
    if not layers:
        return  # acts after the last tap: no layer may claim it (checked above)
    assert stands_out, f"{bug} ({primitive}) on {case}: no layer shows own error\n{table}"
    carried = [
        tap
        for tap, (err, own, inherited) in planted.items()
        if _leaf(tap) not in layers and err > max(STANDS_OUT * clean[tap][0], FLOOR)
    ]
    claimed = [t for t in carried if not planted[t][2] > STANDS_OUT * planted[t][1]]
    assert not claimed, f"{bug} on {case}: {claimed} carry the error as their own\n{table}"
    if (bug, case) in INHERITING:
        assert INHERITING[(bug, case)] in carried, f"{bug} on {case}: expected\n{table}"


# Planted bugs whose error must reach a layer downstream that is not built on the bugged
# primitive (so the check above is not vacuous): the layer after the bugged one.
INHERITING = {
    ("bn_unbiased_var", "residual_up.probe"): "conv1",
    ("relu_leaky", "residual_down.probe"): "norm2",
    ("ln_instance_norm", "residual_down.probe"): "conv1",
    ("linear_weight_reshape", "good_generator.random"): "res1.norm1",
}


def test_inheriting_cases_are_planted() -> None:
    assert set(INHERITING) <= set(PLANTED)


def test_origin_names_the_first_layer_over_its_limit() -> None:
    """The localization line reads from the own-error columns, in forward order."""
    rows = [
        {"case": "c", "tensor": "tap/norm1", "env_a": "e", "env_b": "reference",
         "status": "ok", "known": "", "own_err_a": 1e-7, "limit_a": 1e-5,
         "inherited_err_a": 0.0},
        {"case": "c", "tensor": "tap/norm2", "env_a": "e", "env_b": "reference",
         "status": "diverged", "known": "", "own_err_a": 2.6e-4, "limit_a": 1e-5,
         "inherited_err_a": 2e-7},
        {"case": "c", "tensor": "tap/conv2", "env_a": "e", "env_b": "reference",
         "status": "diverged", "known": "", "own_err_a": 3e-4, "limit_a": 1e-5,
         "inherited_err_a": 3e-4},
    ]  # fmt: skip
    found = localize.origin(rows, "e")
    assert found is not None
    assert found.tap == "norm2"
    assert found.describe() == (
        "norm2 adds 2.6e-04 of its own (limit 1.0e-05); its input carried 2.0e-07"
    )
    for row in rows:
        row["own_err_a"] = 5e-6
    spread = localize.origin(rows, "e")
    assert spread is not None
    assert spread.tap == ""
    assert "accumulates" in spread.describe()
    for row in rows:
        row["own_err_a"] = math.nan
    assert localize.origin(rows, "e") is None
