"""Per-case profile of the reference dump against torch's, side by side, same thread count.

Usage: python bench/profile_reference.py [--cases GLOB ...] [--threads N] [--backends ...]
                                         [--save-reference PATH]

Each backend runs in its own child process (so peak RSS and warm-up are its own), with the BLAS
and the framework limited to ``--threads`` (default: the CPU count). For every catalog case the
reference child times the float64 pass and the float32 noise pass (one BLAS thread, as
:mod:`wgan_parity.dump.noise` runs it) separately; the torch child times its one pass. Two
tables, wall and CPU seconds (CPU time is the steadier one on a shared machine), end with the
totals and two reference/torch ratios (goal, issue 13: <= 2.5): with every noise figure measured
(no noise table for this stack), and with the committed noise table (the float64 pass of every
case, plus the noise pass of the cases too small to look up and both passes of the canaries, as
:mod:`wgan_parity.dump.noise_source` runs them). Then each child's peak RSS (goal: <= 4 GB for
the reference; the child runs every noise pass, so this is the no-table peak). ``--save-reference``
keeps the float64 tensors as a dump-format file, for ``bench/check_reference_values.py``.
For the dumps themselves, end to end, see ``bench/bench_dump.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from typing import Any, Callable, Dict, List, Optional

CHILD_FLAG = "--child"


def _timed(row: Dict[str, Any], key: str, run: Callable[[], Any]) -> Any:
    """Run ``run()``; record its wall and CPU seconds in ``row`` as ``key_s``, ``key_cpu``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    row[f"{key}_s"] = time.perf_counter() - wall
    row[f"{key}_cpu"] = time.process_time() - cpu
    return result


def _child(backend_name: str, patterns: List[str], threads: int, save: Optional[str]) -> None:
    """Run the cases on ``backend_name`` and print one JSON line per case, then the peak RSS."""
    from threadpoolctl import threadpool_limits

    from wgan_parity import SCHEMA_VERSION
    from wgan_parity.backends import load_backend
    from wgan_parity.core.allocator import release_freed_memory
    from wgan_parity.core.catalog import select
    from wgan_parity.core.fixtures import make_fixtures
    from wgan_parity.core.flags import Flags
    from wgan_parity.dump.case_runner import run_case
    from wgan_parity.dump.dumpfile import DumpWriter
    from wgan_parity.dump.noise import NOISE_THREADS, relative_error
    from wgan_parity.dump.resources import peak_rss_mb

    flags = Flags(threads=threads)
    backend = load_backend(backend_name, flags)
    twin = load_backend("reference32", flags) if backend_name == "reference" else None
    writer = DumpWriter(save) if save else None
    noise: Dict[str, Dict[str, float]] = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for case in select(patterns):
            fixtures = make_fixtures(case)
            row: Dict[str, Any] = {"case": case.name}
            tensors = _timed(row, "main", partial(run_case, backend, case, fixtures))
            for name, array in tensors.items() if writer else ():
                writer.add(f"{case.name}/{name}", array)
            row["bytes"] = sum(a.nbytes for a in tensors.values())
            if twin is not None:
                with threadpool_limits(limits=NOISE_THREADS, user_api="blas"):
                    single = _timed(row, "f32_single", partial(run_case, twin, case, fixtures))
                for name, exact in tensors.items():  # as dump.noise records it
                    noise[f"{case.name}/{name}"] = {
                        "rel_l2": relative_error(single[name], exact)[0]
                    }
            del tensors
            release_freed_memory()  # as the dump does between cases
            print(json.dumps(row), flush=True)
    if writer:
        meta = {"backend": backend_name, "written_by": "bench/profile_reference.py", "noise": noise}
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
    rows = []
    with subprocess.Popen(
        [*cmd, "--cases", *patterns], env=env, stdout=subprocess.PIPE, text=True
    ) as child:
        for line in child.stdout or ():
            if line.startswith("{"):
                rows.append(json.loads(line))
                print(f"  {backend}: {line.strip()}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    if child.returncode < 0:
        raise SystemExit(
            f"{backend}: the profile child was killed by signal {-child.returncode} after "
            f"{len(rows)} cases (9: out of memory? see `dmesg`); rerun the rest with --cases"
        )
    if child.returncode != 0 or not rows:
        raise SystemExit(
            f"{backend}: the profile child failed (exit {child.returncode}); is {backend} "
            f"installed in this interpreter ({sys.executable})? Its error is above."
        )
    return {"wall_s": wall, "peak_rss_mb": rows[-1]["peak_rss_mb"], "cases": rows[:-1]}


COLUMNS = (
    ("f64", "reference", "main"),
    ("f32 1t", "reference", "f32_single"),
    ("torch", "torch", "main"),
)


def _table_totals(by_case: Dict[str, Dict[str, Any]], suffix: str, totals: List[float]) -> None:
    """The reference's time with the noise table: what dump.noise_source runs then."""
    from wgan_parity.dump.noise_source import LOOKUP_MIN_BYTES
    from wgan_parity.dump.noise_table import CANARIES

    ref = by_case.get("reference", {})
    if not ref or totals[2] <= 0:
        return
    f64 = sum(r.get("main" + suffix, 0.0) for r in ref.values())
    small = sum(
        r.get("f32_single" + suffix, 0.0) for r in ref.values() if r["bytes"] < LOOKUP_MIN_BYTES
    )
    canaries = sum(
        r.get("main" + suffix, 0.0) + r.get("f32_single" + suffix, 0.0)
        for name, r in ref.items()
        if name in CANARIES
    )
    table = f64 + small + canaries
    print(
        f"{'with the noise table':32s} f64 {f64:.2f} + small cases' noise {small:.2f} + canaries "
        f"{canaries:.2f} = {table:.2f}; ratio to torch {table / totals[2]:.2f}"
    )


def _report(results: Dict[str, Dict[str, Any]]) -> None:
    by_case = {b: {r["case"]: r for r in res["cases"]} for b, res in results.items()}
    names = list(next(iter(by_case.values()), {}))
    for unit, suffix in (("wall s", "_s"), ("CPU s", "_cpu")):
        head = " ".join(f"{c[0]:>8s}" for c in COLUMNS)
        print(f"\n{unit:32s} {head} {'ref sum':>8s} {'ref/torch':>9s}")
        totals = [0.0] * len(COLUMNS)
        for name in [*names, "TOTAL"]:
            if name == "TOTAL":
                cols = totals
            else:
                cols = [
                    by_case.get(b, {}).get(name, {}).get(key + suffix, 0.0) for _, b, key in COLUMNS
                ]
                totals = [a + b for a, b in zip(totals, cols)]
            ref = sum(cols[:2])
            ratio = f"{ref / cols[2]:9.2f}" if cols[2] > 0 else f"{'':9s}"
            print(f"{name:32s} " + " ".join(f"{c:8.2f}" for c in cols) + f" {ref:8.2f} {ratio}")
        _table_totals(by_case, suffix, totals)
    print()
    for backend, result in results.items():
        wall, peak = result["wall_s"], result["peak_rss_mb"]
        print(f"{backend}: child wall {wall:.1f}s, peak RSS {peak:.0f} MiB")
    if {"reference", "torch"} <= set(results):
        ratio = results["reference"]["wall_s"] / results["torch"]["wall_s"]
        print(f"reference/torch child wall ratio (with start-up; goal <= 2.5): {ratio:.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")


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
