"""The NumPy reference run in float32: the float32 noise floor of each computation.

Built as a user backend would be: it names a base backend and overrides one primitive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BASE = "reference"
DTYPE = "float32"


def asarray(value: Any) -> np.ndarray:
    """A fresh float32 array."""
    return np.array(value, dtype=np.float32)
