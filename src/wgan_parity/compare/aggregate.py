"""``aggregate(...)``: open the dumps, compare every pair, return one typed :class:`Aggregate`.

This is the library behind ``wgan-parity aggregate``. It reads the inputs
(:mod:`~wgan_parity.compare.input_files`), compares every compatible pair on every (case, tensor)
(:mod:`~wgan_parity.compare.rows`), marks where each divergence starts
(:mod:`~wgan_parity.compare.localize`) and keeps the rows in memory, once, in columns. The
writers and reports (``report/``) take the result. Nothing is written here, and nothing is
printed.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from wgan_parity import frameworks
from wgan_parity.compare import input_files, localize, verdict
from wgan_parity.compare import rows as compare_rows
from wgan_parity.compare.calibration import Calibration
from wgan_parity.compare.input_files import DumpSet, Env
from wgan_parity.compare.rowstore import RowStore
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.dump.meta import CaseInfo, catalog_info, catalog_of

Say = Callable[[str], None]


class AggregateError(ValueError):
    """The inputs cannot be aggregated as asked (a usage error); the message says what to do."""


@dataclass(frozen=True)
class Aggregate:
    """What one aggregation found: the rows, the envs, the cases and the verdict counts.

    ``envs`` are every input (sorted by label, dumps closed), ``compared`` the labels of the
    dumps compared (the truth last), ``cases`` the catalog the dumps were made from (order,
    groups, seed rows) plus any case it does not know. ``divergent`` holds the indices of the
    rows that set exit bit 1, in row order.
    """

    rows: RowStore
    envs: Tuple[Env, ...]
    compared: Tuple[str, ...]
    reference: Optional[Env]
    cases: Tuple[CaseInfo, ...]
    messages: Tuple[str, ...]
    seed_pair: Optional[Tuple[str, str]]
    status_counts: Mapping[str, int]
    divergent: Tuple[int, ...]
    env_problem_rows: int

    @property
    def truth(self) -> str:
        """The float64 truth's label ("" when there is none)."""
        return self.reference.label if self.reference is not None else ""

    @property
    def problems(self) -> List[Env]:
        """Envs that were not compared: failed, refused or corrupt."""
        return [e for e in self.envs if e.status != "ok"]

    @property
    def diverged(self) -> bool:
        """Some row diverged (not excused by a known rule): exit bit 1."""
        return bool(self.divergent)

    @property
    def env_problem(self) -> bool:
        """Some env or case could not be compared: exit bit 4."""
        return bool(self.problems) or self.env_problem_rows > 0


def aggregate(
    inputs: Iterable[Union[str, Path]],
    th: Thresholds,
    *,
    calibration: Optional[Calibration] = None,
    jobs: int = 1,
    seed_pair: Optional[Sequence[str]] = None,
    cases: Sequence[str] = (),
    progress: Optional[Say] = None,
    on_message: Optional[Say] = None,
) -> Aggregate:
    """Compare every pair of the dumps in ``inputs`` (files or folders); see :class:`Aggregate`.

    ``seed_pair`` names two compared labels (``reference`` stands for the truth) to be resolved
    before the long part. ``cases`` (globs) restricts the comparison to the matching cases.
    ``on_message`` hears each note about the inputs (refused dumps, failed
    envs) as they are found, ``progress`` a line per case. Raises :class:`AggregateError` when
    fewer than two inputs are found, ``seed_pair`` names an unknown label or a ``cases``
    glob matches no case of the dumps.
    """
    inputs = list(inputs)
    dumps = input_files.load(inputs)
    try:
        if len(dumps.envs) < 2:
            files = ", ".join(e.file for e in dumps.envs) or "none"
            raise AggregateError(
                "expected at least two dumps (or status records) to compare, e.g. the reference "
                f"and one framework, in {[str(p) for p in inputs]}; found {files}"
            )
        problem = input_files.shard_problem(dumps.envs)
        if problem:
            raise AggregateError(problem)
        for message in dumps.messages:
            if on_message is not None:
                on_message(message)
        pair = resolve_pair(seed_pair, dumps.compared, dumps.reference) if seed_pair else None
        chosen = _select(cases, dumps) if cases else None
        store = RowStore()
        compared = compare_rows.compare(
            dumps, th, jobs=max(1, jobs), progress=progress, calibration=calibration, cases=chosen
        )
        # where each divergence starts (annotated takes MutableMapping rows, compare gives dicts)
        for rows in localize.annotated(compared):  # type: ignore[arg-type]
            store.add(rows)
        infos = case_infos(dumps.compared)
    finally:
        dumps.close()
    return result(store, dumps.envs, dumps.compared, dumps.reference, infos, dumps.messages, pair)


def _select(patterns: Sequence[str], dumps: DumpSet) -> Tuple[str, ...]:
    """The dumps' case names matching any of ``patterns``; every pattern must match one."""
    names = [case for case, _ in compare_rows.case_order(dumps.compared)]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise AggregateError(
            f"--cases {unmatched} matched no case of the dumps; expected globs over case names "
            f"such as {names[:4]}"
        )
    return tuple(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def resolve_pair(
    names: Sequence[str], compared: Sequence[Env], reference: Optional[Env]
) -> Tuple[str, str]:
    """The two compared labels ``names`` stand for (``reference``: the truth)."""
    labels = [e.label for e in compared]
    truth = reference.label if reference else ""
    resolved = []
    for name in names:
        if name in labels:
            resolved.append(name)
        elif name == frameworks.truth().short and truth:
            resolved.append(truth)
        else:
            raise AggregateError(
                f"--seed-report: no compared environment is labelled {name!r}; labels: {labels}"
            )
    return resolved[0], resolved[1]


def case_infos(compared: Sequence[Env]) -> Tuple[CaseInfo, ...]:
    """The catalog the compared dumps recorded (the truth's first), then cases it lacks.

    Dumps older than the recorded catalog fall back to today's catalog (``core.catalog``), as
    the aggregator always did; the reports then read the result and never need it.
    """
    recorded = next(
        (c for c in (catalog_of(e.meta) for e in reversed(compared)) if c is not None), None
    )
    if recorded is None:
        from wgan_parity.core.catalog import CATALOG

        recorded = catalog_info(CATALOG)
    known = {c.name for c in recorded}
    seen = {case for case, _ in compare_rows.case_order(compared)}
    return recorded + tuple(CaseInfo(name) for name in sorted(seen - known))


def result(
    store: RowStore,
    envs: Sequence[Env],
    compared: Sequence[Env],
    reference: Optional[Env],
    cases: Tuple[CaseInfo, ...],
    messages: Sequence[str],
    pair: Optional[Tuple[str, str]],
) -> Aggregate:
    """The :class:`Aggregate` of ``store``'s rows: verdict counts and divergent rows derived."""
    cols = store.columns()
    status = cols["status"]
    known = cols["known"]
    divergent = tuple(
        k
        for k, (s, kn) in enumerate(zip(status.tolist(), known.tolist()))
        if verdict.is_divergence(s, kn if isinstance(kn, str) else "")
    )
    counts: Dict[str, int] = {}
    for value in status.tolist():
        counts[str(value)] = counts.get(str(value), 0) + 1
    problem_rows = int(np.count_nonzero([verdict.is_env_problem(s) for s in status.tolist()]))
    return Aggregate(
        rows=store,
        envs=tuple(envs),
        compared=tuple(e.label for e in compared),
        reference=reference,
        cases=cases,
        messages=tuple(messages),
        seed_pair=pair,
        status_counts=dict(sorted(counts.items())),
        divergent=divergent,
        env_problem_rows=problem_rows,
    )
