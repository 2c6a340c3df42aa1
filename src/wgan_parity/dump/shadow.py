"""Shadow replay: each tap of a composite case re-run on the float64 truth's own input.

The truth's forward pass runs in this process (the reference backend: NumPy float64, which
every env installs) with taps over the whole batch. The backend then runs the case's forward
pass again, and at every tap hands the next layer the truth's value instead of its own
(:class:`~wgan_parity.core.model.Taps` with ``shadow``). What each tap records there,
``own/<name>``, is the error that layer makes by itself; the aggregator sets it beside the
propagated ``tap/<name>`` (:mod:`wgan_parity.compare.own_error`).

A replay adds one forward pass of the truth and one of the backend per composite case. It
never fails a case: a replay that raises is recorded in the case's ``own_error`` field.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from wgan_parity.core.blocks import BLOCKS
from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.core.model import OWN_PREFIX, TAP_PREFIX, Taps
from wgan_parity.core.protocol import Ops

WHOLE_BATCH = 1 << 62  # a tap's sample count that keeps every sample


def wanted(case: Case, tensors: Mapping[str, Any]) -> bool:
    """Whether to replay ``case``: it compares taps and recorded some (composite cases do)."""
    return "tap" in case.compare and any(name.startswith(TAP_PREFIX) for name in tensors)


def truth_taps(truth: Ops, case: Case, fixtures: Fixtures) -> Dict[str, Any]:
    """The truth's value of every tap of ``case``, whole batch, rounded to float32."""
    args = {name: truth.asarray(value) for name, value in fixtures.args.items()}
    taps = Taps(truth, WHOLE_BATCH, forward_only=True)
    _forward_only(truth, case, args, taps)
    found: Dict[str, Any] = {}
    for key in [k for k in taps.tensors if k.startswith(TAP_PREFIX)]:
        # float32, as the backend gets them anyway; one at a time, so memory does not double
        found[key[len(TAP_PREFIX) :]] = np.asarray(taps.tensors.pop(key), np.float32)
    return found


def replay(ops: Ops, case: Case, fixtures: Fixtures, truth: Mapping[str, Any]) -> Dict[str, Any]:
    """``own/<name>`` of every tap: ``ops`` running each layer on the truth's input."""
    args = {name: ops.asarray(value) for name, value in fixtures.args.items()}
    shadow = {name: ops.asarray(value) for name, value in truth.items()}

    def forward(arguments: Mapping[str, Any], inputs: Mapping[str, Any]) -> Dict[str, Any]:
        taps = Taps(ops, case.tap_samples, shadow=inputs)
        _forward_only(ops, case, arguments, taps)
        return {k: v for k, v in taps.tensors.items() if k.startswith(OWN_PREFIX)}

    found = ops.compile(forward)(args, shadow)
    return {name: ops.to_numpy(found[name]) for name in sorted(found, key=_order(truth))}


def _forward_only(ops: Ops, case: Case, args: Mapping[str, Any], taps: Taps) -> None:
    BLOCKS[case.block].apply(ops, args, case.config, taps)


def _order(truth: Mapping[str, Any]) -> Any:
    """Sort key: the truth's tap order (compilers may hand dicts back in sorted key order)."""
    position = {f"{OWN_PREFIX}{name}": i for i, name in enumerate(truth)}
    return lambda key: position.get(key, len(position))


class Replayer:
    """The shadow replay of each composite case of a dump; the truth loads on first use."""

    def __init__(self, backend: Ops, load_truth: Callable[[], Ops]) -> None:
        self.backend = backend
        self._load_truth = load_truth
        self._truth: Optional[Ops] = None

    def own(self, case: Case, fixtures: Fixtures,
            tensors: Mapping[str, Any]) -> Tuple[Dict[str, np.ndarray], Optional[str]]:  # fmt: skip
        """``own/<name>`` of every tap (none for a case without taps), and why not if it failed."""
        if not wanted(case, tensors):
            return {}, None
        try:
            if self._truth is None:
                self._truth = self._load_truth()
            truth = truth_taps(self._truth, case, fixtures)
            return replay(self.backend, case, fixtures, truth), None
        except Exception as exc:  # the case's own tensors stand; the replay is extra
            return {}, f"{type(exc).__name__}: {exc}".strip()
