"""The functions a user backend module exposes for a :class:`~module_port.ModulePort`.

:func:`composites` gives the blocks (``residual_block``, ``good_generator``,
``good_discriminator``), :func:`layers` the layers (:data:`~port_plan.LAYERS`), each with the
protocol's signature (:mod:`wgan_parity.core.protocol`) and a ``runs_port`` attribute: whether it
runs the port's code (check-port skips a case that runs none of it).

**Layers.** A layer function builds (once per :class:`~port_plan.Spec`) the port's module from
the factory of its kind and runs it functionally with the tool's tensors as its parameters:

- ``conv2d(x, w, b=None)``, and the composites ``conv_mean_pool(ops, x, w, b=None)``,
  ``mean_pool_conv(ops, x, w, b=None)``, ``upsample_conv(ops, x, w, b=None)`` (``ops`` unused):
  ``Spec(cin, cout, h, w, k=k, bias=b is not None)``; tool names ``w`` (OIHW) and ``b``;
- ``depth_to_space(x, block)``: ``Spec(cin, cin // block**2, h, w, block=block)``, no parameters;
- ``layer_norm(x, scale, offset, eps)``, ``batch_norm(...)``: ``Spec(c, c, h, w, eps=eps)``;
  tool names ``scale`` and ``offset`` (per channel). The module's own ``eps`` (where the driver
  finds one: torch, any submodule's ``eps``) must equal the tool's (tflib's), else
  :class:`~port_plan.PortError` names both: a port that normalizes with another eps differs from
  tflib in its forward code, which no name map or ``extra`` can declare; fix the port, or build
  the layer from ``Spec.eps`` when the port's own eps is tflib's after all.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

from wgan_parity.backends.port_plan import KINDS, LAYERS, PortError, Spec
from wgan_parity.core.model import Taps, join

if TYPE_CHECKING:
    from wgan_parity.backends.module_port import ModulePort

# How a conv layer scales the input's height and width.
CONV_SCALE = {"conv2d": 1.0, "conv_mean_pool": 0.5, "mean_pool_conv": 0.5, "upsample_conv": 2.0}


def _nchw(x: Any) -> Tuple[int, int, int, int]:
    n, c, h, w = (int(d) for d in x.shape)
    return n, c, h, w


def _conv(port: ModulePort, kind: str) -> Callable[..., Any]:
    scale = CONV_SCALE[kind]

    def conv(x: Any, w: Any, b: Optional[Any] = None) -> Any:
        n, cin, h, wd = _nchw(x)
        cout, k = int(w.shape[0]), int(w.shape[2])
        spec = Spec(cin, cout, h, wd, k=k, bias=b is not None)
        p = {"w": w} if b is None else {"w": w, "b": b}
        return port.run(kind, spec, x, p, "", None, (n, cout, int(h * scale), int(wd * scale)))

    if kind == "conv2d":
        return conv

    def composite(ops: Any, x: Any, w: Any, b: Optional[Any] = None) -> Any:
        del ops  # the port's module does it all
        return conv(x, w, b)

    return composite


def _depth_to_space(port: ModulePort) -> Callable[..., Any]:
    def depth_to_space(x: Any, block: int) -> Any:
        n, c, h, w = _nchw(x)
        cout = c // (block * block)
        spec = Spec(c, cout, h, w, block=int(block))
        return port.run("depth_to_space", spec, x, {}, "", None, (n, cout, h * block, w * block))

    return depth_to_space


def _norm(port: ModulePort, kind: str) -> Callable[..., Any]:
    def norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
        n, c, h, w = _nchw(x)
        spec = Spec(c, c, h, w, eps=float(eps))
        return port.run(kind, spec, x, {"scale": scale, "offset": offset}, "", None, (n, c, h, w))

    return norm


def layers(port: ModulePort) -> Dict[str, Callable[..., Any]]:
    """The layer functions of the kinds ``port`` has a factory for, by the protocol's names."""
    made: Dict[str, Callable[..., Any]] = {}
    for kind in (k for k in LAYERS if k in port.factories):
        if kind in CONV_SCALE:
            made[kind] = _conv(port, kind)
        elif kind == "depth_to_space":
            made[kind] = _depth_to_space(port)
        else:
            made[kind] = _norm(port, kind)
        made[kind].__name__ = made[kind].__qualname__ = kind
        made[kind].runs_port = True  # type: ignore[attr-defined]
    return made


def check_eps(where: str, spec: Spec, found: Mapping[str, float]) -> None:
    """:class:`PortError` when an ``eps`` the port's norm module uses (``found``: submodule ->
    eps, "" the module) differs from the tool's ``spec.eps``."""
    for sub, eps in sorted(found.items()):
        if not math.isclose(eps, spec.eps, rel_tol=1e-9, abs_tol=0.0):
            raise PortError(
                f"{where}: the port's eps is {eps!r} ({sub + '.eps' if sub else 'eps'}), the "
                f"tool's (tflib's) is {spec.eps!r}: expected the same; the port normalizes "
                "differently from tflib: fix the port, or build the layer from Spec.eps when "
                "the port's own eps is tflib's"
            )


def composites(port: ModulePort) -> Tuple[Callable[..., Any], ...]:
    """``(residual_block, good_generator, good_discriminator)``; a block without a factory keeps
    the tool's own composite (built on the backend's primitives: the port's layers too)."""
    from wgan_parity.core import model

    def residual_block(ops: Any, x: Any, p: Any, scope: str, resample: str, norm: str,
                       taps: Optional[Taps] = None) -> Any:  # fmt: skip
        if "residual_block" not in port.factories:
            return model.residual_block(ops, x, p, scope, resample, norm, taps)
        n, cin, h, w = _nchw(x)
        cout = int(p[join(scope, "shortcut.w")].shape[0])
        spec = Spec(cin, cout, h, w, resample, norm)
        f = 2.0 if resample == "up" else 0.5
        return port.run("residual_block", spec, x, p, scope, taps,
                        (n, cout, int(h * f), int(w * f)))  # fmt: skip

    def good_generator(ops: Any, x: Any, p: Any, dim: int, taps: Optional[Taps] = None) -> Any:
        if "good_generator" not in port.factories:
            return model.good_generator(ops, x, p, dim, taps)
        expected = (int(x.shape[0]), 3 * 64 * 64)
        return port.run("good_generator", Spec(dim=dim), x, p, "", taps, expected)

    def good_discriminator(ops: Any, x: Any, p: Any, dim: int, taps: Optional[Taps] = None) -> Any:
        if "good_discriminator" not in port.factories:
            return model.good_discriminator(ops, x, p, dim, taps)
        expected = (int(x.shape[0]),)
        return port.run("good_discriminator", Spec(dim=dim), x, p, "", taps, expected)

    made = (residual_block, good_generator, good_discriminator)
    for kind, function in zip(KINDS, made):  # check-port: a block without a factory runs
        function.runs_port = kind in port.factories  # type: ignore[attr-defined]
    return made
