"""Verdict thresholds: the checked-in ``data/thresholds.toml``, or a user file (``--thresholds``).

Every setting carries the reason for its value, and so does every per-tensor ``[[rule]]``; a file
without them is refused. Thresholds only change derived columns, so editing them never requires
rerunning a dump.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11 only
    import tomli as tomllib

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "thresholds.toml"
SCHEMA = 1
SETTINGS = (
    "noise_factor",
    "rel_l2_floor",
    "degenerate_noise_rel_l2",
    "ill_conditioned_noise_rel_l2",
    "no_reference_rel_l2",
    "seed_cosine",
    "regression_growth",
)
_RULE_KEYS = {
    "case",
    "tensor",
    "env",
    "noise_factor",
    "rel_l2_floor",
    "known",
    "reason",
    "reference",
    "regression_growth",
}
Globs = Union[str, Tuple[str, ...]]


class ThresholdsError(ValueError):
    """The thresholds file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Rule:
    """A per-tensor exception: globs on case, tensor and env label, and what it changes.

    Each of ``case``, ``tensor`` and ``env`` is a glob or a tuple of globs (any may match).
    ``reference`` (a URL or a docs path) says where a known divergence is explained.
    """

    reason: str
    case: Globs = "*"
    tensor: Globs = "*"
    env: Globs = "*"
    noise_factor: Optional[float] = None
    rel_l2_floor: Optional[float] = None
    known: bool = False
    reference: str = ""
    regression_growth: Optional[float] = None

    def matches(self, case: str, tensor: str, env: str) -> bool:
        """True if all three match (each: any of its globs)."""
        return all(
            any(fnmatch.fnmatchcase(v, g) for g in ((p,) if isinstance(p, str) else p))
            for v, p in ((case, self.case), (tensor, self.tensor), (env, self.env))
        )


@dataclass(frozen=True)
class SideLimit:
    """What applies to one side of a row: its noise factor, floor, and a known-divergence reason."""

    noise_factor: float
    rel_l2_floor: float
    known: str = ""
    regression_growth: Optional[float] = None  # None: the [verdict] setting

    def limit(self, noise_rel_l2: float) -> float:
        """``max(noise_factor · noise, floor)``; the floor alone where the noise is unknown."""
        scaled = self.noise_factor * noise_rel_l2
        return max(scaled, self.rel_l2_floor) if scaled == scaled else self.rel_l2_floor


@dataclass(frozen=True)
class Thresholds:
    """All settings (see ``data/thresholds.toml``) plus the rules, first match wins per field."""

    noise_factor: float
    rel_l2_floor: float
    degenerate_noise_rel_l2: float
    ill_conditioned_noise_rel_l2: float
    no_reference_rel_l2: float
    seed_cosine: float
    regression_growth: float
    rules: Tuple[Rule, ...] = ()
    source: str = field(default="", compare=False)

    def side(self, case: str, tensor: str, env: str) -> SideLimit:
        """The limits for ``env`` on ``case/tensor``, after the matching rules."""
        factor: Optional[float] = None
        floor: Optional[float] = None
        growth: Optional[float] = None
        known = ""
        for rule in self.rules:
            if rule.matches(case, tensor, env):
                factor = rule.noise_factor if factor is None else factor
                floor = rule.rel_l2_floor if floor is None else floor
                growth = rule.regression_growth if growth is None else growth
                known = rule.reason if rule.known and not known else known
        factor = self.noise_factor if factor is None else factor
        floor = self.rel_l2_floor if floor is None else floor
        return SideLimit(factor, floor, known, growth)


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ThresholdsError(f"{where}: expected a non-negative number, found {value!r}")
    return float(value)


def _reason(where: str, entry: Mapping[str, Any]) -> str:
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ThresholdsError(f"{where}: every entry needs a non-empty `reason` saying why")
    return " ".join(reason.split())


def _rule(where: str, entry: Any) -> Rule:
    if not isinstance(entry, dict):
        raise ThresholdsError(f"{where}: expected a table, found {entry!r}")
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ThresholdsError(
            f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_RULE_KEYS)}"
        )
    kwargs: Dict[str, Any] = {"reason": _reason(where, entry)}
    for key in ("case", "tensor", "env"):
        if key in entry:
            value = entry[key]
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value = tuple(value)
            elif not isinstance(value, str):
                raise ThresholdsError(
                    f"{where}.{key}: expected a glob string or a list of them, found {value!r}"
                )
            kwargs[key] = value
    if "reference" in entry:
        if not isinstance(entry["reference"], str) or not entry["reference"].strip():
            raise ThresholdsError(
                f"{where}.reference: expected a URL or a docs path, found {entry['reference']!r}"
            )
        kwargs["reference"] = entry["reference"].strip()
    for key in ("noise_factor", "rel_l2_floor", "regression_growth"):
        if key in entry:
            kwargs[key] = _number(f"{where}.{key}", entry[key])
    if "known" in entry:
        if not isinstance(entry["known"], bool):
            raise ThresholdsError(
                f"{where}.known: expected true or false, found {entry['known']!r}"
            )
        kwargs["known"] = entry["known"]
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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{path.name}: not valid TOML ({exc})") from exc
    return parse(data, source=path.name)
