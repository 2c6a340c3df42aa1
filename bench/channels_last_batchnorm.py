"""The smallest reproducer of torch's channels-last BatchNorm accuracy on the CPU (training mode).

    python bench/channels_last_batchnorm.py      # in a venv with torch, e.g. .nox/tests/bin/python

Prints, per input shape and mean, the relative L2 error of ``F.batch_norm(training=True)`` in
float32 against a float64 NumPy BatchNorm, for contiguous and channels-last input.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def rel_l2(found: np.ndarray, truth: np.ndarray) -> float:
    """``||found - truth|| / ||truth||`` in float64."""
    return float(np.linalg.norm(found - truth) / np.linalg.norm(truth))


def main() -> None:
    """One line per (shape, input mean): error contiguous, error channels-last, ratio."""
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()} kernels")
    for shape in ((64, 32, 8, 8), (512, 4, 64, 64)):
        for mean in (0.0, 3.0):
            x64 = np.random.default_rng(0).normal(mean, 0.3, shape)
            mu, var = x64.mean((0, 2, 3), keepdims=True), x64.var((0, 2, 3), keepdims=True)
            truth = (x64 - mu) / np.sqrt(var + 1e-5)
            errors = []
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.tensor(x64, dtype=torch.float32).contiguous(memory_format=layout)
                y = F.batch_norm(x, None, None, training=True, eps=1e-5)
                errors.append(rel_l2(y.double().numpy(), truth))
            print(
                f"{shape!s:18s} mean {mean:3.1f}: contiguous {errors[0]:.2e}, "
                f"channels-last {errors[1]:.2e} ({errors[1] / errors[0]:.0f}x)"
            )


if __name__ == "__main__":
    main()
