"""The verdict of a results folder, first: pass or fail, regressions, causes, what to do next.

:func:`build` reads the in-memory :class:`~wgan_parity.report.resultset.Results` (and the
regression check, when a baseline was given) once; ``summary.md``'s first screen, ``verdict.json``
and ``report.html`` all show this one object, so they never disagree.

A *cause* groups the unexplained divergent rows by the blamed env's framework and where the error
starts: the first divergent tap of a composite case (``residual_up.random: norm2``), else the case.
A tensor that diverges the same way in ten releases is one cause naming the ten envs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import pandas as pd

from wgan_parity import frameworks
from wgan_parity.compare import localize, verdict
from wgan_parity.exitcodes import ExitCode
from wgan_parity.report.resultset import Results

SCHEMA = 1
UNKNOWN = "unknown"  # blame of a row without a truth to tell which side is off


@dataclass(frozen=True)
class Worst:
    """The worst row of a cause: the blamed env's error against the truth and its limit."""

    case: str
    tensor: str
    env: str
    vs: str
    status: str
    err: float
    limit: float
    over_limit: float


@dataclass(frozen=True)
class Cause:
    """Unexplained divergent rows with one framework and one starting point."""

    where: str
    framework: str
    envs: Tuple[str, ...]
    rows: int
    tensors: int
    worst: Worst
    origin: str = ""  # where the worst env's error is made, from the taps' own error


@dataclass(frozen=True)
class EnvProblem:
    """An env that could not be compared, or whose cases failed."""

    env: str
    stage: str
    error: str


@dataclass(frozen=True)
class Regressed:
    """A row that got worse than the baseline."""

    case: str
    tensor: str
    env: str
    reason: str


@dataclass(frozen=True)
class RegressionCheck:
    """What the check against a baseline found (``None`` in :class:`Outcome`: no baseline)."""

    baseline: str
    checked: int
    regressed: int
    other_isa: int
    new: int
    other_isa_envs: Tuple[str, ...] = ()
    worst: Tuple[Regressed, ...] = ()


@dataclass(frozen=True)
class Step:
    """One thing to do next, and the command or file that does it ("" when none)."""

    do: str
    command: str


@dataclass(frozen=True)
class Outcome:
    """Everything the first screen says; :meth:`to_json` is ``verdict.json``."""

    passed: bool
    exit_code: int
    headline: str
    compared: int
    truth: str
    failed: Tuple[EnvProblem, ...]
    rows_total: int
    unexplained: int
    known: int
    unjudged: int
    by_status: Mapping[str, int]
    regressions: Optional[RegressionCheck]
    causes: Tuple[Cause, ...]
    next_steps: Tuple[Step, ...]
    judged_by: Mapping[str, str] = field(default_factory=dict)
    pairs_kept: str = "all"

    def to_json(self) -> Dict[str, Any]:
        """The ``verdict.json`` object (floats that are not finite become ``null``)."""
        data = {
            "schema": SCHEMA,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "headline": self.headline,
            "envs": {
                "compared": self.compared,
                "truth": self.truth,
                "failed": [asdict(p) for p in self.failed],
            },
            "rows": {
                "total": self.rows_total,
                "unexplained": self.unexplained,
                "known": self.known,
                "unjudged": self.unjudged,
                "by_status": dict(self.by_status),
            },
            "regressions": None if self.regressions is None else asdict(self.regressions),
            "causes": [asdict(c) for c in self.causes],
            "next": [asdict(s) for s in self.next_steps],
            "judged_by": dict(self.judged_by),
            "pairs_kept": self.pairs_kept,
        }
        return _finite(data)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _frameworks(res: Results) -> Dict[str, str]:
    if "env" not in res.envs.columns or "framework" not in res.envs.columns:
        return {}
    return {str(e): str(f or "") for e, f in zip(res.envs["env"], res.envs["framework"])}


def _worst_of(record: Mapping[str, Any], side: str) -> Worst:
    err, limit = (
        localize.side_value(record, side, "err"),
        localize.side_value(record, side, "limit"),
    )
    broken = record["status"] in verdict.BROKEN
    over = math.inf if broken else localize.side_error(record, side)
    pair = (record["env_a"], record["env_b"])
    vs = pair[1] if side == pair[0] else pair[0] if side == pair[1] else " vs ".join(pair)
    return Worst(record["case"], record["tensor"], side, vs, record["status"], err, limit, over)


def _rank(worst: Worst, truth: str = "") -> Tuple[float, bool]:
    """Larger is worse; among equals, the row against the truth (it shows the env's own error)."""
    over = worst.over_limit if worst.over_limit == worst.over_limit else -1.0
    return over, worst.vs == truth


def causes(res: Results) -> List[Cause]:
    """The unexplained divergent rows grouped by (framework, first divergent tap or case)."""
    df = res.pairs
    bad = df[[verdict.is_divergence(s, k) for s, k in zip(df["status"], df["known"])]]
    framework_of = _frameworks(res)
    groups: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for record in bad.to_dict("records"):
        for side in str(record["blame"]).split(";"):
            tap = localize.side_tap(record, side)
            where = f"{record['case']}: {tap}" if tap else str(record["case"])
            key = (framework_of.get(side, "") or UNKNOWN, where)
            group = groups.setdefault(key, {"envs": set(), "rows": 0, "tensors": set()})
            group["envs"].add(side)
            group["rows"] += 1
            group["tensors"].add((record["case"], record["tensor"]))
            worst = _worst_of(record, side)
            if "worst" not in group or _rank(worst, res.truth) > _rank(group["worst"], res.truth):
                group["worst"] = worst
    position = {label: i for i, label in enumerate(res.order)}
    found = [
        Cause(
            where,
            framework,
            tuple(sorted(g["envs"], key=lambda e: (position.get(e, len(position)), e))),
            g["rows"],
            len(g["tensors"]),
            g["worst"],
            _origin(res, g["worst"]),
        )
        for (framework, where), g in groups.items()
    ]
    return sorted(found, key=lambda c: (-_rank(c.worst)[0], -c.rows, c.framework, c.where))


def _origin(res: Results, worst: Worst) -> str:
    """Where the worst env's error in the worst row's case is made (its taps' own error)."""
    if not res.truth or "own_err_a" not in res.pairs.columns:
        return ""
    df = res.pairs
    rows = df[(df["case"] == worst.case) & (df["env_a"] == worst.env) & (df["env_b"] == res.truth)]
    found = localize.origin(rows.to_dict("records"), worst.env)
    return found.describe() if found is not None else ""


def env_problems(res: Results) -> List[EnvProblem]:
    """Envs that did not run, then envs with failed cases or missing tensors."""
    out: List[EnvProblem] = []
    if "env" in res.envs.columns and "status" in res.envs.columns:
        for row in res.envs.to_dict("records"):
            if str(row.get("status") or "ok") != "ok":
                stage, error = str(row.get("stage") or ""), str(row.get("error") or "")
                out.append(EnvProblem(str(row["env"]), stage, error[:300]))
    seen = {p.env for p in out}
    broken = res.pairs[res.pairs["status"].isin(verdict.ENV_PROBLEMS)]
    for (status, blame), part in broken.groupby(["status", "blame"], sort=True):
        for env in str(blame).split(";"):
            if env not in seen:
                seen.add(env)
                what = f"{len(part)} rows {status}, e.g. {part['case'].iloc[0]}"
                out.append(EnvProblem(env, "case", what))
    return out


def next_steps(
    res: Results, found: Sequence[Cause], failed: Sequence[EnvProblem], regressed: int
) -> List[Step]:
    """What takes the reader one step further, most useful first."""
    truth = res.truth or frameworks.truth().short
    steps: List[Step] = []
    if found:
        case, env = found[0].worst.case, found[0].worst.env
        steps += [
            Step("open report.html (beside this file) and click the worst pair's cells", ""),
            Step(
                "compare only that case, from the dumps",
                f"wgan-parity aggregate dumps/{truth}.npz dumps/{env}.npz --cases '{case}' "
                f"--out /tmp/{env}-case",
            ),
            Step(
                "re-run that env with the truth, if it is a matrix.toml env (dumps are reused when "
                "nothing changed)",
                f"nox -s compare -- --env {truth} --env {env} --out /tmp/{env}",
            ),
            Step(
                "if it is expected, name it: a [[rule]] with known = true and a measured bound "
                "(docs/verdict.md)",
                "",
            ),
        ]
    if regressed:
        steps.append(Step("see what got worse than the baseline", "regressions.csv"))
    for problem in failed[:3]:
        steps.append(
            Step(
                f"{problem.env} could not be compared ({problem.stage}): read its record and log",
                f"dumps/{problem.env}.status.json",
            )
        )
    if not steps:
        steps.append(Step("nothing to fix; to track a new release", "wgan-parity matrix --add-new"))
    return steps


def plural(n: int, noun: str) -> str:
    """``1 env``, ``2 envs``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def headline(
    passed: bool, unexplained: int, found: Sequence[Cause], regressed: int, failed: int
) -> str:
    """One line: PASS or FAIL and why."""
    if passed:
        return "PASS: no unexplained divergence, no regression, every env compared"
    why = []
    if unexplained:
        envs = len({e for c in found for e in c.envs})
        why.append(
            f"{unexplained} unexplained divergent rows in {plural(envs, 'env')} "
            f"({plural(len(found), 'cause')})"
        )
    if regressed:
        why.append(f"{regressed} rows regressed against the baseline")
    if failed:
        why.append(f"{plural(failed, 'env')} could not be compared")
    return "FAIL: " + "; ".join(why)


def build(
    res: Results,
    regressions: Optional[RegressionCheck] = None,
    judged_by: Optional[Mapping[str, str]] = None,
    pairs_kept: str = "all",
) -> Outcome:
    """The outcome of ``res`` (exit code as ``aggregate`` computes it)."""
    df = res.pairs
    status, known = df["status"], df["known"]
    flags = [verdict.is_divergence(s, k) for s, k in zip(status, known)]
    unexplained = int(sum(flags))
    excused = int(((status.isin(verdict.DIVERGENT)) & (known != "")).sum())
    found = causes(res)
    failed = env_problems(res)
    regressed = regressions.regressed if regressions is not None else 0
    code = (ExitCode.DIVERGED if unexplained or regressed else 0) | (
        ExitCode.ENV_PROBLEM if failed else 0
    )
    passed = int(code) == 0
    compared = len([e for e in res.order if e != res.truth])
    return Outcome(
        passed=passed,
        exit_code=int(code),
        headline=headline(passed, unexplained, found, regressed, len(failed)),
        compared=compared,
        truth=res.truth,
        failed=tuple(failed),
        rows_total=len(df),
        unexplained=unexplained,
        known=excused,
        unjudged=int((status == verdict.UNJUDGED).sum()),
        by_status={str(k): int(v) for k, v in sorted(status.value_counts().items())},
        regressions=regressions,
        causes=tuple(found),
        next_steps=tuple(next_steps(res, found, failed, regressed)),
        judged_by=dict(judged_by or {}),
        pairs_kept=pairs_kept,
    )


def regression_check(
    baseline: str, counts: Mapping[str, Any], found: pd.DataFrame, truth: str
) -> RegressionCheck:
    """A :class:`RegressionCheck` from the counts and rows of ``regress``."""
    worst = [
        Regressed(
            str(r["case"]),
            str(r["tensor"]),
            str(r["env_a"]) if r["env_b"] == truth else f"{r['env_a']} vs {r['env_b']}",
            str(r["reason"]),
        )
        for r in found.head(10).to_dict("records")
    ]
    return RegressionCheck(
        baseline=baseline,
        checked=int(counts.get("checked", 0)),
        regressed=int(counts.get("regressed", len(found))),
        other_isa=int(counts.get("other_isa", 0)),
        new=int(counts.get("new", 0)),
        other_isa_envs=tuple(str(e) for e in counts.get("other_isa_envs", ())),
        worst=tuple(worst),
    )
