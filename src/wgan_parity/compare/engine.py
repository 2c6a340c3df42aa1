"""All pairs of one tensor across N environments, in one streaming pass.

Member 0 of a group is the *center*: the float64 reference (or, without one, the first env). It is
read whole; every other member is read in blocks, never whole. Per block:

- **Gram matrix.** With ``d_m = x_m − c`` (float64), the rows ``[c, d_1, …, d_{n-1}]`` go through
  one matrix product ``M·Mᵀ`` (BLAS). Every pair's ``‖x_a − x_b‖² = ‖d_a‖² + ‖d_b‖² − 2 d_a·d_b``
  comes out of it. The differences to the truth are small, so nothing large cancels: the result is
  exact to about ``ε₆₄·‖d‖²``, far below any float32 effect, and a bitwise-equal pair gives exactly
  0 (its max abs difference is 0). The cosine distance ``½‖x_a/‖x_a‖ − x_b/‖x_b‖‖²`` is expanded
  the same way around ``c`` (see :meth:`GroupResult.pair`): no ``1 − cos`` cancellation.
- **Elementwise pass.** Max and mean abs difference, max relative difference and max ULP have no
  product form; they come from one chunked pass per member row against all later rows, cache-sized
  and optionally spread over threads (``jobs``). Pairs with the center use the float64
  differences. Pairs of two float32 members use float32 differences: the exact difference rounded
  once (≤ 2⁻²⁴ relative), summed pairwise per chunk and in float64 across chunks, so these columns
  agree with :mod:`wgan_parity.compare.metrics` to about 1e-7 relative.

A member holding NaN or Inf is flagged; its pairs are recomputed from whole arrays by
:func:`wgan_parity.compare.metrics.compare_pair`, which measures the elements finite on both sides.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Queue
from typing import Iterator, Optional, Sequence

import numpy as np

from wgan_parity.compare import metrics
from wgan_parity.compare.member_reader import Member
from wgan_parity.compare.pair_kernels import Acc, Partial, Worker, columns, process_block

BLOCK_BYTES = 16 << 20  # working set of one block (all members) in one thread


@dataclass
class GroupResult:
    """Sums over one tensor for a group of same-shape members (member 0 = the center)."""

    size: int
    floor: float
    gram: np.ndarray  # rows/cols: 0 = c, m >= 1 = d_m
    sq: np.ndarray  # Σ x_m², direct
    abssum: np.ndarray
    nonfinite: np.ndarray
    acc: Acc
    sources: Sequence[Member]

    def _gdd(self, a: int, b: int) -> float:
        return 0.0 if a == 0 or b == 0 else float(self.gram[a, b])

    def _gcd(self, m: int) -> float:
        return 0.0 if m == 0 else float(self.gram[0, m])

    def pair(self, i: int, j: int) -> metrics.PairMetrics:
        """All metrics of member ``i`` against member ``j``."""
        if self.nonfinite[i] or self.nonfinite[j] or self.size == 0:
            a = self.sources[i].read(0, self.size)
            b = self.sources[j].read(0, self.size)
            return metrics.compare_pair(a, b, self.floor)
        lo, hi = min(i, j), max(i, j)
        identical = self.acc.maxabs[lo, hi] == 0.0
        na, nb = math.sqrt(self.sq[i]), math.sqrt(self.sq[j])
        dist2 = self._gdd(i, i) + self._gdd(j, j) - 2.0 * self._gdd(i, j)
        dist2 = 0.0 if identical else max(dist2, 0.0)
        scale = max(na, nb)
        if na == 0.0 or nb == 0.0:
            cosine = math.nan
        elif identical:
            cosine = 0.0
        else:
            gcc = float(self.gram[0, 0])
            dn2 = (
                2.0 * (self._gcd(j) - self._gcd(i)) + self._gdd(j, j) - self._gdd(i, i)
            )  # nb² − na²
            alpha = dn2 / ((na + nb) * na * nb)  # 1/na − 1/nb
            v2 = (
                self._gdd(i, i) / na**2
                + self._gdd(j, j) / nb**2
                - 2.0 * self._gdd(i, j) / (na * nb)
            )
            cv = self._gcd(i) / na - self._gcd(j) / nb
            cosine = 0.5 * max(alpha * alpha * gcc + 2.0 * alpha * cv + v2, 0.0)
        n = self.size
        return metrics.PairMetrics(
            cosine_distance=cosine,
            angle_deg=metrics.angle_from_cosine_distance(cosine),
            rel_l2=math.sqrt(dist2) / scale if scale > 0.0 else 0.0,
            max_abs_diff=float(self.acc.maxabs[lo, hi]),
            mean_abs_diff=float(self.acc.sumabs[lo, hi]) / n,
            max_rel_diff=float(self.acc.maxrel[lo, hi]),
            max_ulp=float(self.acc.maxulp[lo, hi]),
            abs_mean_a=float(self.abssum[i]) / n,
            abs_mean_b=float(self.abssum[j]) / n,
            nan_mismatch=0,
            inf_mismatch=0,
            nonfinite_a=0,
            nonfinite_b=0,
            size=n,
            norm_a=na,
            norm_b=nb,
        )


def compare_group(
    sources: Sequence[Member], jobs: int = 1, floor: Optional[float] = None
) -> GroupResult:
    """Stream the same-shape ``sources`` (``sources[0]`` is the center) and sum every pair.

    ``floor`` is the max-relative-difference floor; by default
    :func:`~.metrics.default_floor` of the center's finite elements. Blocks are spread
    over ``jobs`` threads (each with its own buffers) and merged in block order.
    """
    n, size = len(sources), int(sources[0].size)
    center = np.asarray(sources[0].read(0, size), dtype=np.float64)
    total = Partial(np.zeros((n, n)), np.zeros(n), np.zeros(n), np.zeros(n, np.int64), Acc.empty(n))
    abs_total, counted = _abs_sum(center), size
    if not math.isfinite(abs_total):  # NaN/Inf in the center: count them, compare the rest
        finite = np.isfinite(center)
        counted = int(np.count_nonzero(finite))
        total.nonfinite[0] = size - counted
        center = np.where(finite, center, 0.0)
        abs_total = _abs_sum(center)
    if floor is None:
        floor = metrics.floor_from_mean(abs_total / counted if counted else math.nan)
    use32 = all(s.dtype == np.float32 for s in sources[1:])
    cols = columns(n)
    width = max(cols, min(1 << 20, BLOCK_BYTES // (32 * n)) // cols * cols)
    width = min(width, max(size, 1))
    starts = list(range(0, size, width))
    workers = max(1, min(jobs, len(starts)))
    idle: Queue = Queue()
    for _ in range(workers):
        idle.put(Worker(n, width, use32))

    def run(start: int) -> Partial:
        worker = idle.get()
        try:
            return process_block(worker, sources, center, start, min(size, start + width), floor)
        finally:
            idle.put(worker)

    if workers == 1:
        partials: Iterator[Partial] = map(run, starts)
        _merge_all(total, partials)
    else:
        with ThreadPoolExecutor(workers) as pool:
            _merge_all(total, pool.map(run, starts))
    return GroupResult(
        size, floor, total.gram, total.sq, total.abssum, total.nonfinite, total.acc, sources
    )


def _abs_sum(x: np.ndarray, step: int = 1 << 20) -> float:
    """``Σ|x|`` in slices (no full-size temporary)."""
    scratch = np.empty(min(step, x.size))
    total = 0.0
    for s in range(0, x.size, step):
        part = scratch[: min(step, x.size - s)]
        np.abs(x[s : s + step], out=part)
        total += float(part.sum())
    return total


def _merge_all(total: Partial, partials: Iterator[Partial]) -> None:
    for part in partials:
        total.gram += part.gram
        total.sq += part.sq
        total.abssum += part.abssum
        total.nonfinite += part.nonfinite
        total.acc.merge(part.acc)
