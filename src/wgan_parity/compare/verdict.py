"""The verdict of a row (case, tensor, env_a, env_b): status, blame and flags from measured errors.

Each row gets the first status that applies, in this order:

1. ``error``: the case failed in a dump (blame: that side).
2. ``not-run``: a side's dump did not select the case (``wgan-parity dump --cases``): nothing
   to compare, and not a problem (blame: that side; it does not set exit bit 4).
3. ``missing``: the case ran in both dumps but the tensor is in one only (blame: the side
   without it).
4. ``shape-mismatch``: the shapes differ (blame: the side whose shape is not the truth's, else
   ``unknown``).
5. ``non-finite``: a side holds NaN or Inf (blame: that side). The value metrics then cover the
   elements finite on both sides, and the NaN/Inf mismatch counts are reported.
6. ``degenerate``: the float64 truth is zero to within float32 resolution: its noise (the relative
   L2 error of the same computation in NumPy float32, from the reference dump) is at least
   ``degenerate_noise_rel_l2``, or the truth is all zeros. No direction can be compared, so the
   row is neither pass nor fail.
7. ``diverged`` / ``unjudged`` / ``ok``. With a truth, each env side has ``err`` = its error
   relative to the truth, ``‖x − t‖ / ‖t‖`` (unbounded: a result 1e5 times too large scores 1e5),
   its ``norm_ratio`` ``‖x‖ / ‖t‖``, and ``limit = min(noise limit, clean limit)``: the noise limit
   is ``max(noise_factor × noise, rel_l2_floor)``; the clean limit is ``clean_factor ×`` the
   largest error of the clean built-in releases with the same kernels (the committed calibration
   and the run's other built-in envs; none when nothing was measured). A side is *off* when
   ``err > limit``, or when its norm is off by ``norm_ratio_max`` (2×) or more either way, whatever
   the limit. A side that is not off but whose limit is at least ``unjudged_rel_err`` (1.0, what an
   all-zero result scores) has no power: the limit cannot tell a wrong result from a right one.
   The row diverges when a side is off, and ``blame`` names the off side(s), except when both
   sides are off, agree with each other (their own relative L2 difference within the smaller
   limit) and have the truth's size: the pair is consistent (``ok``, with a note) and the
   deviation is reported on each side's row against the truth. Otherwise the row is
   ``unjudged`` when a side has no power (never ``ok``, never excused by a known rule), else
   ``ok``. Without a truth for the tensor, the row diverges when the pair's own relative L2
   difference exceeds ``no_reference_rel_l2``, with blame ``unknown``.

Flags: ``ill_conditioned`` when the noise exceeds ``ill_conditioned_noise_rel_l2`` (large relative
errors can then be honest float32 behaviour; ``closer`` still names the side nearer the truth);
``known`` holds the reason of a ``[[rule]] known = true`` covering every off side within the
rule's measured bound (such rows do not set the exit code's divergence bit; beyond the bound the
note names the rule and the row is a divergence again); ``seed_ok`` is the seed's
``cosine distance < seed_cosine``, reported for continuity and never used here. All numbers come
from ``thresholds.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from wgan_parity.compare.thresholds import SideLimit, Thresholds

# The status vocabulary, named once; every module that names a status imports it from here.
OK, DIVERGED, DEGENERATE, UNJUDGED = "ok", "diverged", "degenerate", "unjudged"
SHAPE_MISMATCH, NON_FINITE, MISSING, ERROR = "shape-mismatch", "non-finite", "missing", "error"
NOT_RUN = "not-run"  # the dump did not select the case: neither a problem nor a verdict
STATUSES = (
    OK,
    DIVERGED,
    UNJUDGED,
    SHAPE_MISMATCH,
    NON_FINITE,
    MISSING,
    DEGENERATE,
    ERROR,
    NOT_RUN,
)
MEASURED = (OK, DIVERGED, UNJUDGED)  # an error against the truth was measured and set by a limit
JUDGED = (*MEASURED, DEGENERATE)  # the data compared; the verdict columns apply
BROKEN = (NON_FINITE, SHAPE_MISMATCH)  # the data cannot be compared as numbers
DIVERGENT = (DIVERGED, *BROKEN)  # set exit bit 1 unless a bounded known rule excuses them
ENV_PROBLEMS = (ERROR, MISSING)  # set exit bit 4
OUTLIER_NOTE = "is an outlier among clean releases"  # in the note of a side off by its clean limit
NORM_NOTE = "the truth's norm"  # in the note of a side whose norm is off, whatever its limit
UNJUDGED_NOTE = "cannot tell a wrong result from a right one"  # in the note of a side without power


@dataclass(frozen=True)
class Side:
    """One side of a row: label, whether it is the truth, its state and its error vs the truth."""

    label: str
    is_truth: bool = False
    error: str = ""  # the case's error message, if the case failed in this dump
    ran: bool = True  # False: the dump did not select the case (``dump --cases``)
    present: bool = True
    shape: Optional[Tuple[int, ...]] = None
    nonfinite: int = 0
    err: float = math.nan
    limit: Optional[SideLimit] = None
    norm_ratio: float = math.nan  # ‖x‖ / ‖truth‖; NaN when unknown (no truth, or results before it)
    own_err: float = math.nan  # at a tap: the error its layer adds alone (compare/own_error.py)
    inherited_err: float = math.nan  # at a tap: the error its input carried in, as passed on


@dataclass(frozen=True)
class Truth:
    """What the reference says about a tensor: its float32 noise, whether it is all zeros, and
    its ReLU-kink figure (NaN: not measured; ``dump/kinks.py``)."""

    noise_rel_l2: float
    shape: Tuple[int, ...]
    all_zero: bool = False
    kink_rel_l2: float = math.nan


@dataclass(frozen=True)
class Verdict:
    """Status and derived columns of a row."""

    status: str
    blame: str = ""
    closer: str = ""
    known: str = ""
    ill_conditioned: Optional[bool] = None
    limit_a: float = math.nan
    limit_b: float = math.nan
    note: str = ""
    noise_limit_a: float = math.nan
    noise_limit_b: float = math.nan
    clean_limit_a: float = math.nan
    clean_limit_b: float = math.nan


def is_divergence(status: str, known: str) -> bool:
    """Rows that set exit-code bit 1: diverged, shape-mismatch or non-finite, unless known."""
    return status in DIVERGENT and not known


def is_env_problem(status: str) -> bool:
    """Rows that set exit-code bit 4: something a dump lacks (a failed case, a missing tensor)."""
    return status in ENV_PROBLEMS


def norm_is_off(ratio: float, most: float) -> bool:
    """True when ``ratio`` (``‖x‖/‖t‖``) is ``most`` times the truth's norm or more, either way."""
    return ratio == ratio and (ratio >= most or ratio * most <= 1.0)


def _unresolved(side: Side, th: Thresholds) -> bool:
    """A reduced-precision side on a tensor its precision cannot resolve: its noise there is
    what makes a float32 truth degenerate (``degenerate_noise_rel_l2``)."""
    limit = side.limit
    return bool(
        limit is not None and limit.reduced and limit.precision_noise >= th.degenerate_noise_rel_l2
    )


def _names(sides: Sequence[Side]) -> str:
    return ";".join(s.label for s in sides)


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def precheck(a: Side, b: Side, truth: Optional[Truth]) -> Optional[Verdict]:
    """Statuses 1-5 (error, not-run, missing, shape-mismatch, non-finite), or None if the data
    compares."""
    failed = [s for s in (a, b) if s.error]
    if failed:
        return Verdict(
            ERROR, _names(failed), note=_clip("; ".join(f"{s.label}: {s.error}" for s in failed))
        )
    skipped = [s for s in (a, b) if not s.ran]
    if skipped:
        note = "the case was not selected in the dump of " + _names(skipped)
        return Verdict(NOT_RUN, _names(skipped), note=note)
    absent = [s for s in (a, b) if not s.present]
    if absent:
        return Verdict(MISSING, _names(absent), note="not in the dump of " + _names(absent))
    if a.shape != b.shape:
        off = [s for s in (a, b) if truth is not None and s.shape != truth.shape]
        note = f"shapes {a.shape} vs {b.shape}"
        return Verdict(SHAPE_MISMATCH, _names(off) or "unknown", note=note)
    bad = [s for s in (a, b) if s.nonfinite]
    if bad:
        counts = ", ".join(f"{s.label}: {s.nonfinite}" for s in bad)
        return Verdict(
            NON_FINITE, _names(bad), note=f"NaN/Inf elements ({counts}); metrics cover the rest"
        )
    return None


def judge(a: Side, b: Side, pair_rel_l2: float, truth: Optional[Truth], th: Thresholds) -> Verdict:
    """Statuses 5-6 for two comparable sides (call :func:`precheck` first)."""
    if truth is None:
        limit = th.no_reference_rel_l2
        apart = pair_rel_l2 > limit
        return Verdict(
            DIVERGED if apart else OK,
            "unknown" if apart else "",
            limit_a=limit,
            limit_b=limit,
            note="no float64 truth for this tensor: direct comparison",
        )
    noise = truth.noise_rel_l2
    if truth.all_zero or (noise >= th.degenerate_noise_rel_l2):  # inf included, NaN excluded
        return Verdict(
            DEGENERATE,
            note=f"float64 truth is zero within float32 resolution (noise rel_l2 {noise:.3g})",
        )
    ill = bool(noise > th.ill_conditioned_noise_rel_l2)
    sides = (a, b)
    noise_limits = [
        math.nan if s.is_truth or s.limit is None else s.limit.limit(noise) for s in sides
    ]
    clean_limits = [math.nan if s.limit is None else s.limit.clean for s in sides]
    kink = truth.kink_rel_l2
    limits = [
        math.nan if s.is_truth or s.limit is None else s.limit.applied(noise, kink) for s in sides
    ]
    unresolved = [s for s in sides if _unresolved(s, th)]
    norm_off = [
        s
        for s in sides
        if not s.is_truth and s not in unresolved and norm_is_off(s.norm_ratio, th.norm_ratio_max)
    ]
    off = [
        s
        for s, lim in zip(sides, limits)
        if not s.is_truth and s not in unresolved and (s in norm_off or s.err > lim)
    ]
    powerless = [
        s
        for s, lim in zip(sides, limits)
        if not s.is_truth and s not in off and (lim >= th.unjudged_rel_err or s in unresolved)
    ]
    closer = ""
    if not (a.is_truth or b.is_truth) and math.isfinite(a.err) and math.isfinite(b.err):
        closer = a.label if a.err < b.err else b.label if b.err < a.err else "tie"
    notes = [
        f"{s.label}: norm {s.norm_ratio:.3g} x {NORM_NOTE} (off by {th.norm_ratio_max:g}x or more: "
        f"off whatever the limit; err {s.err:.3g})"
        for s in norm_off
    ]
    notes += [
        f"{s.label}: limit {lim:.3g} >= {th.unjudged_rel_err:g}, what an all-zero result scores: "
        f"the limit {UNJUDGED_NOTE} (err {s.err:.3g}, norm {s.norm_ratio:.3g} x the truth's)"
        for s, lim in zip(sides, limits)
        if s in powerless and s not in unresolved
    ]
    notes += [
        f"{s.label}: {s.limit.precision} does not resolve this tensor (its {s.limit.precision} "
        f"noise {s.limit.precision_noise:.3g} >= {th.degenerate_noise_rel_l2:g}, where float32's "
        f"is {noise:.3g}): unjudged (err {s.err:.3g}, norm {s.norm_ratio:.3g} x the truth's)"
        for s in unresolved
        if s.limit is not None
    ]
    if noise != noise:
        notes.append("no noise entry in the reference: the limit is the floor")
    for s, lim in zip(sides, limits):
        if s.limit is not None and lim == lim and s.limit.kink(kink) > s.limit.applied(noise):
            notes.append(
                f"{s.label}: limit {lim:.3g} is the ReLU-kink allowance (kink_rel_l2 "
                f"{kink:.3g}: ReLU inputs within rounding of zero may take either side)"
            )
    notes += [
        f"{s.label} ran at {s.limit.precision}, and the reference measured no {s.limit.precision} "
        f"noise: unjudged; dump the reference with --noise-precision {s.limit.precision}"
        for s in sides
        if s.limit is not None
        and s.limit.reduced
        and s.limit.precision_noise != s.limit.precision_noise
    ]
    for s, nl, cl in zip(sides, noise_limits, clean_limits):
        if s in off and s.err <= nl and cl == cl:
            notes.append(
                f"{s.label} {OUTLIER_NOTE}: err {s.err:.3g} > clean limit "
                f"{cl:.3g} ({th.clean_factor:g} x the largest clean error), within the float32 "
                f"noise limit {nl:.3g}"
            )
    if len(off) == 2 and not norm_off and pair_rel_l2 <= min(limits):
        notes.append(
            f"both sides off the truth (err {a.err:.3g} and {b.err:.3g}) the same way: they "
            f"agree with each other (rel_l2 {pair_rel_l2:.3g}); see their rows against the truth"
        )
        off = []
    elif len(off) == 2:
        notes.append(
            f"both sides off the truth; they differ from each other by rel_l2 {pair_rel_l2:.3g}"
        )
    known = ""
    excused: List[str] = []
    for s, nl in zip(sides, noise_limits):
        rule = s.limit.known_rule if s.limit is not None else None
        if s not in off or rule is None or s.limit is None:
            continue
        bound = rule.bound(nl, s.limit.largest_clean, th.rel_l2_floor)
        if s.err <= bound:
            excused.append(rule.reason)
        else:
            notes.append(
                f"{s.label}: err {s.err:.3g} is beyond the bound {bound:.3g} of known rule "
                f"'{rule.name}', so it is not excused"
            )
    if off and len(excused) == len(off):
        known = "; ".join(dict.fromkeys(excused))
    if ill:
        notes.append(f"ill-conditioned (float32 noise rel_l2 {noise:.3g})")
    status = DIVERGED if off else UNJUDGED if powerless else OK
    return Verdict(
        status,
        _names(off or powerless),
        closer,
        known,
        ill,
        limits[0],
        limits[1],
        "; ".join(notes),
        noise_limits[0],
        noise_limits[1],
        clean_limits[0],
        clean_limits[1],
    )
