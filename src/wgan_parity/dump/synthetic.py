"""Synthetic dumps in the documented format, for tests and benchmarks: no framework is run.

:func:`write` takes ``{"case/tensor": array}`` and writes a dump whose metadata follows
docs/dump-format.md, so the aggregator can be exercised with any fake environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from wgan_parity.dump.dumpfile import write_dump
from wgan_parity.dump.meta import CaseRecord, DumpMeta

FAKE_HASH = "f" * 64
FAKE_PLATFORM = {
    "system": "Linux",
    "machine": "x86_64",
    "cpu": "fake",
    "gpu": None,
    "id": "00000000",
}


@dataclass(frozen=True)
class FakeEnv:
    """What a synthetic dump says about its environment, besides its env id and tensors.

    ``case_errors`` adds failed cases; ``cases`` gives records to start from (e.g. with a
    ``group`` or ``seed_rows``), their tensor lists filled from the keys; ``platform`` replaces
    :data:`FAKE_PLATFORM`; ``extra`` adds top-level metadata keys.
    """

    framework: str = "fake"
    dtype: str = "float32"
    catalog_hash: str = FAKE_HASH
    case_errors: Mapping[str, str] = field(default_factory=dict)
    noise: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    platform: Optional[Mapping[str, Any]] = None
    cases: Mapping[str, CaseRecord] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


DEFAULT = FakeEnv()


def metadata(env_id: str, keys: Sequence[str], env: FakeEnv = DEFAULT) -> Dict[str, Any]:
    """Metadata of a dump of ``env_id`` holding ``keys`` (``case/tensor``), as ``env`` says."""
    tensors: Dict[str, List[str]] = {}
    for key in keys:
        case, tensor = key.split("/", 1)
        tensors.setdefault(case, []).append(tensor)
    base = dict(env.cases)
    records = {
        case: replace(base.get(case, CaseRecord()), status="ok", error=None, tensors=tuple(names))
        for case, names in tensors.items()
    }
    for case, error in env.case_errors.items():
        records[case] = replace(base.get(case, CaseRecord()), status="error", error=error)
    meta = DumpMeta(
        env_id=env_id,
        backend=env.framework,
        framework=env.framework,
        framework_version="0.0",
        dtype=env.dtype,
        python="3.11.0",
        numpy=np.__version__,
        platform=dict(env.platform or FAKE_PLATFORM),
        flags={"deterministic": True},
        package_version="0.1.0",
        git_commit=None,
        created_utc="2026-01-01T00:00:00Z",
        catalog_hash=env.catalog_hash,
        cases=records,
        noise=dict(env.noise),
    )
    return {**meta.to_json(), **env.extra}


def write(
    path: Union[str, Path], env_id: str, tensors: Mapping[str, np.ndarray], env: FakeEnv = DEFAULT
) -> Path:
    """Write ``tensors`` as a dump of ``env_id``, its metadata as ``env`` says."""
    return write_dump(path, metadata(env_id, list(tensors), env), tensors.items())
