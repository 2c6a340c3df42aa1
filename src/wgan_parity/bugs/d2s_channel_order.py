"""depth_to_space in the wrong channel order: ``pixel_shuffle`` (CRD) where TF's DCR is meant.

Source: the two modes of ONNX ``DepthToSpace`` (``DCR``, TensorFlow's ``depth_to_space``, and
``CRD``, PyTorch's ``pixel_shuffle``); PyTorch ports of tflib's ``UpsampleConv`` that call
``pixel_shuffle`` without first permuting the channels (see the ``*crd*`` known rule).
First shows at: the up block's shortcut (an ``upsample_conv``); in ``upsample_conv`` the four
concatenated copies make DCR a plain 2x nearest upsampling, CRD mixes channels.
"""

from __future__ import annotations

from typing import Any

from wgan_parity.backends import torch as base

BASE = "torch"
TOUCHES = ("depth_to_space.*", "upsample_conv.*", "residual_up.*")
FIRST_TAP = "shortcut"
SEED_FORWARD_VISIBLE = True


def depth_to_space(x: Any, block: int) -> Any:
    """``F.pixel_shuffle`` on the DCR-ordered channels, without the permutation."""
    return base.F.pixel_shuffle(x, block)
