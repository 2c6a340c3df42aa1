"""The aggregate's rows held in columns, in row order: compact, and NumPy only.

Rows arrive as dicts (one per case, tensor and env pair; the keys of
:data:`~wgan_parity.compare.rows.COLUMNS`) and are packed a batch at a time into one array per
column. A column of floats (``None`` for none) becomes a float64 array, any other stays an object
array, so ints, flags and text keep their exact values.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence

import numpy as np

from wgan_parity.compare.rows import COLUMNS, Row


def _pack(values: List[object]) -> np.ndarray:
    floats = [v for v in values if v is not None]
    if floats and all(isinstance(v, float) for v in floats):
        return np.array(values, dtype=np.float64)  # None -> NaN
    packed = np.empty(len(values), dtype=object)
    packed[:] = values
    return packed


class RowStore:
    """Rows gathered batch by batch; :meth:`columns` joins them once."""

    BATCH = 20_000

    def __init__(self) -> None:
        self._batches: List[Dict[str, np.ndarray]] = []
        self._pending: List[Mapping[str, Any]] = []
        self._joined: Dict[str, np.ndarray] = {}

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows (dicts with the keys of ``COLUMNS``; a missing key is ``None``)."""
        self._pending.extend(rows)
        self._joined = {}
        if len(self._pending) >= self.BATCH:
            self._flush()

    def add_columns(self, pieces: Mapping[str, Sequence[np.ndarray]]) -> None:
        """Append rows given as column pieces (e.g. another store's ``columns()``, sliced)."""
        self._flush()
        self._joined = {}
        for k in range(len(pieces[COLUMNS[0]])):
            self._batches.append({c: pieces[c][k] for c in COLUMNS})

    def _flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self._batches.append({c: _pack([r.get(c) for r in rows]) for c in COLUMNS})

    def columns(self) -> Mapping[str, np.ndarray]:
        """Every column, all rows, in the order they were added."""
        if not self._joined:
            self._flush()
            if not self._batches:
                return {c: np.empty(0, dtype=object) for c in COLUMNS}
            self._joined = {c: _join([b[c] for b in self._batches]) for c in COLUMNS}
            self._batches = [self._joined]
        return self._joined

    def __len__(self) -> int:
        return len(self.columns()["case"])

    def rows(self, indices: Sequence[int]) -> List[Row]:
        """The rows at ``indices`` as dicts (NaN where a float column had ``None``)."""
        cols = self.columns()
        return [{c: cols[c][k] for c in COLUMNS} for k in indices]


def _join(parts: List[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if all(p.dtype == np.float64 for p in parts):
        return np.concatenate(parts)
    joined = np.empty(sum(len(p) for p in parts), dtype=object)
    joined[:] = [v for p in parts for v in p.tolist()]
    return joined
