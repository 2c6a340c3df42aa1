"""The dump's metadata as typed values: :class:`DumpMeta` and one :class:`CaseRecord` per case.

Every writer builds a :class:`DumpMeta` and stores :meth:`DumpMeta.to_json`. That is the
``__meta__`` JSON that docs/dump-format.md describes, with the same keys and schema version as
before these types existed. :meth:`DumpMeta.from_json` reads any dump of that schema, old ones
included. Keys it does not know are kept in ``extra`` and written back unchanged.

``catalog`` describes the whole case catalog the dump was made from (its hash covers it): each
case's name in catalog order, its group and its seed-README rows. The reports take the case order,
groups and seed-row names from it, not from today's catalog. Dumps written before it existed lack
it: it reads as ``None``.

``port_deviations`` lists what a module port declares it does differently from tflib (a
parameter tflib lacks, held at a constant: :mod:`wgan_parity.backends.module_port`). It is
written only when there are some; older dumps and every other backend lack it (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from wgan_parity import SCHEMA_VERSION

SeedRows = Tuple[Tuple[str, str], ...]
# Top-level keys written only when set: synthetic dumps (and dumps older than the keys) lack them.
_OPTIONAL = (
    "lineage",
    "python_implementation",
    "numpy_simd",
    "port_deviations",
    "precision_noise",
)
#: ``precision_noise``: precision -> ``case/tensor`` -> {rel_l2, max_abs}, what the float32
#: reference scores under that precision's policy (``--noise-precision``; reference dumps only).
PrecisionNoise = Mapping[str, Mapping[str, Mapping[str, float]]]


@dataclass(frozen=True)
class CaseRecord:
    """What one case of a dump did: its status, error, cost and tensor names (in order)."""

    status: str = "ok"
    error: Optional[str] = None
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    tensors: Tuple[str, ...] = ()
    own: Tuple[str, ...] = ()  # shadow-replayed taps, stored as ``own/<name>`` (dump/shadow.py)
    own_error: Optional[str] = None  # why the shadow replay could not run, if it could not
    # tensor -> dtype it had in the framework, where not float32 (a reduced-precision dump)
    dtypes: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """The case ran and its tensors are in the dump."""
        return self.status == "ok"

    def to_json(self) -> Dict[str, Any]:
        """Plain JSON data."""
        return {
            "status": self.status,
            "error": self.error,
            "wall_s": self.wall_s,
            "peak_rss_mb": self.peak_rss_mb,
            "tensors": list(self.tensors),
            **({"own": list(self.own)} if self.own else {}),
            **({"own_error": self.own_error} if self.own_error else {}),
            **({"dtypes": dict(self.dtypes)} if self.dtypes else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseRecord:
        """Parse a record; missing fields take their defaults (older dumps)."""
        return cls(
            status=str(data.get("status") or "error"),
            error=None if data.get("error") is None else str(data["error"]),
            wall_s=float(data.get("wall_s") or 0.0),
            peak_rss_mb=float(data.get("peak_rss_mb") or 0.0),
            tensors=tuple(str(t) for t in data.get("tensors") or ()),
            own=tuple(str(t) for t in data.get("own") or ()),
            own_error=None if data.get("own_error") is None else str(data["own_error"]),
            dtypes={str(k): str(v) for k, v in (data.get("dtypes") or {}).items()},
        )


@dataclass(frozen=True)
class CaseInfo:
    """One case of the catalog as the reports need it: name, group and seed-README rows."""

    name: str
    group: str = "other"
    seed_rows: SeedRows = ()

    def to_json(self) -> Dict[str, Any]:
        """Plain JSON data."""
        return {
            "name": self.name,
            "group": self.group,
            "seed_rows": [list(r) for r in self.seed_rows],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseInfo:
        """Parse one entry of ``catalog``."""
        rows = data.get("seed_rows") or ()
        return cls(
            name=str(data["name"]),
            group=str(data.get("group") or "other"),
            seed_rows=tuple((str(r[0]), str(r[1])) for r in rows if len(r) == 2),
        )


def catalog_info(cases: Iterable[Any]) -> Tuple[CaseInfo, ...]:
    """The :class:`CaseInfo` of catalog cases (``core.catalog.Case``), in catalog order."""
    return tuple(
        CaseInfo(str(c.name), str(c.group), tuple((str(a), str(b)) for a, b in c.seed_rows))
        for c in cases
    )


def catalog_of(meta: Mapping[str, Any]) -> Optional[Tuple[CaseInfo, ...]]:
    """A dump's recorded ``catalog``; ``None`` for dumps older than it."""
    catalog = meta.get("catalog")
    if not isinstance(catalog, list):
        return None
    return tuple(CaseInfo.from_json(c) for c in catalog if isinstance(c, dict) and "name" in c)


@dataclass(frozen=True)
class DumpMeta:
    """The ``__meta__`` of one dump (docs/dump-format.md); build it here, nowhere by hand."""

    env_id: str
    backend: str
    framework: str
    framework_version: str
    dtype: str
    python: str
    numpy: str
    platform: Mapping[str, Any]
    flags: Mapping[str, Any]
    package_version: str
    git_commit: Optional[str]
    created_utc: str
    catalog_hash: str
    cases: Mapping[str, CaseRecord] = field(default_factory=dict)
    noise: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    import_s: float = 0.0
    wall_s: float = 0.0
    schema_version: int = SCHEMA_VERSION
    lineage: Optional[Tuple[str, ...]] = None
    python_implementation: Optional[str] = None
    numpy_simd: Optional[Tuple[str, ...]] = None
    port_deviations: Optional[Tuple[str, ...]] = None  # what a port declares it does not match
    catalog: Optional[Tuple[CaseInfo, ...]] = None
    precision_noise: Optional[PrecisionNoise] = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        """The JSON the dump stores (keys as before; optional ones only when set)."""
        out: Dict[str, Any] = {
            "schema_version": self.schema_version,
            "catalog_hash": self.catalog_hash,
            "env_id": self.env_id,
            "backend": self.backend,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "dtype": self.dtype,
            "python": self.python,
            "numpy": self.numpy,
            "platform": dict(self.platform),
            "flags": dict(self.flags),
            "package_version": self.package_version,
            "git_commit": self.git_commit,
            "created_utc": self.created_utc,
            "import_s": self.import_s,
            "wall_s": self.wall_s,
            "cases": {name: record.to_json() for name, record in self.cases.items()},
            "noise": {key: dict(value) for key, value in self.noise.items()},
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.catalog is not None:
            out["catalog"] = [case.to_json() for case in self.catalog]
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DumpMeta:
        """Parse a dump's metadata (any of this schema, old dumps included)."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}

        def text(key: str) -> str:
            return "" if data.get(key) is None else str(data[key])

        def names(key: str) -> Optional[Tuple[str, ...]]:
            value = data.get(key)
            return tuple(str(v) for v in value) if isinstance(value, list) else None

        commit = data.get("git_commit")
        cases = data.get("cases") or {}
        return cls(
            env_id=text("env_id"),
            backend=text("backend"),
            framework=text("framework"),
            framework_version=text("framework_version"),
            dtype=text("dtype"),
            python=text("python"),
            numpy=text("numpy"),
            platform=dict(data.get("platform") or {}),
            flags=dict(data.get("flags") or {}),
            package_version=text("package_version"),
            git_commit=None if commit is None else str(commit),
            created_utc=text("created_utc"),
            catalog_hash=text("catalog_hash"),
            cases={str(k): CaseRecord.from_json(v or {}) for k, v in cases.items()},
            noise={str(k): dict(v) for k, v in (data.get("noise") or {}).items()},
            import_s=float(data.get("import_s") or 0.0),
            wall_s=float(data.get("wall_s") or 0.0),
            schema_version=int(data.get("schema_version") or 0),
            lineage=names("lineage"),
            python_implementation=(
                None if data.get("python_implementation") is None else text("python_implementation")
            ),
            numpy_simd=names("numpy_simd"),
            port_deviations=names("port_deviations"),
            catalog=catalog_of(data),
            precision_noise=_precision_noise(data.get("precision_noise")),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _precision_noise(value: Any) -> Optional[PrecisionNoise]:
    """A recorded ``precision_noise`` (None when absent or not a JSON object)."""
    if not isinstance(value, dict):
        return None
    return {
        str(p): {str(k): dict(v) for k, v in table.items() if isinstance(v, dict)}
        for p, table in value.items()
        if isinstance(table, dict)
    }
