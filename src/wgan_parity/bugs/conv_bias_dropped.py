"""Convolution bias silently dropped.

Source: converters that map ``Conv2D(use_bias=True)`` to ``nn.Conv2d(bias=False)`` or forget to
copy the bias tensor (it then keeps its zero or default init); tflib's convolutions all have one.
First shows at: the residual block's shortcut (the only biased conv before ``conv2``).
Seed mode's biases are zero: its forward rows cannot see it; ``grad/b`` (then all zeros) can.
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
    """The base convolution with ``b`` ignored."""
    del b
    return base.conv2d(x, w, None)
