"""Which CPU instruction set selects a framework's kernels (standard library only).

oneDNN, ATen and NumPy pick their float32 kernels at run time by the CPU's instruction set, so
the same wheel gives different summation orders, and different float32 results, on an AVX2 and
an AVX-512 machine that share a CPU name. Each can be capped below the hardware:
``ATEN_CPU_CAPABILITY`` (torch's ATen kernels), ``ONEDNN_MAX_CPU_ISA`` (oneDNN, in TF and torch),
``NPY_DISABLE_CPU_FEATURES`` and ``OPENBLAS_CORETYPE`` (NumPy and its BLAS, the reference's float32
noise runs). :func:`kernel_isa` is the class in effect for a framework: the CPU's class capped by
the variables that framework honours. It is part of a dump's platform (and so of the env's
identity), of the dump cache key, and of the baseline's like-for-like match.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from wgan_parity import frameworks

# ISA classes, lowest first. x86 only: other architectures keep their machine name as the class.
CLASSES = ("generic", "sse4_2", "avx", "avx2", "avx512")
FLAGS_OF_INTEREST = (
    "sse4_2",
    "avx",
    "fma",
    "avx2",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
# `wgan-parity dump --max-isa CLASS` sets these (before the framework is imported).
CAP_SETTINGS: Dict[str, Dict[str, str]] = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX"},
    "sse4_2": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}
# NumPy and its OpenBLAS (the reference's float32 noise) read these when NumPy is imported, so they
# hold only when set in the environment *before* a process starts (what `.ci/run` does for the
# whole AVX2 run); `--max-isa` cannot set them. `wgan-parity regen noise-tables` measures the
# committed noise tables on this stack too (dump/noise_regen.py).
NUMPY_CAPS: Dict[str, Dict[str, str]] = {
    "avx2": {
        "OPENBLAS_CORETYPE": "Haswell",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    },
}
_OPENBLAS = {"haswell": "avx2", "zen": "avx2", "sandybridge": "avx", "nehalem": "sse4_2"}


def cpu_flags(cpuinfo: Optional[str] = None) -> List[str]:
    """The :data:`FLAGS_OF_INTEREST` this CPU has (Linux ``/proc/cpuinfo``; [] elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    for line in cpuinfo.splitlines():
        if line.lower().startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [f for f in FLAGS_OF_INTEREST if f in have]
    return []


def cpu_class(flags: List[str], machine: Optional[str] = None) -> str:
    """The CPU's ISA class: ``avx512`` (AVX-512 F/BW/VL/DQ), ``avx2`` (+FMA), ``avx``, ...

    Off x86 the machine name (``aarch64``, ...) stands for the class.
    """
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64", "i686", "i386", "x86"):
        return machine or "unknown"
    have = set(flags)
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= have:
        return "avx512"
    if {"avx2", "fma"} <= have:
        return "avx2"
    if "avx" in have:
        return "avx"
    return "sse4_2" if "sse4_2" in have else "generic"


def cap_class(variable: str, value: str) -> Optional[str]:
    """The class a cap variable's value allows at most (None: no cap, or not understood)."""
    text = value.strip().lower()
    if not text:
        return None
    if variable == "ATEN_CPU_CAPABILITY":  # torch: default (scalar), avx2, avx512[_...]
        if text == "default":
            return "generic"
        return "avx512" if text.startswith("avx512") else "avx2" if text == "avx2" else None
    if variable in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        if text in ("all", "default"):
            return None
        if "avx512" in text or "amx" in text:
            return "avx512"
        if "avx2" in text:
            return "avx2"
        return "avx" if text.startswith("avx") else "sse4_2" if text.startswith("sse") else None
    if variable == "NPY_DISABLE_CPU_FEATURES":  # names features NumPy must not dispatch to
        if "AVX2" in value.upper() or "FMA3" in value.upper():
            return "avx"
        return "avx2" if "AVX512" in value.upper() else None
    if variable == "OPENBLAS_CORETYPE":
        return _OPENBLAS.get(text, "avx512" if "skylakex" in text or "cooper" in text else None)
    return None


def caps_in_effect(framework: str, environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The cap variables ``framework`` honours that are set (name -> value)."""
    environ = os.environ if environ is None else environ
    names = frameworks.cap_variables(framework)
    return {n: environ[n] for n in names if environ.get(n, "").strip()}


def lower(a: str, b: Optional[str]) -> str:
    """The lower of two classes (``a`` when ``b`` is None or either is not an x86 class)."""
    if b is None or a not in CLASSES or b not in CLASSES:
        return a
    return a if CLASSES.index(a) <= CLASSES.index(b) else b


def kernel_isa(
    framework: str,
    environ: Optional[Mapping[str, str]] = None,
    flags: Optional[List[str]] = None,
    machine: Optional[str] = None,
) -> str:
    """The ISA class ``framework``'s kernels run with here: the CPU's, capped by its variables.

    Frameworks the registry does not know (user backends run a built-in one's kernels) are
    taken to honour torch's and oneDNN's variables.
    """
    found = cpu_class(cpu_flags() if flags is None else flags, machine)
    for name, value in caps_in_effect(framework, environ).items():
        found = lower(found, cap_class(name, value))
    return found


def describe(framework: str, environ: Optional[Mapping[str, str]] = None) -> Dict[str, object]:
    """``isa`` (the class in effect), ``cpu_isa``, ``cpu_flags`` and ``isa_caps`` for a record."""
    flags = cpu_flags()
    return {
        "isa": kernel_isa(framework, environ, flags),
        "cpu_isa": cpu_class(flags),
        "cpu_flags": " ".join(flags),
        "isa_caps": ", ".join(f"{k}={v}" for k, v in caps_in_effect(framework, environ).items()),
    }


def stack_env(max_isa: str) -> Dict[str, str]:
    """Every variable that makes this machine compute as a ``max_isa`` machine does: the
    frameworks' kernel caps and NumPy's (set them before the run starts)."""
    if max_isa not in CAP_SETTINGS:
        raise ValueError(f"expected one of {sorted(CAP_SETTINGS)}, found {max_isa!r}")
    return {**CAP_SETTINGS[max_isa], **NUMPY_CAPS.get(max_isa, {})}


def apply_cap(max_isa: str, modules: Optional[Tuple[str, ...]] = None) -> Dict[str, str]:
    """Set the cap variables of :data:`CAP_SETTINGS` for ``max_isa``; return what was set.

    They are read when a framework starts, so a framework already imported is an error
    (``modules``: the frameworks' import modules, by default every compared framework's).
    """
    if modules is None:
        modules = tuple(fw.import_module for fw in frameworks.compared())
    if max_isa not in CAP_SETTINGS:
        raise ValueError(f"--max-isa: expected one of {sorted(CAP_SETTINGS)}, found {max_isa!r}")
    started = [name for name in modules if name in sys.modules]
    if started:
        raise RuntimeError(
            f"--max-isa {max_isa}: {', '.join(started)} is already imported in this process, so "
            "the cap cannot apply; run `wgan-parity dump` in a fresh process"
        )
    os.environ.update(CAP_SETTINGS[max_isa])
    return dict(CAP_SETTINGS[max_isa])
