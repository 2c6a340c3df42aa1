"""tflib's 2x2 mean pool replaced by a strided subsample ``x[:, :, ::2, ::2]``.

Source: pooling offset/extent mistakes (a ``kernel_size=1, stride=2`` pool, or a "mean" of only
the first of the four strided slices); pooling-window conventions are a recurring source of
cross-framework inconsistencies (LEMON; CRADLE's AveragePooling/padding cases).
First shows at: the down block's shortcut (a ``mean_pool_conv``). Overrides the ``mean_pool``
composite, so ``conv_mean_pool`` and ``mean_pool_conv`` inherit it.
"""

from __future__ import annotations

from typing import Any

BASE = "tensorflow"
TOUCHES = ("conv_mean_pool.*", "mean_pool_conv.*", "residual_down.*")
FIRST_TAP = "shortcut"
SEED_FORWARD_VISIBLE = True


def mean_pool(ops: Any, x: Any) -> Any:
    """The top-left element of each 2x2 window, not the mean of four."""
    del ops
    return x[:, :, ::2, ::2]
