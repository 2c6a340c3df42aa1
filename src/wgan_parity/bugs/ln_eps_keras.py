"""LayerNorm with Keras' default epsilon 1e-3 instead of tflib's 1e-5.

Source: ``tf.keras.layers.LayerNormalization`` and ``BatchNormalization`` default to
``epsilon=1e-3``, PyTorch and tflib to 1e-5; ports that rely on a layer's default inherit the
other framework's eps (normalization eps differences, as in CRADLE's BatchNorm finding).
The relative error is about ``(1e-3 - 1e-5) / (2 var)``: 6e-3 for seed mode's uniform [0, 1).
First shows at: ``norm1`` of the down block (LayerNorm).
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import tensorflow as base

BASE = "tensorflow"
TOUCHES = ("layer_norm.*", "residual_down.*")
FIRST_TAP = "norm1"
SEED_FORWARD_VISIBLE = True
KERAS_EPSILON = 1e-3


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """The base LayerNorm with eps replaced by Keras' default."""
    del eps
    return base.layer_norm(x, scale, offset, KERAS_EPSILON)
