"""Verdict thresholds: the checked-in ``data/thresholds.toml``, or a user file (``--thresholds``).

Every setting carries the reason for its value, and so does every per-tensor ``[[rule]]``; a file
without them is refused. Thresholds only change derived columns, so editing them never requires
rerunning a dump.
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from wgan_parity.compare.traits import EnvTraits
from wgan_parity.core.precision import FLOAT32

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11 only
    import tomli as tomllib

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "data" / "thresholds.toml"
SCHEMA = 1
SETTINGS = (
    "noise_factor",
    "rel_l2_floor",
    "clean_factor",
    "degenerate_noise_rel_l2",
    "ill_conditioned_noise_rel_l2",
    "no_reference_rel_l2",
    "seed_cosine",
    "regression_growth",
    "unjudged_rel_err",
    "norm_ratio_max",
    "kink_factor",
)
_MATCH_KEYS = ("case", "tensor", "framework", "backend", "env_id")
_RULE_KEYS = {
    *_MATCH_KEYS,
    "builtin",
    "flags",
    "isa",
    "noise_factor",
    "rel_l2_floor",
    "known",
    "lottery",
    "name",
    "max_err",
    "max_over_limit",
    "max_over_clean",
    "reason",
    "reference",
    "regression_growth",
}
Globs = Union[str, Tuple[str, ...]]


class ThresholdsError(ValueError):
    """The thresholds file is missing or malformed; the message names the file and the entry."""


def _any_glob(value: str, globs: Globs) -> bool:
    return any(
        fnmatch.fnmatchcase(value, g) for g in ((globs,) if isinstance(globs, str) else globs)
    )


@dataclass(frozen=True)
class Rule:
    """A per-tensor exception: what it matches, and what it changes.

    It matches on what an env runs (:class:`~.traits.EnvTraits`), never on its name:
    ``framework`` and ``backend`` (globs on the framework, and on the backend the env was dumped
    with, the last of its lineage), ``builtin`` (only built-in adapters, or only user ports),
    ``flags`` (recorded switches: ``onednn``, ``tf32``, ``device``, ...) and ``isa``. Matching a
    label is an explicit opt-in: ``env_id`` globs. ``case`` and ``tensor`` are globs too; each
    glob field may be a tuple of globs (any may match).

    A ``known`` rule names an expected divergence and must state its size, measured:
    ``max_err`` (the largest error against the truth it explains) and/or ``max_over_limit`` (the
    largest multiple of the side's limit), optionally tightened by ``max_over_clean`` (a multiple
    of the largest error of the clean built-in releases with the same kernels, where measured: a
    kernel rule then excuses in a port only what the framework's own kernels produce). A side
    beyond the bound is diverged again.
    A ``lottery`` known rule names rows that diverge on some machines and not on others (the
    CPU's vendor, kernels or BLAS decide, as its reason says): the test that flags stale rules
    requires it to match rows, not to be needed on every machine.
    ``reference`` (a URL or a docs path) says where it is explained.
    """

    reason: str
    case: Globs = "*"
    tensor: Globs = "*"
    framework: Globs = "*"
    backend: Globs = "*"
    env_id: Globs = "*"
    builtin: Optional[bool] = None
    flags: Tuple[Tuple[str, Any], ...] = ()
    isa: Globs = "*"
    noise_factor: Optional[float] = None
    rel_l2_floor: Optional[float] = None
    known: bool = False
    lottery: bool = False
    name: str = ""
    max_err: Optional[float] = None
    max_over_limit: Optional[float] = None
    max_over_clean: Optional[float] = None
    reference: str = ""
    regression_growth: Optional[float] = None

    def matches(self, case: str, tensor: str, env: EnvTraits) -> bool:
        """True if the case, tensor and every stated trait of ``env`` match."""
        if not (_any_glob(case, self.case) and _any_glob(tensor, self.tensor)):
            return False
        if self.builtin is not None and env.builtin != self.builtin:
            return False
        for name, wanted in self.flags:
            have = env.flag(name)
            if isinstance(wanted, str):
                if not isinstance(have, str) or not fnmatch.fnmatchcase(have, wanted):
                    return False
            elif have != wanted:
                return False
        return (
            _any_glob(env.framework, self.framework)
            and _any_glob(env.backend, self.backend)
            and _any_glob(env.label, self.env_id)
            and _any_glob(env.isa, self.isa)
        )

    def bound(self, limit: float, largest_clean: float = math.nan, floor: float = 0.0) -> float:
        """The largest error this known rule explains on a side whose limit is ``limit``.

        ``largest_clean``: the largest clean error of the side's kernels (NaN: not measured);
        ``floor``: the float32-resolution floor under a ``max_over_clean`` bound.
        """
        bounds = [b for b in (self.max_err,) if b is not None]
        if self.max_over_limit is not None:
            bounds.append(self.max_over_limit * limit)
        if self.max_over_clean is not None and math.isfinite(largest_clean):
            bounds.append(self.max_over_clean * max(largest_clean, floor))
        return min(bounds) if bounds else math.inf


@dataclass(frozen=True)
class SideLimit:
    """What applies to one side of a row: noise factor, floor, the known rule, the clean limit.

    ``clean``: ``clean_factor`` x the largest error of the clean built-in releases with the same
    kernels (:mod:`wgan_parity.compare.calibration`), NaN when none was measured.
    ``precision``: the side ran reduced (``bfloat16``, ``float16``); its noise limit then scales
    ``precision_noise``, what the float32 reference scores under that precision's policy, never
    the float32 noise, and is infinite (unjudged) where the reference did not measure it.
    """

    noise_factor: float
    rel_l2_floor: float
    known: str = ""
    regression_growth: Optional[float] = None  # None: the [verdict] setting
    known_rule: Optional[Rule] = None
    clean: float = math.nan
    largest_clean: float = math.nan
    precision: str = FLOAT32
    precision_noise: float = math.nan
    kink_factor: float = 1.0

    @property
    def reduced(self) -> bool:
        """The side ran at a precision below float32."""
        return self.precision != FLOAT32

    def limit(self, noise_rel_l2: float) -> float:
        """``max(noise_factor · noise, floor)``; the floor alone where the noise is unknown.

        A reduced side's noise is its ``precision_noise`` (infinite when unmeasured)."""
        if self.reduced:
            measured = self.precision_noise == self.precision_noise
            noise_rel_l2 = self.precision_noise if measured else math.inf
        scaled = self.noise_factor * noise_rel_l2
        return max(scaled, self.rel_l2_floor) if scaled == scaled else self.rel_l2_floor

    def applied(self, noise_rel_l2: float, kink_rel_l2: float = math.nan) -> float:
        """The limit the verdict applies: the noise limit, tightened by the clean limit, and
        never below the ReLU-kink allowance (``kink_factor`` x ``kink_rel_l2``, when measured:
        a float32 implementation may land any kink within rounding of zero on its other side,
        so no release is blamed below that lottery, however accurate the others were)."""
        noise_limit = self.limit(noise_rel_l2)
        applied = min(noise_limit, self.clean) if self.clean == self.clean else noise_limit
        return max(applied, self.kink(kink_rel_l2))

    def kink(self, kink_rel_l2: float) -> float:
        """The ReLU-kink allowance (0 where no kink was measured)."""
        return self.kink_factor * kink_rel_l2 if kink_rel_l2 == kink_rel_l2 else 0.0


@dataclass(frozen=True)
class Thresholds:
    """All settings (see ``data/thresholds.toml``) plus the rules, first match wins per field."""

    noise_factor: float
    rel_l2_floor: float
    clean_factor: float
    degenerate_noise_rel_l2: float
    ill_conditioned_noise_rel_l2: float
    no_reference_rel_l2: float
    seed_cosine: float
    regression_growth: float
    unjudged_rel_err: float
    norm_ratio_max: float
    kink_factor: float
    rules: Tuple[Rule, ...] = ()
    source: str = field(default="", compare=False)

    def side(self, case: str, tensor: str, env: EnvTraits) -> SideLimit:
        """The limits for ``env`` on ``case/tensor``, after the matching rules."""
        factor: Optional[float] = None
        floor: Optional[float] = None
        growth: Optional[float] = None
        known: Optional[Rule] = None
        for rule in self.rules:
            if rule.matches(case, tensor, env):
                factor = rule.noise_factor if factor is None else factor
                floor = rule.rel_l2_floor if floor is None else floor
                growth = rule.regression_growth if growth is None else growth
                known = rule if rule.known and known is None else known
        factor = self.noise_factor if factor is None else factor
        floor = self.rel_l2_floor if floor is None else floor
        reason = known.reason if known else ""
        return SideLimit(factor, floor, reason, growth, known, kink_factor=self.kink_factor)

    def clean_limit(self, largest_clean_err: float) -> float:
        """``max(clean_factor x largest clean error, rel_l2_floor)`` (NaN stays NaN)."""
        if largest_clean_err != largest_clean_err:
            return math.nan
        return max(self.clean_factor * largest_clean_err, self.rel_l2_floor)


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ThresholdsError(f"{where}: expected a non-negative number, found {value!r}")
    return float(value)


def _reason(where: str, entry: Mapping[str, Any]) -> str:
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ThresholdsError(f"{where}: every entry needs a non-empty `reason` saying why")
    return " ".join(reason.split())


def _globs(where: str, value: Any) -> Globs:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    if not isinstance(value, str):
        raise ThresholdsError(f"{where}: expected a glob string or a list of them, found {value!r}")
    return value


def _rule(where: str, entry: Any) -> Rule:
    if not isinstance(entry, dict):
        raise ThresholdsError(f"{where}: expected a table, found {entry!r}")
    if "env" in entry:
        raise ThresholdsError(
            f"{where}: `env` globs on env labels are no longer read: a rule matches what an env "
            "runs (`framework`, `backend`, `builtin`, `flags`, `isa`); to match labels, say so "
            "explicitly with `env_id` (docs/verdict.md)"
        )
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ThresholdsError(
            f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_RULE_KEYS)}"
        )
    kwargs: Dict[str, Any] = {"reason": _reason(where, entry)}
    for key in (*_MATCH_KEYS, "isa"):
        if key in entry:
            kwargs[key] = _globs(f"{where}.{key}", entry[key])
    if "builtin" in entry:
        if not isinstance(entry["builtin"], bool):
            raise ThresholdsError(
                f"{where}.builtin: expected true or false, found {entry['builtin']!r}"
            )
        kwargs["builtin"] = entry["builtin"]
    if "flags" in entry:
        flags = entry["flags"]
        if not isinstance(flags, dict) or not all(
            isinstance(v, (bool, str, int, float)) for v in flags.values()
        ):
            raise ThresholdsError(
                f"{where}.flags: expected a table of recorded switches, e.g. "
                f"{{onednn = false}} or {{tf32 = true}}, found {flags!r}"
            )
        precision = flags.get("precision")
        if precision is not None and (
            not isinstance(precision, str) or fnmatch.fnmatchcase(FLOAT32, precision)
        ):
            raise ThresholdsError(
                f"{where}.flags.precision: a precision rule describes a reduced precision and "
                f"never excuses a float32 env; expected a glob that float32 does not match "
                f"(bfloat16, float16, *16), found {precision!r}"
            )
        kwargs["flags"] = tuple(sorted(flags.items()))
    for key in ("reference", "name"):
        if key in entry:
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise ThresholdsError(
                    f"{where}.{key}: expected a non-empty string, found {entry[key]!r}"
                )
            kwargs[key] = entry[key].strip()
    numbers = ("noise_factor", "rel_l2_floor", "regression_growth")
    for key in (*numbers, "max_err", "max_over_limit", "max_over_clean"):
        if key in entry:
            kwargs[key] = _number(f"{where}.{key}", entry[key])
    for key in ("known", "lottery"):
        if key in entry:
            if not isinstance(entry[key], bool):
                raise ThresholdsError(
                    f"{where}.{key}: expected true or false, found {entry[key]!r}"
                )
            kwargs[key] = entry[key]
    if kwargs.get("lottery") and not kwargs.get("known"):
        raise ThresholdsError(
            f"{where}: `lottery = true` describes a known rule's rows; add known = true"
        )
    if kwargs.get("known"):
        if not kwargs.get("name"):
            raise ThresholdsError(f"{where}: a known rule needs a short `name` for the notes")
        bounds = [kwargs.get("max_err"), kwargs.get("max_over_limit")]
        if any(b is not None and not math.isfinite(b) for b in bounds):
            raise ThresholdsError(
                f"{where} ({kwargs['name']}): `max_err`/`max_over_limit` must be finite: an "
                "infinite bound would excuse anything"
            )
        if kwargs.get("max_err") is None and kwargs.get("max_over_limit") is None:
            raise ThresholdsError(
                f"{where} ({kwargs['name']}): a known rule must state the size of what it "
                "explains, measured: `max_err` (largest error against the truth) and/or "
                "`max_over_limit` (largest multiple of the limit); found neither"
            )
    elif any(kwargs.get(k) is not None for k in ("max_err", "max_over_limit", "max_over_clean")):
        raise ThresholdsError(
            f"{where}: `max_err`/`max_over_limit` bound a known rule; add known = true"
        )
    return Rule(**kwargs)


def parse(data: Mapping[str, Any], source: str = "<thresholds>") -> Thresholds:
    """Validate the parsed TOML ``data`` and build :class:`Thresholds`."""
    if data.get("schema") != SCHEMA:
        raise ThresholdsError(
            f"{source}: expected `schema = {SCHEMA}`, found {data.get('schema')!r}"
        )
    unknown = set(data) - {"schema", "verdict", "rule"}
    if unknown:
        raise ThresholdsError(f"{source}: unknown top-level keys {sorted(unknown)}")
    verdict = data.get("verdict", {})
    values: Dict[str, Any] = {}
    for name in SETTINGS:
        entry = verdict.get(name)
        if not isinstance(entry, dict):
            raise ThresholdsError(f"{source}: missing [verdict.{name}] with `value` and `reason`")
        _reason(f"{source}: [verdict.{name}]", entry)
        values[name] = _number(f"{source}: [verdict.{name}].value", entry.get("value"))
    extra = set(verdict) - set(SETTINGS)
    if extra:
        raise ThresholdsError(
            f"{source}: unknown settings {sorted(extra)}; known: {list(SETTINGS)}"
        )
    if not values["norm_ratio_max"] > 1.0:
        raise ThresholdsError(
            f"{source}: [verdict.norm_ratio_max].value must be above 1 (a factor of the truth's "
            f"norm, e.g. 2.0), found {values['norm_ratio_max']!r}"
        )
    rules = tuple(
        _rule(f"{source}: [[rule]] #{i + 1}", e) for i, e in enumerate(data.get("rule", []))
    )
    return Thresholds(**values, rules=rules, source=source)


def load(path: Union[str, Path, None] = None) -> Thresholds:
    """Load ``path``, or the checked-in defaults when ``path`` is None."""
    path = Path(path) if path is not None else DEFAULT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThresholdsError(f"cannot read thresholds file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ThresholdsError(
            f"{path.name}: expected UTF-8 TOML, found byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start} that is not UTF-8. Save the file as UTF-8 and re-run."
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{path.name}: not valid TOML ({exc})") from exc
    return parse(data, source=path.name)
