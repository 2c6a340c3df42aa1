"""Comparison metrics: small pure functions of two arrays, computed in float64.

Every function flattens its inputs, converts them to float64 and returns a Python number.
Conventions, the same everywhere:

- An empty input gives NaN: there is nothing to measure.
- A value metric of data holding NaN or Inf is NaN. :func:`compare_pair` instead measures the
  elements finite on both sides and counts the NaN/Inf positions that differ.
- The cosine distance is ``½‖â − b̂‖²`` with ``â = a/‖a‖``, which equals ``1 − cos θ`` but is
  never negative and keeps its relative precision down to about 1e-30; it is NaN when either
  side is all zeros (no direction). :func:`angle_deg` turns it into degrees.
- The relative L2 error is symmetric: ``‖a − b‖ / max(‖a‖, ‖b‖)``, in [0, 2], 0 for two zero
  vectors.
- The max relative difference divides each ``|a_i − b_i|`` by ``max(|a_i|, |b_i|, floor)``. The
  floor keeps elements near zero, whose float32 error is set by the scale of the computation and
  not by their own size, from dominating. :func:`default_floor` is ``MAX_REL_FLOOR`` times the mean
  absolute value of the truth (the reference), or the smallest normal float32 when that is zero.
- ULP distances are counted in float32: float64 data (the reference) is rounded to float32
  first, and ``-0.0`` and ``+0.0`` are the same number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

MAX_REL_FLOOR = 1e-3
"""Floor of :func:`max_rel_diff`, as a fraction of the mean absolute value of the truth."""
TINY32 = float(np.finfo(np.float32).tiny)
_INT32_MIN = np.int64(-(2**31))


def _flat64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _pair(a: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    a, b = _flat64(a), _flat64(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of {a.size} and {b.size} elements")
    return a, b


def _unusable(*arrays: np.ndarray) -> bool:
    return any(x.size == 0 or not np.isfinite(x).all() for x in arrays)


def _norm(x: np.ndarray) -> float:
    """Euclidean norm, scaled first so that no square overflows."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        return 0.0
    scaled = x / top
    return top * math.sqrt(float(np.dot(scaled, scaled)))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``½‖a/‖a‖ − b/‖b‖‖²`` (= 1 − cos θ, never negative); NaN if empty, non-finite or zero."""
    a, b = _pair(a, b)
    if _unusable(a, b):
        return math.nan
    na, nb = _norm(a), _norm(b)
    if na == 0.0 or nb == 0.0:
        return math.nan
    diff = a / na - b / nb
    return 0.5 * float(np.dot(diff, diff))


def angle_from_cosine_distance(distance: float) -> float:
    """Angle in degrees for a cosine distance ``d``: ``2·asin(√(d/2))``, exact for tiny angles."""
    if not math.isfinite(distance):
        return math.nan
    return math.degrees(2.0 * math.asin(min(1.0, math.sqrt(max(distance, 0.0) / 2.0))))


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between ``a`` and ``b`` in degrees; NaN where the cosine distance is."""
    return angle_from_cosine_distance(cosine_distance(a, b))


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a − b‖ / max(‖a‖, ‖b‖)``: symmetric, in [0, 2]; 0 for two zero vectors."""
    a, b = _pair(a, b)
    if _unusable(a, b):
        return math.nan
    scale = max(_norm(a), _norm(b))
    return _norm(a - b) / scale if scale > 0.0 else 0.0


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a − b|``."""
    a, b = _pair(a, b)
    return math.nan if _unusable(a, b) else float(np.max(np.abs(a - b)))


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``mean |a − b|`` (the seed's ``diff.mean``)."""
    a, b = _pair(a, b)
    return math.nan if _unusable(a, b) else float(np.mean(np.abs(a - b)))


def default_floor(truth: np.ndarray) -> float:
    """``MAX_REL_FLOOR · mean|truth|``, or the smallest normal float32 if that is 0 or undefined."""
    return floor_from_mean(abs_mean(truth))


def floor_from_mean(mean_abs: float) -> float:
    """:func:`default_floor` given ``mean|truth|``."""
    floor = MAX_REL_FLOOR * mean_abs
    return floor if math.isfinite(floor) and floor > 0.0 else TINY32


def max_rel_diff(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    """``max |a − b| / max(|a|, |b|, floor)``; ``floor > 0`` (see :func:`default_floor`)."""
    if not floor > 0.0:
        raise ValueError(f"max_rel_diff needs a positive floor, got {floor!r}")
    a, b = _pair(a, b)
    if _unusable(a, b):
        return math.nan
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float(np.max(np.abs(a - b) / scale))


def abs_mean(a: np.ndarray) -> float:
    """``mean |a|`` (the seed's ``abs.mean``); NaN if empty or non-finite."""
    a = _flat64(a)
    return math.nan if _unusable(a) else float(np.mean(np.abs(a)))


def float32_ordinal(x: np.ndarray) -> np.ndarray:
    """Monotone int64 position of each value on the float32 line (``-0.0`` and ``+0.0`` both 0).

    Consecutive float32 numbers have consecutive ordinals, so the difference of two ordinals is
    their distance in units in the last place. Float64 input is rounded to float32 first.
    """
    bits = np.ascontiguousarray(x, dtype=np.float32).reshape(-1).view(np.int32).astype(np.int64)
    return np.where(bits < 0, _INT32_MIN - bits, bits)


def max_ulp(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance in float32 ULPs between ``a_i`` and ``b_i``; NaN if empty or non-finite."""
    a, b = _pair(a, b)
    if _unusable(a, b):
        return math.nan
    return float(np.max(np.abs(float32_ordinal(a) - float32_ordinal(b))))


def nonfinite_mismatch(a: np.ndarray, b: np.ndarray) -> Tuple[int, int]:
    """Positions where exactly one side is NaN, and where the sides differ in ``±Inf``."""
    a, b = _pair(a, b)
    nan = int(np.count_nonzero(np.isnan(a) != np.isnan(b)))
    inf = int(
        np.count_nonzero((np.isposinf(a) != np.isposinf(b)) | (np.isneginf(a) != np.isneginf(b)))
    )
    return nan, inf


@dataclass(frozen=True)
class PairMetrics:
    """Every metric of one pair; value metrics cover the elements finite on both sides."""

    cosine_distance: float
    angle_deg: float
    rel_l2: float
    max_abs_diff: float
    mean_abs_diff: float
    max_rel_diff: float
    max_ulp: float
    abs_mean_a: float
    abs_mean_b: float
    nan_mismatch: int
    inf_mismatch: int
    nonfinite_a: int
    nonfinite_b: int
    size: int


def compare_pair(a: np.ndarray, b: np.ndarray, floor: float) -> PairMetrics:
    """All metrics of ``a`` against ``b`` in the plainest correct way (the engine's yardstick).

    ``a`` and ``b`` must hold as many elements. NaN/Inf positions are counted and left out of
    the value metrics; ``abs_mean_*`` covers each side's own finite elements.
    """
    a, b = _pair(a, b)
    fin_a, fin_b = np.isfinite(a), np.isfinite(b)
    both = fin_a & fin_b
    x, y = (a, b) if both.all() else (a[both], b[both])
    distance = cosine_distance(x, y)
    nan, inf = nonfinite_mismatch(a, b)
    return PairMetrics(
        cosine_distance=distance,
        angle_deg=angle_from_cosine_distance(distance),
        rel_l2=rel_l2(x, y),
        max_abs_diff=max_abs_diff(x, y),
        mean_abs_diff=mean_abs_diff(x, y),
        max_rel_diff=max_rel_diff(x, y, floor),
        max_ulp=max_ulp(x, y),
        abs_mean_a=abs_mean(a[fin_a]),
        abs_mean_b=abs_mean(b[fin_b]),
        nan_mismatch=nan,
        inf_mismatch=inf,
        nonfinite_a=int(a.size - np.count_nonzero(fin_a)),
        nonfinite_b=int(b.size - np.count_nonzero(fin_b)),
        size=int(a.size),
    )
