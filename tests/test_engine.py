"""The streaming Gram engine agrees with the plain per-pair metrics on every pair."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wgan_parity.compare import engine, metrics, pair_kernels
from wgan_parity.compare.member_reader import LoadedMember

RNG = np.random.default_rng(11)
SIZE = 10_007  # not a multiple of any block or chunk


def _members() -> list:
    truth = RNG.standard_normal(SIZE) * np.linspace(1e-3, 5.0, SIZE)
    f32 = truth.astype(np.float32)
    envs = {
        "rounded": f32,
        "noisy": (truth * (1 + 1e-7 * RNG.standard_normal(SIZE))).astype(np.float32),
        "scaled": (truth * (1 + 1e-4)).astype(np.float32),
        "twin": f32.copy(),  # bitwise equal to "rounded"
        "negated": -f32,
        "zeros": np.zeros(SIZE, np.float32),
        "one-element": np.where(np.arange(SIZE) == 17, f32 + 1.0, f32).astype(np.float32),
    }
    return [truth, *envs.values()]


@pytest.fixture(params=[1, 3], ids=["1-thread", "3-threads"])
def jobs(request):
    return request.param


@pytest.fixture(params=["one-block", "many-blocks"])
def small_blocks(request, monkeypatch):
    if request.param == "many-blocks":
        monkeypatch.setattr(pair_kernels, "CHUNK", 512)  # 64 columns for 8 members
        monkeypatch.setattr(pair_kernels, "MIN_COLUMNS", 16)
        monkeypatch.setattr(engine, "BLOCK_BYTES", 32 * 8 * 300)  # 256-column blocks
    return request.param


FIELDS = [f for f in metrics.PairMetrics.__dataclass_fields__]


def _close(got: float, want: float, field: str) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    if field in {"cosine_distance"}:
        return abs(got - want) <= 1e-6 * abs(want) + 1e-22
    if field == "angle_deg":
        return abs(got - want) <= 1e-6 * abs(want) + 1e-9
    return abs(got - want) <= 1e-6 * abs(want) + 1e-300


def test_every_pair_matches_compare_pair(jobs, small_blocks):
    arrays = _members()
    sources = [LoadedMember(a) for a in arrays]
    result = engine.compare_group(sources, jobs=jobs)
    floor = metrics.default_floor(arrays[0])
    assert result.floor == pytest.approx(floor, rel=1e-14)
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            got, want = result.pair(i, j), metrics.compare_pair(arrays[i], arrays[j], floor)
            for field in FIELDS:
                g, w = getattr(got, field), getattr(want, field)
                assert _close(g, w, field), f"pair ({i},{j}) {field}: engine {g!r} vs plain {w!r}"


def test_bitwise_equal_members_give_exact_zeros():
    arrays = _members()
    result = engine.compare_group([LoadedMember(a) for a in arrays])
    got = result.pair(1, 4)  # rounded vs twin
    assert (got.cosine_distance, got.rel_l2, got.max_abs_diff, got.max_ulp) == (0.0, 0.0, 0.0, 0.0)


def test_tiny_perturbation_is_resolved_not_zero():
    arrays = _members()
    result = engine.compare_group([LoadedMember(a) for a in arrays])
    got = result.pair(1, 2)  # rounded vs 1e-7 noisy
    assert 1e-17 < got.cosine_distance < 1e-12
    assert got.cosine_distance == pytest.approx(
        metrics.cosine_distance(arrays[1], arrays[2]), rel=1e-6
    )


def test_non_finite_member_is_recomputed_on_finite_elements():
    truth = RNG.standard_normal(SIZE)
    bad = truth.astype(np.float32)
    bad[[5, 900]] = [np.nan, np.inf]
    good = truth.astype(np.float32)
    result = engine.compare_group([LoadedMember(truth), LoadedMember(bad), LoadedMember(good)])
    assert list(result.nonfinite) == [0, 2, 0]
    got = result.pair(1, 2)
    assert (got.nan_mismatch, got.inf_mismatch, got.nonfinite_a) == (1, 1, 2)
    assert got.max_abs_diff == 0.0
    clean = result.pair(0, 2)
    assert clean.nan_mismatch == 0
    assert clean.rel_l2 < 1e-7


def test_float64_member_uses_the_float64_path():
    truth = RNG.standard_normal(SIZE)
    other = truth * (1 + 1e-12)
    result = engine.compare_group(
        [LoadedMember(truth), LoadedMember(other), LoadedMember(truth.astype(np.float32))]
    )
    assert result.pair(0, 1).rel_l2 == pytest.approx(1e-12, rel=1e-3)
    assert result.pair(1, 2).max_abs_diff == pytest.approx(
        metrics.max_abs_diff(other, truth.astype(np.float32))
    )


def test_empty_tensor():
    e = np.zeros(0)
    result = engine.compare_group([LoadedMember(e), LoadedMember(e.astype(np.float32))])
    got = result.pair(0, 1)
    assert got.size == 0
    assert math.isnan(got.cosine_distance)
