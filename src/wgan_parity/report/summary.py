"""``summary.md``: the results in Markdown, short enough for ``$GITHUB_STEP_SUMMARY`` (< 1 MiB).

Sections: the envs and their status; the cases a dump did not select (``not-run``); the worst
pairs; every divergent row (grouped: one line per
case, tensor, blamed env and label, listing the envs it was compared with) with its blame, its
error in units of tolerance and its first divergent tap; regressions against a baseline when the
results folder has ``regressions*.csv``; degenerate and ill-conditioned rows, one line per case or
tensor; the known divergences that matched, with their references; links to the CSVs and PNGs.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import pandas as pd

from wgan_parity import atomic
from wgan_parity.compare import localize, verdict
from wgan_parity.compare.thresholds import Thresholds
from wgan_parity.compare.traits import EnvTraits
from wgan_parity.report import baseline as baselines
from wgan_parity.report import csvfiles, summary_power
from wgan_parity.report.mdtext import code, plain
from wgan_parity.report.resultset import Results, calibrated

MAX_BYTES = 1 << 20
BUDGET = 900_000  # the divergent-row list stops here, leaving room for the rest
WORST_PAIRS = 10
DIVERGENT = verdict.DIVERGENT
ENV_HEADER = "env|framework|version|status|unexplained divergent rows|known divergent rows|note"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


_num = summary_power.number


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


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


def _envs(res: Results, df: pd.DataFrame) -> List[str]:
    info = res.envs.set_index("env") if "env" in res.envs.columns else pd.DataFrame()
    divergent = df[df["status"].isin(DIVERGENT)]
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
            (f"{code(label)}", *version, status, counts[True][label], counts[False][label], note)
        )
    return ["## Environments", "", *_table(ENV_HEADER.split("|"), rows), ""]


def _not_run(df: pd.DataFrame) -> List[str]:
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
        shown = ", ".join(f"{code(c)}" for c in cases[:20]) + (" ..." if len(cases) > 20 else "")
        out.append(f"- {code(env)}: {len(cases)} cases: {shown}")
    return [*out, ""]


def _worst_pairs(df: pd.DataFrame) -> List[str]:
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
    table = [(p, n, k, _num(c), w) for n, c, p, k, w in rows[:WORST_PAIRS]]
    header = ("pair", "unexplained divergent rows", "known", "worst error/tolerance", "worst row")
    return ["## Worst pairs", "", *_table(header, table), ""]


def _divergent(df: pd.DataFrame, known: _Known, seeds: Dict[tuple, str]) -> List[str]:
    rows = df[df["status"].isin(DIVERGENT)]
    if rows.empty:
        return ["## Divergent rows", "", "None.", ""]
    tapped = set(df.loc[df["tensor"].str.startswith(localize.TAP_PREFIX), "case"])
    fallback = calibrated(rows)
    groups: Dict[tuple, dict] = {}
    unexplained = 0
    for record, cal in zip(rows.to_dict("records"), fallback):
        bad = verdict.is_divergence(record["status"], record["known"])
        unexplained += bad
        pair = (record["env_a"], record["env_b"])
        for side in record["blame"].split(";"):  # a row blaming both envs is under each
            vs = pair[1] if side == pair[0] else pair[0] if side == pair[1] else " vs ".join(pair)
            err = localize.side_error(record, side)
            key = (
                record["case"],
                record["tensor"],
                record["status"],
                side,
                localize.side_tap(record, side),
            )
            group = groups.setdefault(key, {"err": -1.0, "bad": False, "known": [], "vs": set()})
            group["err"] = max(group["err"], err if err == err else cal)
            group["bad"] = group["bad"] or bad
            group["vs"].add(vs)
            if not bad:
                group["known"].append(known.of_side(key[0], key[1], side, record["known"]))
    out = [
        "## Divergent rows",
        "",
        f"{len(rows)} rows ({unexplained} unexplained). One line per case, tensor and blamed "
        "env (a row blaming both of its envs is under each); `vs` lists the envs it was "
        "compared with; error/tol is the blamed env's error against the float64 truth in "
        "units of its tolerance.",
        "",
    ]
    header = ["case/tensor", "status", "blamed", "error/tol", "first divergent tap", "label", "vs"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(groups, key=lambda k: (not groups[k]["bad"], -groups[k]["err"]))
    size = shown = 0
    for key in order:
        case, tensor, status, side, tap = key
        group = groups[key]
        seed = f" (seed: {seeds[(case, tensor)]})" if (case, tensor) in seeds else ""
        tap_text = tap or ("– (forward taps agree)" if case in tapped else "")
        label = "**unexplained**" if group["bad"] else known.tags(group["known"])
        line = (
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f"`{case}/{tensor}`{seed}",
                    status,
                    f"{code(side)}",
                    _num(group["err"]),
                    tap_text,
                    label,
                    ", ".join(f"{code(v)}" for v in sorted(group["vs"])),
                )
            )
            + " |"
        )
        if size + len(line) > BUDGET:
            break
        lines.append(line)
        size, shown = size + len(line) + 1, shown + 1
    if shown < len(order):
        cut = len(order) - shown
        lines += ["", f"... {cut} more lines cut to stay under 1 MiB: see pairs.csv."]
    return [*out, *lines, ""]


def _degenerate(df: pd.DataFrame) -> List[str]:
    rows = df[df["status"] == "degenerate"]
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
            f"- {code(case)}: {', '.join(f'{code(t)}' for t in tensors)} "
            f"(float32 noise rel_l2 up to {_num(noise)}; {len(part)} rows)"
        )
    return [*out, ""]


def _ill_conditioned(df: pd.DataFrame, res: Results, seeds: Dict[tuple, str]) -> List[str]:
    rows = df[(df["ill_conditioned"] == True) & (df["env_b"] == res.truth)]  # noqa: E712
    if rows.empty:
        return []
    out = [
        "## Ill-conditioned rows",
        "",
        "The truth is tiny next to the terms that produce it: large relative errors can be "
        "honest float32 behaviour. One line per tensor, each env's error against the float64 "
        "truth (rel_l2) and the limit:",
        "",
    ]
    for (case, tensor), part in rows.groupby(["case", "tensor"], sort=False):
        errs = sorted(zip(part["err_a"], part["env_a"], part["status"]))
        sides = ", ".join(
            f"{code(env)} {_num(err)}" + ("" if st == "ok" else f" ({st})") for err, env, st in errs
        )
        seed = f" (seed: {seeds[(case, tensor)]})" if (case, tensor) in seeds else ""
        out.append(
            f"- `{case}/{tensor}`{seed}: noise {_num(part['noise_rel_l2'].iloc[0])}, "
            f"limit {_num(part['limit_a'].max())}; errors vs truth: {sides}; "
            f"closest: {code(errs[0][1])}"
        )
    return [*out, ""]


def _regressions(folder: Path) -> List[str]:
    out = []
    check = baselines.read_check(folder)
    for path in sorted(folder.glob("regressions*.csv")):
        df = csvfiles.read_csv(path)
        out += [f"## Regressions against the baseline ([{path.name}]({path.name}))", ""]
        if check:
            out += [
                f"Baseline {code(Path(check['baseline']).name)}: {check['checked']} rows checked, "
                f"{check['regressed']} regressed. {check['new']} rows have no baseline row (new "
                "envs, or pairs of two framework envs, checked through each side's row against "
                "the truth).",
                "",
            ]
            if check.get("other_isa"):
                out += [
                    f"{check['other_isa']} rows had no like-for-like baseline: the baseline holds "
                    "them for another kernel ISA only (float32 results follow the CPU's "
                    "instruction set), so they were judged by the calibrated limits alone: "
                    + "; ".join(f"{code(e)}" for e in check.get("other_isa_envs", []))
                    + ". Add this machine class with `wgan-parity baseline RESULTS --add "
                    "--out BASELINE`.",
                    "",
                ]
        if df.empty:
            out += ["None.", ""]
            continue
        out += [*_table(list(df.columns), df.head(200).itertuples(index=False)), ""]
        if len(df) > 200:
            out += [f"... {len(df) - 200} more rows in {path.name}.", ""]
    return out


def _releases(folder: Path) -> List[str]:
    """Release-by-release steps (steps.csv) and the bisection (bisect.csv), when present."""
    steps_path, bisect_path = folder / "steps.csv", folder / "bisect.csv"
    if not steps_path.is_file():
        return []
    steps = csvfiles.read_csv(steps_path)
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
    header = ["release", "previous", "identical", "changed", "largest step / limit", "where"]
    rows = [
        (
            f"{code(r.release)}",
            f"{code(r.previous)}",
            r.identical,
            r.changed,
            _num(float(r.max_step_over_limit or "nan")),
            f"{code(r.where)}" if r.where else "",
        )
        for r in steps.itertuples(index=False)
    ]
    out += [*_table(header, rows), ""]
    bisect = csvfiles.read_csv(bisect_path) if bisect_path.is_file() else pd.DataFrame()
    if bisect.empty:
        out += ["No release changed any tensor beyond its calibrated limit.", ""]
    else:
        out += [f"{len(bisect)} tensors changed beyond their limit; first release of each:", ""]
        cols = ["case", "tensor", "framework", "first_changed_in", "previous", "step_rel_l2"]
        out += [*_table(cols, bisect[cols].head(200).itertuples(index=False)), ""]
    return out


def _files(folder: Path, pictures: Sequence[Path]) -> List[str]:
    csvs = sorted(p.name for pattern in ("*.csv", "*.csv.gz") for p in folder.glob(pattern))
    out = ["## Files", ""]
    out += [f"- [{name}]({name})" for name in csvs]
    out += [f"- [{p.name}]({p.name})" for p in pictures]
    return [*out, ""]


def render(res: Results, th: Optional[Thresholds] = None, pictures: Sequence[Path] = ()) -> str:
    """The Markdown text."""
    df, known, seeds = res.pairs, _Known(th, res.traits()), res.cases.seed_names()
    counts = ", ".join(f"{s} {n}" for s, n in sorted(df["status"].value_counts().items()))
    bad = sum(verdict.is_divergence(s, k) for s, k in zip(df["status"], df["known"]))
    powerless = int((df["status"] == verdict.UNJUDGED).sum())
    unjudged = f" {powerless} rows unjudged (a limit that cannot fail; listed below)."
    head = [
        "# wgan-parity results",
        "",
        f"{len(res.order)} envs compared, {len(df)} rows: {counts or 'none'}. "
        f"**{bad} unexplained divergent rows.**" + (unjudged if powerless else ""),
        "",
    ]
    if res.thresholds_source:
        head += [
            f"Verdicts re-derived with thresholds {code(res.thresholds_source)} "
            "(pairs.csv keeps the aggregate's).",
            "",
        ]
    body = _divergent(df, known, seeds)
    parts = [
        *head,
        *_envs(res, df),
        *_not_run(df),
        *_worst_pairs(df),
        *_regressions(res.folder),
        *_releases(res.folder),
        *summary_power.seed_only(df),
        *body,
        *summary_power.outliers(df),
        *summary_power.unjudged(df),
        *_degenerate(df),
        *_ill_conditioned(df, res, seeds),
    ]
    if known.ids:
        parts += ["## Known divergences that matched", "", *known.lines(), ""]
    parts += _files(res.folder, pictures)
    text = "\n".join(parts)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_BYTES:  # a last resort: the sections above are already bounded
        text = encoded[: MAX_BYTES - 200].decode("utf-8", "ignore") + "\n\n... cut at 1 MiB.\n"
    return text


def write(res: Results, th: Optional[Thresholds], pictures: Sequence[Path]) -> Path:
    """Write ``summary.md`` into the results folder (atomically); return its path."""
    return atomic.write_text(res.folder / "summary.md", render(res, th, pictures))
