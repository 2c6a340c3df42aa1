"""Benchmark of ``wgan-parity dump``: wall vs import and compute time, peak RSS, size vs payload.

Usage: python bench/bench_dump.py [--backends reference tensorflow torch] [--cases GLOB ...]
                                  [--out DIR]

For each backend it prints: the framework's bare import time (a fresh ``python -c "import X"``),
the dump's wall time, the sum of per-case compute times (the floor: fixtures + forward + backward
for every case, from the dump's metadata), the overhead (wall - import - compute: start-up,
hashing, writing), the peak RSS of the dump process, and the file size against the raw payload
(the sum of the tensors' bytes). Goals (issue 2): wall <= 2 x import + compute; peak RSS <= 6 GB;
size <= 1.05 x payload.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wgan_parity.cli import argv
from wgan_parity.dump.dumpfile import DumpReader

IMPORTS = {
    "reference": "import autograd, numpy",
    "tensorflow": "import tensorflow",
    "torch": "import torch",
}


def bare_import_s(backend: str) -> float:
    """Median of three fresh-interpreter imports of the backend's framework."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS[backend]], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def bench(backend: str, cases: list, out_dir: Path) -> None:
    """Run one dump in a child process and print its numbers."""
    out = out_dir / f"{backend}.npz"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    cmd = argv("dump", "--backend", backend, "--out", out, "--quiet")
    subprocess.run(cmd + (["--cases", *cases] if cases else []), check=False, capture_output=True)
    wall = time.perf_counter() - start
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
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
        for backend in args.backends:
            bench(backend, args.cases, out_dir)


if __name__ == "__main__":
    main()
