"""BatchNorm with eps outside the square root: ``(x - mean) / (std + eps)``.

Source: CRADLE (Pham et al., ICSE 2019) found exactly this in CNTK's BatchNorm; the PyTorch
port's first LayerNorm had it too (``examples/seed_port_v0.py``, after pytorch/pytorch#1959).
The forward error is about ``eps / (2 var) - eps / std`` relative: 2.5e-5 for seed mode's
uniform [0, 1) inputs, but only -2.3e-6 for uniform [-1, 1) (random mode), where the two terms
nearly cancel. First shows at: ``norm1`` of the up block (BatchNorm).
"""

from __future__ import annotations

from typing import Any

BASE = "torch"
TOUCHES = ("batch_norm.*", "residual_up.*")
FIRST_TAP = "norm1"
SEED_FORWARD_VISIBLE = True


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """Batch statistics over (N, H, W), biased variance, eps added to the standard deviation."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True).sqrt()
    return (x - mean) / (std + eps) * scale.reshape(1, -1, 1, 1) + offset.reshape(1, -1, 1, 1)
