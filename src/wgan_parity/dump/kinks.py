"""ReLU kinks within rounding of zero: how far a gradient moves when float32 takes the other side.

A ReLU input that the float64 truth puts a hair below zero can come out a hair above it in any
float32 implementation, and then relu' lets that element's cotangent through where the truth
blocks it. One such element of 8.4M moves torch 1.9.1's ``residual_up.random grad/x`` to 6e-4
(docs/findings/torch-1.9.1-relu-flip); the Keras port's 1e-4 in ``residual_down.random`` is the
same. Which element flips is a rounding lottery of each implementation's kernels, so the float32
noise (one NumPy run, which may or may not land on a flip) cannot bound it.

The reference dump measures it per tensor, alongside the noise (:func:`measure`):

1. the float64 run records, at every ReLU call, the *candidates*: its inputs nearest zero;
2. the float32 run reads the same elements and sets the call's rounding scale, the largest
   float32 error among them; the *ambiguous* elements are the candidates whose truth is within
   :data:`SCALE` times that scale, or :data:`ULPS` float32 units of the call's largest input,
   of zero (or whose float32 sign differs);
3. a float64 run with relu' flipped on every ambiguous element gives, for each tensor, its
   ``kink_rel_l2`` against the truth: what flipping every kink an implementation about
   :data:`SCALE` times less accurate than NumPy could flip does to it.

The calls are matched by their order: the case runs the same code at both precisions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np

#: Candidates kept per ReLU call: the inputs nearest zero (a sparse record, never the tensor).
CANDIDATES = 1 << 20
#: An element is ambiguous when its truth is within SCALE x the call's float32 error of zero,
SCALE = 4.0
#: or within ULPS float32 units of the call's largest input: another implementation's rounding
#: (other summation orders, seed mode's exact ties) can be many times NumPy's on a given element.
ULPS = 16.0
EPS32 = 2.0**-23


def _value(x: Any) -> np.ndarray:
    """The plain array under an autograd box."""
    while hasattr(x, "_value"):
        x = x._value
    return np.asarray(x)


@dataclass
class _Call:
    """One ReLU call: its candidate elements (flat indices) and their float64 values."""

    index: np.ndarray
    truth: np.ndarray
    magnitude: float = 0.0  # the call's largest input (float64)
    ambiguous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class KinkProbe:
    """Records the candidates (float64), finds the ambiguous ones (float32), flips them."""

    calls: List[_Call] = field(default_factory=list)
    mode: str = "record"
    position: int = 0

    @property
    def flips(self) -> int:
        """Ambiguous elements over all calls."""
        return int(sum(c.ambiguous.size for c in self.calls))

    def relu(self, base: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The ReLU to put in the backend while probing ``base``. Flipping adds ``x * delta``
        (``delta`` = +1 where a kink opens, -1 where it closes): differentiable in ``x`` through
        the backend's own arithmetic, to any order."""

        def probed(x: Any) -> Any:
            value = _value(x)
            if self.mode == "record":
                flat = np.abs(value).ravel()
                keep = min(CANDIDATES, flat.size)
                index = (
                    np.argpartition(flat, keep - 1)[:keep]
                    if keep < flat.size
                    else np.arange(flat.size)
                )
                top = float(np.max(flat)) if flat.size else 0.0
                self.calls.append(_Call(index, value.ravel()[index].astype(np.float64), top))
                return base(x)
            call = self.calls[self.position] if self.position < len(self.calls) else None
            self.position += 1
            if call is None:
                return base(x)
            if self.mode == "compare":
                approx = value.ravel()[call.index].astype(np.float64)
                scale = float(np.max(np.abs(approx - call.truth))) if call.index.size else 0.0
                reach = max(SCALE * scale, ULPS * EPS32 * call.magnitude)
                near = np.abs(call.truth) <= reach
                other_side = (approx > 0) != (call.truth > 0)
                call.ambiguous = call.index[near | other_side]
                return base(x)
            delta = np.zeros(value.size, dtype=value.dtype)
            delta[call.ambiguous] = np.where(value.ravel()[call.ambiguous] > 0, -1.0, 1.0)
            return base(x) + x * delta.reshape(value.shape)

        return probed

    @contextlib.contextmanager
    def running(self, backend: Any, mode: str) -> Iterator[None]:
        """Put the probe's ReLU into ``backend`` (the float64 reference, or its float32 twin)
        for one run."""
        self.mode, self.position = mode, 0
        base = backend.relu
        backend.relu = self.relu(base)
        try:
            yield
        finally:
            backend.relu = base


def measure(
    run: Callable[[Any], Dict[str, np.ndarray]],
    truth_backend: Any,
    probe: Optional[KinkProbe],
    truth: Dict[str, np.ndarray],
) -> Dict[str, Dict[str, float]]:
    """``{tensor: {kink_rel_l2, kink_flips}}`` after the float32 run compared (``probe``):
    one float64 ``run`` with every ambiguous relu' flipped. Empty when nothing is ambiguous."""
    if probe is None or probe.flips == 0:
        return {}
    with probe.running(truth_backend, "flip"):
        flipped = run(truth_backend)
    found = {}
    for name, exact in truth.items():
        exact64 = np.asarray(exact, dtype=np.float64)
        norm = float(np.linalg.norm(exact64))
        moved = float(np.linalg.norm(np.asarray(flipped[name], np.float64) - exact64))
        found[name] = {
            "kink_rel_l2": moved / norm if norm > 0 else (0.0 if moved == 0 else float("inf")),
            "kink_flips": float(probe.flips),
        }
    return found
