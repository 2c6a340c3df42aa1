"""Did a change to the float64 reference move its values by more than float64 roundoff?

Usage: python bench/check_reference_values.py BEFORE.npz AFTER.npz [--limit 1e-12]

BEFORE and AFTER are reference dumps (``wgan-parity dump --backend reference``, or
``bench/profile_reference.py --save-reference``) of the same catalog. For every tensor it prints
the relative L2 change ``||after - before|| / ||before||`` and the largest element change
relative to ``max|before|``, worst first. Degenerate tensors (all zero, or float32 noise at or
above ``verdict.degenerate_noise_rel_l2``: zero within float32 resolution, as the verdict
treats them) are listed apart and not judged. Exit 1 when a judged tensor moved more than
``--limit`` (issue 13: 1e-12), or when a tensor is missing or changed shape.

It also compares the float32 noise both files recorded (a kernel change reorders float32 sums,
so each noise figure is a new sample of the same roundoff): the spread of after/before ratios.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Tuple

import numpy as np

from wgan_parity.compare import thresholds
from wgan_parity.dump.dumpfile import DumpReader


def changes(before: np.ndarray, after: np.ndarray) -> Tuple[float, float]:
    """(relative L2 change, max element change / max |before|); inf when ``before`` is zero."""
    before, after = before.astype(np.float64), after.astype(np.float64)
    diff = after - before
    norm, peak = float(np.linalg.norm(before)), float(np.max(np.abs(before), initial=0.0))
    rel = float(np.linalg.norm(diff)) / norm if norm > 0 else float("inf")
    elem = float(np.max(np.abs(diff), initial=0.0)) / peak if peak > 0 else float("inf")
    return rel, elem


def _noise_shift(before: dict, after: dict) -> None:
    """Print the spread of the float32 noise ratios after/before (finite, non-zero pairs)."""
    ratios = sorted(
        (after[k]["rel_l2"] / before[k]["rel_l2"], k)
        for k in before
        if k in after and 0 < before[k]["rel_l2"] < float("inf") and after[k]["rel_l2"] > 0
    )
    if not ratios:
        return
    median = 10 ** float(np.median(np.log10([r for r, _ in ratios])))
    print(
        f"float32 noise after/before over {len(ratios)} tensors: median {median:.3g}, "
        f"min {ratios[0][0]:.3g} ({ratios[0][1]}), max {ratios[-1][0]:.3g} ({ratios[-1][1]})"
    )
    within = sum(1 for r, _ in ratios if 0.5 <= r <= 2.0)
    print(f"  {within} of {len(ratios)} within a factor 2")


def main() -> int:
    """Compare the two files; print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--limit", type=float, default=1e-12)
    parser.add_argument("--show", type=int, default=15, help="worst tensors to list")
    args = parser.parse_args()
    degenerate_at = thresholds.load().degenerate_noise_rel_l2
    judged: List[Tuple[float, float, str]] = []
    skipped: List[str] = []
    problems: List[str] = []
    with DumpReader(args.before) as old, DumpReader(args.after) as new:
        noise = old.meta.get("noise", {})
        for key in old:
            if key not in new:
                problems.append(f"{key}: missing from {args.after}")
                continue
            a, b = old.get(key), new.get(key)
            if a.shape != b.shape:
                problems.append(f"{key}: shape {a.shape} -> {b.shape}")
                continue
            level = noise.get(key, {}).get("rel_l2", 0.0)
            if not np.any(a) or not level < degenerate_at:
                skipped.append(f"{key} (float32 noise {level:.2g})")
                continue
            judged.append((*changes(a, b), key))
    judged.sort(reverse=True)
    print(f"{'rel L2 change':>14s} {'max elem chg':>14s}  tensor")
    for rel, elem, key in judged[: args.show]:
        print(f"{rel:14.3e} {elem:14.3e}  {key}")
    worst = judged[0] if judged else (0.0, 0.0, "-")
    print(f"{len(judged)} tensors judged; largest relative L2 change {worst[0]:.3e} ({worst[2]})")
    print(f"largest element change: {max((j[1] for j in judged), default=0.0):.3e}")
    print(f"{len(skipped)} degenerate tensors not judged: {', '.join(skipped) or '-'}")
    _noise_shift(noise, new.meta.get("noise", {}))
    for line in problems:
        print(f"PROBLEM {line}")
    over = [j for j in judged if not j[0] <= args.limit]
    if over:
        print(f"FAIL: {len(over)} tensors moved more than {args.limit:g} (relative L2)")
    return 1 if over or problems else 0


if __name__ == "__main__":
    sys.exit(main())
