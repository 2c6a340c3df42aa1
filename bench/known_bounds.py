"""Measure what each known rule explains: the largest error (and multiple of the limit) it covers.

    python bench/known_bounds.py results/baseline results/switches results/gpu-tf32
    python bench/known_bounds.py results/baseline --thresholds my.toml

For every results folder (pairs.csv or pairs.csv.gz with envs.csv), every row against the truth
whose env side is off its noise limit and whose first matching known rule is R counts for R. It
prints, per rule: the rows, the largest error against the truth, the largest error over the
side's noise limit, the tensor where that happens, and the bound the thresholds file states, so
that a bound is set from measurements (we use about 1.5x the largest error) and a stale one shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

from wgan_parity.compare import thresholds, traits
from wgan_parity.report import csvfiles, resultset


def measure(folder: Path, th: thresholds.Thresholds, found: Dict[str, List[tuple]]) -> None:
    """Add ``folder``'s covered rows to ``found`` (rule name -> [(err, ratio, where)])."""
    path = resultset.pairs_path(folder)
    if path is None:
        raise SystemExit(f"{folder}: expected pairs.csv or pairs.csv.gz, found neither")
    raw = csvfiles.read_csv(path)
    envs = resultset.read_envs(folder)
    res = resultset.from_frames(raw, envs, folder)
    by_label: Dict[tuple, traits.EnvTraits] = {}
    for row in envs.to_dict("records"):
        env = traits.from_env_row(row)
        by_label[(env.label, env.isa)] = env
        by_label.setdefault((env.label, ""), env)
    df = res.pairs
    rows = df[(df["env_b"] == res.truth) & df["status"].isin(["ok", "diverged"])]
    isas = raw.loc[rows.index, "isa"] if "isa" in raw.columns else [""] * len(rows)
    for r, isa in zip(rows.itertuples(index=False), isas):
        env = (
            by_label.get((r.env_a, isa)) or by_label.get((r.env_a, "")) or traits.EnvTraits(r.env_a)
        )
        side = th.side(r.case, r.tensor, env)
        noise_limit = side.limit(r.noise_rel_l2)
        if side.known_rule is None or not r.err_a > noise_limit:
            continue
        where = f"{r.case}/{r.tensor} {r.env_a}" + (f" ({isa})" if isa else "")
        found.setdefault(side.known_rule.name, []).append((r.err_a, r.err_a / noise_limit, where))


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--thresholds", type=Path, default=None)
    args = parser.parse_args(argv)
    th = thresholds.load(args.thresholds)
    found: Dict[str, List[tuple]] = {}
    exceeded = 0
    for folder in args.folders:
        measure(folder, th, found)
    print(
        f"{'rule':36} {'rows':>5} {'max err':>9} {'max err/limit':>13} {'max_err bound':>13}  where"
    )
    for rule in (r for r in th.rules if r.known):
        seen = found.get(rule.name, [])
        bound = f"{rule.max_err:.3g}" if rule.max_err is not None else "-"
        if not seen:
            print(f"{rule.name:36} {0:>5} {'-':>9} {'-':>13} {bound:>13}  (nothing measured)")
            continue
        err, _, where = max(seen)
        ratio = max(s[1] for s in seen)
        over = rule.max_err is not None and err > rule.max_err
        exceeded += over
        flag = "  EXCEEDS BOUND" if over else ""
        print(
            f"{rule.name:36} {len(seen):>5} {err:>9.3g} {ratio:>13.3g} {bound:>13}  {where}{flag}"
        )
    return 1 if exceeded else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
