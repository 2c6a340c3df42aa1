"""The verdict's power: plant known bugs, run the comparison, score what it reports.

Every module of :mod:`wgan_parity.bugs` is a user backend with one planted porting bug and the
data of what a working comparison should say about it (``TOUCHES``, ``FIRST_TAP``,
``SEED_FORWARD_VISIBLE``). :func:`run` dumps each bug on the cases it touches (in a subprocess,
with the Python that has its framework), next to clean dumps of the base frameworks and the
float64 reference on the same cases, aggregates them with ``wgan-parity aggregate``, and
:func:`score` reads ``pairs.csv`` back. Per bug and weight mode (``seed``, ``random``,
``probe``):

- **detected**: some row of a touched case, bug against the reference, is ``diverged``,
  ``shape-mismatch`` or ``non-finite`` and not excused by a ``known`` rule, and is the bug's own:
  the clean base env's row of the same tensor is not divergent, or the bug's error exceeds
  :data:`GROWTH` times the base's (TF's float32 BatchNorm is off on its own; a TF-based bug
  must not be credited with it). ``inherited`` counts the rows left out for that reason,
  ``excused`` the divergent rows a known rule covers (a rule on every env, such as the seed-mode
  ReLU-tie rule, hides a bug there too);
- **fwd**: the same, counting only forward rows (``out``, ``tap/*``): what a forward-only check
  (the seed's table) would see. In seed mode the constant kernels are symmetric and the biases
  zero, so kernel-layout bugs and a dropped bias are invisible there; ``seed_fwd_expected`` is
  the bug module's own prediction;
- **blamed**: on the detected tensors, the pair row *bug against its clean base* names the bug
  env, and names the base only where the base is itself off against the truth;
- **localized**: ``first_divergent_tap`` of the composite cases (those with taps) equals the
  bug's ``FIRST_TAP``; ``n/a`` when the mode has no composite case or it shows no forward
  divergence;
- **false alarms**: rows of the clean envs against the reference, on the same cases, that are
  divergent and not known.

Only these ``pairs.csv`` columns are read: case, tensor, env_a, env_b, status, blame, known,
first_divergent_tap, err_a and limit_a (the reference is always ``env_b``). ``unjudged`` counts the
rows whose limit could not fail (never a detection, never a pass). ``worst`` is the
largest ``err / limit`` of the mode's judged rows, excused ones included: how far over (or
under) its tolerance the bug got. No framework is imported here; the dumps run in subprocesses
and the aggregation never imports one.
"""

from __future__ import annotations

import fnmatch
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wgan_parity import bugs as bug_package
from wgan_parity.compare import verdict
from wgan_parity.core.catalog import CATALOG
from wgan_parity.frameworks import names as framework_names

if TYPE_CHECKING:  # pandas only when scoring
    import pandas as pd

#: Row statuses that are a divergence (docs/verdict.md).
DIVERGENT = verdict.DIVERGENT
#: Divergences that carry no error size: never explained by the base's own error.
BROKEN = ("shape-mismatch", "non-finite")
#: A bug row whose base row is divergent too counts only past this factor of the base's error
#: (the regression growth factor of data/thresholds.toml: two bits above the base's own error).
GROWTH = 4.0
#: Weight modes, from the case name's suffix (``probe`` cases have random weights).
MODES = ("random", "probe", "seed")
#: Cases left out even when a bug touches them: the discriminator and the penalty's double
#: backward take 30 s each in the float64 reference and 3-6 s per framework dump.
EXPENSIVE = ("good_discriminator.*", "gradient_penalty.*")
REFERENCE = "reference"
#: Label prefix of the clean dumps' jobs; they keep their default env id (``torch-2.13.0``), which
#: the known rules of the thresholds file are written for.
CLEAN = "clean-"
ENV_PREFIX = "bug-"
FORWARD = ("out", "tap/")
Say = Callable[[str], None]
#: Columns of ``selftest.csv``.
COLUMNS = (
    "bug",
    "base",
    "mode",
    "cases",
    "detected",
    "fwd",
    "hits",
    "judged",
    "unjudged",
    "inherited",
    "excused",
    "worst",
    "blamed",
    "localized",
    "first_tap",
    "seed_fwd_expected",
    "note",
)


class SelftestError(RuntimeError):
    """The selftest cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Bug:
    """One planted bug: its module and what the comparison should report about it."""

    name: str
    base: str
    touches: Tuple[str, ...]
    first_tap: Any  # str, or {case glob: tap}
    seed_forward_visible: bool
    summary: str

    @property
    def module(self) -> str:
        """The user backend's module path (``--backend``)."""
        return f"{bug_package.PACKAGE}.{self.name}"

    @property
    def env_id(self) -> str:
        """The env id its dump gets: ``bug-<name>``."""
        return f"{ENV_PREFIX}{self.name}"

    def cases(self, only: Sequence[str] = ()) -> List[str]:
        """Catalog cases it touches, in catalog order, cheap ones only, within ``only`` globs."""
        return [
            c.name
            for c in CATALOG
            if _match(c.name, self.touches)
            and not _match(c.name, EXPENSIVE)
            and (not only or _match(c.name, only))
        ]

    def expected_tap(self, case: str) -> str:
        """The tap where it should first show in ``case``."""
        if isinstance(self.first_tap, str):
            return self.first_tap
        return next((t for g, t in self.first_tap.items() if fnmatch.fnmatchcase(case, g)), "")


def _match(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def mode_of(case: str) -> str:
    """``seed``, ``random`` or ``probe``: the weight mode a case name ends with."""
    return case.rsplit(".", 1)[-1]


def load_bugs(names: Sequence[str] = ()) -> List[Bug]:
    """The bug modules (all, or ``names``) as :class:`Bug` records; imports no framework."""
    known = bug_package.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SelftestError(f"unknown bug(s) {unknown}; known: {known}")
    found = []
    for name in names or known:
        module = bug_package.load(name)
        doc = (module.__doc__ or "").strip()
        found.append(
            Bug(
                name=name,
                base=module.BASE,
                touches=tuple(module.TOUCHES),
                first_tap=module.FIRST_TAP,
                seed_forward_visible=bool(module.SEED_FORWARD_VISIBLE),
                summary=doc.splitlines()[0] if doc else "",
            )
        )
    return found


# ---- scoring: pairs.csv -> the table -------------------------------------------------------


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _names(blame: str) -> List[str]:
    return [s for s in str(blame).split(";") if s]


def _against_reference(pairs: pd.DataFrame, env: str, reference: str) -> pd.DataFrame:
    """``env``'s rows against the truth, indexed by (case, tensor), with float ``err``/``limit``."""
    import pandas as pd

    rows = pairs[(pairs["env_a"] == env) & (pairs["env_b"] == reference)]
    rows = rows.assign(err=rows["err_a"].map(_num), limit=rows["limit_a"].map(_num))
    rows.index = pd.MultiIndex.from_arrays(
        [rows["case"], rows["tensor"]], names=["key_case", "key_tensor"]
    )
    return rows


def _pair(pairs: pd.DataFrame, env: str, other: str) -> Dict[Tuple[str, str], str]:
    """(case, tensor) -> blame of the pair row of ``env`` and ``other`` (either order)."""
    both = {env, other}
    rows = pairs[pairs["env_a"].isin(both) & pairs["env_b"].isin(both)]
    return {(c, t): b for c, t, b in zip(rows["case"], rows["tensor"], rows["blame"])}


def _hits(bug_rows: pd.DataFrame, base_rows: pd.DataFrame) -> Tuple[pd.Series, pd.Series]:
    """(own, inherited): divergent unexcused rows the bug caused, and those its base explains."""
    divergent = bug_rows["status"].isin(DIVERGENT) & (bug_rows["known"] == "")
    base = base_rows.reindex(bug_rows.index)
    base_off = base["status"].isin(DIVERGENT)
    beyond = bug_rows["err"] > GROWTH * base["err"].fillna(0.0)
    inherited = divergent & base_off & ~(beyond | bug_rows["status"].isin(BROKEN))
    return divergent & ~inherited, inherited


def _localized(bug: Bug, rows: pd.DataFrame, own: pd.Series) -> Tuple[str, str]:
    """(verdict, taps found): ``yes``/``no``/``n/a`` and ``case=tap`` of each composite case."""
    found = []
    right = []
    for case, case_rows in rows.groupby("case", sort=False):
        if not case_rows["tensor"].str.startswith("tap/").any():
            continue  # no taps: a layer case
        forward = case_rows[own.loc[case_rows.index] & _is_forward(case_rows["tensor"])]
        taps = [t for t in forward["first_divergent_tap"] if t]
        if not taps:
            continue
        out = forward[forward["tensor"] == "out"]["first_divergent_tap"]
        tap = out.iloc[0] if len(out) and out.iloc[0] else max(set(taps), key=taps.count)
        found.append(f"{case}={tap}")
        right.append(tap == bug.expected_tap(case))
    if not right:
        return "n/a", ""
    return ("yes" if all(right) else "no"), " ".join(found)


def _is_forward(tensors: pd.Series) -> pd.Series:
    return (tensors == FORWARD[0]) | tensors.str.startswith(FORWARD[1])


def _blamed(
    rows: pd.DataFrame, own: pd.Series, bug: Bug, base: str, pair: Mapping, base_off: set
) -> str:
    """``yes`` when every own hit's pair row (bug vs base) names the bug, and the base only where
    the base is off against the truth too; ``n/a`` without hits."""
    if not own.any():
        return "n/a"
    verdicts = []
    for key in rows[own].index:
        blame = _names(pair.get(key, ""))
        verdicts.append(bug.env_id in blame and (base not in blame or key in base_off))
    return "yes" if all(verdicts) else f"no ({verdicts.count(False)} of {len(verdicts)})"


def _record(**values: Any) -> Dict[str, Any]:
    return {c: values.get(c, "") for c in COLUMNS}


def _worst(rows: pd.DataFrame, judged: pd.Series) -> float:
    ratio = (rows["err"] / rows["limit"])[judged].dropna()
    return float(ratio.max()) if len(ratio) else math.nan


def _bug_record(
    bug: Bug, mode: str, rows: pd.DataFrame, base: pd.DataFrame, label: str, pair: Mapping
) -> Dict[str, Any]:
    own, inherited = _hits(rows, base)
    judged = rows["status"].isin(("ok", *DIVERGENT))
    localized, taps = _localized(bug, rows, own)
    errors = sorted(set(rows[rows["status"] == "error"]["case"]))
    base_off = set(base[base["status"].isin(DIVERGENT)].index)
    return _record(
        bug=bug.name,
        base=bug.base,
        mode=mode,
        cases=rows["case"].nunique(),
        detected="yes" if own.any() else "no",
        fwd="yes" if (own & _is_forward(rows["tensor"])).any() else "no",
        hits=int(own.sum()),
        judged=int(judged.sum()),
        unjudged=int((rows["status"] == verdict.UNJUDGED).sum()),
        inherited=int(inherited.sum()),
        excused=int((rows["status"].isin(DIVERGENT) & (rows["known"] != "")).sum()),
        worst=_worst(rows, judged),
        blamed=_blamed(rows, own, bug, label, pair, base_off),
        localized=localized,
        first_tap=taps,
        seed_fwd_expected=("yes" if bug.seed_forward_visible else "no") if mode == "seed" else "",
        note=f"case failed: {', '.join(errors)}" if errors else "",
    )


def _clean_record(framework: str, label: str, mode: str, rows: pd.DataFrame) -> Dict[str, Any]:
    divergent = rows["status"].isin(DIVERGENT)
    alarms = divergent & (rows["known"] == "")
    judged = rows["status"].isin(("ok", *DIVERGENT))
    return _record(
        bug=f"(clean {label})",
        base=framework,
        mode=mode,
        cases=rows["case"].nunique(),
        hits=int(alarms.sum()),
        judged=int(judged.sum()),
        unjudged=int((rows["status"] == verdict.UNJUDGED).sum()),
        excused=int((divergent & ~alarms).sum()),
        worst=_worst(rows, judged),
        note="hits: false alarms",
    )


def score(
    pairs: pd.DataFrame,
    bugs: Sequence[Bug],
    bases: Mapping[str, str],
    cases: Mapping[str, Sequence[str]],
    reference: str = REFERENCE,
) -> pd.DataFrame:
    """The selftest table from ``pairs.csv`` (read as text, empty cells ``""``).

    ``bases`` maps a framework (``torch``, ``tensorflow``) to its clean env label; ``cases`` maps
    a bug name to the cases it was dumped on; ``reference`` is the truth's label. One row per
    (bug, mode) (a bug without any row gets one saying so), then one per (clean env, mode) with
    its false alarms.
    """
    import pandas as pd

    pairs = pairs.fillna("")
    records: List[Dict[str, Any]] = []
    base_rows = {label: _against_reference(pairs, label, reference) for label in bases.values()}
    for bug in bugs:
        label = bases.get(bug.base, "")
        rows = _against_reference(pairs, bug.env_id, reference)
        rows = rows[rows["case"].isin(list(cases.get(bug.name, ())))]
        base = base_rows.get(label, _against_reference(pairs.iloc[:0], label, reference))
        pair = _pair(pairs, bug.env_id, label)
        if rows.empty:
            records.append(
                _record(bug=bug.name, base=bug.base, detected="no", note="no rows (dump failed?)")
            )
        for mode in MODES:
            mode_rows = rows[rows["case"].map(mode_of) == mode]
            if not mode_rows.empty:
                records.append(_bug_record(bug, mode, mode_rows, base, label, pair))
    all_cases = sorted({c for names in cases.values() for c in names})
    for framework, label in sorted(bases.items()):
        rows = base_rows[label][base_rows[label]["case"].isin(all_cases)]
        for mode in MODES:
            mode_rows = rows[rows["case"].map(mode_of) == mode]
            if not mode_rows.empty:
                records.append(_clean_record(framework, label, mode, mode_rows))
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def totals(table: pd.DataFrame) -> List[str]:
    """One line per mode: the mutation score and what went with it."""
    lines = []
    for mode in MODES:
        rows = table[(table["mode"] == mode) & ~table["bug"].str.startswith("(")]
        if rows.empty:
            continue
        clean = table[(table["mode"] == mode) & table["bug"].str.startswith("(")]
        localizable = rows[rows["localized"] != "n/a"]
        detected = rows[rows["detected"] == "yes"]
        lines.append(
            f"{mode}: detected {len(detected)}/{len(rows)} bugs "
            f"(forward rows alone {int((rows['fwd'] == 'yes').sum())}), "
            f"blamed right {int((detected['blamed'] == 'yes').sum())}/{len(detected)}, "
            f"localized right {int((localizable['localized'] == 'yes').sum())}/"
            f"{len(localizable)}, false alarms {int(clean['hits'].sum())}"
        )
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3g}"
    return str(value).replace("|", "\\|")


def markdown(table: pd.DataFrame, lines: Sequence[str] = ()) -> str:
    """The table as GitHub Markdown, then ``lines`` as a list."""
    columns = list(table.columns)
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in table.itertuples(index=False):
        out.append("| " + " | ".join(_cell(v) for v in record) + " |")
    return "\n".join([*out, "", *(f"- {line}" for line in lines), ""])


# ---- running: dumps, aggregate, score ------------------------------------------------------


@dataclass
class Options:
    """What :func:`run` does; ``pythons`` maps a framework (and ``reference``) to a Python."""

    out: Path
    bugs: Sequence[str] = ()
    cases: Sequence[str] = ()
    dumps: Optional[Path] = None
    pythons: Mapping[str, str] = field(default_factory=dict)
    jobs: int = 1
    reuse: bool = False


def plan(bugs: Sequence[Bug], only: Sequence[str] = ()) -> Dict[str, List[str]]:
    """Bug name -> its cases (within ``only``); bugs without any are left out."""
    return {b.name: b.cases(only) for b in bugs if b.cases(only)}


def child_environ() -> Dict[str, str]:
    """The environment of a dump subprocess: this very ``wgan_parity`` first on PYTHONPATH.

    Framework envs may have the package installed from another checkout; the bug modules and
    the code under test must be the ones of this process.
    """
    root = str(Path(__file__).resolve().parents[2])  # src/, holding wgan_parity/
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, *rest])}


@dataclass
class Job:
    """One dump to run in a subprocess."""

    label: str
    backend: str
    python: str
    cases: Sequence[str]
    out: Path


def run_dumps(jobs: Sequence[Job], parallel: int, say: Say) -> Dict[str, str]:
    """Run the dumps, ``parallel`` at a time; return label -> failure message (exit not 0/1)."""
    from wgan_parity.cli import argv

    failures: Dict[str, str] = {}
    pending = list(jobs)
    running: List[Tuple[Job, subprocess.Popen, float]] = []
    env = child_environ()
    while pending or running:
        while pending and len(running) < max(1, parallel):
            job = pending.pop(0)
            log = job.out.with_suffix(".log")
            env_id = () if job.label.startswith(CLEAN) else ("--env-id", job.label)
            command = argv(
                "dump",
                "--backend",
                job.backend,
                *env_id,
                "--out",
                job.out,
                "--quiet",
                "--cases",
                *job.cases,
                python=job.python,
            )
            with open(log, "w") as handle:
                try:
                    proc = subprocess.Popen(
                        command, stdout=handle, stderr=subprocess.STDOUT, env=env
                    )
                except OSError as exc:  # no such interpreter
                    failures[job.label] = f"could not start {job.python}: {exc}"
                    say(f"dump of {job.label} failed: {failures[job.label]}")
                    continue
            running.append((job, proc, time.perf_counter()))
        time.sleep(0.05)
        for item in list(running):
            job, proc, started = item
            code = proc.poll()
            if code is None:
                continue
            running.remove(item)
            took = time.perf_counter() - started
            if code in (0, 1):
                say(f"dumped {job.label} ({len(job.cases)} cases, {took:.1f}s)")
            else:
                log = job.out.with_suffix(".log")
                last = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
                failures[job.label] = f"exit {code}: {last}"
                say(f"dump of {job.label} failed ({failures[job.label]}); log: {log}")
    return failures


def subset_dump(source: Path, target: Path, cases: Sequence[str]) -> Dict[str, Any]:
    """Copy ``cases`` of a full dump into ``target`` (metadata, noise and catalog hash kept)."""
    from wgan_parity.dump.dumpfile import DumpReader, write_dump
    from wgan_parity.dump.meta import DumpMeta

    wanted = set(cases)
    with DumpReader(source) as reader:
        full = DumpMeta.from_json(reader.meta)
        absent = sorted(wanted - set(full.cases))
        if absent:
            raise SelftestError(f"{source} lacks the cases {absent}: dump them or omit --dumps")
        meta = replace(
            full,
            cases={c: r for c, r in full.cases.items() if c in wanted},
            noise={k: v for k, v in full.noise.items() if k.split("/", 1)[0] in wanted},
        ).to_json()
        keys = [k for k in reader if k.split("/", 1)[0] in wanted]
        write_dump(target, meta, ((k, reader.get(k)) for k in keys))
    return meta


def _clean_sources(folder: Path) -> Dict[str, Path]:
    """Framework (``reference``, ``torch``, ``tensorflow``) -> a built-in backend's dump."""
    from wgan_parity.dump.dumpfile import DumpError, DumpReader

    found: Dict[str, Path] = {}
    for path in sorted(folder.glob("*.npz")):
        try:
            with DumpReader(path) as reader:
                meta = reader.meta
        except DumpError:
            continue
        backend = meta.get("backend")
        if backend in framework_names() and backend == meta.get("framework"):
            found.setdefault(backend, path)
    return found


def _meta(path: Path) -> Dict[str, Any]:
    from wgan_parity.dump.dumpfile import DumpReader

    with DumpReader(path) as reader:
        return reader.meta


def run(options: Options, say: Say) -> Tuple[pd.DataFrame, List[str], Dict[str, str]]:
    """Dump, aggregate and score; write ``selftest.csv`` and ``selftest.md`` into ``out``.

    Returns the table, its summary lines and the failed dumps (label -> message).
    """
    import contextlib

    import pandas as pd

    from wgan_parity.cli import main as cli_main

    timings: Dict[str, float] = {}
    started = time.perf_counter()
    bugs = load_bugs(options.bugs)
    cases = plan(bugs, options.cases)
    if not cases:
        raise SelftestError(f"no bug touches a case matching {list(options.cases)}")
    bugs = [b for b in bugs if b.name in cases]
    union = [c.name for c in CATALOG if any(c.name in names for names in cases.values())]
    frameworks = sorted({b.base for b in bugs})
    dumps = options.out / "dumps"
    dumps.mkdir(parents=True, exist_ok=True)
    say(f"{len(bugs)} bugs on {len(union)} cases: {', '.join(union)}")

    clean: Dict[str, Path] = {}
    sources = _clean_sources(options.dumps) if options.dumps else {}
    for framework in [REFERENCE, *frameworks]:
        if framework in sources:
            target = dumps / f"{CLEAN}{framework}.npz"
            if not (options.reuse and target.exists()):
                subset_dump(sources[framework], target, union)
            clean[framework] = target
    timings["subset clean dumps"] = time.perf_counter() - started
    python = sys.executable
    jobs = [
        Job(f"{CLEAN}{f}", f, options.pythons.get(f) or python, union, dumps / f"{CLEAN}{f}.npz")
        for f in [REFERENCE, *frameworks]
        if f not in clean
    ]
    jobs += [
        Job(
            b.env_id,
            b.module,
            options.pythons.get(b.base) or python,
            cases[b.name],
            dumps / f"{b.env_id}.npz",
        )
        for b in bugs
    ]
    jobs = [j for j in jobs if not (options.reuse and j.out.exists())]
    mark = time.perf_counter()
    failures = run_dumps(jobs, options.jobs, say)
    timings["dumps"] = time.perf_counter() - mark
    for framework in [REFERENCE, *frameworks]:
        clean.setdefault(framework, dumps / f"{CLEAN}{framework}.npz")
    if any(f"{CLEAN}{f}" in failures for f in [REFERENCE, *frameworks]):
        raise SelftestError(f"a clean dump failed: {failures}; see the logs in {dumps}")
    inputs = [clean[f] for f in [REFERENCE, *frameworks]]
    inputs += [p for b in bugs if b.env_id not in failures for p in [dumps / f"{b.env_id}.npz"]]
    metas = {p: _meta(p) for p in inputs}
    hashes = {str(m.get("catalog_hash")) for m in metas.values()}
    if len(hashes) > 1:
        listing = ", ".join(f"{p.name}={str(m.get('catalog_hash'))[:12]}" for p, m in metas.items())
        raise SelftestError(
            f"the dumps come from different catalogs ({listing}): the --dumps folder was made "
            "by another wgan-parity; rerun without --dumps"
        )
    bases = {f: str(_meta(clean[f])["env_id"]) for f in frameworks}
    reference = str(_meta(clean[REFERENCE])["env_id"])

    mark = time.perf_counter()
    results = options.out / "results"
    done = results / "pairs.csv"
    newest = max(p.stat().st_mtime for p in inputs)
    if options.reuse and done.exists() and done.stat().st_mtime > newest:
        say(f"{done} is newer than every dump: not aggregated again (--reuse)")
    else:
        with open(options.out / "aggregate.log", "w") as log, contextlib.redirect_stdout(log):
            code = cli_main(["aggregate", *map(str, inputs), "--out", str(results), "--quiet"])
        if code == 2:
            raise SelftestError(f"wgan-parity aggregate refused the dumps; see {options.out}")
    timings["aggregate"] = time.perf_counter() - mark

    mark = time.perf_counter()
    pairs = pd.read_csv(results / "pairs.csv", dtype=str, keep_default_na=False)
    table = score(pairs, bugs, bases, cases, reference)
    timings["score"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    lines = totals(table)
    lines.append(
        "runtime: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
    )
    if failures:
        lines.append("failed dumps: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    legend = [f"`{b.name}` ({b.base}): {b.summary}" for b in bugs]
    table.to_csv(options.out / "selftest.csv", index=False, float_format="%.6e")
    (options.out / "selftest.md").write_text(
        markdown(table, lines) + "\nBugs:\n\n" + "".join(f"- {line}\n" for line in legend)
    )
    return table, lines, failures
