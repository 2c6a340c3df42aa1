"""The original PyTorch port's *first* LayerNorm: the one behind the seed's LayerNorm-Backward.

A user backend over ``torch`` (``--backend seed_port_v0``, ``examples/`` on ``PYTHONPATH``).
Early versions of jalola/improved-wgan-pytorch ``models/wgan.py`` used a hand-written LayerNorm
(after the snippet in pytorch/pytorch#1959, which the seed README links):
``gamma * (x - mean) / (std + eps) + beta`` with per-channel ``gamma``/``beta``, the *unbiased*
standard deviation, and eps *outside* the square root (tflib: ``(x - mean) / sqrt(var + eps)``).

The forward pass differs by about ``eps / std`` (1e-5 / 0.29 in seed mode): invisible to cosine.
The seed's backward cost ``mean(LN(x)**2)`` is flat except for eps, so its gradient is made of eps
alone, and moving eps outside the root changes it by the factor ``std`` (0.289 for uniform [0, 1)
data): the seed's PyTorch value 2.49e-10 against TF's 8.67e-10 is that factor, not a float32 error.
It is the same class of bug CRADLE (ICSE 2019) found in CNTK's BatchNorm.
"""

from __future__ import annotations

from typing import Any

BASE = "torch"


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``(x - mean) / (std_unbiased + eps)`` per sample over (C, H, W), per-channel affine."""
    n = int(x.shape[0])
    flat = x.reshape(n, -1)
    mean = flat.mean(1).reshape(-1, 1, 1, 1)
    std = flat.std(1).reshape(-1, 1, 1, 1)  # torch's default: unbiased (n - 1)
    y = (x - mean) / (std + eps)
    return scale.reshape(1, -1, 1, 1) * y + offset.reshape(1, -1, 1, 1)
