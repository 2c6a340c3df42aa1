"""The float32 noise floor of every tensor, measured by the float64 reference dump.

The noise of a tensor is the error of the same computation run in NumPy float32, with one BLAS
thread, against the float64 result. One thread is a fixed accumulation order: the figures depend
on the BLAS's kernels and not on the machine's core count, so a table of them
(:mod:`dump.noise_table`) holds on every machine with the same computing stack.

Every dump from the start of the noise floor to issue 13 meant to take the larger of two runs,
BLAS-threaded and single-threaded, but ran both with one thread (``threadpool_limits(1)`` applies
when it is built, and it was built before the "threaded" run). So one thread is what every
verdict, calibration, baseline and selftest was measured with, and what this module keeps. A
truly two-threaded run raises 40 of 590 figures more than 2x and 12 more than 10x, up to 15,000x
on residual_down.seed's seed-mode gradients (2.7e-7 -> 3.3e-3): where no clean limit applies, a
noise limit that loose would pass a 10% port error there. docs/verdict.md has the numbers.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.dump import kinks
from wgan_parity.dump.case_runner import run_case

NOISE_THREADS = 1  # BLAS threads of the float32 run: one fixed accumulation order


def blas_threads() -> List[Dict[str, Any]]:
    """The BLAS libraries NumPy uses and their thread counts (for the dump's flags)."""
    return [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def relative_error(approx: np.ndarray, exact: np.ndarray) -> Tuple[float, float]:
    """(relative L2 error, max abs error) of ``approx`` against ``exact``, in float64."""
    diff = np.asarray(approx, dtype=np.float64) - exact
    norm = float(np.linalg.norm(exact))
    rel = float(np.linalg.norm(diff)) / norm if norm > 0 else float("inf")
    return rel, float(np.max(np.abs(diff))) if diff.size else 0.0


def measure(
    float32_backend: Any,
    case: Case,
    fixtures: Fixtures,
    truth: Dict[str, np.ndarray],
    probe: Optional[kinks.KinkProbe] = None,
    truth_backend: Any = None,
) -> Dict[str, Dict[str, float]]:
    """``{tensor: {rel_l2, max_abs}}`` for one case: its float32 run against ``truth``.

    With ``probe`` (which recorded the float64 run of ``truth_backend``), also the ReLU-kink
    figures ``kink_rel_l2`` and ``kink_flips`` (:mod:`dump.kinks`) where some kink is ambiguous.
    """
    with threadpool_limits(limits=NOISE_THREADS, user_api="blas"):
        context = probe.running(float32_backend, "compare") if probe else _nothing()
        with context:
            sample = run_case(float32_backend, case, fixtures)
    noise = {}
    for name, exact in truth.items():
        rel, max_abs = relative_error(sample[name], exact)
        noise[name] = {"rel_l2": rel, "max_abs": max_abs}
    if probe is not None and truth_backend is not None:
        rerun = kinks.measure(lambda b: run_case(b, case, fixtures), truth_backend, probe, truth)
        for name, figures in rerun.items():
            noise[name].update(figures)
    return noise


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext()
