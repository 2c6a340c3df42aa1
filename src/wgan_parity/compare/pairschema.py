"""The pairs table's schema: every column of ``pairs.csv``, its type and its group, in order.

One row per (case, tensor, env_a, env_b). The groups say where a column comes from:

- ``key``: what the row compares;
- ``verdict``: derived by :func:`~wgan_parity.compare.verdict.judge` (the fields of
  :class:`~wgan_parity.compare.verdict.Verdict`), re-derivable with other thresholds;
- ``locate``: where a divergence starts (:mod:`~wgan_parity.compare.localize`);
- ``metric``: measured on the pair (:class:`~wgan_parity.compare.metrics.PairMetrics`);
- ``side``: each side's error and norm against the truth
  (:class:`~wgan_parity.compare.verdict.Side`);
- ``noise``: the float32 noise of the computation, from the reference dump;
- ``shape``: what each side held.

Types: ``text`` ("" for none), ``float`` (NaN for none), ``int`` and ``flag`` (empty for none).
The CSV writer, the readers, the row builder and the ``--matrix`` check all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Column:
    """One column: its name, type and group."""

    name: str
    kind: str
    group: str


def _cols(group: str, kind: str, *names: str) -> Tuple[Column, ...]:
    return tuple(Column(name, kind, group) for name in names)


SCHEMA: Tuple[Column, ...] = (
    *_cols("key", "text", "case", "tensor", "env_a", "env_b"),
    *_cols("verdict", "text", "status", "blame", "closer", "known"),
    *_cols(
        "locate", "text", "first_divergent_tap", "first_divergent_tap_a", "first_divergent_tap_b"
    ),
    Column("ill_conditioned", "flag", "verdict"),
    Column("seed_ok", "flag", "metric"),
    *_cols("metric", "float", "cosine_distance", "angle_deg", "rel_l2", "max_abs_diff"),
    *_cols("metric", "float", "mean_abs_diff", "max_rel_diff"),
    Column("max_ulp", "int", "metric"),
    *_cols("metric", "float", "abs_mean_a", "abs_mean_b"),
    *_cols("side", "float", "err_a", "err_b", "norm_ratio_a", "norm_ratio_b"),
    *_cols("side", "float", "own_err_a", "own_err_b", "inherited_err_a", "inherited_err_b"),
    *_cols("verdict", "float", "limit_a", "limit_b", "noise_limit_a", "noise_limit_b"),
    *_cols("verdict", "float", "clean_limit_a", "clean_limit_b"),
    *_cols("noise", "float", "noise_rel_l2", "noise_max_abs", "kink_rel_l2"),
    *_cols("noise", "float", "precision_noise_a", "precision_noise_b"),
    *_cols("metric", "int", "nan_mismatch", "inf_mismatch", "size"),
    *_cols("shape", "text", "shape_a", "shape_b", "dtype_a", "dtype_b"),
    Column("note", "text", "verdict"),
)
COLUMNS: Tuple[str, ...] = tuple(c.name for c in SCHEMA)
KEY: Tuple[str, ...] = tuple(c.name for c in SCHEMA if c.group == "key")


def names(kind: str = "", group: str = "") -> Tuple[str, ...]:
    """The columns of one type and/or group, in table order."""
    return tuple(
        c.name for c in SCHEMA if (not kind or c.kind == kind) and (not group or c.group == group)
    )


TEXT: Tuple[str, ...] = names("text")
INT: Tuple[str, ...] = names("int")
FLAGS: Tuple[str, ...] = names("flag")
