"""Convolution kernel rotated by 180 degrees: true convolution where the model cross-correlates.

Source: ports between a framework computing cross-correlation (TF, PyTorch, cuDNN) and code or
weights written for a true convolution (Theano's ``conv2d`` flips the kernel; Keras 1 ported
Theano weights with ``convert_kernel``); a forgotten or doubled flip turns one into the other.
First shows at: ``conv1`` of a residual block (the shortcut is 1x1, which a flip leaves alone).
Seed mode's constant kernels are symmetric: its forward rows cannot see it, its ``grad/w`` can.
"""

from __future__ import annotations

from typing import Any, Optional

from wgan_parity.backends import torch as base
from wgan_parity.bugs import CONV_CASES

BASE = "torch"
TOUCHES = CONV_CASES
FIRST_TAP = "conv1"
SEED_FORWARD_VISIBLE = False


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """``F.conv2d`` SAME with the kernel flipped along H and W."""
    return base.F.conv2d(x, w.flip((2, 3)), b, stride=1, padding="same")
