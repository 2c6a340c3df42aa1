"""The WGAN-GP 64x64 ResNet composites, written once over a backend's primitive ops.

Every function takes the backend object ``ops`` first and calls other blocks through it
(``ops.conv_mean_pool(...)``), so overriding one primitive or one composite in a user backend
reaches every block built on it. Semantics follow tflib, as ``core/protocol.py`` states them.

Taps (named intermediates) are values: the function being differentiated makes a :class:`Taps`
recorder, the composites write into it, and the function returns its contents as ``aux``. A
nested ``vjp`` (the gradient penalty's critic) returns its own taps the same way, and the caller
merges them, so nothing leaves a traced function except through its return value.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from wgan_parity.core.protocol import COMPOSITES, Ops

EPS = 1e-5
TAP_PREFIX = "tap/"  # a tap's tensor name: ``tap/<name>``
OWN_PREFIX = "own/"  # its shadow replay's: ``own/<name>``
AUX_PREFIX = "aux/"
Tensor = Any
Params = Mapping[str, Tensor]


def join(scope: str, key: str) -> str:
    """Dotted parameter or tap name ``scope.key`` (just ``key`` at top level)."""
    return f"{scope}.{key}" if scope else key


class Taps:
    """Named intermediates in forward order: ``tap/<name>`` (first samples) and ``aux/<name>``.

    Local to one differentiated function, which returns ``tensors`` as its ``aux``.

    **Shadow replay** (``shadow`` given: the truth's full-batch value of every tap, as this
    backend's tensors): each tap records the layer's output as ``own/<name>`` and hands the
    *truth's* value on to the next layer, so every layer runs on exactly the truth's input and
    ``own/<name>`` holds the error that layer makes by itself. A replay is forward only: the
    gradient penalty then runs just its critic (:func:`gradient_penalty`), as it does with
    ``forward_only``.
    """

    def __init__(
        self,
        ops: Ops,
        samples: int,
        shadow: Optional[Mapping[str, Tensor]] = None,
        forward_only: bool = False,
    ) -> None:
        self.ops = ops
        self.samples = samples
        self.shadow = shadow
        self.forward_only = forward_only or shadow is not None
        self.tensors: Dict[str, Tensor] = {}

    def tap(self, name: str, tensor: Tensor) -> Tensor:
        """Record the first ``samples`` items of the batch, without gradient; return what the
        next layer gets (``tensor``, or in a replay the truth's value)."""
        if self.shadow is None:
            self.tensors[f"{TAP_PREFIX}{name}"] = self.ops.stop_gradient(tensor[: self.samples])
            return tensor
        self.tensors[f"{OWN_PREFIX}{name}"] = self.ops.stop_gradient(tensor[: self.samples])
        return self.shadow[name]

    def aux(self, name: str, tensor: Tensor) -> None:
        """Record a full-size extra output, without gradient."""
        self.tensors[f"{AUX_PREFIX}{name}"] = self.ops.stop_gradient(tensor)

    def merge(self, tensors: Mapping[str, Tensor]) -> None:
        """Add taps a nested function returned (already cut from the gradient)."""
        self.tensors.update(tensors)

    def child(self) -> Taps:
        """A fresh recorder for a nested differentiated function, with the same sample count."""
        return Taps(self.ops, self.samples, self.shadow, self.forward_only)


def _tap(taps: Optional[Taps], name: str, tensor: Tensor) -> Tensor:
    """Record ``tensor`` as tap ``name``; return the value the next layer gets."""
    return taps.tap(name, tensor) if taps is not None and name else tensor


def mean_pool(ops: Ops, x: Tensor) -> Tensor:
    """tflib's 2x2 mean pool: the mean of the four strided slices, summed in tflib's order."""
    return (x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4.0


def conv_mean_pool(ops: Ops, x: Tensor, w: Tensor, b: Optional[Tensor] = None) -> Tensor:
    """Conv (SAME, stride 1), then 2x2 mean pool."""
    return ops.mean_pool(ops.conv2d(x, w, b))


def mean_pool_conv(ops: Ops, x: Tensor, w: Tensor, b: Optional[Tensor] = None) -> Tensor:
    """2x2 mean pool, then conv (SAME, stride 1)."""
    return ops.conv2d(ops.mean_pool(x), w, b)


def upsample_conv(ops: Ops, x: Tensor, w: Tensor, b: Optional[Tensor] = None) -> Tensor:
    """Concatenate 4x along channels, depth_to_space(2) in DCR order, then conv."""
    return ops.conv2d(ops.depth_to_space(ops.concat([x, x, x, x], axis=1), 2), w, b)


def normalize(ops: Ops, x: Tensor, p: Params, scope: str, kind: str) -> Tensor:
    """LayerNorm (``kind="layer"``) or BatchNorm (``"batch"``) with ``scope.scale/.offset``."""
    scale, offset = p[join(scope, "scale")], p[join(scope, "offset")]
    if kind == "layer":
        return ops.layer_norm(x, scale, offset, EPS)
    if kind == "batch":
        return ops.batch_norm(x, scale, offset, EPS)
    raise ValueError(f"normalize: expected kind 'layer' or 'batch', found {kind!r}")


def _resample_convs(ops: Ops, resample: str) -> tuple:
    """(shortcut, conv1, conv2) block ops for ``resample`` in {'down', 'up'}."""
    if resample == "down":
        return ops.mean_pool_conv, ops.conv2d, ops.conv_mean_pool
    if resample == "up":
        return ops.upsample_conv, ops.upsample_conv, ops.conv2d
    raise ValueError(f"residual_block: expected resample 'down' or 'up', found {resample!r}")


def residual_block(
    ops: Ops,
    x: Tensor,
    p: Params,
    scope: str,
    resample: str,
    norm: str,
    taps: Optional[Taps] = None,
) -> Tensor:
    """tflib ResidualBlock: shortcut + conv2(relu(norm2(conv1(relu(norm1(x))))))."""
    shortcut_op, conv1_op, conv2_op = _resample_convs(ops, resample)
    shortcut = shortcut_op(x, p[join(scope, "shortcut.w")], p[join(scope, "shortcut.b")])
    shortcut = _tap(taps, join(scope, "shortcut"), shortcut)
    h = ops.normalize(x, p, join(scope, "norm1"), norm)
    h = _tap(taps, join(scope, "norm1"), h)
    h = conv1_op(ops.relu(h), p[join(scope, "conv1.w")], None)
    h = _tap(taps, join(scope, "conv1"), h)
    h = ops.normalize(h, p, join(scope, "norm2"), norm)
    h = _tap(taps, join(scope, "norm2"), h)
    h = conv2_op(ops.relu(h), p[join(scope, "conv2.w")], p[join(scope, "conv2.b")])
    h = _tap(taps, join(scope, "conv2"), h)
    return _tap(taps, scope, shortcut + h)


def good_generator(
    ops: Ops, noise: Tensor, p: Params, dim: int, taps: Optional[Taps] = None
) -> Tensor:
    """GoodGenerator: linear -> 4 up blocks (BatchNorm) -> BN -> relu -> conv -> tanh."""
    h = ops.linear(noise, p["input.w"], p["input.b"])
    h = _tap(taps, "input", h)
    h = ops.reshape(h, (-1, 8 * dim, 4, 4))
    for i in range(1, 5):
        h = ops.residual_block(h, p, f"res{i}", "up", "batch", taps)
    h = ops.normalize(h, p, "output_norm", "batch")
    h = _tap(taps, "output_norm", h)
    h = ops.conv2d(ops.relu(h), p["output.w"], p["output.b"])
    h = _tap(taps, "output_conv", h)
    return ops.reshape(ops.tanh(h), (-1, 3 * 64 * 64))


def good_discriminator(
    ops: Ops, x: Tensor, p: Params, dim: int, taps: Optional[Taps] = None
) -> Tensor:
    """GoodDiscriminator: conv -> 4 down blocks (LayerNorm) -> linear -> 1 per sample."""
    h = ops.conv2d(ops.reshape(x, (-1, 3, 64, 64)), p["input.w"], p["input.b"])
    h = _tap(taps, "input", h)
    for i in range(1, 5):
        h = ops.residual_block(h, p, f"res{i}", "down", "layer", taps)
    out = ops.linear(ops.reshape(h, (-1, 4 * 4 * 8 * dim)), p["output.w"], p["output.b"])
    return ops.reshape(out, (-1,))


def gradient_penalty(
    ops: Ops, x: Tensor, p: Params, dim: int, taps: Optional[Taps] = None
) -> Tensor:
    """WGAN-GP penalty ``10 * mean((||grad_x D(x)||_2 - 1)^2)``, differentiable in p and x.

    With ``taps.forward_only`` (a shadow replay, or the truth's taps for one) only the critic's
    forward pass runs: its taps are the penalty's, and no gradient is wanted. Its output is then
    the critic's.
    """
    if taps is not None and taps.forward_only:
        return ops.good_discriminator(x, p, dim, taps)

    def critic(args: Mapping[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        inner = taps.child() if taps is not None else None
        out = ops.good_discriminator(args["x"], p, dim, inner)
        return out, (inner.tensors if inner is not None else {})

    _, critic_taps, grads = ops.vjp(critic, {"x": x}, ["x"], None, create_graph=True)
    slopes_input = grads["x"]
    if taps is not None:
        taps.merge(critic_taps)
        taps.aux("dD_dx", slopes_input)
    slopes = ops.sqrt(ops.sum(slopes_input * slopes_input, axis=1))
    return 10.0 * ops.mean((slopes - 1.0) * (slopes - 1.0))


def _implementations() -> Dict[str, Callable[..., Tensor]]:
    """Each composite the protocol declares: the function of the same name in this module."""
    found = {name: globals().get(name) for name in COMPOSITES}
    missing = sorted(name for name, impl in found.items() if not callable(impl))
    if missing:
        raise ImportError(
            f"core/model.py: the Composites protocol declares {missing}, which this module does "
            "not define; write them here or remove them from core/protocol.py"
        )
    return {name: impl for name, impl in found.items() if callable(impl)}


#: Composite name -> implementation, derived from ``protocol.Composites`` (its one list).
COMPOSITE_IMPLS: Dict[str, Callable[..., Tensor]] = _implementations()
