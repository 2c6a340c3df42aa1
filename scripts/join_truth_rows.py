"""Join results folders that share one float64 truth into one folder of rows against the truth.

How ``results/history`` (TF 1.13 -> 2.21, torch 1.0 -> 2.15, JAX 0.4.38 -> 0.10.2) is made from
the ``era`` and ``releases`` runs, which no one machine can aggregate at once (70 dumps of 0.94
GB). Each input folder holds a pairs table (``pairs.csv`` or ``pairs.csv.gz``), ``envs.csv`` and
optionally ``steps.csv``, ``bisect.csv`` and ``cases.csv``, as ``aggregate`` (or ``report --rejudge
--truth-rows-only``) wrote them. The output keeps, for every env, its rows against the truth
(``--isa`` picks one kernel ISA where the rows record several, as a baseline does), the first
``envs.csv`` row of each env, the union of the release steps, and for each tensor the earliest
release that changed it. Then ``wgan-parity report OUT --rejudge`` judges and draws it.

    python scripts/join_truth_rows.py --out results/history --isa avx512 ERA_DIR RELEASES_DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import pandas as pd

from wgan_parity import atomic
from wgan_parity.report import baseline as baselines
from wgan_parity.report import csvfiles

PAIRS = ("pairs.csv", "pairs.csv.gz")
STEP_KEY = ["framework", "series", "previous", "release"]
BISECT_KEY = ["case", "tensor", "framework", "series"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _optional(folder: Path, name: str) -> Optional[pd.DataFrame]:
    return _read(folder / name) if (folder / name).is_file() else None


def _truth_rows(folder: Path, isa: str) -> pd.DataFrame:
    path = next((folder / n for n in PAIRS if (folder / n).is_file()), None)
    if path is None:
        raise SystemExit(f"{folder}: expected pairs.csv or pairs.csv.gz, found neither")
    rows = _read(path)
    truth = rows.loc[rows["dtype_b"] == "float64", "env_b"].unique()
    if len(truth) != 1:
        raise SystemExit(f"{folder}: expected one float64 truth as env_b, found {list(truth)}")
    rows = rows[rows["env_b"] == truth[0]]
    if isa and "isa" in rows.columns:
        rows = rows[rows["isa"] == isa]
    return rows


def _union(frames: List[pd.DataFrame], key: List[str]) -> pd.DataFrame:
    found = [f for f in frames if f is not None and not f.empty]
    if not found:
        return pd.DataFrame(columns=key)
    joined = pd.concat(found, ignore_index=True).fillna("")
    return joined.drop_duplicates(subset=key, keep="first").reset_index(drop=True)


def main(argv: Optional[List[str]] = None) -> int:
    """Join; exit 0, or a message saying what is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="results folders, oldest first")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--isa", default="", help="keep the rows of this kernel ISA only")
    args = parser.parse_args(argv)
    rows = pd.concat([_truth_rows(f, args.isa) for f in args.folders], ignore_index=True)
    rows = rows.drop_duplicates(subset=["case", "tensor", "env_a", "env_b"], keep="first")
    envs = pd.concat([_read(f / "envs.csv") for f in args.folders], ignore_index=True)
    if args.isa and "isa" in envs.columns:
        envs = envs[(envs["isa"] == args.isa) | (envs["role"] == "truth")]
    envs = envs[envs["env"].isin(set(rows["env_a"]) | set(rows["env_b"]))]
    envs = envs.drop_duplicates(subset=["env"], keep="first")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(args.out / "pairs.csv.gz", baselines.gzip_csv(rows))
    csvfiles.write_csv(envs, args.out / "envs.csv")
    steps = _union([_optional(f, "steps.csv") for f in args.folders], STEP_KEY)
    csvfiles.write_csv(steps, args.out / "steps.csv")
    bisect = _union([_optional(f, "bisect.csv") for f in args.folders], BISECT_KEY)
    csvfiles.write_csv(bisect, args.out / "bisect.csv")
    found = [c for c in (_optional(f, "cases.csv") for f in args.folders) if c is not None]
    if found:
        csvfiles.write_csv(found[0], args.out / "cases.csv")
    stamp = {"pairs_kept": "truth", "joined_from": [f.name for f in args.folders]}
    atomic.write_json(args.out / "stamp.json", stamp)
    print(f"wrote {args.out}: {len(rows)} rows, {len(envs)} envs, {len(steps)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
