"""Cache keys: when a dump (or an aggregation) can be reused instead of recomputed.

A dump's key covers the env's locked resolution, its Python and backend, and the hash of the
package source that can run inside a dump: the import closure of ``wgan-parity dump`` and every
backend (:func:`dump_source_files`). Aggregator, report and orchestration modules cannot change a
dump, so editing them (or the thresholds file) re-runs no dump. An env whose backend is a user
module (a port named in matrix.toml) also covers that module and the checkout's modules it
imports (:func:`port_source_hash`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from wgan_parity import frameworks

KEY_VERSION = 2
# What a dump executes: the CLI entry, the dump command and every backend (loaded by name).
DUMP_ROOTS = ("__init__.py", "__main__.py", "cli.py", "commands/__init__.py", "commands/dump.py")
DUMP_ROOT_DIRS = ("backends",)
PACKAGE = "wgan_parity"
# Folders a port's import closure never enters: venvs and installed packages, not the checkout's.
NOT_CHECKOUT = frozenset({".venv", ".nox", ".tox", "site-packages", "__pycache__"})


def files_hash(files: Iterable[Path], base: Path) -> str:
    """sha256 over ``files`` in the order given: each one's path relative to ``base`` + bytes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(
            path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes() + b"\0"
        )
    return digest.hexdigest()


def source_hash(package_dir: Path) -> str:
    """sha256 over every file of a folder (relative path + bytes), caches excluded."""
    files = [
        path
        for path in sorted(package_dir.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pyo")
    ]
    return files_hash(files, package_dir)


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
    return files_hash(dump_source_files(package_dir), package_dir)


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


def is_builtin_backend(name: str) -> bool:
    """Whether ``name`` is a built-in backend (the framework registry's) or a package module."""
    return name in frameworks.backend_modules() or name.split(".")[0] == PACKAGE


def _find_module(root: Path, dotted: str) -> Optional[Path]:
    """The file of module ``dotted`` under ``root`` or ``root/src`` (module or package), or None
    when it is not there, is the package's own or lies in a venv or installed packages."""
    parts = dotted.split(".")
    if parts[0] == PACKAGE or not all(p.isidentifier() for p in parts):
        return None
    for base in (root, root / "src"):
        stem = base.joinpath(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file() and not NOT_CHECKOUT & set(candidate.relative_to(root).parts):
                return candidate
    return None


def _string(node: ast.AST) -> Optional[str]:
    """The value of a string literal (``ast.Str`` before Python 3.8), else None."""
    value = node.value if isinstance(node, ast.Constant) else getattr(node, "s", None)
    return value if isinstance(value, str) else None


def _port_imports(path: Path, dotted: str, backend: bool) -> Set[Tuple[str, bool]]:
    """The modules ``path`` (module ``dotted``) may load: (name, loaded as a backend) pairs.

    Absolute and relative imports with their parent packages and ``from x import y`` submodule
    candidates; for a backend module, also its ``BASE`` (another backend the dump loads by name).
    A file that does not parse imports nothing here (its dump fails at import anyway).
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return set()
    package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
    names: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the importing file's package, one level up per extra dot
                anchor = package.split(".") if package else []
                anchor = anchor[: max(len(anchor) - node.level + 1, 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    found = {(".".join(n.split(".")[:k]), False) for n in names for k in range(1, n.count(".") + 2)}
    for node in tree.body if backend else []:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BASE" for t in node.targets
        ):
            base_name = _string(node.value)
            if base_name and not is_builtin_backend(base_name):
                found.add((base_name, True))
    return found


def port_source_files(root: Path, module: str) -> List[Path]:
    """The checkout's files a dump with user backend ``module`` executes, sorted.

    The backend's file (``root/a/b.py``, ``root/a/b/__init__.py`` or the same under
    ``root/src``), then the transitive closure of the modules it imports that resolve under
    ``root``: the ``wgan_parity`` package (:func:`dump_source_files`), venvs and installed
    packages excluded. Empty for a built-in backend or a module not in the checkout.
    """
    if is_builtin_backend(module):
        return []
    pending: List[Tuple[str, bool]] = [(module, True)]
    visited: Set[Tuple[Path, bool]] = set()
    while pending:
        name, backend = pending.pop()
        path = _find_module(root, name)
        if path is None or (path, backend) in visited:
            continue
        visited.add((path, backend))
        pending.extend(_port_imports(path, name, backend))
        parents = name.split(".")[:-1]  # importing a.b.c runs a/__init__.py and a/b/__init__.py
        pending.extend((".".join(parents[:k]), False) for k in range(1, len(parents) + 1))
    return sorted({path for path, _ in visited})


def port_source_hash(root: Path, module: str) -> Optional[str]:
    """sha256 over :func:`port_source_files` (path relative to ``root`` + bytes).

    None for a built-in backend (the package's source covers it). A user module not found in
    the checkout (installed elsewhere) gets a marker naming it instead of a hash: such a dump is
    reused until its env's lock or the package changes, and editing that module re-runs nothing.
    """
    if is_builtin_backend(module):
        return None
    files = port_source_files(root, module)
    if not files:
        return f"{module}: not in the checkout"
    return files_hash(files, root)
