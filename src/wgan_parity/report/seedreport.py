"""A text report for one pair of environments, laid out like the seed README's blocks.

Each block has the seed's header, ``True``/``False`` (its criterion: cosine distance < 1.5e-4),
both sides' ``abs.mean``, ``diff.mean`` and the cosine distance, now computed honestly (never
negative, no false zeros), plus one line with the calibrated verdict. Which (case, tensor) makes
which seed row comes from ``Case.seed_rows`` in :mod:`wgan_parity.core.catalog`; without a catalog,
or when none of its seed rows is among the pair's tensors, every tensor of the pair gets a block
under its ``case/tensor`` name.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

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


def seed_rows(catalog: Optional[Sequence[Any]] = None) -> List[Tuple[str, str, str]]:
    """``(seed row label, case, tensor)`` from the catalog's ``seed_rows`` (or ``seed_row``)."""
    if catalog is None:
        try:
            from wgan_parity.core import catalog as module
        except Exception:  # no usable catalog: the report falls back to every tensor
            return []
        catalog = module.CATALOG
    rows: List[Tuple[str, str, str]] = []
    for case in catalog:
        mapping = getattr(case, "seed_rows", None) or ()
        if not mapping and getattr(case, "seed_row", None):
            mapping = ((case.seed_row, getattr(case, "seed_row_tensor", None) or "out"),)
        rows += [(str(label), case.name, str(tensor)) for label, tensor in mapping]
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
    rows: Optional[Sequence[Tuple[str, str, str]]] = None,
    seed_cosine: float = 1.5e-4,
) -> str:
    """The report text for ``env_a`` vs ``env_b`` from their pair rows (oriented a, b)."""
    by_key: Dict[Tuple[str, str], Mapping[str, Any]] = {
        (r["case"], r["tensor"]): r for r in records
    }
    rows = seed_rows() if rows is None else rows
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
