"""Compare every pair of compatible dumps on every (case, tensor): the rows of ``pairs.csv``.

Work goes tensor by tensor: the members of one tensor are opened in every dump, grouped by
shape, and each group is streamed once by :func:`~.engine.compare_group`, centred on
the float64 reference when the group has it. Rows come out in a fixed order (catalog order of
cases and tensors, then env pairs in label order with the reference last), one list per tensor.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from wgan_parity.compare import own_error, pairschema, traits
from wgan_parity.compare.calibration import Calibration, run_errors, side_limit
from wgan_parity.compare.calibration import none as no_calibration
from wgan_parity.compare.engine import GroupResult, compare_group
from wgan_parity.compare.input_files import DumpSet, Env
from wgan_parity.compare.member_reader import Member
from wgan_parity.compare.metrics import PairMetrics
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.compare.verdict import Side, Truth, Verdict, judge, precheck
from wgan_parity.dump.dumpfile import DumpError

COLUMNS = pairschema.COLUMNS
METRIC_FIELDS = tuple(n for n in pairschema.names(group="metric") if n != "seed_ok")
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


def _own_member(env: Env, case: str, tensor: str) -> Optional[Member]:
    """The shadow replay ``own/<name>`` of tap ``tensor`` in ``env``'s dump, if it holds one."""
    name = own_error.own_tensor(tensor)
    record = (env.meta.get("cases") or {}).get(case) or {}
    if name is None or env.dump is None:
        return None
    if name[len(own_error.OWN_PREFIX) :] not in (record.get("own") or []):
        return None
    try:
        return env.dump.member(f"{case}/{name}")
    except (DumpError, KeyError):
        return None


def _own_errors(
    envs: List[Env], case: str, tensor: str, members: List[Optional[Member]], truth_index: int
) -> Dict[int, own_error.OwnError]:
    """Each side's own and inherited error at tap ``tensor`` (sides without a replay: none)."""
    found: Dict[int, own_error.OwnError] = {}
    truth_member = members[truth_index]
    if truth_member is None or own_error.own_tensor(tensor) is None:
        return found
    try:
        truth = own_error.truth_tap(truth_member)
    except DumpError:
        return found
    for k, member in enumerate(members):
        if k == truth_index:
            found[k] = own_error.OwnError(0.0, 0.0)
            continue
        own = _own_member(envs[k], case, tensor) if member is not None else None
        if own is not None and member is not None:
            try:
                found[k] = own_error.measure(member, own, truth)
            except DumpError:
                continue
    return found


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
    reduced = (dumps.reference.meta.get("precision_noise") if dumps.reference else None) or {}
    for case, tensors in case_order(envs):
        if cases is not None and case not in cases:
            continue
        if progress:
            progress(f"{case}: {len(tensors)} tensors x {len(envs)} dumps")
        for tensor in tensors:
            noise = dict(noise_table.get(f"{case}/{tensor}") or {})
            noise["by_precision"] = {
                name: float((table.get(f"{case}/{tensor}") or {}).get("rel_l2", math.nan))
                for name, table in reduced.items()
            }
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
            float(noise.get("kink_rel_l2", math.nan)),
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
    owns = _own_errors(envs, case, tensor, members, truth_index) if truth_index is not None else {}
    for k, side in enumerate(sides):
        if k in where:
            err = 0.0 if k == truth_index else errs.get(k, math.nan)
            ratio = 1.0 if k == truth_index else ratios.get(k, math.nan)
            limit = None
            if not side.is_truth:
                precision = env_traits[k].precision
                at_precision = noise["by_precision"].get(precision, math.nan)
                limit = side_limit(
                    th, calibration, case, tensor, env_traits[k], clean_run, at_precision
                )
            sides[k] = Side(
                side.label,
                side.is_truth,
                shape=side.shape,
                nonfinite=nonfinite[k],
                err=err,
                limit=limit,
                norm_ratio=ratio,
                own_err=owns.get(k, own_error.NOT_MEASURED).own,
                inherited_err=owns.get(k, own_error.NOT_MEASURED).inherited,
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
            pair = ((a, members[i]), (b, members[j]))
            rows.append(_row((case, tensor), pair, values, verdict, noise, th.seed_cosine))
    return rows


def _side_columns(side: Side, member: Optional[Member], suffix: str) -> Row:
    """A side's own columns: its error and norm against the truth, its shape and dtype."""
    return {
        f"err_{suffix}": side.err,
        f"norm_ratio_{suffix}": side.norm_ratio,
        f"own_err_{suffix}": side.own_err,
        f"inherited_err_{suffix}": side.inherited_err,
        f"precision_noise_{suffix}": side.limit.precision_noise if side.limit else math.nan,
        f"shape_{suffix}": _fmt_shape(side.shape),
        f"dtype_{suffix}": str(member.dtype) if member is not None else "",
    }


def _metric_columns(values: Optional[PairMetrics], seed_cosine: float) -> Row:
    """The pair's measured columns (none when nothing could be compared)."""
    if values is None:
        return {"seed_ok": None, "nan_mismatch": None, "inf_mismatch": None, "size": None}
    row: Row = {name: getattr(values, name) for name in METRIC_FIELDS}
    cosine = values.cosine_distance
    row["seed_ok"] = bool(cosine < seed_cosine) if cosine == cosine else None
    return row


def _row(
    key: Tuple[str, str],
    sides: Tuple[Tuple[Side, Optional[Member]], Tuple[Side, Optional[Member]]],
    values: Optional[PairMetrics],
    verdict: Verdict,
    noise: Dict[str, Any],
    seed_cosine: float,
) -> Row:
    """One row of :data:`COLUMNS` from the verdict, the two sides and the pair's metrics."""
    (a, member_a), (b, member_b) = sides
    row: Row = dict.fromkeys(COLUMNS, math.nan)
    row.update(case=key[0], tensor=key[1], env_a=a.label, env_b=b.label)
    row.update(dataclasses.asdict(verdict))
    row.update(_side_columns(a, member_a, "a"))
    row.update(_side_columns(b, member_b, "b"))
    row.update(
        noise_rel_l2=float(noise.get("rel_l2", math.nan)),
        noise_max_abs=float(noise.get("max_abs", math.nan)),
        kink_rel_l2=float(noise.get("kink_rel_l2", math.nan)),
    )
    row.update(_metric_columns(values, seed_cosine))
    return row
