"""Per-case profile of the reference dump against torch's, side by side, same thread count.

Usage: python bench/profile_reference.py [--cases GLOB ...] [--threads N] [--backends ...]
                                         [--save-reference PATH]

Each backend runs in its own child process (so peak RSS and warm-up are its own), with the BLAS
and the framework limited to ``--threads`` (default: the CPU count). For every catalog case the
reference child times the float64 pass and the two float32 noise passes (the BLAS's threads and
one thread, as :mod:`wgan_parity.dump.noise` runs them) separately; the torch child times its
one pass. The table ends with the totals, the reference/torch ratio (goal, issue 13: <= 2.5)
and each child's peak RSS (goal: <= 4 GB for the reference). ``--save-reference`` keeps the
float64 tensors as a dump-format file, for ``bench/check_reference_values.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from typing import Any, Dict, List, Optional

CHILD_FLAG = "--child"


def _child(backend_name: str, patterns: List[str], threads: int, save: Optional[str]) -> None:
    """Run the cases on ``backend_name`` and print one JSON line per case, then the peak RSS."""
    from threadpoolctl import threadpool_limits

    from wgan_parity import SCHEMA_VERSION
    from wgan_parity.backends import load_backend
    from wgan_parity.core.catalog import select
    from wgan_parity.core.fixtures import make_fixtures
    from wgan_parity.core.flags import Flags
    from wgan_parity.dump.dumpfile import DumpWriter
    from wgan_parity.dump.resources import peak_rss_mb
    from wgan_parity.dump.runner import run_case

    flags = Flags(threads=threads)
    backend = load_backend(backend_name, flags)
    twin = load_backend("reference32", flags) if backend_name == "reference" else None
    writer = DumpWriter(save) if save else None
    with threadpool_limits(limits=threads, user_api="blas"):
        for case in select(patterns):
            fixtures = make_fixtures(case)
            row: Dict[str, Any] = {"case": case.name}
            start = time.perf_counter()
            tensors = run_case(backend, case, fixtures)
            row["main_s"] = time.perf_counter() - start
            for name, array in tensors.items() if writer else ():
                writer.add(f"{case.name}/{name}", array)
            del tensors
            if twin is not None:
                single = threadpool_limits(limits=1, user_api="blas")
                for key, limit in (("f32_threaded_s", nullcontext()), ("f32_single_s", single)):
                    start = time.perf_counter()
                    with limit:
                        run_case(twin, case, fixtures)
                    row[key] = time.perf_counter() - start
            print(json.dumps(row), flush=True)
    if writer:
        meta = {"backend": backend_name, "written_by": "bench/profile_reference.py"}
        writer.close({"schema_version": SCHEMA_VERSION, **meta})
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)


def _run_child(
    backend: str, patterns: List[str], threads: int, save: Optional[str]
) -> Dict[str, Any]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    cmd = [sys.executable, __file__, CHILD_FLAG, backend, "--threads", str(threads)]
    if save and backend == "reference":
        cmd += ["--save-reference", save]
    start = time.perf_counter()
    done = subprocess.run(
        [*cmd, "--cases", *patterns], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{backend}: the profile child failed (exit {done.returncode}); is {backend} "
            f"installed in this interpreter ({sys.executable})?\n{done.stderr[-3000:]}"
        )
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {"wall_s": wall, "peak_rss_mb": rows[-1]["peak_rss_mb"], "cases": rows[:-1]}


def _report(results: Dict[str, Dict[str, Any]]) -> None:
    ref = {r["case"]: r for r in results.get("reference", {}).get("cases", [])}
    torch = {r["case"]: r for r in results.get("torch", {}).get("cases", [])}
    names = list(ref) or list(torch)
    print(f"{'case':32s} {'f64':>8s} {'f32 thr':>8s} {'f32 1t':>8s} {'ref sum':>8s} {'torch':>8s}")
    totals = [0.0] * 5
    for name in names:
        r = ref.get(name, {})
        cols = [r.get("main_s", 0.0), r.get("f32_threaded_s", 0.0), r.get("f32_single_s", 0.0)]
        cols += [sum(cols), torch.get(name, {}).get("main_s", 0.0)]
        totals = [a + b for a, b in zip(totals, cols)]
        print(f"{name:32s} " + " ".join(f"{c:8.2f}" for c in cols))
    print(f"{'TOTAL':32s} " + " ".join(f"{c:8.2f}" for c in totals))
    for backend, result in results.items():
        wall, peak = result["wall_s"], result["peak_rss_mb"]
        print(f"{backend}: child wall {wall:.1f}s, peak RSS {peak:.0f} MiB")
    if totals[4] > 0 and totals[3] > 0:
        print(f"reference/torch compute ratio: {totals[3] / totals[4]:.2f} (goal <= 2.5)")
        ratio = results["reference"]["wall_s"] / results["torch"]["wall_s"]
        print(f"reference/torch child wall ratio (with start-up): {ratio:.2f}")


def main() -> None:
    """Parse options, run one child per backend, print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backends", nargs="*", default=["reference", "torch"])
    parser.add_argument("--save-reference", default=None, help="keep the float64 tensors here")
    parser.add_argument(CHILD_FLAG, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.cases, args.threads, args.save_reference)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)", flush=True)
    results = {
        b: _run_child(b, args.cases, args.threads, args.save_reference) for b in args.backends
    }
    _report(results)


if __name__ == "__main__":
    main()
