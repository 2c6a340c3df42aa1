"""The generator's output ``tanh`` replaced by ``hardtanh`` (clip to [-1, 1]).

Source: activation variants (LEMON's mutation operators); ``nn.Hardtanh`` is a common "cheap
tanh" in mobile and quantization-friendly ports, and identical to tanh only near 0.
First shows at: ``out`` (tanh acts after the generator's last tap, ``output_conv``).
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import torch as base

BASE = "torch"
TOUCHES = ("good_generator.*",)
FIRST_TAP = "out"
SEED_FORWARD_VISIBLE = True


def tanh(x: Any) -> Any:
    """``F.hardtanh``: identity on [-1, 1], clipped outside."""
    return base.F.hardtanh(x)
