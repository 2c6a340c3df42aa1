"""``summary.md``: the verdict first, then the details, under 100 KB for the largest set.

The first screen (:mod:`~wgan_parity.report.summary_head`) says pass or fail, what regressed
against the baseline, the unexplained divergences grouped by cause with the worst row of each,
and what to do next. The details follow, each bounded: envs; cases not run; regressions;
release-by-release steps and the bisection; worst pairs; divergent rows (one line per tensor
and behaviour, naming every env it applies to: :mod:`~wgan_parity.report.summary_rows`); what
the verdict cannot see; degenerate and ill-conditioned rows; the known rules that matched; the
files. Everything comes in memory from the caller: nothing is read back from the folder.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import pandas as pd

from wgan_parity import atomic
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.compare.traits import EnvTraits
from wgan_parity.report import outcome as outcomes
from wgan_parity.report import precision as precision_table
from wgan_parity.report import summary_head, summary_power, summary_rows
from wgan_parity.report.mdtext import code
from wgan_parity.report.outcome import Outcome
from wgan_parity.report.resultset import Results
from wgan_parity.report.summary_rows import table

MAX_BYTES = 100_000
MAX_TABLE_ROWS = 100
_num = summary_power.number


@dataclass
class Extras:
    """What the summary shows besides the rows: steps, bisection, regressions, files."""

    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    bisect: pd.DataFrame = field(default_factory=pd.DataFrame)
    regressions: Optional[pd.DataFrame] = None  # None: no baseline was checked
    files: Sequence[str] = ()
    steps_note: str = ""  # where steps.csv/bisect.csv come from, when not from these rows


class _Known:
    """Short ids (K1, K2...) for the known rules whose reasons a ``known`` cell holds."""

    def __init__(self, th: Optional[Thresholds], env_traits: Dict[str, EnvTraits]) -> None:
        self.side = functools.lru_cache(maxsize=None)(th.side) if th else None
        self.env_traits = env_traits
        self.refs = {r.reason: r.reference for r in (th.rules if th else ()) if r.known}
        self.ids: Dict[str, str] = {}

    def of_side(self, case: str, tensor: str, side: str, cell: str) -> str:
        """The reason that covers ``side`` (a row's cell may join both sides' reasons)."""
        if not cell or self.side is None:
            return cell
        env = self.env_traits.get(side) or EnvTraits(side)
        return self.side(case, tensor, env).known or cell

    def split(self, cell: str) -> List[str]:
        """The rule reasons in a ``known`` cell (verdict joins several with "; ")."""
        found = [reason for reason in self.refs if reason in cell]
        return found or ([cell] if cell else [])

    def tags(self, cells: Iterable[str]) -> str:
        """``known (K1, K3)`` for the reasons in ``cells``."""
        keys = []
        for reason in (r for cell in cells for r in self.split(cell)):
            self.ids.setdefault(reason, f"K{len(self.ids) + 1}")
            keys.append(self.ids[reason])
        return f"known ({', '.join(dict.fromkeys(keys))})" if keys else ""

    def lines(self) -> List[str]:
        out = []
        for reason, key in self.ids.items():
            ref = self.refs.get(reason, "")
            out.append(f"- **{key}** known: {reason}" + (f" ([reference]({ref}))" if ref else ""))
        return out


def _regressions(outcome: Outcome, found: Optional[pd.DataFrame]) -> List[str]:
    check = outcome.regressions
    if check is None or found is None:
        return []
    out = ["## Regressions against the baseline ([regressions.csv](regressions.csv))", ""]
    out += [
        f"Baseline {code(check.baseline)}: {check.checked} rows checked, {check.regressed} "
        f"regressed. {check.new} rows have no baseline row (new envs, or pairs of two framework "
        "envs, checked through each side's row against the truth).",
        "",
    ]
    if check.other_isa:
        out += [
            f"{check.other_isa} rows had no like-for-like baseline: the baseline holds them for "
            "another kernel ISA only (float32 results follow the CPU's instruction set), so they "
            "were judged by the calibrated limits alone: "
            + "; ".join(code(e) for e in check.other_isa_envs)
            + ". Add this machine class with `wgan-parity baseline RESULTS --add --out BASELINE`.",
            "",
        ]
    if found.empty:
        return [*out, "None.", ""]
    out += [*table(list(found.columns), found.head(MAX_TABLE_ROWS).itertuples(index=False)), ""]
    if len(found) > MAX_TABLE_ROWS:
        out += [f"... {len(found) - MAX_TABLE_ROWS} more rows in regressions.csv.", ""]
    return out


def _releases(extras: Extras) -> List[str]:
    """Release-by-release steps and the bisection, when there are release series."""
    steps = extras.steps
    if steps.empty:
        return []
    out = [
        "## Across releases ([steps.csv](steps.csv), [bisect.csv](bisect.csv))",
        "",
        "Each release against the previous one of its framework: tensors bit-identical, tensors "
        "changed, and the largest change in units of that tensor's calibrated limit (1 or more "
        "would be a change beyond float32 noise, listed in bisect.csv).",
        "",
    ]
    if extras.steps_note:
        out += [extras.steps_note, ""]
    header = ["release", "previous", "identical", "changed", "largest step / limit", "where"]
    rows = [
        (
            code(r.release),
            code(r.previous),
            r.identical,
            r.changed,
            _num(float(r.max_step_over_limit or "nan")),
            code(r.where) if r.where else "",
        )
        for r in steps.itertuples(index=False)
    ]
    out += [*table(header, rows), ""]
    bisect = extras.bisect
    if bisect.empty:
        return [*out, "No release changed any tensor beyond its calibrated limit.", ""]
    out += [f"{len(bisect)} tensors changed beyond their limit; first release of each:", ""]
    cols = ["case", "tensor", "framework", "first_changed_in", "previous", "step_rel_l2"]
    out += [*table(cols, bisect[cols].head(MAX_TABLE_ROWS).itertuples(index=False)), ""]
    if len(bisect) > MAX_TABLE_ROWS:
        out += [f"... {len(bisect) - MAX_TABLE_ROWS} more in bisect.csv.", ""]
    return out


def _files(extras: Extras) -> List[str]:
    return ["## Files", "", *(f"- [{name}]({name})" for name in extras.files), ""]


def render(
    res: Results,
    th: Optional[Thresholds] = None,
    outcome: Optional[Outcome] = None,
    extras: Optional[Extras] = None,
) -> str:
    """The Markdown text (``outcome``: built from ``res`` when not given)."""
    extras = extras or Extras()
    outcome = outcome or outcomes.build(res)
    df, known, seeds = res.pairs, _Known(th, res.traits()), res.cases.seed_names()
    parts = summary_head.lines(outcome)
    if res.thresholds_source:
        parts += [
            f"Verdicts re-derived with thresholds {code(res.thresholds_source)} "
            "(pairs.csv keeps the aggregate's).",
            "",
        ]
    body = summary_rows.divergent(df, res, known.tags, known.of_side, seeds)
    parts += [
        *summary_rows.envs(res),
        *summary_rows.not_run(df),
        *_regressions(outcome, extras.regressions),
        *_releases(extras),
        *precision_table.lines(res),
        *(summary_rows.worst_pairs(df) if outcome.pairs_kept == "all" else []),
        *summary_power.seed_only(df),
        *body,
        *summary_power.outliers(df),
        *summary_power.unjudged(df),
        *summary_rows.degenerate(df),
        *summary_rows.ill_conditioned(res, seeds),
    ]
    if known.ids:
        parts += ["## Known divergences that matched", "", *known.lines(), ""]
    parts += _files(extras)
    text = "\n".join(parts)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_BYTES:  # a last resort: the sections above are already bounded
        text = encoded[: MAX_BYTES - 200].decode("utf-8", "ignore") + "\n\n... cut at 100 KB.\n"
    return text


def write(
    res: Results, th: Optional[Thresholds], outcome: Outcome, extras: Optional[Extras] = None
) -> Path:
    """Write ``summary.md`` into the results folder (atomically); return its path."""
    return atomic.write_text(res.folder / "summary.md", render(res, th, outcome, extras))
