"""The machine's identity (OS, architecture, CPU model and ISA, GPUs), from the standard library.

Dumps record it (:mod:`wgan_parity.dump.provenance`), and so do the failure records the orchestrator
writes from an interpreter that may have no NumPy; the aggregator labels an env
``<env_id>@<id>`` when the same env id comes from machines with different ids.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any, Dict, Sequence

from wgan_parity.core import isa


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def platform_info(gpus: Sequence[str], framework: str = "torch") -> Dict[str, Any]:
    """OS, architecture, CPU model, kernel ISA, GPUs and a short ``id`` hashed from the five.

    ``isa`` is the instruction-set class ``framework``'s kernels run with here
    (:func:`wgan_parity.core.isa.kernel_isa`): "AMD EPYC" names AVX2 and AVX-512 machines alike, and
    their float32 results differ, so the ISA is part of the machine's identity.
    """
    info: Dict[str, Any] = {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": ", ".join(gpus) if gpus else None,
        **isa.describe(framework),
    }
    key = "|".join(str(info[k]) for k in ("system", "machine", "cpu", "gpu", "isa"))
    info["id"] = hashlib.sha256(key.encode()).hexdigest()[:8]
    return info
