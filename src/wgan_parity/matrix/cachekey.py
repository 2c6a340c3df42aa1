"""Cache keys: when a dump (or an aggregation) can be reused instead of recomputed.

A dump's key covers the env's locked resolution, its Python and backend, and the hash of the
package source that can run inside a dump: the import closure of ``wgan-parity dump`` and every
backend (:func:`dump_source_files`). Aggregator, report and orchestration modules cannot change a
dump, so editing them (or the thresholds file) re-runs no dump.
"""

from __future__ import annotations

import ast
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Set

KEY_VERSION = 2
# What a dump executes: the CLI entry, the dump command and every backend (loaded by name).
DUMP_ROOTS = ("__init__.py", "__main__.py", "cli.py", "commands/__init__.py", "commands/dump.py")
DUMP_ROOT_DIRS = ("backends",)
PACKAGE = "wgan_parity"


def source_hash(package_dir: Path) -> str:
    """sha256 over every file of a folder (relative path + bytes), caches excluded."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir).as_posix()
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _imported_modules(path: Path) -> Set[str]:
    """Dotted names of the ``wgan_parity`` modules (and parent packages) ``path`` imports.

    Relative imports are refused (:class:`ValueError`) so the closure cannot miss one.
    """
    names: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise ValueError(f"{path}: relative import; the dump cache key needs absolute ones")
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found: Set[str] = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == PACKAGE:
            found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return found


def _module_file(package_dir: Path, dotted: str) -> Optional[Path]:
    """The file of ``wgan_parity.a.b`` (module or package), or None for a non-module name."""
    base = package_dir.joinpath(*dotted.split(".")[1:])
    if base == package_dir:
        candidates = [base / "__init__.py"]
    else:
        candidates = [base.with_suffix(".py"), base / "__init__.py"]
    return next((c for c in candidates if c.is_file()), None)


def dump_source_files(package_dir: Path) -> List[Path]:
    """Every package file a dump can execute: the import closure of the dump roots, sorted."""
    pending = [package_dir / r for r in DUMP_ROOTS if (package_dir / r).is_file()]
    for folder in DUMP_ROOT_DIRS:
        pending += sorted((package_dir / folder).glob("*.py"))
    seen: Set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for dotted in _imported_modules(path):
            module = _module_file(package_dir, dotted)
            if module is not None and module not in seen:
                pending.append(module)
    return sorted(seen)


def dump_source_hash(package_dir: Path) -> str:
    """sha256 over the files of :func:`dump_source_files` (relative path + bytes)."""
    digest = hashlib.sha256()
    for path in dump_source_files(package_dir):
        rel = path.relative_to(package_dir).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_key(fields: Mapping[str, Any]) -> str:
    """A stable sha256 of ``fields`` (JSON with sorted keys) and the key version."""
    payload = json.dumps({"key_version": KEY_VERSION, **fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_identity(path: Path) -> Optional[Dict[str, Any]]:
    """What a dump file is, cheaply: size, mtime and a digest of its ZIP directory (every
    member's name, size and CRC-32). None when the file is missing or not a readable ZIP (a
    truncated or overwritten dump), so it never matches what was recorded.
    """
    try:
        stat = path.stat()
        with zipfile.ZipFile(path) as archive:
            entries = [(i.filename, i.file_size, i.CRC) for i in archive.infolist()]
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "members_sha256": digest}


def dir_hash(folder: Optional[Path]) -> Optional[str]:
    """sha256 over a folder's files (e.g. a baseline), or None when there is no folder."""
    if folder is None or not folder.is_dir():
        return None
    return source_hash(folder)
