"""Linear weight converted with ``reshape`` instead of a transpose.

Source: tflib stores ``(in, out)``, ``nn.Linear`` ``(out, in)``; a converter that writes
``w.reshape(out, in)`` (or ``view``) gets the right shape and scrambled values. Only a
non-square weight can tell (for a square one the honest transpose is as easy to forget, and
a ``(n, 1)`` vector is the same either way: the discriminator's output layer is immune).
First shows at: ``input`` (the generator's 128 -> 512 linear). Seed mode's constant weights are
the same in any order: invisible in its forward rows.
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import torch as base

BASE = "torch"
TOUCHES = ("good_generator.*",)
FIRST_TAP = "input"
SEED_FORWARD_VISIBLE = False


def linear(x: Any, w: Any, b: Any) -> Any:
    """``F.linear`` with the ``(in, out)`` weight reshaped, not transposed, to ``(out, in)``."""
    return base.F.linear(x, w.reshape(w.shape[1], w.shape[0]), b)
