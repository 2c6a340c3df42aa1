"""Parity test machinery: which (case, tensor, framework) ids exist, and the check of one.

Collection reads the tensors of each case from ``tests/data/parity_tensors.json`` (nothing runs);
a case the file lacks is run small on the NumPy float32 backend, and a case that cannot run still
gets an id, which fails with the error. ``wgan-parity regen parity-tensors`` rewrites the file
(:mod:`wgan_parity.dump.tensor_names`) and ``test_parity_tensors_file_is_current`` fails when it
drifts from the model. The frameworks come
from the registry (:func:`wgan_parity.frameworks.compared`), so a new framework's entry is enough.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

from wgan_parity import frameworks
from wgan_parity.compare import calibration, thresholds, traits
from wgan_parity.compare.metrics import norm_ratio, rel_err
from wgan_parity.compare.verdict import norm_is_off
from wgan_parity.core.catalog import CATALOG, Case
from wgan_parity.dump import tensor_names as names

TENSORS_FILE = Path(__file__).resolve().parents[1] / names.TENSORS_FILE
UNKNOWN = "?"  # the tensor of the one id a case gets when its tensors cannot be found


@cache
def recorded_tensor_names() -> Dict[str, Tuple[str, ...]]:
    """case -> tensors, as recorded in :data:`TENSORS_FILE` ({} when it is missing)."""
    return names.load(TENSORS_FILE)


@cache
def tensor_names(case_name: str) -> Tuple[Tuple[str, ...], Optional[str]]:
    """(tensors, error): recorded, else run small; a case that cannot run gives its error."""
    case = next(c for c in CATALOG if c.name == case_name)
    recorded = recorded_tensor_names().get(case.name)
    if recorded is not None:
        return recorded, None
    try:
        return names.run_tensor_names(case), None
    except Exception as exc:  # a model bug fails that case's test, not the collection
        return (UNKNOWN,), f"{type(exc).__name__}: {exc}"


def parity_params(cases: Sequence[Case] = CATALOG) -> List[Any]:
    """One ``pytest.param(case, tensor, backend)`` per (case, tensor, compared framework)."""
    params = []
    for case in cases:
        for tensor in tensor_names(case.name)[0]:
            for framework in frameworks.compared():
                params.append(
                    pytest.param(
                        case.name,
                        tensor,
                        framework.name,
                        id=f"{case.name}/{tensor}/{framework.name}",
                    )
                )
    return params


@cache
def _calibration() -> calibration.Calibration:
    return calibration.load()


def check_against_truth(reference: Any, dump: Any, case: str, tensor: str, backend: str) -> None:
    """Assert ``dump``'s ``case/tensor`` is within the aggregator's tolerance of the truth.

    The tolerance is ``min(noise limit, clean limit)`` (see ``tests/test_parity.py``); a tensor
    with degenerate truth is skipped, a known divergence within its bound is an xfail.
    """
    if tensor == UNKNOWN:
        pytest.fail(
            f"case {case}: its tensors are unknown, running it failed: {tensor_names(case)[1]}"
        )
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
    kink = float(reference.meta["noise"][key].get("kink_rel_l2", math.nan))
    tolerance = dataclasses.replace(side, clean=clean).applied(noise, kink)
    error, ratio = rel_err(value, truth), norm_ratio(value, truth)
    off = error > tolerance or norm_is_off(ratio, limits.norm_ratio_max)
    message = (
        f"case {case}, tensor {tensor}, backend {backend}: error vs float64 truth "
        f"||x - t|| / ||t|| {error:.3e} (norm {ratio:.3g} x the truth's; off by "
        f"{limits.norm_ratio_max:g}x is off whatever the tolerance), tolerance "
        f"{tolerance:.3e} (= min(max({side.noise_factor:g} x float32 "
        f"noise {noise:.3e}, floor {side.rel_l2_floor:.1e}), clean limit {clean:.3e} for "
        f"{env.kernels}), at least the ReLU-kink allowance {side.kink(kink):.3e}); a tolerance "
        f"of {error:.3e} would be needed"
    )
    rule = side.known_rule
    if rule is not None and off:
        bound = rule.bound(side.limit(noise), largest, limits.rel_l2_floor)
        assert error <= bound, f"{message}; beyond the bound {bound:.3e} of known rule {rule.name}"
        pytest.xfail(f"known ({rule.name}): {message}")
    assert not off, message
    if tolerance >= limits.unjudged_rel_err:  # the verdict's `unjudged`: this check had no power
        pytest.skip(f"unjudged: a tolerance of {tolerance:.3e} cannot fail a wrong result")
