"""What adding one release to a history costs, against re-running the whole history.

Usage: python bench/bench_add_release.py DUMP_OR_DIR... --new ENV_ID [--nearest ENV_ID]

The inputs are the dumps of a history (every env of a set, the truth among them); ``--new`` names
the one that stands for a release just found, ``--nearest`` the table's release it is modelled on
(default: the env before it in its series, by version). It times, on this machine:

* **a full re-run**: every env's dump (the ``wall_s`` each dump recorded) plus one aggregate of all
  of them (timed here: ``wgan-parity aggregate``);
* **adding the release** as the weekly new-releases job does: the new env's dump plus one
  aggregate of the new env, its nearest release and the truth (timed here). This gives the new
  release's rows against the truth and its step from the previous release, which is what
  ``bisect.csv`` and ``steps.csv`` need; the full matrix follows at the next full run.

The aggregation's pair work grows with the square of the envs; the dumps are most of the cost.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from wgan_parity.cli import argv
from wgan_parity.dump.dumpfile import DumpReader


def _dumps(inputs: List[Path]) -> Dict[str, Tuple[Path, float]]:
    """env id -> (dump, its recorded wall seconds)."""
    found: Dict[str, Tuple[Path, float]] = {}
    for item in inputs:
        for path in sorted(item.glob("*.npz")) if item.is_dir() else [item]:
            if ".shard-" in path.name:
                continue
            with DumpReader(path) as reader:
                found[str(reader.meta["env_id"])] = (path, float(reader.meta.get("wall_s") or 0.0))
    return found


def _aggregate(paths: List[Path]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        cmd = argv("aggregate", *paths, "--out", out, "--quiet")
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - start


def _previous(env_id: str, ids: List[str]) -> str:
    series = re.sub(r"\d+(?:\.\d+)+", "{v}", env_id, count=1)
    same = [i for i in ids if i != env_id and re.sub(r"\d+(?:\.\d+)+", "{v}", i, count=1) == series]

    def version(i: str) -> Tuple[int, ...]:
        found = re.search(r"\d+(?:\.\d+)+", i)
        return tuple(int(p) for p in found.group(0).split(".")) if found else ()

    older = [i for i in same if version(i) < version(env_id)]
    if not older:
        sys.exit(f"no release before {env_id} in its series among {ids}: pass --nearest")
    return max(older, key=version)


def main() -> None:
    """Time both ways and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--new", required=True)
    parser.add_argument("--nearest", default=None)
    args = parser.parse_args()
    dumps = _dumps(args.inputs)
    if args.new not in dumps or "reference" not in dumps:
        sys.exit(f"expected dumps of {args.new!r} and of the reference among {sorted(dumps)}")
    nearest = args.nearest or _previous(args.new, sorted(dumps))
    n = len(dumps)
    full_dumps = sum(wall for _, wall in dumps.values())
    full_aggregate = _aggregate([path for path, _ in dumps.values()])
    add_dump = dumps[args.new][1]
    add_aggregate = _aggregate([dumps[i][0] for i in (args.new, nearest, "reference")])
    print(f"history: {n} envs; new release {args.new}, compared with {nearest} and the truth")
    print(f"{'':24s} {'dumps':>10s} {'aggregate':>10s} {'total':>10s}")
    full = full_dumps + full_aggregate
    add = add_dump + add_aggregate
    print(f"{'full re-run':24s} {full_dumps:9.0f}s {full_aggregate:9.0f}s {full:9.0f}s")
    print(f"{'add one release':24s} {add_dump:9.0f}s {add_aggregate:9.0f}s {add:9.0f}s")
    print(f"adding one release costs {add / full:.1%} of a full re-run of this history")


if __name__ == "__main__":
    main()
