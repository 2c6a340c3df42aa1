"""Where a dump came from: Python, NumPy, platform, CPU and GPU, package version and git commit."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from wgan_parity import SCHEMA_VERSION, __version__


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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


def platform_info(gpus: List[str]) -> Dict[str, Any]:
    """The machine's identity: OS, architecture, CPU model and GPUs (part of an env's identity)."""
    info = {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": ", ".join(gpus) if gpus else None,
    }
    key = "|".join(str(info[k]) for k in ("system", "machine", "cpu", "gpu"))
    info["id"] = hashlib.sha256(key.encode()).hexdigest()[:8]
    return info


def base_metadata() -> Dict[str, Any]:
    """Fields every dump shares, independent of the backend."""
    return {
        "schema_version": SCHEMA_VERSION,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "package_version": __version__,
        "git_commit": git_commit(),
    }
