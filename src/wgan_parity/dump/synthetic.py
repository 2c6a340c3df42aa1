"""Synthetic dumps in the documented format, for tests and benchmarks: no framework is run.

:func:`write` takes ``{"case/tensor": array}`` and writes a dump whose metadata follows
docs/dump-format.md, so the aggregator can be exercised with any fake environment.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from wgan_parity.dump.dumpfile import write_dump
from wgan_parity.dump.meta import CaseRecord, DumpMeta

FAKE_HASH = "f" * 64


def metadata(
    env_id: str,
    keys: Any,
    *,
    framework: str = "fake",
    dtype: str = "float32",
    catalog_hash: str = FAKE_HASH,
    case_errors: Optional[Mapping[str, str]] = None,
    noise: Optional[Mapping[str, Mapping[str, float]]] = None,
    platform: Optional[Dict[str, Any]] = None,
    cases: Optional[Mapping[str, CaseRecord]] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """Metadata of a dump holding ``keys`` (``case/tensor``), plus failed ``case_errors``.

    ``cases`` gives records to start from (e.g. with a ``group`` or ``seed_rows``); their tensor
    lists are filled from ``keys``.
    """
    tensors: Dict[str, List[str]] = {}
    for key in keys:
        case, tensor = key.split("/", 1)
        tensors.setdefault(case, []).append(tensor)
    base = dict(cases or {})
    records = {
        case: replace(base.get(case, CaseRecord()), status="ok", error=None, tensors=tuple(names))
        for case, names in tensors.items()
    }
    for case, error in (case_errors or {}).items():
        records[case] = replace(base.get(case, CaseRecord()), status="error", error=error)
    meta = DumpMeta(
        env_id=env_id,
        backend=framework,
        framework=framework,
        framework_version="0.0",
        dtype=dtype,
        python="3.11.0",
        numpy=np.__version__,
        platform=platform
        or {"system": "Linux", "machine": "x86_64", "cpu": "fake", "gpu": None, "id": "00000000"},
        flags={"deterministic": True},
        package_version="0.1.0",
        git_commit=None,
        created_utc="2026-01-01T00:00:00Z",
        catalog_hash=catalog_hash,
        cases=records,
        noise=dict(noise or {}),
    )
    return {**meta.to_json(), **extra}


def write(
    path: Union[str, Path], env_id: str, tensors: Mapping[str, np.ndarray], **kwargs: Any
) -> Path:
    """Write ``tensors`` as a dump of ``env_id``; ``kwargs`` go to :func:`metadata`."""
    meta = metadata(env_id, list(tensors), **kwargs)
    return write_dump(path, meta, tensors.items())
