"""ReLU replaced by a leaky ReLU (slope 0.01): an activation variant.

Source: activation variants are one of LEMON's (Wang et al., ESEC/FSE 2020) mutation operators;
in GAN code the discriminator of DCGAN uses ``LeakyReLU(0.2)`` and ports swap them, and the
default slope differs between frameworks (``F.leaky_relu`` 0.01, ``tf.nn.leaky_relu`` 0.2).
First shows at: ``conv1`` of a residual block (the first ReLU feeds it); ``res1.conv1`` in the
generator.
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import torch as base

BASE = "torch"
TOUCHES = ("residual_up.*", "residual_down.*", "good_generator.*")
FIRST_TAP = {"good_generator.*": "res1.conv1", "*": "conv1"}
SEED_FORWARD_VISIBLE = True


def relu(x: Any) -> Any:
    """``F.leaky_relu`` with PyTorch's default negative slope."""
    return base.F.leaky_relu(x, 0.01)
