"""The backend protocol: the primitive ops every framework adapter provides.

Canonical layout at the boundary: activations NCHW, conv kernels OIHW, linear weights
``(in, out)`` as in tflib (``y = x @ w + b``). Semantic choices are fixed here, not implied:

- ``conv2d``: stride 1, "SAME" zero padding (odd kernels: ``k // 2`` on each side), optional bias.
- ``depth_to_space``: TensorFlow's DCR channel order (ONNX ``mode="DCR"``); note that PyTorch
  ``pixel_shuffle`` is CRD and differs unless the channels are permuted first.
- ``layer_norm``: tflib semantics: moments over axes [1, 2, 3] per sample, per-*channel* affine.
- ``batch_norm``: training mode, batch statistics over axes [0, 2, 3], biased variance,
  per-channel affine, ``eps`` inside the square root.
- ``vjp(fn, args, wrt, cotangent)``: returns ``(out, grads)`` where ``grads[k]`` is the gradient of
  ``sum(out * cotangent)`` (``sum(out)`` if ``cotangent`` is None) with respect to ``args[k]``. The
  result must itself be differentiable when ``create_graph`` is true (double backward).
"""

from __future__ import annotations

from typing import Tuple

#: Module-level functions every backend module defines (same names, same parameters).
PRIMITIVES: Tuple[str, ...] = (
    "configure",
    "framework_version",
    "asarray",
    "to_numpy",
    "stop_gradient",
    "compile",
    "vjp",
    "conv2d",
    "depth_to_space",
    "linear",
    "concat",
    "reshape",
    "relu",
    "tanh",
    "sqrt",
    "mean",
    "sum",
    "layer_norm",
    "batch_norm",
)

#: Module-level constants every backend module defines.
CONSTANTS: Tuple[str, ...] = ("FRAMEWORK", "DTYPE")

#: Composite blocks written once in :mod:`wgan_parity.core.model`; a user backend may override any.
COMPOSITES: Tuple[str, ...] = (
    "mean_pool",
    "conv_mean_pool",
    "mean_pool_conv",
    "upsample_conv",
    "normalize",
    "residual_block",
    "good_generator",
    "good_discriminator",
    "gradient_penalty",
)
