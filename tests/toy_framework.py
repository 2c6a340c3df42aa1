"""A toy framework for the registry test: NumPy in float32, as its own adapter (no ``BASE``).

It re-exports every public function of the reference adapter, so it always implements the whole
protocol, and changes only the dtype. :data:`ENTRY` is its registry entry; ``toy_plugin`` (a
pytest plugin) registers it for a whole pytest run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wgan_parity.backends import reference as _reference
from wgan_parity.frameworks import Framework

globals().update(
    {
        name: value
        for name, value in vars(_reference).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == _reference.__name__
    }
)

FRAMEWORK = "toynumpy"
DTYPE = "float32"

ENTRY = Framework(
    name=FRAMEWORK,
    short="toy",
    adapter=__name__,
    import_module="numpy",
    rank=9,
    extra="",
    distributions=("numpy",),
    cap_variables=("NPY_DISABLE_CPU_FEATURES",),
)


def asarray(value: Any) -> np.ndarray:
    """A fresh float32 array."""
    return np.array(value, dtype=np.float32)


def framework_version() -> str:
    """NumPy's version."""
    return f"numpy{np.__version__}"
