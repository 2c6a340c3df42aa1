"""The first screen of ``summary.md``: the :class:`~wgan_parity.report.outcome.Outcome`, in about
40 lines. Pass or fail, what regressed, the causes with their worst rows, what to do next, and
what judged it. Everything after it is detail."""

from __future__ import annotations

from typing import List, Sequence

from wgan_parity.report.mdtext import code, plain
from wgan_parity.report.outcome import Cause, Outcome, plural
from wgan_parity.report.summary_power import number

MAX_CAUSES = 8
MAX_LISTED = 8  # env lists longer than this show their ends and a count


def env_list(envs: Sequence[str], limit: int = MAX_LISTED) -> str:
    """Env labels as code spans; a long list keeps its first and last ones and says how many."""
    if len(envs) <= limit:
        return ", ".join(code(e) for e in envs)
    head, tail = envs[: limit - 3], envs[-2:]
    middle = len(envs) - len(head) - len(tail)
    return (
        ", ".join(code(e) for e in head)
        + f", … {middle} more …, "
        + ", ".join(code(e) for e in tail)
        + f" ({len(envs)} envs)"
    )


def _cause_row(index: int, cause: Cause) -> str:
    w = cause.worst
    cells = (
        str(index),
        code(cause.where),
        plain(cause.framework),
        env_list(cause.envs, 4),
        str(cause.rows),
        f"{code(f'{w.case}/{w.tensor}')} {code(w.env)} vs {code(w.vs)}",
        number(w.err),
        number(w.limit),
        number(w.over_limit),
    )
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _origins(causes: Sequence[Cause]) -> List[str]:
    """Where each cause's worst env makes its error: the first layer over its limit on its own."""
    lines = [f"- #{i + 1}: {plain(c.origin)}" for i, c in enumerate(causes) if c.origin]
    if not lines:
        return []
    head = "Where the error is made (each tap replayed on the truth's input: its own error):"
    return [head, "", *lines, ""]


def _counts(outcome: Outcome) -> str:
    parts = ", ".join(f"{k} {v}" for k, v in outcome.by_status.items()) or "none"
    truth = f" against the float64 truth {code(outcome.truth)}" if outcome.truth else ""
    envs, rows = plural(outcome.compared, "env"), plural(outcome.rows_total, "row")
    return f"{envs}{truth}, {rows}: {parts}."


def _regressions(outcome: Outcome) -> List[str]:
    check = outcome.regressions
    if check is None:
        return ["Regressions: no baseline given (`--baseline DIR` checks one)."]
    line = (
        f"Regressions against {code(check.baseline)}: **{check.regressed}** of {check.checked} "
        f"rows checked; {check.new} rows new to it"
    )
    if check.other_isa:
        line += f", {check.other_isa} rows with a baseline of another kernel ISA only"
    out = [line + "."]
    for r in check.worst[:3]:
        out.append(f"- {code(f'{r.case}/{r.tensor}')} {code(r.env)}: {plain(r.reason)}")
    return out


def _judged(outcome: Outcome) -> str:
    by = outcome.judged_by
    if not by:
        return ""
    parts = [f"wgan-parity {plain(by.get('wgan_parity', '?'))}"]
    if by.get("commit"):
        parts.append(f"commit {code(str(by['commit'])[:12])}")
    for key in ("thresholds", "calibration"):
        if by.get(key):
            parts.append(f"{key} {code(str(by[key])[:12])}")
    kept = "every row" if outcome.pairs_kept == "all" else "the rows against the truth only"
    return f"Judged by {', '.join(parts)}; the pairs table keeps {kept}."


def lines(outcome: Outcome) -> List[str]:
    """The first screen, ending with a rule before the details."""
    verdict = "PASS" if outcome.passed else "FAIL"
    out = [
        f"# wgan-parity: {verdict}",
        "",
        f"**{outcome.headline}** (exit code {outcome.exit_code})",
        "",
        _counts(outcome),
        "",
    ]
    if outcome.known or outcome.unjudged:
        out += [
            f"Explained: {plural(outcome.known, 'divergent row')} by known rules (each with a "
            f"reason and a measured bound, listed below); unjudged: "
            f"{plural(outcome.unjudged, 'row')} whose limit cannot fail (not passes).",
            "",
        ]
    out += [*_regressions(outcome), ""]
    if outcome.causes:
        out += [
            "Unexplained divergences, by where they start (the first divergent tap of a block, "
            "else the case); err is the blamed env's error against the truth:",
            "",
            "| # | starts at | framework | envs | rows | worst row | err | limit | × limit |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        out += [_cause_row(i + 1, c) for i, c in enumerate(outcome.causes[:MAX_CAUSES])]
        if len(outcome.causes) > MAX_CAUSES:
            out.append("")
            out.append(f"… {len(outcome.causes) - MAX_CAUSES} more causes: `verdict.json`.")
        out.append("")
        out += _origins(outcome.causes[:MAX_CAUSES])
    if outcome.failed:
        shown = "; ".join(
            f"{code(p.env)} ({plain(p.stage)}: {plain(p.error[:80])})" for p in outcome.failed[:4]
        )
        more = f" and {len(outcome.failed) - 4} more" if len(outcome.failed) > 4 else ""
        out += [f"Not compared: {shown}{more}.", ""]
    out += ["**What to do next**", ""]
    for i, step in enumerate(outcome.next_steps[:5]):
        command = f": {code(step.command)}" if step.command else ""
        out.append(f"{i + 1}. {plain(step.do)}{command}")
    judged = _judged(outcome)
    out += ["", *([judged, ""] if judged else []), "---", ""]
    return out
