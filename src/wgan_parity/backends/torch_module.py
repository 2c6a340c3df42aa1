"""Check a PyTorch ``nn.Module`` port as it is: the ``nn.Module`` driver of :mod:`module_port`.

A user backend (``BASE = "torch"``) builds one :class:`ModulePort` from a factory per block, a
name map and optional transforms (all described in :mod:`wgan_parity.backends.module_port`)::

    PORT = ModulePort(factories, names)
    residual_block, good_generator, good_discriminator = PORT.composites()

Parameter names are ``named_parameters()``'s, submodule names ``named_modules()``'s. The module
runs through ``torch.func.functional_call`` with the tool's tensors as its parameters, so first
and second-order gradients reach them; taps come from forward hooks on the mapped submodules.

**Layer factories** (``conv2d``... ``batch_norm``: :mod:`wgan_parity.backends.port_functions`)
run the port's own layers: the tool's OIHW kernel is ``nn.Conv2d``'s weight as it is, and a norm
module's ``eps`` is every submodule's ``eps`` attribute (``nn.LayerNorm``, ``nn.BatchNorm2d``)::

    PORT = ModulePort({"conv2d": lambda s: MyConvo2d(s.cin, s.cout, s.k, bias=s.bias), ...},
                      {"conv2d": {"w": "conv.weight", "b": "conv.bias"}, ...})
    globals().update(PORT.layers())

**Transforms:** :func:`transpose` (tflib's linear ``(in, out)`` against ``nn.Linear``'s
``(out, in)``) and :func:`expand` (per-channel against per-element norm parameters, by
broadcasting: each element's gradient sums into its channel).

Importing this module imports no framework; torch is imported when a block first runs.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Set, Tuple

from wgan_parity.backends import module_port
from wgan_parity.backends.module_port import LAYERS, Entry, PortError, Spec, Transform

__all__ = ["Entry", "ModulePort", "PortError", "Spec", "Transform", "expand", "transpose"]


def transpose(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A 2-D weight transposed: tflib's ``(in, out)`` as ``nn.Linear``'s ``(out, in)``."""
    del shape
    return tensor.t()


def expand(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A per-channel ``(C,)`` tensor broadcast to the port's per-element ``(C, H, W)``.

    The identity when the port's parameter is per channel too (BatchNorm2d), so one map serves
    up blocks and down blocks.
    """
    if tuple(tensor.shape) == tuple(shape):
        return tensor
    return tensor.reshape(tensor.shape[0], *([1] * (len(shape) - 1))).expand(*shape)


class ModulePort(module_port.ModulePort):
    """A user's ``nn.Module`` port as the tool's composites."""

    NAMED: Mapping[str, Transform] = {"transpose": transpose, "expand": expand}
    LAYER_KINDS = LAYERS

    def prepare(self, kind: str, spec: Spec, module: Any) -> None:
        """Training mode: BatchNorm uses the batch's statistics, as the tool's blocks do."""
        module.train()

    def parameters(self, module: Any) -> Dict[str, Tuple[int, ...]]:
        """``named_parameters()``: name -> shape."""
        return {n: tuple(p.shape) for n, p in module.named_parameters()}

    def submodules(self, module: Any) -> Set[str]:
        """``named_modules()``' names."""
        return set(dict(module.named_modules()))

    def call(
        self, module: Any, params: Mapping[str, Any], x: Any, tap_subs: Mapping[str, str]
    ) -> Tuple[Any, Dict[str, Any]]:
        """``functional_call`` with forward hooks on the tapped submodules."""
        import torch

        module = module.to(x.device)
        seen: Dict[str, Any] = {}
        handles = []
        for tap, sub in tap_subs.items():

            def hook(mod: Any, args: Any, out: Any, tap: str = tap) -> None:
                seen.setdefault(tap, out)

            handles.append(module.get_submodule(sub).register_forward_hook(hook))
        try:
            out = torch.func.functional_call(module, dict(params), (x,))
        finally:
            for handle in handles:
                handle.remove()
        return out, seen

    def epsilons(self, module: Any) -> Dict[str, float]:
        """Every submodule's numeric ``eps`` ("": the module's own)."""
        found = {n: getattr(m, "eps", None) for n, m in module.named_modules()}
        return {n: float(e) for n, e in found.items() if isinstance(e, (int, float))}

    def constant(self, value: float, shape: Tuple[int, ...], like: Any) -> Any:
        """``torch.full``, of ``like``'s dtype and device (no gradient)."""
        import torch

        return torch.full(tuple(shape), float(value), dtype=like.dtype, device=like.device)

    def tap_value(self, value: Any) -> Any:
        """A copy: the port may modify its activations in place later."""
        return value.clone()
