"""One block of a tensor group: load every member's slice, its Gram matrix, every pair's maxima.

The kernels behind :func:`~.engine.compare_group` (see its module docstring for the
method). A :class:`Worker` holds one thread's buffers; :func:`process_block` returns the block's
:class:`Partial` sums, which the engine merges in block order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from wgan_parity.compare.member_reader import Member

CHUNK = (
    1 << 19
)  # elements (all rows together) per elementwise step (tuned: 1.5 ns per pair-element)
MIN_COLUMNS = 1024  # ... but at least this many columns, so that NumPy's per-call cost stays small


@dataclass
class Acc:
    """Elementwise accumulators of one worker (upper triangle, row < column)."""

    maxabs: np.ndarray
    sumabs: np.ndarray
    maxrel: np.ndarray
    maxulp: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Acc:
        return cls(np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n)), np.zeros((n, n), np.int64))

    def merge(self, other: Acc) -> None:
        np.maximum(self.maxabs, other.maxabs, out=self.maxabs)
        self.sumabs += other.sumabs
        np.maximum(self.maxrel, other.maxrel, out=self.maxrel)
        np.maximum(self.maxulp, other.maxulp, out=self.maxulp)


class ColumnBlock:
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


def chunk_pairs(blk: ColumnBlock, n: int, cols: slice, acc: Acc, bufs: dict) -> None:
    """Elementwise maxima and sums of every pair over the columns ``cols``."""
    width = cols.stop - cols.start
    for i in range(n - 1):
        rows, k = slice(i + 1, n), n - 1 - i
        if i > 0 and blk.x32 is not None and blk.mag32 is not None:
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


def columns(n: int) -> int:
    """Columns per elementwise step for ``n`` members: a power of two near ``CHUNK / n``."""
    return max(MIN_COLUMNS, 1 << max(0, (CHUNK // n).bit_length() - 1))


def buffers(n: int, cols: int, use32: bool) -> dict:
    bufs = {"t": np.empty((n, cols)), "d": np.empty((n, cols)), "u": np.empty((n, cols), np.int64)}
    if use32:
        bufs.update(t32=np.empty((n, cols), np.float32), d32=np.empty((n, cols), np.float32))
    return bufs


@dataclass
class Partial:
    """Sums and maxima of one block; blocks are merged in order, so results never depend on
    how many threads ran."""

    gram: np.ndarray
    sq: np.ndarray
    abssum: np.ndarray
    nonfinite: np.ndarray
    acc: Acc


class Worker:
    """The buffers one thread needs for a block."""

    def __init__(self, n: int, width: int, use32: bool) -> None:
        self.blk = ColumnBlock(n, width, use32)
        self.cols = min(columns(n), width)
        self.bufs = buffers(n, self.cols, use32)


def process_block(
    worker: Worker,
    sources: Sequence[Member],
    center: np.ndarray,
    start: int,
    stop: int,
    floor: float,
) -> Partial:
    """Everything about elements ``[start, stop)``: member rows, Gram, then every pair."""
    n, w, blk = len(sources), stop - start, worker.blk
    part = Partial(np.zeros((n, n)), np.zeros(n), np.zeros(n), np.zeros(n, np.int64), Acc.empty(n))
    load_block(blk, sources, center, start, stop, part)
    np.maximum(blk.mag[:, :w], floor, out=blk.mag[:, :w])
    if blk.mag32 is not None:
        blk.mag32[:, :w] = blk.mag[:, :w]
    rows = blk.m[:, :w]
    part.gram = rows @ rows.T
    for s in range(0, w, worker.cols):
        chunk_pairs(blk, n, slice(s, min(w, s + worker.cols)), part.acc, worker.bufs)
    return part


def ordinal_into(blk: ColumnBlock, x: np.ndarray, out: np.ndarray) -> None:
    """:func:`~.metrics.float32_ordinal` of ``x`` into ``out`` (int64), in int32 steps."""
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


def load_block(
    blk: ColumnBlock,
    sources: Sequence[Member],
    center: np.ndarray,
    start: int,
    stop: int,
    part: Partial,
) -> None:
    """Fill the block's rows with elements ``[start, stop)``; neutralise and count NaN/Inf."""
    w = stop - start
    c = center[start:stop]
    blk.m[0, :w] = c
    np.abs(c, out=blk.mag[0, :w])
    part.abssum[0] = blk.mag[0, :w].sum()
    part.sq[0] = float(np.dot(c, c))
    ordinal_into(blk, c, blk.ord[0, :w])
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
        ordinal_into(blk, raw, blk.ord[m, :w])
        np.abs(x, out=x)
        part.abssum[m] = x.sum()
        if blk.x32 is not None:
            blk.x32[m, :w] = raw
