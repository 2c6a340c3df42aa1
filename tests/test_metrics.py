"""Each metric on vectors whose answer is known exactly or in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wgan_parity.compare import metrics as m

RNG = np.random.default_rng(20261127)
X = RNG.standard_normal(1000)
FLOOR = 1e-3


def test_identical_vectors_are_zero_everywhere():
    got = m.compare_pair(X, X.copy(), FLOOR)
    assert got.cosine_distance == 0.0
    assert got.angle_deg == 0.0
    assert got.rel_l2 == 0.0
    assert got.max_abs_diff == 0.0
    assert got.mean_abs_diff == 0.0
    assert got.max_rel_diff == 0.0
    assert got.max_ulp == 0.0
    assert (got.nan_mismatch, got.inf_mismatch) == (0, 0)
    assert got.abs_mean_a == got.abs_mean_b == pytest.approx(np.mean(np.abs(X)), rel=1e-15)


def test_orthogonal_vectors():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    assert m.cosine_distance(a, b) == pytest.approx(1.0, rel=1e-15)
    assert m.angle_deg(a, b) == pytest.approx(90.0, rel=1e-13)
    assert m.rel_l2(a, b) == pytest.approx(math.sqrt(5) / 2, rel=1e-15)


def test_scaled_vector_has_zero_angle_but_relative_error():
    b = 1.5 * X
    assert m.cosine_distance(X, b) < 1e-30
    assert m.rel_l2(X, b) == pytest.approx(0.5 / 1.5, rel=1e-14)
    assert m.max_rel_diff(X, b, FLOOR) == pytest.approx(0.5 / 1.5, rel=1e-14)
    assert m.mean_abs_diff(X, b) == pytest.approx(0.5 * np.mean(np.abs(X)), rel=1e-14)


def test_opposite_vectors():
    assert m.cosine_distance(X, -X) == pytest.approx(2.0, rel=1e-15)
    assert m.angle_deg(X, -X) == pytest.approx(180.0, rel=1e-13)
    assert m.rel_l2(X, -X) == pytest.approx(2.0, rel=1e-15)
    assert m.max_abs_diff(X, -X) == pytest.approx(2 * np.max(np.abs(X)), rel=1e-15)


def test_zero_vectors_have_no_direction_but_defined_differences():
    z = np.zeros(5)
    assert math.isnan(m.cosine_distance(z, z))
    assert math.isnan(m.cosine_distance(z, np.ones(5)))
    assert math.isnan(m.angle_deg(z, np.ones(5)))
    assert m.rel_l2(z, z) == 0.0
    assert m.rel_l2(z, np.ones(5)) == 1.0
    assert m.max_rel_diff(z, z, FLOOR) == 0.0
    assert m.abs_mean(z) == 0.0


def test_near_zero_elements_are_held_by_the_floor():
    a = np.array([1.0, 1e-12, -2.0])
    b = np.array([1.0, 3e-12, -2.0])
    assert m.max_rel_diff(a, b, floor=1e-3) == pytest.approx(2e-12 / 1e-3, rel=1e-12)
    assert m.max_rel_diff(a, b, floor=1e-20) == pytest.approx(2.0 / 3.0, rel=1e-12)
    assert m.default_floor(np.array([2.0, -4.0])) == pytest.approx(m.MAX_REL_FLOOR * 3.0)
    assert m.default_floor(np.zeros(3)) == m.TINY32
    with pytest.raises(ValueError, match="positive floor"):
        m.max_rel_diff(a, b, floor=0.0)


def test_tiny_relative_perturbation_gives_positive_correct_distance():
    # b = a (1 + eps r) with r ⟂ a after centring: 1 − cos θ ≈ ½ eps² Var_w(r) (closed form below).
    eps = 1e-7
    r = RNG.standard_normal(X.size)
    b = X * (1.0 + eps * r)
    u = X / np.linalg.norm(X)
    w = u * u  # weights of each element in the direction
    expected = 0.5 * eps**2 * (np.sum(w * r * r) - np.sum(w * r) ** 2)
    got = m.cosine_distance(X, b)
    assert got > 0.0
    assert got == pytest.approx(expected, rel=1e-6)
    assert m.angle_deg(X, b) == pytest.approx(math.degrees(math.sqrt(2 * expected)), rel=1e-6)


def test_cosine_distance_is_never_negative_where_one_minus_cos_is():
    a = np.full(100_000, 0.1, dtype=np.float32)
    b = a.copy()
    b[0] = np.nextafter(b[0], np.float32(1))
    naive = 1.0 - float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    got = m.cosine_distance(a, b)
    assert got > 0.0
    assert naive <= 0.0 or abs(naive - got) > got  # float32 1 − cos is wrong here, ours is not


def test_nan_and_inf():
    a = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    b = np.array([1.0, 2.0, np.nan, np.inf, -np.inf])
    for fn in (m.cosine_distance, m.rel_l2, m.max_abs_diff, m.mean_abs_diff, m.max_ulp):
        assert math.isnan(fn(a, b)), fn.__name__
    assert m.nonfinite_mismatch(a, b) == (2, 1)
    got = m.compare_pair(a, b, FLOOR)
    assert (got.nan_mismatch, got.inf_mismatch) == (2, 1)
    assert (got.nonfinite_a, got.nonfinite_b) == (2, 3)
    assert got.max_abs_diff == 0.0  # only element 0 is finite on both sides, and it agrees
    assert got.abs_mean_a == pytest.approx(3.0)
    assert got.abs_mean_b == pytest.approx(1.5)


def test_empty_inputs_give_nan_not_errors():
    e = np.array([], dtype=np.float32)
    got = m.compare_pair(e, e, FLOOR)
    for name in (
        "cosine_distance",
        "rel_l2",
        "max_abs_diff",
        "mean_abs_diff",
        "max_ulp",
        "abs_mean_a",
    ):
        assert math.isnan(getattr(got, name)), name
    assert (got.nan_mismatch, got.size) == (0, 0)


def test_mismatched_sizes_are_refused():
    with pytest.raises(ValueError, match="cannot compare"):
        m.rel_l2(np.ones(3), np.ones(4))


def test_ulp_distance_counts_float32_steps_and_signed_zeros_are_equal():
    a = np.array([1.0, 0.0, -1.0, 1e-30], dtype=np.float32)
    b = a.copy()
    b[0] = np.nextafter(np.nextafter(a[0], np.float32(2)), np.float32(2))  # 2 steps up
    assert m.max_ulp(a, b) == 2.0
    assert m.max_ulp(np.float32([0.0]), np.float32([-0.0])) == 0.0
    smallest = np.float32(np.finfo(np.float32).smallest_subnormal)
    assert m.max_ulp(np.float32([-smallest]), np.float32([smallest])) == 2.0
    assert m.max_ulp(np.float32([-1.0]), np.float32([1.0])) == 2 * 0x3F800000  # no int32 overflow


def test_ulp_of_float64_rounds_to_float32_first():
    x = np.array([1.0 + 1e-12])  # rounds to 1.0f
    assert m.max_ulp(x, np.float32([1.0])) == 0.0


def test_huge_values_do_not_overflow_the_norm():
    a = np.array([1e200, 1e200])
    assert m.rel_l2(a, 2 * a) == pytest.approx(0.5)
    assert m.cosine_distance(a, 2 * a) < 1e-30
