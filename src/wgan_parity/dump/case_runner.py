"""Run one catalog case on one backend: forward output, taps and gradients, as NumPy arrays."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from wgan_parity.core.blocks import BLOCKS
from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.core.model import Taps
from wgan_parity.core.precision import dtype_name
from wgan_parity.core.protocol import Ops


def run_case(
    ops: Ops, case: Case, fixtures: Fixtures, dtypes: Optional[Dict[str, str]] = None
) -> Dict[str, np.ndarray]:
    """All tensors of ``case`` in dump order: out, aux/*, tap/*, grad/*, seedgrad/*.

    ``dtypes``, if given, receives each tensor's dtype in the framework where it is neither
    float32 nor float64 (a reduced-precision run: the dump stores every tensor as float32).
    ``grad/<arg>`` is the gradient of ``sum(out * R)``; ``seedgrad/<arg>`` (cases with
    ``seed_cost``) the gradient of ``mean(out**2)``. Both cover the input and every parameter.
    """
    block = BLOCKS[case.block]
    config = case.config
    args = {name: ops.asarray(value) for name, value in fixtures.args.items()}
    projection = ops.asarray(fixtures.projection)
    wrt: List[str] = list(args)

    def forward(arguments: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
        taps = Taps(ops, case.tap_samples)
        return block.apply(ops, arguments, config, taps), taps.tensors

    def projected(arguments: Mapping[str, Any], cotangent: Any) -> Dict[str, Any]:
        out, taps, grads = ops.vjp(forward, arguments, wrt, cotangent)
        return {
            "out": ops.stop_gradient(out),
            "taps": _with_order(taps),
            "grads": {k: grads[k] for k in wrt},
        }

    results = ops.compile(projected)(args, projection)
    taps = _in_order(results["taps"])
    tensors = {"out": results["out"]}
    for prefix in ("aux/", "tap/"):
        tensors.update({k: v for k, v in taps.items() if k.startswith(prefix)})
    tensors.update({f"grad/{k}": results["grads"][k] for k in wrt})

    if case.seed_cost:

        def seed_cost(arguments: Mapping[str, Any]) -> Dict[str, Any]:
            def cost(a: Mapping[str, Any]) -> Tuple[Any, Dict[str, Any]]:
                out = block.apply(ops, a, config, None)
                return ops.mean(out * out), {}

            _, _, grads = ops.vjp(cost, arguments, wrt)
            return {f"seedgrad/{k}": grads[k] for k in wrt}

        seed_results = ops.compile(seed_cost)(args)
        tensors.update({f"seedgrad/{k}": seed_results[f"seedgrad/{k}"] for k in wrt})

    wanted = set(case.compare)
    kept = {k: v for k, v in tensors.items() if k.split("/", 1)[0] in wanted}
    if dtypes is not None:
        names = {k: dtype_name(v) for k, v in kept.items()}
        dtypes.update({k: d for k, d in names.items() if d not in ("float32", "float64")})
    return {k: ops.to_numpy(v) for k, v in kept.items()}


def _with_order(taps: Mapping[str, Any]) -> Dict[str, Any]:
    """Taps keyed ``"<index>:<name>"``: compilers flatten dicts in sorted key order
    (``tf.nest``, JAX pytrees), and the localizer needs the forward order back."""
    return {f"{i:05d}:{name}": tensor for i, (name, tensor) in enumerate(taps.items())}


def _in_order(taps: Mapping[str, Any]) -> Dict[str, Any]:
    """Undo :func:`_with_order`: forward order, plain names."""
    return {key.split(":", 1)[1]: taps[key] for key in sorted(taps)}
