"""The original PyTorch port's semantics where they differ from tflib: per-element LayerNorm affine.

A user backend (``wgan-parity dump --backend seed_port`` with ``examples/`` on ``PYTHONPATH``)
over the built-in ``torch`` backend. The port (jalola/improved-wgan-pytorch, ``models/wgan.py``)
normalizes its down blocks with ``nn.LayerNorm([C, H, W])``: moments over (C, H, W) like tflib,
but one scale and one offset *per element* (C·H·W of each) where tflib has one per channel.

The per-element parameters are loaded here by broadcasting tflib's per-channel values, as a port
restoring a tflib checkpoint would. At that point the forward pass is identical and the gradient
of each per-channel parameter is the sum of its per-element gradients, so one step cannot tell the
two apart: the difference appears after the first optimizer step, when the C·H·W elements move
separately (and at once when a port keeps nn.LayerNorm's own 1/0 initialisation). Seed mode uses
scale 1 and offset 0, so the seed's table could not show it either; see docs/seed-results.md.

The seed's other differences live in ``seed_tf`` (the TF side's name-based choice of BatchNorm)
and ``seed_port_v0`` (the port's first LayerNorm, with eps outside the square root).
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import torch as _torch

BASE = "torch"


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``nn.LayerNorm([C, H, W])``: per-element weight and bias (broadcast from per-channel)."""
    c, h, w = (int(d) for d in x.shape[1:])
    weight = scale.reshape(c, 1, 1).expand(c, h, w)
    bias = offset.reshape(c, 1, 1).expand(c, h, w)
    return _torch.F.layer_norm(x, (c, h, w), weight, bias, eps)
