"""Cache keys: when a dump (or an aggregation) can be reused instead of recomputed.

A dump's key covers the env's locked resolution, its Python and backend, and the hash of the
package source that runs inside the env (catalog, fixtures, blocks, backends, dump writer).
The orchestration modules listed in :data:`ORCHESTRATION_ONLY` run outside the env and cannot
change a dump, so editing them re-runs nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

KEY_VERSION = 1
ORCHESTRATION_ONLY = frozenset(
    {
        "envtable.py",
        "orchestrate.py",
        "matrixrun.py",
        "venvs.py",
        "locks.py",
        "pipbridge.py",
        "cachekey.py",
        "progress.py",
        "toxgen.py",
        "commands/matrix.py",
    }
)


def source_hash(package_dir: Path, exclude: Iterable[str] = ORCHESTRATION_ONLY) -> str:
    """sha256 over every file of the package (path + bytes), minus ``exclude`` (relative paths)."""
    skip = set(exclude)
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or rel in skip:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_key(fields: Mapping[str, Any]) -> str:
    """A stable sha256 of ``fields`` (JSON with sorted keys) and the key version."""
    payload = json.dumps({"key_version": KEY_VERSION, **fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dir_hash(folder: Optional[Path]) -> Optional[str]:
    """sha256 over a folder's files (e.g. a baseline), or None when there is no folder."""
    if folder is None or not folder.is_dir():
        return None
    return source_hash(folder, exclude=())
