"""Run one catalog case on one backend: forward output, taps and gradients, as NumPy arrays."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

import numpy as np

from wgan_parity.core.blocks import BLOCKS
from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.core.model import Taps


def run_case(ops: Any, case: Case, fixtures: Fixtures) -> Dict[str, np.ndarray]:
    """All tensors of ``case`` in dump order: out, aux/*, tap/*, grad/*, seedgrad/*.

    ``grad/<arg>`` is the gradient of ``sum(out * R)``; ``seedgrad/<arg>`` (cases with
    ``seed_cost``) the gradient of ``mean(out**2)``. Both cover the input and every parameter.
    """
    block = BLOCKS[case.block]
    config = case.config
    args = {name: ops.asarray(value) for name, value in fixtures.args.items()}
    projection = ops.asarray(fixtures.projection)
    wrt: List[str] = list(args)
    tap_order: List[str] = []  # filled while the (possibly traced) function runs

    def projected(arguments: Mapping[str, Any], cotangent: Any) -> Dict[str, Any]:
        taps = Taps(ops, case.tap_samples)
        out, grads = ops.vjp(lambda a: block.apply(ops, a, config, taps), arguments, wrt, cotangent)
        tap_order[:] = list(taps.tensors)
        return {
            "out": ops.stop_gradient(out),
            **taps.tensors,
            **{f"grad/{k}": grads[k] for k in wrt},
        }

    results = ops.compile(projected)(args, projection)
    tensors = {"out": results.pop("out")}
    for prefix in ("aux/", "tap/"):
        tensors.update({k: results[k] for k in tap_order if k.startswith(prefix)})
    tensors.update({f"grad/{k}": results[f"grad/{k}"] for k in wrt})

    if case.seed_cost:

        def seed_cost(arguments: Mapping[str, Any]) -> Dict[str, Any]:
            def cost(a: Mapping[str, Any]) -> Any:
                out = block.apply(ops, a, config, None)
                return ops.mean(out * out)

            _, grads = ops.vjp(cost, arguments, wrt)
            return {f"seedgrad/{k}": grads[k] for k in wrt}

        seed_results = ops.compile(seed_cost)(args)
        tensors.update({f"seedgrad/{k}": seed_results[f"seedgrad/{k}"] for k in wrt})

    wanted = set(case.compare)
    return {k: ops.to_numpy(v) for k, v in tensors.items() if k.split("/", 1)[0] in wanted}
