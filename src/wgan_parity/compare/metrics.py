"""Comparison metrics: small pure functions of two arrays, computed in float64.

Every function flattens its inputs, converts them to float64 and returns a Python number.
Conventions, the same everywhere:

- An empty input gives NaN: there is nothing to measure.
- A value metric of data holding NaN or Inf is NaN. :func:`compare_pair` instead measures the
  elements finite on both sides and counts the NaN/Inf positions that differ.
- The cosine distance is ``½‖â − b̂‖²`` with ``â = a/‖a‖``, which equals ``1 − cos θ`` but is
  never negative and keeps its relative precision down to about 1e-30; it is NaN when either
  side is all zeros (no direction). :func:`angle_deg` turns it into degrees.
- The relative L2 error of a pair is symmetric: ``‖a − b‖ / max(‖a‖, ‖b‖)``, in [0, 2], 0 for
  two zero vectors. It saturates: a result of any size whose direction is unrelated to ``b``, or
  one far too large, scores about 1. So an error *against the truth* is never this one, but
  :func:`rel_err` = ``‖x − t‖ / ‖t‖``, unbounded, with :func:`norm_ratio` = ``‖x‖ / ‖t‖`` beside it.
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
from typing import List, Tuple

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


def rel_err(x: np.ndarray, truth: np.ndarray) -> float:
    """``‖x − t‖ / ‖t‖``: the error relative to the truth, never saturating (a result 1e5 times too
    large scores about 1e5); 0 when both are zero, ``inf`` when only the truth is."""
    x, t = _pair(x, truth)
    if _unusable(x, t):
        return math.nan
    diff, scale = _norm(x - t), _norm(t)
    return diff / scale if scale > 0.0 else (0.0 if diff == 0.0 else math.inf)


def norm_ratio(x: np.ndarray, truth: np.ndarray) -> float:
    """``‖x‖ / ‖t‖``: how many times the truth's size ``x`` has; NaN when the truth is zero."""
    x, t = _pair(x, truth)
    if _unusable(x, t):
        return math.nan
    scale = _norm(t)
    return _norm(x) / scale if scale > 0.0 else math.nan


def rel_err_from_pair(rel_l2_sym: float, ratio: float) -> float:
    """:func:`rel_err` of ``x`` from the pair's symmetric :func:`rel_l2` and ``‖x‖/‖t‖``.

    ``‖x − t‖ = rel_l2 · max(‖x‖, ‖t‖)``, so the error relative to ``t`` is
    ``rel_l2 · max(1, ratio)``: exact up to rounding, no cancellation.
    """
    if not (rel_l2_sym == rel_l2_sym and ratio == ratio):
        return math.nan
    return rel_l2_sym * max(1.0, ratio)


def norm_ratio_from_symmetric(rel_l2_sym: float, cosine: float, l1_ratio: float) -> float:
    """``‖x‖/‖t‖`` recovered from a pair's recorded symmetric ``rel_l2`` and cosine distance.

    For results written before the truth-relative error existed. With ``r = ‖x‖/‖t‖`` and
    ``c = 1 − cosine``: ``‖x − t‖²/‖t‖² = r² − 2rc + 1``, and ``rel_l2 = that^½ / max(1, r)``.
    Each branch is a quadratic in ``r`` (``r ≤ 1``: ``r² − 2cr + 1 − s² = 0``; ``r > 1``:
    ``(1 − s²)r² − 2cr + 1 = 0``); of the roots that solve their own branch, the one closest in
    log scale to ``l1_ratio`` (the ratio of the mean absolute values, also recorded) is taken.
    Below ``rel_l2 = 1e-3`` the ratio is 1 to within the error itself, so ``1.0`` is returned
    (the derived truth-relative error then equals the recorded one to within 0.1%). A result
    ``r ≫ 1`` times the truth has ``rel_l2 ≈ 1 − 1/r``, so the 7 digits a pairs table stores
    give ``r`` to about ``1e-6·r`` relative (5% at ``r = 1e5``). NaN when the inputs are not
    finite.
    """
    s, d = rel_l2_sym, cosine
    if not all(map(math.isfinite, (s, d))):
        return math.nan
    if s < 1e-3:
        return 1.0
    c = 1.0 - d
    roots: List[float] = []
    disc = c * c - 1.0 + s * s
    if disc >= 0.0:
        roots += [r for r in (c - math.sqrt(disc), c + math.sqrt(disc)) if 0.0 <= r <= 1.0]
    a = 1.0 - s * s
    if abs(a) < 1e-300:
        roots += [1.0 / (2.0 * c)] if c > 0.0 and 1.0 / (2.0 * c) > 1.0 else []
    else:
        disc = c * c - a
        if disc >= 0.0:
            roots += [r for r in ((c - math.sqrt(disc)) / a, (c + math.sqrt(disc)) / a) if r > 1.0]
    if not roots:
        return math.nan
    hint = l1_ratio if math.isfinite(l1_ratio) and l1_ratio > 0.0 else 1.0
    return min(roots, key=lambda r: abs(math.log(max(r, 1e-300) / hint)))


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
    norm_a: float = math.nan
    norm_b: float = math.nan

    def rel_err_a(self) -> float:
        """:func:`rel_err` of side a with side b as the truth (unbounded)."""
        if self.norm_b == 0.0:
            return 0.0 if self.norm_a == 0.0 else math.inf
        return rel_err_from_pair(self.rel_l2, self.norm_ratio_a())

    def norm_ratio_a(self) -> float:
        """``‖a‖ / ‖b‖`` with side b as the truth; NaN when ``b`` is zero."""
        return self.norm_a / self.norm_b if self.norm_b > 0.0 else math.nan


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
        norm_a=_norm(x) if not _unusable(x) else math.nan,
        norm_b=_norm(y) if not _unusable(y) else math.nan,
    )
