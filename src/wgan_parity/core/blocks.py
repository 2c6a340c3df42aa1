"""What each catalog block needs: parameter specs, input and output shapes, and how to apply it.

Parameter specs mirror tflib's initialisers, so the ``random`` weight mode draws what tflib would:
conv kernels uniform with stdev ``sqrt(4/(fan_in+fan_out))`` (He) or ``sqrt(2/(fan_in+fan_out))``,
linear weights with ``sqrt(2/(in+out))``, all times ``sqrt(3)`` for the uniform half-width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from wgan_parity.core.model import Taps, join

Shape = Tuple[int, ...]
Config = Mapping[str, Any]


@dataclass(frozen=True)
class ParamSpec:
    """Shape and initialiser of one parameter: ``init`` is weight, bias, scale or offset."""

    shape: Shape
    init: str
    stdev: float = 0.0


def conv_params(
    scope: str, cin: int, cout: int, k: int, bias: bool = True, he: bool = True
) -> Dict[str, ParamSpec]:
    """An OIHW kernel (and bias) with tflib's Conv2D initialiser."""
    fan_in, fan_out = cin * k * k, cout * k * k
    stdev = float(np.sqrt((4.0 if he else 2.0) / (fan_in + fan_out)))
    specs = {join(scope, "w"): ParamSpec((cout, cin, k, k), "weight", stdev)}
    if bias:
        specs[join(scope, "b")] = ParamSpec((cout,), "bias")
    return specs


def linear_params(scope: str, nin: int, nout: int) -> Dict[str, ParamSpec]:
    """An ``(in, out)`` weight and a bias with tflib's Linear (Glorot uniform) initialiser."""
    stdev = float(np.sqrt(2.0 / (nin + nout)))
    return {
        join(scope, "w"): ParamSpec((nin, nout), "weight", stdev),
        join(scope, "b"): ParamSpec((nout,), "bias"),
    }


def norm_params(scope: str, channels: int) -> Dict[str, ParamSpec]:
    """Per-channel scale and offset (tflib LayerNorm and BatchNorm alike)."""
    return {
        join(scope, "scale"): ParamSpec((channels,), "scale"),
        join(scope, "offset"): ParamSpec((channels,), "offset"),
    }


def residual_params(scope: str, cin: int, cout: int, resample: str) -> Dict[str, ParamSpec]:
    """Parameters of a tflib ResidualBlock with ``resample`` 'down' or 'up'."""
    mid = cin if resample == "down" else cout
    specs = conv_params(join(scope, "shortcut"), cin, cout, 1, bias=True, he=False)
    specs.update(norm_params(join(scope, "norm1"), cin))
    specs.update(conv_params(join(scope, "conv1"), cin, mid, 3, bias=False))
    specs.update(norm_params(join(scope, "norm2"), mid))
    specs.update(conv_params(join(scope, "conv2"), mid, cout, 3, bias=True))
    return specs


def generator_params(dim: int) -> Dict[str, ParamSpec]:
    """GoodGenerator(dim) parameters."""
    specs = linear_params("input", 128, 4 * 4 * 8 * dim)
    for i, (cin, cout) in enumerate([(8, 8), (8, 4), (4, 2), (2, 1)], start=1):
        specs.update(residual_params(f"res{i}", cin * dim, cout * dim, "up"))
    specs.update(norm_params("output_norm", dim))
    specs.update(conv_params("output", dim, 3, 3))
    return specs


def discriminator_params(dim: int) -> Dict[str, ParamSpec]:
    """GoodDiscriminator(dim) parameters."""
    specs = conv_params("input", 3, dim, 3, he=False)
    for i, (cin, cout) in enumerate([(1, 2), (2, 4), (4, 8), (8, 8)], start=1):
        specs.update(residual_params(f"res{i}", cin * dim, cout * dim, "down"))
    specs.update(linear_params("output", 4 * 4 * 8 * dim, 1))
    return specs


Apply = Callable[[Any, Mapping[str, Any], Config, Optional[Taps]], Any]
#: A block's arguments to its op, from (tensors, config, taps).
Arguments = Callable[[Mapping[str, Any], Config, Optional[Taps]], Tuple[Any, ...]]


@dataclass(frozen=True)
class Block:
    """How to build and run one kind of catalog case.

    ``op``: the backend primitive or composite it applies, named as the block is ("" for none).
    """

    params: Callable[[Config], Dict[str, ParamSpec]]
    input_shape: Callable[[Config], Shape]
    output_shape: Callable[[Config], Shape]
    apply: Apply
    op: str = ""


def _op_blocks(
    *entries: Tuple[
        str,
        Callable[[Config], Dict[str, ParamSpec]],
        Callable[[Config], Shape],
        Callable[[Config], Shape],
        Arguments,
    ],
) -> Dict[str, Block]:
    """Blocks that apply the backend op of their own name: ``ops.<name>(*arguments(a, c, t))``."""

    def calls(op: str, arguments: Arguments) -> Apply:
        return lambda ops, a, c, t: getattr(ops, op)(*arguments(a, c, t))

    return {
        name: Block(params, input_shape, output_shape, calls(name, arguments), op=name)
        for name, params, input_shape, output_shape, arguments in entries
    }


def _nchw(c: Config) -> Shape:
    return (c["batch"], c["cin"], c["h"], c["w"])


def _conv(c: Config) -> Dict[str, ParamSpec]:
    return conv_params("", c["cin"], c["cout"], c["k"])


def _scaled(c: Config, factor: float) -> Shape:
    return (c["batch"], c["cout"], int(c["h"] * factor), int(c["w"] * factor))


def _x_w_b(a: Mapping[str, Any], c: Config, t: Optional[Taps]) -> Tuple[Any, ...]:
    return (a["x"], a["w"], a["b"])


def _x_norm(a: Mapping[str, Any], c: Config, t: Optional[Taps]) -> Tuple[Any, ...]:
    return (a["x"], a["scale"], a["offset"], 1e-5)


def _x_model(a: Mapping[str, Any], c: Config, t: Optional[Taps]) -> Tuple[Any, ...]:
    return (a["x"], a, c["dim"], t)


BLOCKS: Dict[str, Block] = {
    "identity": Block(
        lambda c: {},
        lambda c: tuple(c["shape"]),
        lambda c: tuple(c["shape"]),
        lambda ops, a, c, t: a["x"],
    ),
    **_op_blocks(
        (
            "depth_to_space",
            lambda c: {},
            _nchw,
            lambda c: (c["batch"], c["cin"] // 4, 2 * c["h"], 2 * c["w"]),
            lambda a, c, t: (a["x"], 2),
        ),
        ("conv2d", _conv, _nchw, lambda c: _scaled(c, 1), _x_w_b),
        ("conv_mean_pool", _conv, _nchw, lambda c: _scaled(c, 0.5), _x_w_b),
        ("mean_pool_conv", _conv, _nchw, lambda c: _scaled(c, 0.5), _x_w_b),
        ("upsample_conv", _conv, _nchw, lambda c: _scaled(c, 2), _x_w_b),
        (
            "residual_block",
            lambda c: residual_params("", c["cin"], c["cout"], c["resample"]),
            _nchw,
            lambda c: _scaled(c, 0.5 if c["resample"] == "down" else 2),
            lambda a, c, t: (a["x"], a, "", c["resample"], c["norm"], t),
        ),
        ("layer_norm", lambda c: norm_params("", c["cin"]), _nchw, _nchw, _x_norm),
        ("batch_norm", lambda c: norm_params("", c["cin"]), _nchw, _nchw, _x_norm),
        (
            "good_generator",
            lambda c: generator_params(c["dim"]),
            lambda c: (c["batch"], 128),
            lambda c: (c["batch"], 3 * 64 * 64),
            _x_model,
        ),
        (
            "good_discriminator",
            lambda c: discriminator_params(c["dim"]),
            lambda c: (c["batch"], 3 * 64 * 64),
            lambda c: (c["batch"],),
            _x_model,
        ),
        (
            "gradient_penalty",
            lambda c: discriminator_params(c["dim"]),
            lambda c: (c["batch"], 3 * 64 * 64),
            lambda c: (),
            _x_model,
        ),
    ),
}
