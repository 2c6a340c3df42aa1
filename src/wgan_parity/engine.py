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
  and spread over threads (NumPy releases the GIL). Pairs with the center use the float64
  differences. Pairs of two float32 members use float32 differences: the exact difference rounded
  once (≤ 2⁻²⁴ relative), summed pairwise per chunk and in float64 across chunks, so these columns
  agree with :mod:`wgan_parity.metrics` to about 1e-7 relative.

A member holding NaN or Inf is flagged; its pairs are recomputed from whole arrays by
:func:`wgan_parity.metrics.compare_pair`, which measures the elements finite on both sides.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Queue
from typing import Iterator, Optional, Sequence

import numpy as np

from wgan_parity import metrics
from wgan_parity.npzstream import Member

BLOCK_BYTES = 16 << 20  # working set of one block (all members) in one thread
CHUNK = 1 << 17  # elements (all rows together) per elementwise step: about a cache's worth
MIN_COLUMNS = 1024  # ... but at least this many columns, so that NumPy's per-call cost stays small


@dataclass
class _Acc:
    """Elementwise accumulators of one worker (upper triangle, row < column)."""

    maxabs: np.ndarray
    sumabs: np.ndarray
    maxrel: np.ndarray
    maxulp: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _Acc:
        return cls(np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n), np.int64))

    def merge(self, other: _Acc) -> None:
        np.maximum(self.maxabs, other.maxabs, out=self.maxabs)
        self.sumabs += other.sumabs
        np.maximum(self.maxrel, other.maxrel, out=self.maxrel)
        np.maximum(self.maxulp, other.maxulp, out=self.maxulp)


@dataclass
class GroupResult:
    """Sums over one tensor for a group of same-shape members (member 0 = the center)."""

    size: int
    floor: float
    gram: np.ndarray  # rows/cols: 0 = c, m >= 1 = d_m
    sq: np.ndarray  # Σ x_m², direct
    abssum: np.ndarray
    nonfinite: np.ndarray
    acc: _Acc
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
        )


class _Block:
    """Per-block arrays of all members: M (c / d rows), magnitudes and ordinals."""

    def __init__(self, n: int, width: int, use32: bool) -> None:
        self.m = np.empty((n, width))
        self.mag = np.empty((n, width))  # max(|x|, floor)
        self.ord = np.empty((n, width), np.int64)
        self.x32 = np.empty((n, width), np.float32) if use32 else None
        self.mag32 = np.empty((n, width), np.float32) if use32 else None
        self.f32 = np.empty(width, np.float32)  # scratch for ordinals
        self.i32 = np.empty((2, width), np.int32)
        self.raw: dict = {}  # read buffers by dtype

    def read_buffer(self, dtype: np.dtype, w: int) -> np.ndarray:
        """A reusable read buffer of ``w`` elements of ``dtype``."""
        if dtype not in self.raw:
            self.raw[dtype] = np.empty(self.m.shape[1], dtype)
        return self.raw[dtype][:w]


def _chunk_pairs(blk: _Block, n: int, cols: slice, acc: _Acc, bufs: dict) -> None:
    """Elementwise maxima and sums of every pair over the columns ``cols``."""
    width = cols.stop - cols.start
    for i in range(n - 1):
        rows, k = slice(i + 1, n), n - 1 - i
        if i > 0 and blk.x32 is not None:
            t, den = bufs["t32"][:k, :width], bufs["d32"][:k, :width]
            np.subtract(blk.x32[rows, cols], blk.x32[i, cols], out=t)
            np.maximum(blk.mag32[rows, cols], blk.mag32[i, cols], out=den)
        else:
            t, den = bufs["t"][:k, :width], bufs["d"][:k, :width]
            if i == 0:
                t[...] = blk.m[rows, cols]
            else:
                np.subtract(blk.m[rows, cols], blk.m[i, cols], out=t)
            np.maximum(blk.mag[rows, cols], blk.mag[i, cols], out=den)
        np.abs(t, out=t)
        np.maximum(acc.maxabs[i, rows], t.max(axis=1), out=acc.maxabs[i, rows])
        acc.sumabs[i, rows] += t.sum(axis=1)
        np.divide(t, den, out=t)
        np.maximum(acc.maxrel[i, rows], t.max(axis=1), out=acc.maxrel[i, rows])
        u = bufs["u"][:k, :width]
        np.subtract(blk.ord[rows, cols], blk.ord[i, cols], out=u)
        np.abs(u, out=u)
        np.maximum(acc.maxulp[i, rows], u.max(axis=1), out=acc.maxulp[i, rows])


def _columns(n: int) -> int:
    """Columns per elementwise step for ``n`` members: a power of two near ``CHUNK / n``."""
    return max(MIN_COLUMNS, 1 << max(0, (CHUNK // n).bit_length() - 1))


def _buffers(n: int, cols: int, use32: bool) -> dict:
    bufs = {"t": np.empty((n, cols)), "d": np.empty((n, cols)), "u": np.empty((n, cols), np.int64)}
    if use32:
        bufs.update(t32=np.empty((n, cols), np.float32), d32=np.empty((n, cols), np.float32))
    return bufs


@dataclass
class _Partial:
    """Sums and maxima of one block; blocks are merged in order, so results never depend on
    how many threads ran."""

    gram: np.ndarray
    sq: np.ndarray
    abssum: np.ndarray
    nonfinite: np.ndarray
    acc: _Acc


class _Worker:
    """The buffers one thread needs for a block."""

    def __init__(self, n: int, width: int, use32: bool) -> None:
        self.blk = _Block(n, width, use32)
        self.cols = min(_columns(n), width)
        self.bufs = _buffers(n, self.cols, use32)


def compare_group(
    sources: Sequence[Member], jobs: int = 1, floor: Optional[float] = None
) -> GroupResult:
    """Stream the same-shape ``sources`` (``sources[0]`` is the center) and sum every pair.

    ``floor`` is the max-relative-difference floor; by default
    :func:`wgan_parity.metrics.default_floor` of the center's finite elements. Blocks are spread
    over ``jobs`` threads (each with its own buffers) and merged in block order.
    """
    n, size = len(sources), int(sources[0].size)
    center = np.asarray(sources[0].read(0, size), dtype=np.float64)
    total = _Partial(
        np.zeros((n, n)), np.zeros(n), np.zeros(n), np.zeros(n, np.int64), _Acc.empty(n)
    )
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
    cols = _columns(n)
    width = max(cols, min(1 << 20, BLOCK_BYTES // (32 * n)) // cols * cols)
    width = min(width, max(size, 1))
    starts = list(range(0, size, width))
    workers = max(1, min(jobs, len(starts)))
    idle: Queue = Queue()
    for _ in range(workers):
        idle.put(_Worker(n, width, use32))

    def run(start: int) -> _Partial:
        worker = idle.get()
        try:
            return _block(worker, sources, center, start, min(size, start + width), floor)
        finally:
            idle.put(worker)

    if workers == 1:
        partials: Iterator[_Partial] = map(run, starts)
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


def _merge_all(total: _Partial, partials: Iterator[_Partial]) -> None:
    for part in partials:
        total.gram += part.gram
        total.sq += part.sq
        total.abssum += part.abssum
        total.nonfinite += part.nonfinite
        total.acc.merge(part.acc)


def _block(
    worker: _Worker,
    sources: Sequence[Member],
    center: np.ndarray,
    start: int,
    stop: int,
    floor: float,
) -> _Partial:
    """Everything about elements ``[start, stop)``: member rows, Gram, then every pair."""
    n, w, blk = len(sources), stop - start, worker.blk
    part = _Partial(
        np.zeros((n, n)), np.zeros(n), np.zeros(n), np.zeros(n, np.int64), _Acc.empty(n)
    )
    _load_block(blk, sources, center, start, stop, part)
    np.maximum(blk.mag[:, :w], floor, out=blk.mag[:, :w])
    if blk.mag32 is not None:
        blk.mag32[:, :w] = blk.mag[:, :w]
    rows = blk.m[:, :w]
    part.gram = rows @ rows.T
    for s in range(0, w, worker.cols):
        _chunk_pairs(blk, n, slice(s, min(w, s + worker.cols)), part.acc, worker.bufs)
    return part


def _ordinal_into(blk: _Block, x: np.ndarray, out: np.ndarray) -> None:
    """:func:`wgan_parity.metrics.float32_ordinal` of ``x`` into ``out`` (int64), in int32 steps."""
    w = x.size
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        blk.f32[:w] = x
        x = blk.f32[:w]
    bits, sign, mag = x.view(np.int32), blk.i32[0, :w], blk.i32[1, :w]
    np.right_shift(bits, 31, out=sign)  # 0, or -1 for negative numbers
    np.bitwise_and(bits, np.int32(0x7FFFFFFF), out=mag)
    np.bitwise_xor(mag, sign, out=mag)
    np.subtract(mag, sign, out=mag)  # -magnitude for negative numbers: -0.0 and +0.0 both give 0
    out[...] = mag


def _load_block(
    blk: _Block,
    sources: Sequence[Member],
    center: np.ndarray,
    start: int,
    stop: int,
    part: _Partial,
) -> None:
    """Fill the block's rows with elements ``[start, stop)``; neutralise and count NaN/Inf."""
    w = stop - start
    c = center[start:stop]
    blk.m[0, :w] = c
    np.abs(c, out=blk.mag[0, :w])
    part.abssum[0] = blk.mag[0, :w].sum()
    part.sq[0] = float(np.dot(c, c))
    _ordinal_into(blk, c, blk.ord[0, :w])
    for m in range(1, len(sources)):
        raw = sources[m].read(start, stop, out=blk.read_buffer(sources[m].dtype, w))
        x = blk.mag[m, :w]  # x as float64 first, |x| below
        x[...] = raw
        total = float(np.dot(x, x))
        if not math.isfinite(total):  # NaN/Inf (or a float64 overflow): find and neutralise them
            bad = ~np.isfinite(x)
            part.nonfinite[m] = int(np.count_nonzero(bad))
            x[bad] = c[bad]
            raw = x.astype(raw.dtype)
            total = float(np.dot(x, x))
        part.sq[m] = total
        np.subtract(x, c, out=blk.m[m, :w])
        _ordinal_into(blk, raw, blk.ord[m, :w])
        np.abs(x, out=x)
        part.abssum[m] = x.sum()
        if blk.x32 is not None:
            blk.x32[m, :w] = raw
