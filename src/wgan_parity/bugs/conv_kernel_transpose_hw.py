"""Convolution kernel with H and W swapped: HWIO converted to OIWH instead of OIHW.

Source: TF -> PyTorch weight converters that write ``w.permute(3, 2, 1, 0)`` (reverse all axes)
instead of ``w.permute(3, 2, 0, 1)``; kernel-layout mistakes of this kind are among the
inconsistencies LEMON (Wang et al., ESEC/FSE 2020) and CRADLE report between backends.
First shows at: ``conv1`` of a residual block (1x1 shortcut kernels are unchanged).
Seed mode's constant kernels are symmetric: invisible in its forward rows.
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
    """``F.conv2d`` SAME with the kernel's spatial axes transposed."""
    return base.F.conv2d(x, w.transpose(2, 3), b, stride=1, padding="same")
