"""Where a dump came from: Python, NumPy, platform, CPU and GPU, package version and git commit."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from wgan_parity import SCHEMA_VERSION, __version__
from wgan_parity.core.hostinfo import cpu_model, platform_info

__all__ = ["base_metadata", "cpu_model", "git_commit", "platform_info"]


def git_commit() -> Optional[str]:
    """``WGAN_PARITY_GIT_COMMIT`` if set, else the commit of the checkout holding this package."""
    if os.environ.get("WGAN_PARITY_GIT_COMMIT"):
        return os.environ["WGAN_PARITY_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def numpy_simd() -> List[str]:
    """The SIMD extensions NumPy dispatches to here (after ``NPY_DISABLE_CPU_FEATURES``)."""
    for where in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            module = importlib.import_module(where)
        except ImportError:
            continue
        features = getattr(module, "__cpu_features__", {})
        return sorted(name for name, on in features.items() if on)
    return []


def base_metadata() -> Dict[str, Any]:
    """Fields every dump shares, independent of the backend."""
    return {
        "schema_version": SCHEMA_VERSION,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "numpy_simd": tuple(numpy_simd()),
        "package_version": __version__,
        "git_commit": git_commit(),
    }
