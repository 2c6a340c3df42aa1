"""Benchmark of ``wgan-parity dump``: wall vs import and compute time, peak RSS, size vs payload.

Usage: python bench/bench_dump.py [--backends reference tensorflow torch jax] [--cases GLOB ...]
                                  [--out DIR]

For each backend it prints: the framework's bare import time (a fresh ``python -c "import X"``),
the dump's wall time, the sum of per-case compute times (the floor: fixtures + forward + backward
for every case, from the dump's metadata), the overhead (wall - import - compute: start-up,
hashing, writing), the peak RSS of that dump process alone (``wait4``), the file size against the
raw payload (the sum of the tensors' bytes) and, for the reference, where its noise figures came
from. Goals (issue 2): wall <= 2 x import + compute; peak RSS <= 6 GB; size <= 1.05 x payload.
With both ``reference`` and ``torch`` it ends with their wall ratio (issue 13: <= 2.5), the two
dumps run one after the other with the same (default) thread counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

from wgan_parity import frameworks
from wgan_parity.cli import argv
from wgan_parity.dump.dumpfile import DumpReader


def bare_import_s(backend: str) -> float:
    """Median of three fresh-interpreter imports of the backend's framework (the registry's
    import module: every registered framework, JAX included)."""
    statement = f"import numpy, {frameworks.get(backend).import_module}"
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def _run_dump(cmd: List[str]) -> Tuple[float, float]:
    """Run ``cmd``; its (wall seconds, peak RSS MiB): this child's own, from ``wait4``."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if child.returncode != 0:
        print(f"  (the dump exited {child.returncode}: {' '.join(map(str, cmd))})", flush=True)
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def bench(backend: str, cases: list, out_dir: Path) -> float:
    """Run one dump in a child process, print its numbers, return its wall time."""
    out = out_dir / f"{backend}.npz"
    cmd = argv("dump", "--backend", backend, "--out", out, "--quiet")
    wall, peak_mb = _run_dump(cmd + (["--cases", *cases] if cases else []))
    import_s = bare_import_s(backend)
    with DumpReader(out) as reader:
        meta = reader.meta
        payload = sum(reader.get(k).nbytes for k in reader)
    compute = sum(rec["wall_s"] for rec in meta["cases"].values())
    peak_case = max(meta["cases"].items(), key=lambda kv: kv[1]["peak_rss_mb"])
    slowest = max(meta["cases"].items(), key=lambda kv: kv[1]["wall_s"])
    size = out.stat().st_size
    goal = 2 * import_s + compute
    print(
        f"{backend:11s} wall {wall:7.1f}s | import {import_s:5.1f}s "
        f"(in dump {meta['import_s']:.1f}s) | "
        f"compute {compute:7.1f}s | overhead {wall - import_s - compute:6.1f}s | "
        f"goal wall <= {goal:7.1f}s: {'met' if wall <= goal else 'MISSED'}"
    )
    print(
        f"{'':11s} peak RSS {peak_mb:7.0f} MiB (max case {peak_case[0]} "
        f"{peak_case[1]['peak_rss_mb']:.0f} MiB; goal <= 6144: "
        f"{'met' if peak_mb <= 6144 else 'MISSED'}) | slowest case {slowest[0]} "
        f"{slowest[1]['wall_s']:.1f}s"
    )
    print(
        f"{'':11s} size {size / 2**20:8.1f} MiB, payload {payload / 2**20:8.1f} MiB, "
        f"ratio {size / payload:.4f} "
        f"(goal <= 1.05: {'met' if size <= 1.05 * payload else 'MISSED'})",
        flush=True,
    )
    source = meta["flags"].get("noise_source")
    if isinstance(source, dict):
        print(
            f"{'':11s} noise: {source.get('from_table', 0)} cases from a table, "
            f"{len(source.get('measured', []))} measured ({source.get('table', 'no table')})"
        )
    return wall


def main() -> None:
    """Parse options and benchmark each backend in turn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="*", default=["tensorflow", "torch", "reference"])
    parser.add_argument("--cases", nargs="*", default=[])
    parser.add_argument(
        "--out", type=Path, default=None, help="keep the dumps here (default: a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        walls = {backend: bench(backend, args.cases, out_dir) for backend in args.backends}
    if {"reference", "torch"} <= set(walls):
        ratio = walls["reference"] / walls["torch"]
        print(f"reference/torch dump wall ratio (issue 13's goal: <= 2.5): {ratio:.2f}")
    if {"jax", "torch"} <= set(walls):
        ratio = walls["jax"] / walls["torch"]
        print(f"jax/torch dump wall ratio (issue 24's goal: <= 1.3): {ratio:.2f}")


if __name__ == "__main__":
    main()
