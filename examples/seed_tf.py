"""The TF side of the seed's comparison: tflib chooses the norm of a residual block by *name*.

A user backend over ``tensorflow`` (``--backend seed_tf``, ``examples/`` on ``PYTHONPATH``).
tflib's ``Normalize(name, axes, inputs)`` (igul222/improved_wgan_training, gan_64x64.py) uses
LayerNorm only when ``'Discriminator' in name``, and BatchNorm otherwise. Inside GoodDiscriminator
the blocks are named ``Discriminator.Res1``... and get LayerNorm; the seed's test built its
stand-alone down block under the name ``ResidualBlock_Down``, so TensorFlow ran it with BatchNorm
while the PyTorch port used LayerNorm. That, not a kernel, is the seed's 4.3e-3 cosine distance.
"""

from __future__ import annotations

from typing import Any, Optional

from wgan_parity.core import model

BASE = "tensorflow"
SEED_BLOCK_NAMES = {"down": "ResidualBlock_Down", "up": "ResidualBlock_Up"}


def tflib_block_name(scope: str, resample: str, norm: str) -> str:
    """The tflib name the block had: the seed's name when stand-alone, else its model's prefix."""
    if not scope:
        return SEED_BLOCK_NAMES[resample]
    return f"{'Discriminator' if norm == 'layer' else 'Generator'}.{scope}"


def residual_block(
    ops: Any,
    x: Any,
    p: Any,
    scope: str,
    resample: str,
    norm: str,
    taps: Optional[model.Taps] = None,
) -> Any:
    """tflib's ResidualBlock with Normalize()'s rule: LayerNorm iff 'Discriminator' in name."""
    kind = "layer" if "Discriminator" in tflib_block_name(scope, resample, norm) else "batch"
    return model.residual_block(ops, x, p, scope, resample, kind, taps)
