"""Real TensorFlow and PyTorch vs the float64 NumPy truth: one test per (case, tensor, backend).

The tolerance is the one the aggregator applies: ``min(noise limit, clean limit)``, where the
noise limit is ``max(noise_factor x float32 noise, floor)`` from ``data/thresholds.toml`` (the
float32 noise of each tensor is measured by the reference dump, NumPy float32 against float64)
and the clean limit is ``clean_factor x`` the largest error of the committed clean releases with
the same kernels (``data/calibration.csv.gz``; none on kernels it does not cover). Tensors whose
truth is degenerate are skipped with the reason; known divergences (``known = true`` rules) are
xfails only within the rule's measured bound, and a fix shows up.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Dict, List, Tuple

import numpy as np
import pytest

from wgan_parity.backends import load_backend
from wgan_parity.compare import calibration, thresholds, traits
from wgan_parity.compare.metrics import rel_l2
from wgan_parity.core.catalog import CATALOG, Case
from wgan_parity.core.fixtures import make_fixtures
from wgan_parity.dump.runner import run_case

FRAMEWORKS = ("tensorflow", "torch", "jax")


def _shrunk(case: Case) -> Case:
    """The same case at batch 2: same tensor names, a fraction of the cost."""
    dims = tuple(
        (k, 2 if k == "batch" else (2, *v[1:]) if k == "shape" else v) for k, v in case.dims
    )
    return dataclasses.replace(case, dims=dims)


@cache
def tensor_names(case_name: str) -> Tuple[str, ...]:
    """The tensors a case produces, found by running it small on the NumPy backend."""
    case = next(c for c in CATALOG if c.name == case_name)
    small = _shrunk(case)
    return tuple(run_case(_numpy_backend(), small, make_fixtures(small)))


@cache
def _numpy_backend():
    return load_backend("reference32")


def _params() -> List:
    params = []
    for case in CATALOG:
        for tensor in tensor_names(case.name):
            for backend in FRAMEWORKS:
                params.append(
                    pytest.param(case.name, tensor, backend, id=f"{case.name}/{tensor}/{backend}")
                )
    return params


@pytest.mark.frameworks
@pytest.mark.parametrize(("case", "tensor", "backend"), _params())
def test_matches_float64_truth(catalog_dumps: Dict, case: str, tensor: str, backend: str) -> None:
    reference, dump = catalog_dumps["reference"], catalog_dumps[backend]
    status = dump.meta["cases"][case]
    assert status["status"] == "ok", f"{case} failed on {backend}: {status['error']}"
    key = f"{case}/{tensor}"
    assert key in dump, f"{backend} dump lacks {key}; it has {status['tensors']}"
    truth, value = reference.get(key), dump.get(key)
    assert value.shape == truth.shape, (
        f"{key} on {backend}: shape {value.shape}, truth {truth.shape}"
    )
    assert value.dtype == np.float32, f"{key} on {backend}: dtype {value.dtype}, expected float32"
    assert np.isfinite(value).all(), f"{key} on {backend}: non-finite values"
    noise = reference.meta["noise"][key]["rel_l2"]
    limits = thresholds.load()
    if noise >= limits.degenerate_noise_rel_l2:
        pytest.skip(
            f"{key}: degenerate truth (float32 noise {noise:.2e} of its norm); "
            "no direction to compare"
        )
    env = traits.from_meta(dump.meta["env_id"], dump.meta)
    side = limits.side(case, tensor, env)
    largest = _calibration().lookup(case, tensor, env.kernels)
    clean = limits.clean_limit(largest)
    tolerance = dataclasses.replace(side, clean=clean).applied(noise)
    error = rel_l2(value, truth)
    message = (
        f"case {case}, tensor {tensor}, backend {backend}: relative L2 error vs float64 truth "
        f"{error:.3e} > tolerance {tolerance:.3e} (= min(max({side.noise_factor:g} x float32 "
        f"noise {noise:.3e}, floor {side.rel_l2_floor:.1e}), clean limit {clean:.3e} for "
        f"{env.kernels})); a tolerance of {error:.3e} would be needed"
    )
    rule = side.known_rule
    if rule is not None and error > tolerance:
        bound = rule.bound(side.limit(noise), largest, limits.rel_l2_floor)
        assert error <= bound, f"{message}; beyond the bound {bound:.3e} of known rule {rule.name}"
        pytest.xfail(f"known ({rule.name}): {message}")
    assert error <= tolerance, message


@cache
def _calibration() -> calibration.Calibration:
    return calibration.load()


@pytest.mark.frameworks
def test_every_known_divergence_still_diverges_somewhere(catalog_dumps: Dict) -> None:
    """A known rule that these envs match but no tensor needs any more is stale: a fix should be
    noticed (rules for other kernels, e.g. oneDNN off or TF32, are checked where those run)."""
    reference = catalog_dumps["reference"]
    limits = thresholds.load()
    needed: Dict[str, bool] = {}
    for backend in FRAMEWORKS:
        dump = catalog_dumps[backend]
        env = traits.from_meta(dump.meta["env_id"], dump.meta)
        for key in dump:
            case, tensor = key.split("/", 1)
            side = limits.side(case, tensor, env)
            noise = reference.meta["noise"][key]["rel_l2"]
            if side.known_rule is None or noise >= limits.degenerate_noise_rel_l2:
                continue
            needed.setdefault(side.known_rule.name, False)
            if rel_l2(dump.get(key), reference.get(key)) > side.limit(noise):
                needed[side.known_rule.name] = True
    stale = [name for name, used in needed.items() if not used]
    assert needed, "no known rule matched the built-in envs: the rules' traits are wrong"
    assert not stale, f"known divergences that no longer diverge (remove or narrow them): {stale}"
