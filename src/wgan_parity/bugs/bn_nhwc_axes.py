"""BatchNorm statistics over the NHWC axes [0, 1, 2] applied to an NCHW tensor.

Source: normalization-axis mistakes when moving code between layouts: TF's channels-last
``tf.nn.moments(x, [0, 1, 2])`` kept after switching to channels-first reduces over (N, C, H),
one mean per image column instead of per channel (CRADLE and LEMON report normalization layers
among the most inconsistent across backends).
First shows at: ``norm1`` of the up block (BatchNorm).
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import tensorflow as base

BASE = "tensorflow"
TOUCHES = ("batch_norm.*", "residual_up.*")
FIRST_TAP = "norm1"
SEED_FORWARD_VISIBLE = True


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``tf.nn.moments`` over axes [0, 1, 2] of NCHW data, then per-channel affine."""
    tf = base.tf
    mean, var = tf.nn.moments(x, axes=[0, 1, 2], keepdims=True)
    per_channel = (1, -1, 1, 1)
    return tf.nn.batch_normalization(
        x, mean, var, tf.reshape(offset, per_channel), tf.reshape(scale, per_channel), eps
    )
