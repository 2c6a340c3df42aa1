"""The verdict's power, scored: what the comparison reported about each planted bug.

Every module of :mod:`wgan_parity.bugs` is a user backend with one planted porting bug and the
data of what a working comparison should say about it (``TOUCHES``, ``FIRST_TAP``,
``SEED_FORWARD_VISIBLE``). ``wgan-parity selftest`` (:mod:`wgan_parity.commands.selftest_run`)
dumps each bug on the cases it touches (in a subprocess, with the Python that has its
framework), next to clean dumps of the base frameworks and the float64 reference on the same
cases, aggregates them with ``wgan-parity aggregate``, and :func:`score` reads ``pairs.csv``
back. Per bug and weight mode (``seed``, ``random``, ``probe``):

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
under) its tolerance the bug got. Nothing here imports a framework, the catalog or a bug
module: the table is made from the aggregates alone.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Sequence, Tuple

from wgan_parity.compare import verdict

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
REFERENCE = "reference"
ENV_PREFIX = "bug-"
FORWARD = ("out", "tap/")
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


@dataclass(frozen=True)
class Bug:
    """One planted bug: its name, base framework and what the comparison should report."""

    name: str
    base: str
    touches: Tuple[str, ...]
    first_tap: Any  # str, or {case glob: tap}
    seed_forward_visible: bool
    summary: str

    @property
    def env_id(self) -> str:
        """The env id its dump gets: ``bug-<name>``."""
        return f"{ENV_PREFIX}{self.name}"

    def expected_tap(self, case: str) -> str:
        """The tap where it should first show in ``case``."""
        if isinstance(self.first_tap, str):
            return self.first_tap
        return next((t for g, t in self.first_tap.items() if fnmatch.fnmatchcase(case, g)), "")


def mode_of(case: str) -> str:
    """``seed``, ``random`` or ``probe``: the weight mode a case name ends with."""
    return case.rsplit(".", 1)[-1]


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
