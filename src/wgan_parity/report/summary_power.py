"""Three sections of ``summary.md`` about what the verdict can see.

- **Unjudged rows**: tensors whose limit is at or above what an all-zero result scores (1.0 in
  the error relative to the truth). Such a limit cannot fail a wrong result, so the row is never
  ``ok``; each line says which env, its error, its limit and its norm against the truth's.

- **Outliers among clean releases**: sides off only because of the clean limit (several times
  less accurate than every clean release with the same kernels, yet inside the float32 noise
  limit). For a new release, that is the regression users want flagged; for a port, a real
  difference the noise limit alone would have passed.
- **What seed mode cannot see**: when a run compared only seed-mode cases (constant 5e-2 weights,
  zero biases, unit norm scales), kernels are symmetric and biases zero, so a flipped or
  transposed kernel and a dropped bias leave the forward rows unchanged.
"""

from __future__ import annotations

import math
from typing import List

import pandas as pd

from wgan_parity.compare.verdict import OUTLIER_NOTE, UNJUDGED
from wgan_parity.report.mdtext import code

MAX_LISTED = 4  # envs per unjudged tensor, closest to their limit first
SEED_BLIND = (
    "constant 5e-2 kernels are symmetric under flips and transposes, so a flipped, transposed or "
    "H/W-swapped kernel leaves every forward row unchanged; zero biases hide a dropped bias; unit "
    "norm scales and zero offsets hide swapped or per-element affine parameters; identical "
    "channels hide a channel permutation, such as depth_to_space's DCR/CRD order"
)


def outliers(df: pd.DataFrame) -> List[str]:
    """Rows whose side is off only by the clean limit, grouped per env."""
    hit = df[df["note"].astype(str).str.contains(OUTLIER_NOTE, regex=False)]
    if hit.empty:
        return []
    out = [
        "## Outliers among clean releases",
        "",
        f"{len(hit)} rows have a side more than `clean_factor` times less accurate than every "
        "clean built-in release with the same kernels, while inside the float32 noise limit "
        "(`clean_limit_a`/`_b` in pairs.csv). For a new release this is a regression; for a "
        "port, a real difference.",
        "",
        "| env | rows | worst tensor | err | clean limit |",
        "|---|---|---|---|---|",
    ]
    against_truth = hit[hit["err_b"] == 0.0]  # the truth is always env_b, its error 0
    for env, part in against_truth.groupby("env_a"):
        worst = part.loc[(part["err_a"] / part["clean_limit_a"]).idxmax()]
        out.append(
            f"| {code(env)} | {len(part)} | {worst['case']}/{worst['tensor']} | "
            f"{worst['err_a']:.3g} | {worst['clean_limit_a']:.3g} |"
        )
    return [*out, ""]


def seed_only(df: pd.DataFrame) -> List[str]:
    """A warning when every compared case is a seed-mode one."""
    cases = set(df["case"].astype(str))
    if not cases or not all(c.endswith(".seed") for c in cases):
        return []
    return [
        "## What this run could not have seen",
        "",
        f"Every compared case is a seed-mode case ({len(cases)}). In seed mode {SEED_BLIND}. "
        "Run the `random` and `probe` cases too (`wgan-parity dump` without `--cases`); the "
        "selftest table in docs/findings.md shows what each mode detects.",
        "",
    ]


def number(value: float) -> str:
    """A measured figure in the summary's style: 3 significant digits, "–" for NaN."""
    return "–" if value != value else "inf" if math.isinf(value) else f"{value:.3g}"


def unjudged(df: pd.DataFrame) -> List[str]:
    """One line per tensor with ``unjudged`` rows against the truth: env, err, limit, norm."""
    rows = df[(df["status"] == UNJUDGED) & (df["err_b"] == 0.0)]  # the truth is env_b
    if rows.empty:
        return []
    out = [
        "## Unjudged rows (no power)",
        "",
        f"{int((df['status'] == UNJUDGED).sum())} rows are `{UNJUDGED}`: the tensor's limit is at "
        "or above 1.0, what an all-zero result scores against the truth, so it could not fail "
        "a wrong result. They are not passes. A side whose norm is off by 2x or more is "
        "`diverged` instead, whatever its limit. One line per tensor: the envs closest to "
        "their limit, each with its error against the float64 truth, its limit and its norm "
        "over the truth's:",
        "",
    ]
    for (case, tensor), part in rows.groupby(["case", "tensor"], sort=False):
        part = part.assign(_over=part["err_a"] / part["limit_a"]).sort_values(
            ["_over", "env_a"], ascending=[False, True]
        )
        sides = ", ".join(
            f"{code(env)} err {number(err)} (limit {number(limit)}, norm {number(ratio)}x)"
            for env, err, limit, ratio in zip(
                part["env_a"][:MAX_LISTED],
                part["err_a"][:MAX_LISTED],
                part["limit_a"][:MAX_LISTED],
                part["norm_ratio_a"][:MAX_LISTED],
            )
        )
        more = f" and {len(part) - MAX_LISTED} more envs" if len(part) > MAX_LISTED else ""
        out.append(f"- `{case}/{tensor}`: {sides}{more}")
    return [*out, ""]
