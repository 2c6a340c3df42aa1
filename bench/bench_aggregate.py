"""Benchmark ``wgan-parity aggregate`` against the three yardsticks of issue 3.

Synthetic dumps carry the real catalog's tensor names and shapes (taps included: each case is run
once on the reference backend at the taps' batch size to learn them). Env 0 is the float32
rounding of the truth, every other env a 1e-7 relative perturbation of it, and env 1 also has a
1e-4 scale bug on ``conv2d.seed/out`` (when selected). One data set of max(N) envs is written and
the first N envs (plus the reference) are aggregated for each N.

Reported for each N: the aggregator's wall time and peak RSS (a fresh process, page cache warm),
and the yardsticks:
  (a) the seed's method: ``scipy.spatial.distance.cosine`` on float32 data, every pair; its false
      zeros (exactly 0.0 where the honest value is not) and negative values are counted;
  (b) a straightforward correct per-pair float64 loop,
      :func:`~wgan_parity.compare.metrics.compare_pair`, on every pair (at large N on a sample
      of pairs, extrapolated to all of them);
  (c) the floor: one streaming read of every dump file, raw (``readinto``) and through ``np.load``.

Usage: python bench/bench_aggregate.py [--ns 2 8 32] [--cases GLOB ...] [--workdir DIR] [--keep]
The default case subset keeps N=32 at about 4.8 GB of dumps; ``--cases '*' --ns 2`` is the whole
catalog (3.8 GB at N=2).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from wgan_parity.compare import metrics
from wgan_parity.dump.dumpfile import DumpWriter
from wgan_parity.dump.synthetic import FakeEnv, metadata

DEFAULT_CASES = (
    "conv2d.seed",
    "residual_down.seed",
    "good_generator.seed",
    "gradient_penalty.seed",
    "layer_norm.seed",
    "batch_norm.seed",
)
Spec = List[Tuple[str, Tuple[int, ...]]]


def catalog_spec(patterns: List[str]) -> Spec:
    """(key, shape) of every tensor the selected catalog cases dump, in dump order."""
    from wgan_parity.backends import load_backend
    from wgan_parity.core.blocks import BLOCKS
    from wgan_parity.core.catalog import select
    from wgan_parity.core.fixtures import make_fixtures
    from wgan_parity.core.flags import Flags
    from wgan_parity.dump.case_runner import run_case

    ops = load_backend("reference", Flags())
    spec: Spec = []
    for case in select(patterns):
        config, block = case.config, BLOCKS[case.block]
        small = case
        if (
            "batch" in config
        ):  # taps keep tap_samples items, so a batch that size gives their shapes
            dims = tuple((k, min(v, case.tap_samples) if k == "batch" else v) for k, v in case.dims)
            small = dataclasses.replace(case, dims=dims)
        full = {
            "x": block.input_shape(config),
            **{k: p.shape for k, p in block.params(config).items()},
        }
        for key, value in run_case(ops, small, make_fixtures(small)).items():
            kind, _, name = key.partition("/")
            shape = {"out": block.output_shape(config), "aux": full["x"], "tap": value.shape}.get(
                kind
            )
            spec.append((f"{case.name}/{key}", tuple(shape if shape is not None else full[name])))
    return spec


def write_dataset(folder: Path, spec: Spec, n_envs: int) -> List[Path]:
    """The reference and ``n_envs`` float32 envs, written tensor by tensor side by side."""
    rng = np.random.default_rng(2026)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "reference.npz"] + [folder / f"env{k:02d}.npz" for k in range(n_envs)]
    writers = [DumpWriter(p) for p in paths]
    noise: Dict[str, Dict[str, float]] = {}
    for key, shape in spec:
        truth = rng.standard_normal(shape) * (
            1e-9 if key.startswith("layer_norm.seed/seedgrad") else 1.0
        )
        noise[key] = {"rel_l2": 1e-2 if "seedgrad" in key else 4e-8, "max_abs": 1e-7}
        writers[0].add(key, truth)
        for k, writer in enumerate(writers[1:]):
            env = truth.astype(np.float32)
            if k:
                env = (truth * (1 + 1e-7 * rng.standard_normal(shape, dtype=np.float32))).astype(
                    np.float32
                )
            if k == 1 and key == "conv2d.seed/out":
                env = (truth * (1 + 1e-4)).astype(np.float32)
            writer.add(key, env)
    keys = [k for k, _ in spec]
    writers[0].close(
        metadata("reference", keys, FakeEnv(framework="reference", dtype="float64", noise=noise))
    )
    for k, writer in enumerate(writers[1:]):
        writer.close(metadata(f"env{k:02d}", keys))
    return paths


CHILD = """
import json, sys, time
from wgan_parity.cli import main
from wgan_parity.dump.resources import peak_rss_mb
t = time.perf_counter(); rc = main(sys.argv[1:]); wall = time.perf_counter() - t
print(json.dumps({"rc": rc, "wall_s": wall, "peak_rss_mb": peak_rss_mb()}))
"""
# peak_rss_mb reads VmHWM, the peak of this process image only: getrusage's ru_maxrss would also
# count the (large) benchmark process it was forked from.


def run_aggregator(files: List[Path], out: Path, jobs: int) -> dict:
    """One aggregate in a fresh process: its own wall time (interpreter start excluded) and RSS."""
    args = [
        sys.executable,
        "-c",
        CHILD,
        "aggregate",
        *map(str, files),
        "--out",
        str(out),
        "--quiet",
        "--jobs",
        str(jobs),
    ]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def read_floor(files: List[Path]) -> Tuple[float, float, int]:
    """(c): GB/s of a raw streaming read, GB/s through np.load of every member, and total bytes."""
    total = sum(p.stat().st_size for p in files)
    buf = bytearray(4 << 20)
    started = time.perf_counter()
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    raw = total / (time.perf_counter() - started) / 1e9
    started = time.perf_counter()
    for path in files:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                npz[key]
    loaded = total / (time.perf_counter() - started) / 1e9
    return raw, loaded, total


def yardsticks(
    files: List[Path], spec: Spec, labels: List[str], ours: Dict[tuple, dict], sample: int
) -> dict:
    """(a) scipy cosine on every pair and (b) compare_pair on every (or a sample of) pair."""
    from scipy.spatial.distance import cosine

    pairs = list(itertools.combinations(range(len(files)), 2))
    chosen = (
        pairs
        if sample <= 0 or sample >= len(pairs)
        else [pairs[i] for i in np.linspace(0, len(pairs) - 1, sample).astype(int)]
    )
    npzs = [np.load(p, allow_pickle=False) for p in files]
    t_load = t_scipy = t_plain = 0.0
    false_zeros = negatives = scipy_rows = 0
    worst: Dict[str, float] = {}
    for key, _ in spec:
        started = time.perf_counter()
        arrays = [z[key] for z in npzs]
        t_load += time.perf_counter() - started
        flat32 = [a.reshape(-1).astype(np.float32) for a in arrays]
        started = time.perf_counter()
        values = {(i, j): cosine(flat32[i], flat32[j]) for i, j in pairs}
        t_scipy += time.perf_counter() - started
        case, tensor = key.split("/", 1)
        for (i, j), value in values.items():
            honest = ours[(case, tensor, labels[i], labels[j])]["cosine_distance"]
            scipy_rows += 1
            false_zeros += value == 0.0 and honest > 0.0  # honest: ours, float64
            negatives += value < 0.0
        floor = metrics.default_floor(arrays[-1])  # the truth is last, as in pairs.csv
        started = time.perf_counter()
        plain = {(i, j): metrics.compare_pair(arrays[i], arrays[j], floor) for i, j in chosen}
        t_plain += time.perf_counter() - started
        for (i, j), got in plain.items():
            row = ours[(case, tensor, labels[i], labels[j])]
            for name in (
                "cosine_distance",
                "rel_l2",
                "max_abs_diff",
                "mean_abs_diff",
                "max_rel_diff",
                "max_ulp",
            ):
                want, have = getattr(got, name), row[name]
                if math.isfinite(want) and want != 0.0:
                    worst[name] = max(worst.get(name, 0.0), abs(have - want) / abs(want))
    for z in npzs:
        z.close()
    return {
        "t_load": t_load,
        "t_scipy": t_scipy,
        "t_plain_sampled": t_plain,
        "pairs": len(pairs),
        "sampled_pairs": len(chosen),
        "false_zeros": false_zeros,
        "negatives": negatives,
        "scipy_rows": scipy_rows,
        "worst_rel_disagreement": worst,
    }


def read_ours(path: Path) -> Dict[tuple, dict]:
    import pandas as pd

    df = pd.read_csv(path, low_memory=False)
    return {(r["case"], r["tensor"], r["env_a"], r["env_b"]): r for r in df.to_dict("records")}


def measure(n: int, paths: List[Path], spec: Spec, work: Path, args: argparse.Namespace) -> dict:
    """Everything for one N; prints the details and returns the summary numbers."""
    files = [paths[0], *paths[1 : n + 1]]
    out = work / f"out_{n}"
    raw, loaded, total = read_floor(files)
    run_aggregator(files, out, args.jobs)  # warm-up (page cache, imports)
    agg = run_aggregator(files, out, args.jobs)
    labels = ["reference", *[f"env{k:02d}" for k in range(n)]]
    order = [*range(1, n + 1), 0]  # rows put the reference last
    print(
        f"\nN={n}: aggregator {agg['wall_s']:.2f}s (process {agg['process_s']:.2f}s), "
        f"peak RSS {agg['peak_rss_mb']:.0f} MB, exit {agg['rc']}; floor: raw read "
        f"{total / raw / 1e9:.2f}s ({raw:.1f} GB/s), "
        f"np.load {total / loaded / 1e9:.2f}s ({loaded:.1f} GB/s)"
    )
    if args.skip_yardsticks:
        nan = float("nan")
        return {
            "n": n,
            "agg": agg["wall_s"],
            "rss": agg["peak_rss_mb"],
            "a": nan,
            "b": nan,
            "c_raw": total / raw / 1e9,
            "c_load": total / loaded / 1e9,
        }
    ours = read_ours(out / "pairs.csv")
    sample = 0 if n <= 8 else args.sample_pairs
    ys = yardsticks([files[i] for i in order], spec, [labels[i] for i in order], ours, sample)
    t_b = ys["t_load"] + ys["t_plain_sampled"] * ys["pairs"] / ys["sampled_pairs"]
    negatives = sum(1 for r in ours.values() if r["cosine_distance"] < 0)
    zeros = sum(  # size-1 tensors (scalars) of one sign are parallel: their distance is truly 0
        1
        for r in ours.values()
        if r["cosine_distance"] == 0 and r["max_abs_diff"] > 0 and r["size"] > 1
    )
    how = "measured" if sample == 0 else f"{ys['sampled_pairs']} pairs sampled, extrapolated"
    agree = ", ".join(f"{k} {v:.1e}" for k, v in ys["worst_rel_disagreement"].items())
    print(
        f"  {total / 1e9:.2f} GB in {len(files)} dumps, {ys['pairs']} pairs x {len(spec)} tensors"
    )
    print(
        f"  (a) scipy cosine on float32: {ys['t_scipy']:.2f}s; {ys['false_zeros']} false zeros and "
        f"{ys['negatives']} negatives in {ys['scipy_rows']} values (ours: {zeros} zeros where the "
        f"data differ, {negatives} negatives)"
    )
    print(f"  (b) per-pair float64 loop: {t_b:.1f}s ({how}; loading {ys['t_load']:.1f}s of it)")
    print(
        f"  (c) floor: raw read {raw:.1f} GB/s = {total / raw / 1e9:.2f}s; "
        f"np.load {loaded:.1f} GB/s = {total / loaded / 1e9:.2f}s"
    )
    print(f"  aggregator vs (b), worst relative difference: {agree} (pairs.csv has 7 digits)")
    return {
        "n": n,
        "agg": agg["wall_s"],
        "rss": agg["peak_rss_mb"],
        "a": ys["t_scipy"],
        "b": t_b,
        "c_raw": total / raw / 1e9,
        "c_load": total / loaded / 1e9,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ns", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument(
        "--cases", nargs="+", default=list(DEFAULT_CASES), help="catalog case globs"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="dumps go here (default: temp)")
    parser.add_argument("--jobs", type=int, default=1, help="aggregate --jobs")
    parser.add_argument("--sample-pairs", type=int, default=24, help="(b) pairs sampled when N > 8")
    parser.add_argument("--keep", action="store_true", help="keep the dumps")
    parser.add_argument("--skip-yardsticks", action="store_true", help="time the aggregator only")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="wgan-parity-bench-"))
    spec = catalog_spec(args.cases)
    elements = sum(int(np.prod(s)) for _, s in spec)
    key, shape = max(spec, key=lambda kv: int(np.prod(kv[1])))
    print(
        f"cases {args.cases}: {len(spec)} tensors, {elements / 1e6:.1f}M elements per env "
        f"(largest {key} {shape})"
    )
    print(f"cpus {os.cpu_count()}, --jobs {args.jobs}, load average {os.getloadavg()[0]:.2f}")
    try:
        started = time.perf_counter()
        paths = write_dataset(work / "dumps", spec, max(args.ns))
        print(f"wrote {len(paths)} dumps in {time.perf_counter() - started:.0f}s")
        rows = [measure(n, paths, spec, work, args) for n in sorted(args.ns)]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\nsummary; goals: (b)/agg >= 10 at N=32, agg/(c) <= 3 at N=8, RSS <= 2048 MB at N=32")
    print(" N  agg_s  rss_MB   (a)_s   (b)_s  (b)/agg  agg/(c)raw  agg/(c)np.load")
    for r in rows:
        print(
            f"{r['n']:2d} {r['agg']:6.2f} {r['rss']:7.0f} {r['a']:7.1f} {r['b']:7.1f} "
            f"{r['b'] / r['agg']:8.1f} {r['agg'] / r['c_raw']:11.1f} {r['agg'] / r['c_load']:15.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
