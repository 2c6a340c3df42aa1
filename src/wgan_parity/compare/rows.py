"""Compare every pair of compatible dumps on every (case, tensor): the rows of ``pairs.csv``.

Work goes tensor by tensor: the members of one tensor are opened in every dump, grouped by
shape, and each group is streamed once by :func:`~.engine.compare_group`, centred on
the float64 reference when the group has it. Rows come out in a fixed order (catalog order of
cases and tensors, then env pairs in label order with the reference last), one list per tensor.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from wgan_parity.compare import traits
from wgan_parity.compare.calibration import Calibration, run_errors, side_limit
from wgan_parity.compare.calibration import none as no_calibration
from wgan_parity.compare.engine import GroupResult, compare_group
from wgan_parity.compare.input_files import DumpSet, Env
from wgan_parity.compare.member_reader import Member
from wgan_parity.compare.metrics import PairMetrics
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.compare.verdict import Side, Truth, Verdict, judge, precheck
from wgan_parity.dump.dumpfile import DumpError

METRICS = (
    "cosine_distance",
    "angle_deg",
    "rel_l2",
    "max_abs_diff",
    "mean_abs_diff",
    "max_rel_diff",
    "max_ulp",
    "abs_mean_a",
    "abs_mean_b",
)
COLUMNS = (
    "case",
    "tensor",
    "env_a",
    "env_b",
    "status",
    "blame",
    "closer",
    "known",
    "first_divergent_tap",  # filled by wgan_parity.compare.localize: where a divergence starts
    "first_divergent_tap_a",  # ... for env_a alone (when it is blamed)
    "first_divergent_tap_b",  # ... for env_b alone
    "ill_conditioned",
    "seed_ok",
    *METRICS,
    "err_a",
    "err_b",
    "norm_ratio_a",
    "norm_ratio_b",
    "limit_a",
    "limit_b",
    "noise_limit_a",
    "noise_limit_b",
    "clean_limit_a",
    "clean_limit_b",
    "noise_rel_l2",
    "noise_max_abs",
    "nan_mismatch",
    "inf_mismatch",
    "size",
    "shape_a",
    "shape_b",
    "dtype_a",
    "dtype_b",
    "note",
)
Row = Dict[str, Any]
Progress = Callable[[str], None]


def case_order(envs: Sequence[Env]) -> List[Tuple[str, List[str]]]:
    """Cases and their tensors: the reference's order (it is last in ``envs``) then the others'."""
    order: Dict[str, Dict[str, None]] = {}
    for env in reversed(envs):
        for case, record in (env.meta.get("cases") or {}).items():
            tensors = order.setdefault(case, {})
            tensors.update(dict.fromkeys(record.get("tensors") or []))
    return [(case, list(tensors)) for case, tensors in order.items()]


def _open(env: Env, case: str, tensor: str) -> Tuple[Side, Optional[Member]]:
    record = (env.meta.get("cases") or {}).get(case)
    label = env.label
    if record is None:  # the dump records every case it selected, failed ones included
        return Side(label, env.is_reference, ran=False, present=False), None
    if record.get("status") != "ok":
        return Side(label, env.is_reference, error=str(record.get("error") or "case failed")), None
    key = f"{case}/{tensor}"
    if tensor not in (record.get("tensors") or []) or env.dump is None or key not in env.dump:
        return Side(label, env.is_reference, present=False), None
    try:
        member = env.dump.member(key)
    except DumpError as exc:
        return Side(label, env.is_reference, error=str(exc)), None
    return Side(label, env.is_reference, shape=member.shape), member


def _shape_groups(
    sides: List[Side], members: List[Optional[Member]], truth_index: Optional[int]
) -> List[List[int]]:
    groups: Dict[Tuple[int, ...], List[int]] = {}
    for k, member in enumerate(members):
        if member is not None:
            groups.setdefault(sides[k].shape or (), []).append(k)
    result = []
    for group in groups.values():
        if truth_index in group:  # the truth centres its group
            group = [truth_index] + [k for k in group if k != truth_index]
        result.append(group)
    return result


def _fmt_shape(shape: Optional[Tuple[int, ...]]) -> str:
    return "" if shape is None else "x".join(map(str, shape)) or "scalar"


def compare(
    dumps: DumpSet,
    th: Thresholds,
    jobs: int = 1,
    progress: Optional[Progress] = None,
    calibration: Optional[Calibration] = None,
    cases: Optional[Sequence[str]] = None,
) -> Iterator[List[Row]]:
    """Yield the rows of each (case, tensor), in output order (only ``cases``, if given)."""
    envs = dumps.compared
    calibration = calibration if calibration is not None else no_calibration()
    env_traits = [traits.from_meta(env.label, env.meta) for env in envs]
    truth_index = len(envs) - 1 if dumps.reference is not None else None
    noise_table = dumps.reference.meta.get("noise", {}) if dumps.reference is not None else {}
    for case, tensors in case_order(envs):
        if cases is not None and case not in cases:
            continue
        if progress:
            progress(f"{case}: {len(tensors)} tensors x {len(envs)} dumps")
        for tensor in tensors:
            noise = noise_table.get(f"{case}/{tensor}") or {}
            judging = (th, calibration, env_traits)
            yield _tensor_rows(envs, case, tensor, truth_index, noise, judging, jobs)


def _present(members: List[Optional[Member]], k: int) -> Member:
    """The member of side ``k``, which a shape group only holds when it was opened."""
    member = members[k]
    if member is None:
        raise AssertionError(f"side {k} is in a shape group without an open member")
    return member


def _compare_readable(
    group: List[int], members: List[Optional[Member]], sides: List[Side], jobs: int
) -> Tuple[List[int], GroupResult]:
    """Compare ``group``; a member whose file ends while it is read becomes an error side and
    the rest is compared again without it (one bad file never stops the others)."""
    while True:
        try:
            return group, compare_group([_present(members, k) for k in group], jobs=jobs)
        except DumpError:
            failed = [k for k in group if _present(members, k).error]
            if not failed:
                raise
            for k in failed:
                sides[k] = Side(sides[k].label, sides[k].is_truth, error=_present(members, k).error)
            group = [k for k in group if k not in failed]


def _tensor_rows(
    envs: List[Env],
    case: str,
    tensor: str,
    truth_index: Optional[int],
    noise: Dict[str, Any],
    judging: Tuple[Thresholds, Calibration, List[traits.EnvTraits]],
    jobs: int,
) -> List[Row]:
    th, calibration, env_traits = judging
    opened = [_open(env, case, tensor) for env in envs]
    sides = [side for side, _ in opened]
    members = [member for _, member in opened]
    if truth_index is not None and members[truth_index] is None:
        truth_index = None
    where: Dict[int, Tuple[GroupResult, int]] = {}
    for group in _shape_groups(sides, members, truth_index):
        group, result = _compare_readable(group, members, sides, jobs)
        for pos, k in enumerate(group):
            try:  # the CRC-32, summed during the reads: corrupt data is an error, not a value
                _present(members, k).verify()
            except DumpError as exc:
                sides[k] = Side(sides[k].label, sides[k].is_truth, error=str(exc))
                continue
            where[k] = (result, pos)
    if truth_index is not None and truth_index not in where:
        truth_index = None
    pairs: Dict[Tuple[int, int], PairMetrics] = {}

    def measured(i: int, j: int) -> Optional[PairMetrics]:
        if i not in where or j not in where or where[i][0] is not where[j][0]:
            return None
        if (i, j) not in pairs:
            pairs[(i, j)] = where[i][0].pair(where[i][1], where[j][1])
        return pairs[(i, j)]

    truth = None
    if truth_index is not None:
        result, _ = where[truth_index]
        truth = Truth(
            float(noise.get("rel_l2", math.nan)),
            sides[truth_index].shape or (),
            result.sq[0] == 0.0,
        )
    errs: Dict[int, float] = {}  # each env's error relative to the truth, ‖x − t‖ / ‖t‖
    ratios: Dict[int, float] = {}  # each env's ‖x‖ / ‖t‖
    nonfinite: Dict[int, int] = {k: int(where[k][0].nonfinite[where[k][1]]) for k in where}
    for k in where:
        if truth_index is not None and k != truth_index:
            to_truth = measured(k, truth_index)
            errs[k] = to_truth.rel_err_a() if to_truth else math.nan
            ratios[k] = to_truth.norm_ratio_a() if to_truth else math.nan
    clean_run = run_errors((env_traits[k], e) for k, e in errs.items() if not nonfinite[k])
    for k, side in enumerate(sides):
        if k in where:
            err = 0.0 if k == truth_index else errs.get(k, math.nan)
            ratio = 1.0 if k == truth_index else ratios.get(k, math.nan)
            limit = None
            if not side.is_truth:
                limit = side_limit(th, calibration, case, tensor, env_traits[k], clean_run)
            sides[k] = Side(
                side.label,
                side.is_truth,
                shape=side.shape,
                nonfinite=nonfinite[k],
                err=err,
                limit=limit,
                norm_ratio=ratio,
            )
    rows = []
    for i in range(len(envs)):
        for j in range(i + 1, len(envs)):
            a, b = sides[i], sides[j]
            pair_truth = truth if truth is not None and a.shape == truth.shape else None
            values = measured(i, j)
            verdict = precheck(a, b, truth)
            if verdict is None:
                verdict = judge(a, b, values.rel_l2 if values else math.nan, pair_truth, th)
            rows.append(
                _row(case, tensor, a, b, members[i], members[j], values, verdict, noise, th)
            )
    return rows


def _row(
    case: str,
    tensor: str,
    a: Side,
    b: Side,
    member_a: Optional[Member],
    member_b: Optional[Member],
    values: Optional[PairMetrics],
    verdict: Verdict,
    noise: Dict[str, Any],
    th: Thresholds,
) -> Row:
    row: Row = dict.fromkeys(COLUMNS, math.nan)
    row.update(
        case=case,
        tensor=tensor,
        env_a=a.label,
        env_b=b.label,
        status=verdict.status,
        blame=verdict.blame,
        closer=verdict.closer,
        known=verdict.known,
        ill_conditioned=verdict.ill_conditioned,
        seed_ok=None,
        err_a=a.err,
        err_b=b.err,
        norm_ratio_a=a.norm_ratio,
        norm_ratio_b=b.norm_ratio,
        limit_a=verdict.limit_a,
        limit_b=verdict.limit_b,
        noise_limit_a=verdict.noise_limit_a,
        noise_limit_b=verdict.noise_limit_b,
        clean_limit_a=verdict.clean_limit_a,
        clean_limit_b=verdict.clean_limit_b,
        noise_rel_l2=float(noise.get("rel_l2", math.nan)),
        noise_max_abs=float(noise.get("max_abs", math.nan)),
        nan_mismatch=None,
        inf_mismatch=None,
        size=None,
        shape_a=_fmt_shape(a.shape),
        shape_b=_fmt_shape(b.shape),
        dtype_a=str(member_a.dtype) if member_a is not None else "",
        dtype_b=str(member_b.dtype) if member_b is not None else "",
        note=verdict.note,
    )
    if values is not None:
        row.update({name: getattr(values, name) for name in METRICS})
        row.update(
            nan_mismatch=values.nan_mismatch, inf_mismatch=values.inf_mismatch, size=values.size
        )
        if values.cosine_distance == values.cosine_distance:
            row["seed_ok"] = bool(values.cosine_distance < th.seed_cosine)
    return row
