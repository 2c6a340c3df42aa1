"""Run-time switches that change numerics; each backend's ``configure`` applies and records them."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional

from wgan_parity import frameworks
from wgan_parity.core import precision as precisions


@dataclass(frozen=True)
class Flags:
    """Precision and determinism switches requested for one dump.

    The fields are the switches every framework applies: ``tf32`` allows TensorFloat-32
    matmuls/convs on NVIDIA GPUs (off: full float32); ``threads`` of ``None`` keeps the
    framework's default thread count; ``max_isa`` (an :data:`wgan_parity.core.isa.CLASSES` name)
    caps the CPU kernels through ``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA``, set before
    the framework is imported. ``precision`` (:data:`wgan_parity.core.precision.PRECISIONS`) runs
    the backend under a mixed-precision policy (:mod:`wgan_parity.core.precision`).
    ``switches`` sets the frameworks' own switches by key (:class:`wgan_parity.frameworks.Switch`:
    ``onednn``, ``graph``, ``channels_last``); one not set keeps its registry default. Read one
    with :meth:`switch`.
    """

    deterministic: bool = True
    tf32: bool = False
    threads: Optional[int] = None
    device: str = "cpu"
    max_isa: Optional[str] = None
    precision: str = precisions.FLOAT32
    switches: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        precisions.check(self.precision)
        known = {sw.key for sw in frameworks.switches()}
        unknown = sorted(set(self.switches) - known)
        if unknown:
            raise ValueError(
                f"Flags: unknown framework switches {unknown}; expected keys of "
                f"{sorted(known)} (declared in wgan_parity/frameworks.py)"
            )
        object.__setattr__(self, "switches", MappingProxyType(dict(self.switches)))

    def switch(self, key: str) -> bool:
        """The value of the framework switch ``key``: as set, else its registry default."""
        if key in self.switches:
            return bool(self.switches[key])
        for sw in frameworks.switches():
            if sw.key == key:
                return sw.default
        raise KeyError(
            f"unknown framework switch {key!r}; expected one of "
            f"{[sw.key for sw in frameworks.switches()]} (declared in wgan_parity/frameworks.py)"
        )

    def as_dict(self) -> Dict[str, Any]:
        """The requested switches, for the dump's metadata: the common ones, then every
        registered framework's (so every dump records the same keys)."""
        common = {
            "deterministic": self.deterministic,
            "tf32": self.tf32,
            "threads": self.threads,
            "device": self.device,
            "max_isa": self.max_isa,
            "precision": self.precision,
        }
        return {**common, **{sw.key: self.switch(sw.key) for sw in frameworks.switches()}}
