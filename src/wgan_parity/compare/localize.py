"""Where inside a composite case a divergence starts: the ``first_divergent_tap`` column.

Composite cases (residual blocks, generator, discriminator, gradient penalty) record their
intermediates as ``tap/<name>`` tensors, in forward order (the order of the dump metadata's
``cases[case]["tensors"]``, which is also the order of their rows). Every tap already has its
own row per env pair, with each side's error against the float64 truth and its limit, so the
localization needs no data beyond the rows.

**The rule** (the rate-of-change rule of CRADLE, Pham et al., ICSE 2019, as LEMON uses it,
applied to calibrated errors):

1. The steps are the case's taps in forward order, then its output ``out``.
2. At step *k* the pair's *calibrated error* ``c_k`` is the side's ``err / limit`` (its relative L2
   error against the truth in units of its tolerance), the larger of the off sides named by the
   row's ``blame``. Without a truth it is the pair's own ``rel_l2 / limit``. A step whose row is
   ``non-finite`` or ``shape-mismatch`` counts as infinite; ``degenerate``, ``error`` and
   ``missing`` steps say nothing and are skipped.
3. The envelope ``m_k = max(c_1 … c_{k-1})`` is the worst error already present upstream (taps
   are not a chain, e.g. a residual block's shortcut runs beside its main path, so the envelope
   stands in for the step's inputs). The rate of change is
   ``R_k = (c_k − m_k) / (m_k + EPS)``.
4. The first divergent tap is the first step past tolerance (``c_k > 1``), and not excused by a
   known rule within its bound, whose error *jumped*
   (``R_k ≥ JUMP``, at least doubling over everything upstream). An error that only creeps past
   the tolerance while being amplified (``c`` 0.9 then 1.1) is not where the divergence started;
   when no step jumped, the first step past tolerance is reported.

Only rows that are a divergence (``diverged``, ``non-finite``, ``shape-mismatch``) of a case
with taps get a value; it is empty when every forward step is within tolerance (the divergence
is then in the backward pass, e.g. a gradient-only difference).

**Per side** (``first_divergent_tap_a`` / ``_b``): each blamed side of a row gets its own first
divergent tap, from its own chain of errors against the truth (``c_k`` of that side alone). Two
differently broken envs compared with each other each show where *they* start to diverge;
``first_divergent_tap`` keeps the pair's (the worst blamed side at each step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    MutableMapping,
    Optional,
    Sequence,
    Tuple,
)

from wgan_parity.compare.verdict import BROKEN, DIVERGENT, MEASURED

COLUMN = "first_divergent_tap"
SIDE_COLUMNS = {"a": "first_divergent_tap_a", "b": "first_divergent_tap_b"}
TAP_PREFIX = "tap/"
OUTPUT = "out"
JUMP = 1.0
EPS = 1e-3
LOCALIZED = DIVERGENT
_BROKEN = BROKEN
Row = MutableMapping[str, Any]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def side_value(row: Mapping[str, Any], side: str, column: str) -> float:
    """``column``'s ``_a`` or ``_b`` value for ``side`` (a label of the row); NaN if unknown."""
    for suffix in ("a", "b"):
        if row.get(f"env_{suffix}") == side:
            return _num(row.get(f"{column}_{suffix}"))
    return math.nan


def side_error(row: Mapping[str, Any], side: str) -> float:
    """``err / limit`` of ``side`` (a label of the row) against the truth; NaN if unknown."""
    err, limit = side_value(row, side, "err"), side_value(row, side, "limit")
    return err / limit if math.isfinite(err) and limit > 0 else math.nan


def pair_error(row: Mapping[str, Any]) -> float:
    """The pair's own disagreement in units of tolerance: ``rel_l2 / min(limit_a, limit_b)``.

    Against the truth (a side whose ``err`` is 0) it is the other side's ``err / limit``, the
    unbounded error relative to the truth rather than the symmetric ``rel_l2``. NaN for rows
    that are not judged (``degenerate``, ``error``, ``missing``); infinite for ``non-finite``
    and ``shape-mismatch``.
    """
    status = _text(row.get("status"))
    if status in _BROKEN:
        return math.inf
    if status not in MEASURED:
        return math.nan
    limits = [v for v in (_num(row.get("limit_a")), _num(row.get("limit_b"))) if v > 0]
    rel = _num(row.get("rel_l2"))
    err_a, err_b = _num(row.get("err_a")), _num(row.get("err_b"))
    if err_b == 0.0 and err_a == err_a:
        rel = err_a
    elif err_a == 0.0 and err_b == err_b:
        rel = err_b
    return rel / min(limits) if limits and math.isfinite(rel) else math.nan


def step_error(row: Mapping[str, Any], sides: Sequence[str]) -> float:
    """``c_k`` of the rule for a tap row: the worst of ``sides``, else the pair's own error."""
    status = _text(row.get("status"))
    if status in _BROKEN:
        return math.inf
    if status not in MEASURED:
        return math.nan
    values = [v for v in (side_error(row, s) for s in sides) if v == v]
    return max(values) if values else pair_error(row)


def first_divergent(steps: Sequence[Tuple[str, float]], excused: Sequence[bool] = ()) -> str:
    """The rule above over ``(name, c_k)`` in forward order; ``""`` if no step is past 1.

    ``excused[k]``: step *k* is off only within a known rule's bound (e.g. TF's float32
    BatchNorm statistics under a port running on TF). It raises the envelope, so what it
    amplifies downstream is not mistaken for a start, but it is never the start itself.
    """
    envelope = 0.0
    first_past = ""
    for k, (name, value) in enumerate(steps):
        if value != value:  # NaN: this step says nothing
            continue
        if value > 1.0 and not (k < len(excused) and excused[k]):
            rate = math.inf if math.isinf(value) else (value - envelope) / (envelope + EPS)
            if rate >= JUMP:
                return name
            first_past = first_past or name
        envelope = max(envelope, value)
    return first_past


def _sides(row: Mapping[str, Any]) -> List[str]:
    pair = (_text(row.get("env_a")), _text(row.get("env_b")))
    blamed = [s for s in _text(row.get("blame")).split(";") if s in pair]
    return blamed or list(pair)


def annotate(case_rows: Sequence[Row]) -> None:
    """Set :data:`COLUMN` on every row of one case (all its tensors, in dump order)."""
    steps: Dict[Tuple[str, str], List[Tuple[str, Row]]] = {}
    outputs: Dict[Tuple[str, str], Row] = {}
    for row in case_rows:
        tensor = _text(row.get("tensor"))
        key = (_text(row.get("env_a")), _text(row.get("env_b")))
        if tensor.startswith(TAP_PREFIX):
            steps.setdefault(key, []).append((tensor[len(TAP_PREFIX) :], row))
        elif tensor == OUTPUT:
            outputs[key] = row
    for row in case_rows:
        row[COLUMN] = ""
        for column in SIDE_COLUMNS.values():
            row[column] = ""
        key = (_text(row.get("env_a")), _text(row.get("env_b")))
        if key not in steps or _text(row.get("status")) not in LOCALIZED:
            continue
        chain = steps[key] + ([(OUTPUT, outputs[key])] if key in outputs else [])
        sides = _sides(row)
        # An unexplained divergence does not start at an upstream step a known rule explains;
        # a known one is localized where its own explained difference starts.
        unexplained = not _text(row.get("known"))
        excused = [unexplained and bool(_text(r.get("known"))) for _, r in chain]
        row[COLUMN] = first_divergent([(name, step_error(r, sides)) for name, r in chain], excused)
        for suffix, column in SIDE_COLUMNS.items():
            side = _text(row.get(f"env_{suffix}"))
            if side in sides:
                steps_of_side = [(name, step_error(r, [side])) for name, r in chain]
                row[column] = first_divergent(steps_of_side, excused)


@dataclass(frozen=True)
class Origin:
    """Where a side's error is made rather than passed on (from the taps' own-error columns).

    ``tap`` is the first tap, in forward order, whose own error exceeds its limit; "" when the
    taps carry own errors but none does (the error accumulates over layers that are each within
    tolerance). ``own``/``limit``/``inherited`` are that tap's figures, or the largest own error
    relative to its limit when no tap is over.
    """

    tap: str
    own: float
    limit: float
    inherited: float
    largest_at: str = ""

    def describe(self) -> str:
        """``"norm2 adds 2.6e-04 of its own (limit 1.0e-05); its input carried 2.0e-07"``."""
        if self.tap:
            return (
                f"{self.tap} adds {self.own:.1e} of its own (limit {self.limit:.1e}); "
                f"its input carried {self.inherited:.1e}"
            )
        return (
            "no layer adds its limit on its own: the error accumulates "
            f"(largest own error {self.own:.1e} at {self.largest_at}, limit {self.limit:.1e})"
        )


def origin(case_rows: Iterable[Mapping[str, Any]], side: str) -> Optional[Origin]:
    """The :class:`Origin` of ``side`` (a label) in one case's rows; None without own errors."""
    best: Optional[Tuple[float, str, float, float, float]] = None
    for row in case_rows:
        tensor = _text(row.get("tensor"))
        if not tensor.startswith(TAP_PREFIX) or _text(row.get("status")) in _BROKEN:
            continue
        own, limit = side_value(row, side, "own_err"), side_value(row, side, "limit")
        if not (own == own and limit > 0):
            continue
        inherited = side_value(row, side, "inherited_err")
        name = tensor[len(TAP_PREFIX) :]
        if own > limit and not _text(row.get("known")):
            return Origin(name, own, limit, inherited)
        if best is None or own / limit > best[0]:
            best = (own / limit, name, own, limit, inherited)
    if best is None:
        return None
    return Origin("", best[2], best[3], best[4], largest_at=best[1])


def side_tap(row: Mapping[str, Any], side: str) -> str:
    """The first divergent tap of ``side`` (a label of the row): its own column, else the pair's."""
    for suffix, column in SIDE_COLUMNS.items():
        if row.get(f"env_{suffix}") == side and _text(row.get(column)):
            return _text(row.get(column))
    return _text(row.get(COLUMN))


def annotated(tensor_rows: Iterable[List[Row]]) -> Iterator[List[Row]]:
    """Pass the engine's per-tensor row lists through, annotating each case once it is complete.

    The lists of one case arrive one after another (``compare.compare`` goes case by case).
    """
    pending: List[List[Row]] = []
    current: Any = None
    for rows in tensor_rows:
        case = rows[0].get("case") if rows else current
        if pending and case != current:
            yield from _flush(pending)
            pending = []
        current = case
        pending.append(rows)
    yield from _flush(pending)


def _flush(pending: List[List[Row]]) -> Iterator[List[Row]]:
    annotate([row for rows in pending for row in rows])
    yield from pending


def annotate_all(rows: Sequence[Row]) -> None:
    """:func:`annotate` every case of a flat list of rows (e.g. ``pairs.csv`` records)."""
    by_case: Dict[str, List[Row]] = {}
    for row in rows:
        by_case.setdefault(_text(row.get("case")), []).append(row)
    for case_rows in by_case.values():
        annotate(case_rows)
