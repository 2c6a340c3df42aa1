"""What the dump side needs from Pythons and NumPys older than the rest of the project.

The dump's import closure (``cli``, ``commands.dump``, ``dump/``, ``backends/``, ``core/``) runs on
Python 3.7 and NumPy 1.17 - 1.21, the era envs of TensorFlow 1.13 - 2.11 and torch 1.0 - 1.13.
Standard library only, plus NumPy for :func:`require_pcg64`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

# Generator, PCG64 and SeedSequence arrived in NumPy 1.17; the fixtures use them.
MIN_NUMPY = (1, 17)


def require_pcg64() -> None:
    """Raise a clear error when NumPy lacks ``np.random.default_rng`` (NumPy < 1.17)."""
    if not hasattr(np.random, "default_rng"):
        raise RuntimeError(
            f"the fixtures need NumPy's PCG64 stream (np.random.default_rng, NumPy >= "
            f"{MIN_NUMPY[0]}.{MIN_NUMPY[1]}); found NumPy {np.__version__}. Pin "
            f'"numpy>={MIN_NUMPY[0]}.{MIN_NUMPY[1]}" in the env (matrix.toml `extra`)'
        )


def dist_version(name: str) -> str:
    """An installed distribution's version: ``importlib.metadata`` (3.8+), else its dist-info."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # Python 3.7
        return _dist_info_version(name)
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _dist_info_version(name: str) -> str:
    wanted = re.sub(r"[-_.]+", "_", name).lower()
    for entry in sys.path:
        try:
            infos = sorted(Path(entry or ".").glob("*.dist-info"))
        except OSError:
            continue
        for info in infos:
            dist, _, rest = info.stem.partition("-")
            if re.sub(r"[-_.]+", "_", dist).lower() == wanted and rest:
                return rest
    return "?"
