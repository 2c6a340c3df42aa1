"""ReLU kinks within rounding of zero: the reference measures them, the verdict allows for them.

An implementation that lands one ReLU input near zero on the other side of the truth moves a
composite gradient far past float32 noise (torch 1.9.1, the Keras port): that is a rounding
lottery, not a defect, and it must not be blamed; a wrong activation must still be.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from wgan_parity.compare import thresholds
from wgan_parity.compare.verdict import DIVERGED, OK, Side, Truth, judge
from wgan_parity.dump import kinks

CASE = "residual_down.random"


class _Toy:
    """A backend with only a ReLU, as the probe sees one."""

    def __init__(self) -> None:
        self.relu = lambda x: np.where(x > 0, x, 0.0)


def test_the_probe_finds_the_inputs_float32_may_put_on_either_side() -> None:
    truth = np.array([3.0, -2e-9, 5e-9, -4.0, 1.0, 7e-7], dtype=np.float64)
    approx = truth.astype(np.float32).astype(np.float64) + np.array([0, 3e-9, -1e-8, 0, 1e-8, 0])
    probe, toy = kinks.KinkProbe(), _Toy()
    with probe.running(toy, "record"):
        toy.relu(truth)
    with probe.running(toy, "compare"):
        toy.relu(approx)
    # 1 and 2 change sign in float32; 5 is within 16 float32 units of the largest input (4.0)
    assert sorted(probe.calls[0].ambiguous.tolist()) == [1, 2, 5], probe.calls
    assert probe.flips == 3
    with probe.running(toy, "flip"):
        flipped = toy.relu(truth)
    np.testing.assert_array_equal(flipped, [3.0, -2e-9, 0.0, 0.0, 1.0, 0.0])


def test_the_kink_allowance_is_a_floor_under_every_other_limit() -> None:
    th = thresholds.load()
    limit = dataclasses.replace(th.side(CASE, "grad/x", _env()), clean=2e-6)  # a tight clean one
    reference = Side("reference", True, err=0.0)
    one_flip = Side("tf", False, err=9.9e-5, limit=limit)
    no_kinks = Truth(9.9e-8, (2, 2))
    assert judge(one_flip, reference, 9.9e-5, no_kinks, th).status == DIVERGED
    kinked = Truth(9.9e-8, (2, 2), kink_rel_l2=1.1e-3)
    verdict = judge(one_flip, reference, 9.9e-5, kinked, th)
    assert verdict.status == OK, verdict
    assert "ReLU-kink allowance" in verdict.note, verdict
    wrong = Side("tf", False, err=5e-2, limit=limit)
    assert judge(wrong, reference, 5e-2, kinked, th).status == DIVERGED
    assert math.isclose(limit.applied(9.9e-8, 1.1e-3), th.kink_factor * 1.1e-3)


def _env() -> Any:
    from wgan_parity.compare import traits

    return traits.EnvTraits("tf", "tensorflow", ("tensorflow",), "avx2")


FLIPPER = '''
"""torch whose ReLU lands the one input nearest zero on its other side: a rounding lottery."""
from wgan_parity.backends import torch as base

BASE = "torch"


def relu(x):
    mask = x > 0
    flat = mask.reshape(-1).clone()
    nearest = int(base.torch.argmin(x.detach().abs().reshape(-1)))
    flat[nearest] = ~flat[nearest]
    return base.torch.where(flat.reshape(mask.shape), x, base.torch.zeros_like(x))
'''


def _rows(tmp_path: Path, backends: Dict[str, str]) -> Any:
    pd = pytest.importorskip("pandas")
    from wgan_parity.cli import main

    paths: List[str] = []
    for label, backend in {"reference": "reference", **backends}.items():
        out = tmp_path / f"{label}.npz"
        args = ["dump", "--backend", backend, "--env-id", label, "--cases", CASE]
        assert main([*args, "--out", str(out), "--quiet", "--noise", "measure"]) == 0
        paths.append(str(out))
    main(["aggregate", *paths, "--out", str(tmp_path / "res"), "--quiet"])
    pairs = pd.read_csv(tmp_path / "res" / "pairs.csv")
    return pairs[pairs["env_b"] == "reference"].set_index(["env_a", "tensor"])


@pytest.mark.slow
def test_a_lottery_flip_passes_and_a_wrong_activation_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    (tmp_path / "kink_flipper.py").write_text(textwrap.dedent(FLIPPER))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("kink_flipper", None)
    rows = _rows(tmp_path, {"flipper": "kink_flipper", "leaky": "wgan_parity.bugs.relu_leaky"})
    flipper = rows.loc["flipper"]
    grads = flipper[flipper.index.str.startswith("grad/")]
    assert grads["kink_rel_l2"].notna().all(), grads["kink_rel_l2"]
    assert grads.loc["grad/x", "kink_rel_l2"] > 0, grads["kink_rel_l2"]  # behind both ReLUs
    assert (grads["status"] == OK).all(), grads[["status", "err_a", "limit_a", "note"]]
    without_kinks = np.fmin(grads["noise_limit_a"], grads["clean_limit_a"])
    lottery = grads[grads["err_a"] > without_kinks]
    assert len(lottery) > 0, "the flip moved no gradient past its other limits: the test is moot"
    assert lottery["note"].str.contains("ReLU-kink allowance").all(), lottery["note"]
    leaky = rows.loc["leaky"]
    assert (leaky.loc[leaky.index.str.startswith("grad/"), "status"] == DIVERGED).any()
    assert (leaky.loc[leaky.index.str.startswith("tap/"), "status"] == DIVERGED).any()
