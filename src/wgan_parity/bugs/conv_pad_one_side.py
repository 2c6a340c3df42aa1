"""SAME padding put on one side only: the output is shifted by one pixel.

Source: emulating TF's ``padding="SAME"`` by hand with ``pad(bottom/right = k - 1)`` (TF puts
the odd extra pixel at the bottom/right for even totals, and PyTorch's old
``padding=k//2`` has no asymmetric form), the padding-convention mismatches reported between
TF, PyTorch and ONNX converters.
First shows at: ``conv1`` of a residual block (1x1 shortcut kernels need no padding).
"""

from __future__ import annotations

from typing import Any, Optional

from wgan_parity.backends import tensorflow as base
from wgan_parity.bugs import CONV_CASES

BASE = "tensorflow"
TOUCHES = CONV_CASES
FIRST_TAP = "conv1"
SEED_FORWARD_VISIBLE = True


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """VALID convolution after padding ``k - 1`` at the bottom and right only."""
    tf = base.tf
    kh, kw = int(w.shape[2]), int(w.shape[3])
    nhwc = tf.pad(tf.transpose(x, (0, 2, 3, 1)), [[0, 0], [0, kh - 1], [0, kw - 1], [0, 0]])
    y = tf.nn.conv2d(nhwc, tf.transpose(w, (2, 3, 1, 0)), strides=1, padding="VALID")
    if b is not None:
        y = tf.nn.bias_add(y, b)
    return tf.transpose(y, (0, 3, 1, 2))
