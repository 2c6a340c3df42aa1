"""Run-to-run reproducibility of two dumps of one env: which tensors differ, and by how much.

    python bench/gpu_repeat.py first.npz second.npz

Prints the number of tensors that are bit-identical, the ones that differ, and the largest
relative L2 difference (float64). Used for torch on CUDA (deterministic algorithms, fixed cuBLAS
workspace) and for TF 2.21 on the CPU, which is not reproducible.
"""

from __future__ import annotations

import sys

import numpy as np

from wgan_parity.dump.dumpfile import DumpReader


def main(first: str, second: str) -> int:
    """Compare every tensor of two dumps; print a one-line verdict per differing tensor."""
    same, differ = 0, []
    with DumpReader(first) as a, DumpReader(second) as b:
        for key in a:
            x, y = a.get(key), b.get(key)
            if x.shape == y.shape and np.array_equal(x, y, equal_nan=True):
                same += 1
                continue
            x64, y64 = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
            norm = max(np.linalg.norm(x64), np.finfo(np.float64).tiny)
            differ.append((float(np.linalg.norm(x64 - y64) / norm), key))
    for rel, key in sorted(differ, reverse=True)[:10]:
        print(f"  {key}: rel_l2 {rel:.3e}")
    worst = max((r for r, _ in differ), default=0.0)
    print(f"{same} tensors bit-identical, {len(differ)} differ (largest rel_l2 {worst:.3e})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
