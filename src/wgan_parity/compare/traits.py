"""What an environment runs: framework, backend lineage, kernel ISA and numeric switches.

Threshold rules and the clean-release calibration match on these, never on an env's label: a user
port named ``tf-2.21.0-mine`` runs TensorFlow's kernels (and inherits their bounded kernel rules),
but none of the semantic rules written for other ports. The traits come from a dump's metadata
(:func:`from_meta`) or from an ``envs.csv`` row (:func:`from_env_row`), so a verdict re-derived
from the CSV files alone matches the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Tuple

from wgan_parity import frameworks
from wgan_parity.core import precision as precisions

# The recorded switches every framework has; each framework's own come from the registry.
_COMMON_SWITCHES = ("tf32", "device", "deterministic", "max_isa", "precision")


@dataclass(frozen=True)
class EnvTraits:
    """One env as the verdict sees it.

    ``lineage``: backend names, base first (``("torch",)``; ``("torch", "mypkg.port")`` for a user
    backend over torch). ``switches``: the recorded numeric switches (``tf32``, ``device``,
    ``deterministic``, ``max_isa`` and every registered framework's own: ``onednn``, ...).
    """

    label: str
    framework: str = ""
    lineage: Tuple[str, ...] = ()
    isa: str = ""
    switches: Tuple[Tuple[str, Any], ...] = ()

    @property
    def backend(self) -> str:
        """The backend the env was dumped with (the last of its lineage)."""
        return self.lineage[-1] if self.lineage else ""

    @property
    def builtin(self) -> bool:
        """True for a built-in framework adapter, not a user port over one."""
        return len(self.lineage) == 1 and self.lineage[0] in frameworks.backend_modules()

    @property
    def kernels(self) -> str:
        """The kernel configuration: framework, ISA, device and the switches that change kernels.

        The framework's own switches (:class:`wgan_parity.frameworks.Switch`) add their token
        when recorded as other than their default; a switch of another framework adds nothing.
        Envs with the same ``kernels`` run the same float32 kernels; the clean-release
        calibration (:mod:`wgan_parity.compare.calibration`) is keyed on it.
        """
        own = frameworks.switches_of(self.framework)
        parts = [self.framework, self.isa or "isa?", str(self.flag("device") or "cpu")]
        parts += self._tokens(sw for sw in own if sw.leads)
        if self.flag("tf32") is True:  # "unavailable" on releases without the switch
            parts.append("tf32")
        if self.precision in precisions.TOKENS:
            parts.append(precisions.TOKENS[self.precision])
        if self.flag("deterministic") is False:
            parts.append("nondeterministic")
        parts += self._tokens(sw for sw in own if not sw.leads)
        return ":".join(parts)

    def _tokens(self, switches: Iterable[frameworks.Switch]) -> List[str]:
        """The kernel-class tokens of ``switches`` recorded as other than their default."""
        return [
            sw.token
            for sw in switches
            if sw.token and isinstance(self.flag(sw.key), bool) and self.flag(sw.key) != sw.default
        ]

    @property
    def precision(self) -> str:
        """The precision it ran at (``float32`` when not recorded: dumps before the switch)."""
        return str(self.flag("precision") or precisions.FLOAT32)

    def flag(self, name: str) -> Any:
        """A recorded switch (None when not recorded)."""
        return dict(self.switches).get(name)


def lineage_of(meta: Mapping[str, Any]) -> Tuple[str, ...]:
    """The dump's ``lineage``; for dumps older than it, inferred from ``backend``/``framework``."""
    recorded = meta.get("lineage")
    if isinstance(recorded, list) and all(isinstance(x, str) for x in recorded):
        return tuple(recorded)
    backend = str(meta.get("backend") or "")
    framework = str(meta.get("framework") or "")
    if backend in frameworks.backend_modules() or not backend:
        return (backend or framework,)
    return (framework, backend) if framework else (backend,)


def _switches(flags: Mapping[str, Any]) -> Tuple[Tuple[str, Any], ...]:
    keys = (*_COMMON_SWITCHES, *(sw.key for sw in frameworks.switches()))
    return tuple((k, flags[k]) for k in keys if k in flags and not isinstance(flags[k], list))


def from_meta(label: str, meta: Mapping[str, Any]) -> EnvTraits:
    """Traits of a dump from its metadata."""
    platform: Dict[str, Any] = _mapping(meta.get("platform"))
    flags: Dict[str, Any] = _mapping(meta.get("flags"))
    return EnvTraits(
        label,
        str(meta.get("framework") or ""),
        lineage_of(meta),
        str(platform.get("isa") or ""),
        _switches(flags),
    )


def from_env_row(row: Mapping[str, Any]) -> EnvTraits:
    """Traits of an ``envs.csv`` row (cells as text)."""

    def text(key: str) -> str:
        value = row.get(key)
        return "" if value is None or value != value else str(value)

    try:
        flags = json.loads(text("flags") or "{}")
    except ValueError:
        flags = {}
    lineage = tuple(x for x in text("lineage").split(";") if x)
    meta = {
        "framework": text("framework"),
        "backend": text("backend"),
        "lineage": list(lineage) if lineage else None,
    }
    return EnvTraits(
        text("env"),
        text("framework"),
        lineage_of(meta),
        text("isa"),
        _switches(flags if isinstance(flags, dict) else {}),
    )


def _mapping(value: Any) -> Dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}
