"""The float32 noise floor of every tensor, measured by the float64 reference dump.

The noise of a tensor is the error of the same computation run in NumPy float32 against the
float64 result. One float32 sample can be lucky on an ill-conditioned tensor, because the error
depends on the order of accumulation: residual_down.seed grad/x measured 1.9e-7 with one BLAS
thread and 1.1e-3 with two. So it is measured twice, with the BLAS's default threads and with one
thread (two accumulation orders), and the larger error is the noise.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Dict, List, Tuple

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from wgan_parity.core.catalog import Case
from wgan_parity.core.fixtures import Fixtures
from wgan_parity.dump.case_runner import run_case


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
    float32_backend: Any, case: Case, fixtures: Fixtures, truth: Dict[str, np.ndarray]
) -> Dict[str, Dict[str, float]]:
    """``{tensor: {rel_l2, max_abs, rel_l2_threaded, rel_l2_single_thread}}`` for one case."""
    samples = []
    for limit in (nullcontext(), threadpool_limits(limits=1, user_api="blas")):
        with limit:
            samples.append(run_case(float32_backend, case, fixtures))
    noise = {}
    for name, exact in truth.items():
        (rel_t, abs_t), (rel_1, abs_1) = (relative_error(s[name], exact) for s in samples)
        noise[name] = {
            "rel_l2": max(rel_t, rel_1),
            "max_abs": max(abs_t, abs_1),
            "rel_l2_threaded": rel_t,
            "rel_l2_single_thread": rel_1,
        }
    return noise
