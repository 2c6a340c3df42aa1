"""Each layer's own error, apart from the error it inherited from upstream.

A dump made with shadow replay holds, beside each tap ``tap/<name>`` of a composite case, the
same layer run on the *truth's* input: ``own/<name>``. The dump stage computed it by
substituting the float64 truth's value (cast to the framework's dtype) at every tap, so each
layer saw exactly what the truth's layer saw. Against the truth's tap ``t``:

- ``own_err = ‖own − t‖ / ‖t‖``: what the layer adds by itself (with its input rounded to
  the framework's dtype, as any float32 run rounds it);
- ``inherited_err = ‖tap − own‖ / ‖t‖``: how far the propagated value moved because its input
  already carried error, as the layer passed that error on.

The propagated error ``err = ‖tap − t‖ / ‖t‖`` is at most ``own_err + inherited_err`` (triangle
inequality), so a layer whose own error is small while its error is large is *amplifying*, not
*causing*, a divergence. PyTorch's NumericSuite calls the first a shadow comparison; Ascend's
msprobe replays each API alone for the same reason. Taps hold a few samples, so the members are
read whole and measured in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

import numpy as np

from wgan_parity.compare.member_reader import Member
from wgan_parity.core.model import OWN_PREFIX, TAP_PREFIX

#: The pairs table's columns (``side`` group): NaN on rows that are not taps, or without a replay.
COLUMNS = ("own_err_a", "own_err_b", "inherited_err_a", "inherited_err_b")


@dataclass(frozen=True)
class OwnError:
    """One side's own and inherited error at one tap (NaN: not measured)."""

    own: float = math.nan
    inherited: float = math.nan


NOT_MEASURED = OwnError()


def own_tensor(tensor: str) -> Optional[str]:
    """``own/<name>`` for a tap tensor ``tap/<name>``; None for any other tensor."""
    return OWN_PREFIX + tensor[len(TAP_PREFIX) :] if tensor.startswith(TAP_PREFIX) else None


class TruthTap(NamedTuple):
    """The truth's tap, read once for every side: its shape, values (float64) and norm."""

    shape: Tuple[int, ...]
    values: np.ndarray
    norm: float


def truth_tap(member: Member) -> TruthTap:
    """Read the truth's tap whole (taps hold a few samples)."""
    values = _whole(member)
    return TruthTap(tuple(member.shape), values, float(np.linalg.norm(values)))


def _whole(member: Member) -> np.ndarray:
    return np.asarray(member.read(0, int(member.size)), dtype=np.float64)


def measure(tap: Member, own: Member, truth: TruthTap) -> OwnError:
    """Own and inherited error of one side from its tap, its shadow replay and the truth's tap.

    NaN when the shapes differ or the truth is all zeros (no scale); infinite when the side's
    values are not finite.
    """
    if tuple(tap.shape) != truth.shape or tuple(own.shape) != truth.shape:
        return NOT_MEASURED
    if not math.isfinite(truth.norm) or truth.norm == 0.0:
        return NOT_MEASURED
    x, o = _whole(tap), _whole(own)
    if not (np.isfinite(x).all() and np.isfinite(o).all()):
        return OwnError(math.inf, math.inf)
    return OwnError(_distance(o, truth.values) / truth.norm, _distance(x, o) / truth.norm)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a − b‖`` in float64: exactly 0.0 only when the arrays are equal."""
    return float(np.linalg.norm(a - b))
