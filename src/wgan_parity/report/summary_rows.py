"""The detail sections of ``summary.md`` drawn from the rows: envs, cases not run, worst pairs,
divergent, degenerate and ill-conditioned rows.

Nothing is repeated per release: a tensor that behaves the same in ten envs is one line naming
the ten (long lists keep their ends and a count; ``pairs.csv`` and ``report.html`` hold all).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

import pandas as pd

from wgan_parity.compare import localize, verdict
from wgan_parity.report.mdtext import code, plain
from wgan_parity.report.resultset import Results, calibrated
from wgan_parity.report.summary_head import env_list
from wgan_parity.report.summary_power import number

WORST_PAIRS = 10
MAX_ERRORS = 6  # envs not ok listed per ill-conditioned tensor
ILL_BUDGET = 15_000  # bytes of ill-conditioned lines
DIVERGENT_BUDGET = 30_000  # bytes of divergent-row lines; the rest are in pairs.csv
ENV_HEADER = "env|framework|version|status|unexplained divergent rows|known divergent rows|note"


def cell(value: object) -> str:
    """A table cell: pipes escaped, one line."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> List[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def ordered(labels: Iterable[str], res: Results) -> List[str]:
    """``labels`` in the results' env order (unknown labels last, by name)."""
    position = {label: i for i, label in enumerate(res.order)}
    return sorted(set(labels), key=lambda e: (position.get(e, len(position)), e))


def envs(res: Results) -> List[str]:
    """One line per env: status and its unexplained and known divergent rows."""
    df = res.pairs
    info = res.envs.set_index("env") if "env" in res.envs.columns else pd.DataFrame()
    divergent = df[df["status"].isin(verdict.DIVERGENT)]
    counts: Dict[bool, Counter] = {True: Counter(), False: Counter()}
    for blame, status, known in zip(divergent["blame"], divergent["status"], divergent["known"]):
        counts[verdict.is_divergence(status, known)].update(blame.split(";"))
    rows = []
    for label in dict.fromkeys(res.order + list(info.index)):
        env = info.loc[label] if label in info.index else {}
        status = str(env.get("status", "ok") or "ok")
        note = "float64 truth" if label == res.truth else ""
        if status != "ok":
            note = plain(f"{env.get('stage', '')}: {str(env.get('error', ''))[:200]}".strip(": "))
        version = (env.get("framework", ""), env.get("framework_version", ""))
        rows.append(
            (code(label), *version, status, counts[True][label], counts[False][label], note)
        )
    return ["## Environments", "", *table(ENV_HEADER.split("|"), rows), ""]


def not_run(df: pd.DataFrame) -> List[str]:
    """One line per env whose dump did not select some cases (``dump --cases``): not a problem."""
    rows = df[df["status"] == verdict.NOT_RUN]
    if rows.empty:
        return []
    by_env: Dict[str, List[str]] = {}
    for blame, case in zip(rows["blame"], rows["case"]):
        for env in str(blame).split(";"):
            by_env.setdefault(env, [])
            if case not in by_env[env]:
                by_env[env].append(case)
    out = [
        "## Cases not run",
        "",
        f"{len(rows)} rows are {code(verdict.NOT_RUN)}: these dumps did not select these cases "
        "(`wgan-parity dump --cases`). Nothing was compared there, and nothing is wrong.",
        "",
    ]
    for env, cases in by_env.items():
        shown = ", ".join(code(c) for c in cases[:20]) + (" ..." if len(cases) > 20 else "")
        out.append(f"- {code(env)}: {len(cases)} cases: {shown}")
    return [*out, ""]


def worst_pairs(df: pd.DataFrame) -> List[str]:
    """The pairs with the most unexplained rows, then the largest error in units of the limit."""
    df = df.assign(
        _cal=calibrated(df),
        _bad=[verdict.is_divergence(s, k) for s, k in zip(df["status"], df["known"])],
    )
    rows = []
    for (a, b), part in df.groupby(["env_a", "env_b"], sort=False):
        cal = part["_cal"].dropna()
        if not len(cal):
            continue
        top = part.loc[cal.idxmax()]
        known = int(((part["status"] == "diverged") & (part["known"] != "")).sum())
        worst = f"{top['case']}/{top['tensor']}"
        rows.append(
            (int(part["_bad"].sum()), float(cal.max()), f"{code(a)} vs {code(b)}", known, worst)
        )
    rows.sort(key=lambda r: (-r[0], -r[1]))
    shown = [(p, n, k, number(c), w) for n, c, p, k, w in rows[:WORST_PAIRS]]
    header = ("pair", "unexplained divergent rows", "known", "worst error/limit", "worst row")
    return ["## Worst pairs", "", *table(header, shown), ""]


Tagger = Callable[[str, str, str, str], str]  # (case, tensor, side, known cell) -> known reason


def _divergent_groups(
    rows: pd.DataFrame, known_of: Tagger
) -> Dict[Tuple[str, str, str, str, bool], Dict[str, Any]]:
    groups: Dict[Tuple[str, str, str, str, bool], Dict[str, Any]] = {}
    for record, cal in zip(rows.to_dict("records"), calibrated(rows)):
        bad = verdict.is_divergence(record["status"], record["known"])
        pair = (record["env_a"], record["env_b"])
        for side in record["blame"].split(";"):  # a row blaming both envs is under each
            other = pair[1] if side == pair[0] else pair[0] if side == pair[1] else ""
            err = localize.side_error(record, side)
            tap = localize.side_tap(record, side)
            key = (record["case"], record["tensor"], record["status"], tap, bad)
            group = groups.setdefault(key, {"err": -1.0, "blamed": set(), "vs": set(), "known": []})
            group["err"] = max(group["err"], err if err == err else cal)
            group["blamed"].add(side)
            group["vs"].update([other] if other else pair)
            if not bad:
                group["known"].append(known_of(key[0], key[1], side, record["known"]))
    return groups


def divergent(
    df: pd.DataFrame,
    res: Results,
    known_tags: Callable[[Iterable[str]], str],
    known_of: Tagger,
    seeds: Dict[tuple, str],
) -> List[str]:
    """Divergent rows, one line per case, tensor, status, first divergent tap and label."""
    rows = df[df["status"].isin(verdict.DIVERGENT)]
    if rows.empty:
        return ["## Divergent rows", "", "None.", ""]
    tapped = set(df.loc[df["tensor"].str.startswith(localize.TAP_PREFIX), "case"])
    groups = _divergent_groups(rows, known_of)
    unexplained = sum(verdict.is_divergence(s, k) for s, k in zip(rows["status"], rows["known"]))
    out = [
        "## Divergent rows",
        "",
        f"{len(rows)} rows ({unexplained} unexplained), in {len(groups)} lines: one per case, "
        "tensor, status, first divergent tap and label, naming every env blamed for it (a row "
        "blaming both of its envs is under each); `vs` names the envs they were compared with; "
        "error/limit is the largest blamed env's error against the float64 truth in units of "
        "its limit.",
        "",
    ]
    header = [
        "case/tensor",
        "status",
        "blamed",
        "error/limit",
        "first divergent tap",
        "label",
        "vs",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(groups, key=lambda k: (not k[4], -groups[k]["err"], k[:4]))
    size = shown = 0
    for key in order:
        case, tensor, status, tap, bad = key
        group = groups[key]
        seed = f" (seed: {seeds[(case, tensor)]})" if (case, tensor) in seeds else ""
        tap_text = tap or ("– (forward taps agree)" if case in tapped else "")
        label = "**unexplained**" if bad else known_tags(group["known"])
        vs = ordered(group["vs"], res)
        cells = (
            f"`{case}/{tensor}`{seed}",
            status,
            env_list(ordered(group["blamed"], res)),
            number(group["err"]),
            tap_text,
            label,
            env_list(vs, 6),
        )
        line = "| " + " | ".join(cell(c) for c in cells) + " |"
        if size + len(line) > DIVERGENT_BUDGET:
            break
        lines.append(line)
        size, shown = size + len(line) + 1, shown + 1
    if shown < len(order):
        lines += ["", f"... {len(order) - shown} more lines: see pairs.csv or report.html."]
    return [*out, *lines, ""]


def degenerate(df: pd.DataFrame) -> List[str]:
    """Rows whose truth is zero to within float32 resolution, one line per case."""
    rows = df[df["status"] == verdict.DEGENERATE]
    if rows.empty:
        return []
    out = [
        "## Degenerate rows (not judged)",
        "",
        "The float64 truth is zero to within float32 resolution of the computation's scale, "
        "so no direction can be compared; one line per case:",
        "",
    ]
    for case, part in rows.groupby("case", sort=False):
        tensors = list(dict.fromkeys(part["tensor"]))
        noise = part["noise_rel_l2"].max()
        out.append(
            f"- {code(case)}: {', '.join(code(t) for t in tensors)} "
            f"(float32 noise rel_l2 up to {number(noise)}; {len(part)} rows)"
        )
    return [*out, ""]


def ill_conditioned(res: Results, seeds: Dict[tuple, str]) -> List[str]:
    """Tensors whose truth is tiny next to its terms: each env's error, the limit, the closest."""
    df = res.pairs
    rows = df[(df["ill_conditioned"] == True) & (df["env_b"] == res.truth)]  # noqa: E712
    if rows.empty:
        return []
    out = [
        "## Ill-conditioned rows",
        "",
        "The truth is tiny next to the terms that produce it: large relative errors can be "
        "honest float32 behaviour. One line per tensor: its noise and limit, the best and worst "
        "env's error against the float64 truth (rel_l2), and the envs not ok:",
        "",
    ]
    size = 0
    groups = rows.groupby(["case", "tensor"], sort=False)
    for n, ((case, tensor), part) in enumerate(groups):
        errs = sorted(zip(part["err_a"], part["env_a"], part["status"]))
        off = [(e, env, st) for e, env, st in errs if st != "ok"]
        span = f"{code(errs[0][1])} {number(errs[0][0])}"
        if len(errs) > 1:
            span += f" to {code(errs[-1][1])} {number(errs[-1][0])} ({len(errs)} envs)"
        shown = "; not ok: " + ", ".join(
            f"{code(env)} {number(e)} ({st})" for e, env, st in off[:MAX_ERRORS]
        )
        more = f" and {len(off) - MAX_ERRORS} more" if len(off) > MAX_ERRORS else ""
        seed = f" (seed: {seeds[(case, tensor)]})" if (case, tensor) in seeds else ""
        line = (
            f"- `{case}/{tensor}`{seed}: noise {number(part['noise_rel_l2'].iloc[0])}, "
            f"limit {number(part['limit_a'].max())}; errors vs truth {span}"
            + (shown + more if off else "")
        )
        if size + len(line) > ILL_BUDGET:
            out.append(f"- ... {groups.ngroups - n} more tensors: see report.html.")
            break
        out.append(line)
        size += len(line) + 1
    return [*out, ""]
