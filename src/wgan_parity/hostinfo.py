"""The machine's identity (OS, architecture, CPU model, GPUs), from the standard library only.

Dumps record it (:mod:`wgan_parity.provenance`), and so do the failure records the orchestrator
writes from an interpreter that may have no NumPy; the aggregator labels an env
``<env_id>@<id>`` when the same env id comes from machines with different ids.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any, Dict, Sequence


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def platform_info(gpus: Sequence[str]) -> Dict[str, Any]:
    """OS, architecture, CPU model, GPUs and a short ``id`` hashed from the four."""
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
