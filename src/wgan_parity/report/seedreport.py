"""A text report for one pair of environments, laid out like the seed README's blocks.

Each block has the seed's header, ``True``/``False`` (its criterion: cosine distance < 1.5e-4),
both sides' ``abs.mean``, ``diff.mean`` and the cosine distance, now computed honestly (never
negative, no false zeros), plus one line with the calibrated verdict. Which (case, tensor) makes
which seed row comes from the catalog the dumps recorded (the aggregate's cases, see
:mod:`~wgan_parity.report.cases`); without seed rows, or when none of them is among the pair's
tensors, every tensor of the pair gets a block under its ``case/tensor`` name.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# The seed README's order of blocks; rows it does not know follow in catalog order.
SEED_ORDER = (
    "gen_data",
    "depth to space",
    "conv2d",
    "ConvMeanPool",
    "MeanPoolConv",
    "UpsampleConv",
    "ResidualBlock_Up",
    "ResidualBlock_Down",
    "Generator",
    "D_input",
    "Discriminator",
    "GradOfDisc",
    "LayerNorm-Forward",
    "LayerNorm-Backward",
    "BatchNorm",
    "BatchNorm-Backward",
)


def seed_rows(rows: Iterable[Tuple[str, str, str]]) -> List[Tuple[str, str, str]]:
    """``(seed row label, case, tensor)`` in the seed README's order (others after, as given)."""
    rank = {label: k for k, label in enumerate(SEED_ORDER)}
    return sorted(rows, key=lambda r: rank.get(r[0], len(rank)))


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{float(value):.6g}"


def _block(title: str, row: Optional[Mapping[str, Any]], a: str, b: str) -> List[str]:
    lines = [f"-----------{title}------------"]
    if row is None:
        return [*lines, "not compared: no such tensor in this pair's dumps", ""]
    seed_ok = row.get("seed_ok")
    lines.append("n/a" if seed_ok is None else str(bool(seed_ok)))
    lines += [
        f"{a}.abs.mean: {_num(row.get('abs_mean_a'))}",
        f"{b}.abs.mean: {_num(row.get('abs_mean_b'))}",
        f"diff.mean: {_num(row.get('mean_abs_diff'))}",
        f"cosine distance of {title}: {_num(row.get('cosine_distance'))}",
    ]
    detail = f"{row['case']}/{row['tensor']}; rel_l2 {_num(row.get('rel_l2'))}"
    if row.get("blame"):
        detail += f"; blame {row['blame']}"
    if row.get("ill_conditioned"):
        detail += f"; ill-conditioned, closer to the truth: {row.get('closer') or 'n/a'}"
    lines.append(f"verdict: {row['status']} ({detail})")
    return [*lines, ""]


def render(
    records: Sequence[Mapping[str, Any]],
    env_a: str,
    env_b: str,
    rows: Sequence[Tuple[str, str, str]] = (),
    seed_cosine: float = 1.5e-4,
) -> str:
    """The report text for ``env_a`` vs ``env_b`` from their pair rows (oriented a, b).

    ``rows``: the recorded ``(seed row label, case, tensor)``, in catalog order.
    """
    by_key: Dict[Tuple[str, str], Mapping[str, Any]] = {
        (r["case"], r["tensor"]): r for r in records
    }
    rows = seed_rows(rows)
    if not any((case, tensor) in by_key for _, case, tensor in rows):  # not the catalog's cases
        rows = [(f"{case}/{tensor}", case, tensor) for case, tensor in by_key]
    lines = [
        f"{env_a} vs {env_b}: seed-style report (wgan-parity aggregate)",
        f"True/False: the seed's criterion, cosine distance < {seed_cosine:g};",
        "verdict: calibrated against the float64 truth (docs/verdict.md).",
        "",
    ]
    for label, case, tensor in rows:
        lines += _block(label, by_key.get((case, tensor)), env_a, env_b)
    return "\n".join(lines).rstrip("\n") + "\n"


def file_name(env_a: str, env_b: str) -> str:
    """``seed_report_<a>_vs_<b>.txt`` with file-system-safe labels."""

    def safe(label: str) -> str:
        return re.sub(r"[^A-Za-z0-9._+-]+", "_", label)

    return f"seed_report_{safe(env_a)}_vs_{safe(env_b)}.txt"
