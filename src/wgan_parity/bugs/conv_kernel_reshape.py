"""Convolution kernel converted OIHW -> HWIO with ``reshape`` instead of a transpose.

Source: kernel-layout conversions between PyTorch (OIHW) and TensorFlow (HWIO) written as
``reshape``: the shape is right, the values are scrambled across in/out channels and taps (the
same family as ONNX converters' layout bugs and LEMON's inconsistencies). Unlike a swapped
in/out transpose it also passes for C_in != C_out.
First shows at: the residual block's 1x1 shortcut (C_in != C_out there).
Seed mode's constant kernels are the same in any order: invisible in its forward rows.
"""

from __future__ import annotations

from typing import Any, Optional

from wgan_parity.backends import tensorflow as base
from wgan_parity.bugs import CONV_CASES

BASE = "tensorflow"
TOUCHES = CONV_CASES
FIRST_TAP = "shortcut"
SEED_FORWARD_VISIBLE = False


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """``tf.nn.conv2d`` SAME in NHWC, kernel ``tf.reshape``d to (kh, kw, C_in, C_out)."""
    tf = base.tf
    cout, cin, kh, kw = w.shape
    kernel = tf.reshape(w, (kh, kw, cin, cout))
    y = tf.nn.conv2d(tf.transpose(x, (0, 2, 3, 1)), kernel, strides=1, padding="SAME")
    if b is not None:
        y = tf.nn.bias_add(y, b)
    return tf.transpose(y, (0, 3, 1, 2))
