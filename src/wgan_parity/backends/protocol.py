"""The backend protocol: re-exported from :mod:`wgan_parity.core.protocol`, where it is typed."""

from __future__ import annotations

from wgan_parity.core.protocol import (
    COMPOSITES,
    CONSTANTS,
    PRIMITIVES,
    Composites,
    Ops,
    Primitives,
    Tensor,
)

__all__ = ["COMPOSITES", "CONSTANTS", "PRIMITIVES", "Composites", "Ops", "Primitives", "Tensor"]
