"""LayerNorm normalizing over (H, W) per channel: InstanceNorm instead of tflib's LayerNorm.

Source: normalization-axis mistakes (tflib's LayerNorm takes moments over [1, 2, 3], per sample;
``nn.InstanceNorm2d`` or ``moments(x, [2, 3])`` per sample and channel); normalization layers
are among the most inconsistent across backends in CRADLE and LEMON.
First shows at: ``norm1`` of the down block (LayerNorm).
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import tensorflow as base

BASE = "tensorflow"
TOUCHES = ("layer_norm.*", "residual_down.*")
FIRST_TAP = "norm1"
SEED_FORWARD_VISIBLE = True


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``tf.nn.moments`` over axes [2, 3] (per sample and channel), per-channel affine."""
    tf = base.tf
    mean, var = tf.nn.moments(x, axes=[2, 3], keepdims=True)
    per_channel = (-1, 1, 1)
    return tf.nn.batch_normalization(
        x, mean, var, tf.reshape(offset, per_channel), tf.reshape(scale, per_channel), eps
    )
