"""Which framework releases the configured index offers that ``matrix.toml`` does not run yet.

The index is asked through ``pip index versions`` for each pinned package and each Python of the
table, so pip's own configuration applies (``index-url``, ``extra-index-url``, ``find-links``,
``no-index``, from its config files or ``PIP_*`` variables), exactly as an install would see it.
Per framework, against its releases on every Python of the table (so an env pinned at a boundary
on purpose, such as torch 1.13.1 on Python 3.10, does not make 2.x "new"): a newer patch of a
minor the table runs, or a minor (or major) newer than the table's newest release.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wgan_parity import frameworks
from wgan_parity.matrix.envtable import EnvSpec

Version = Tuple[int, ...]
Lister = Callable[[str, str], Optional[List[str]]]
_RELEASE = re.compile(r"^\d+(\.\d+)*$")  # final releases only: no rc, dev, post, local


@dataclass(frozen=True)
class Newer:
    """A release the table lacks: ``kind`` is ``patch`` (of a minor it runs) or ``minor``."""

    framework: str
    python: str
    package: str
    version: str
    kind: str
    table: str  # the table's nearest release (same minor for a patch, its newest for a minor)


def parse(version: str) -> Optional[Version]:
    """``"2.15.1"`` -> ``(2, 15, 1)``; None for pre-releases and local versions."""
    return tuple(int(p) for p in version.split(".")) if _RELEASE.match(version) else None


def pip_command(python: str, environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """How to run pip: this Python's own (``python -m pip``), else a ``pip`` on PATH (uv venvs
    ship none); the index settings come from pip's configuration either way."""
    if python != sys.executable or importlib.util.find_spec("pip") is not None:
        return [python, "-m", "pip"]
    path = (environ or os.environ).get("PATH")
    found = shutil.which("pip3", path=path) or shutil.which("pip", path=path)
    if found is None:
        raise RuntimeError(
            "wgan-parity matrix --outdated asks `pip index versions`, but this Python has no pip "
            "and none is on PATH: run `python -m ensurepip` or install pip, then retry"
        )
    return [found]


def pip_lister(environ: Optional[Mapping[str, str]] = None, python: str = sys.executable) -> Lister:
    """Ask ``pip index versions`` (binary wheels for that Python); None when nothing is offered."""

    def versions(package: str, python_version: str) -> Optional[List[str]]:
        cmd = [*pip_command(python, environ), "index", "versions", package]
        cmd += ["--python-version", python_version, "--only-binary", ":all:"]
        cmd += ["--disable-pip-version-check"]
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=None if environ is None else dict(environ)
        )
        match = re.search(r"^Available versions:\s*(.*)$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or not match:
            if "No matching distribution" in done.stderr or "No matching distribution" in (
                done.stdout
            ):
                return None
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}; check pip's index "
                "configuration (pip config list)"
            )
        return [v.strip() for v in match.group(1).split(",") if v.strip()]

    return versions


def _pinned(env: EnvSpec) -> Optional[Tuple[str, Version]]:
    for pin in env.pins:
        name, sep, version = pin.partition("==")
        parsed = parse(version.strip()) if sep else None
        if parsed:
            return name.strip().lower(), parsed
    return None


def _fmt(version: Version) -> str:
    return ".".join(map(str, version))


def find_newer(envs: Sequence[EnvSpec], versions: Lister) -> List[Newer]:
    """Releases newer than the table, per (framework, Python), patch and minor."""
    groups: Dict[Tuple[str, str], Dict[str, List[Version]]] = {}
    for env in envs:
        pinned = _pinned(env)
        if pinned and env.framework != frameworks.truth().name:
            package, version = pinned
            groups.setdefault((env.framework, env.python), {}).setdefault(package, []).append(
                version
            )
    by_framework: Dict[str, List[Version]] = {}
    for (framework, _), packages in groups.items():
        by_framework.setdefault(framework, []).extend(v for vs in packages.values() for v in vs)
    found: List[Newer] = []
    for (framework, python), packages in sorted(groups.items()):
        table = sorted(set(by_framework[framework]))
        newest_minor = max(v[:2] for v in table)
        per_minor = {v[:2]: v for v in table}  # sorted: the newest patch of each minor wins
        offered: Dict[Version, str] = {}
        for package in sorted(packages):
            for text in versions(package, python) or []:
                parsed = parse(text)
                if parsed and parsed not in offered:
                    offered[parsed] = package
        best: Dict[Tuple[int, ...], Version] = {}
        for version in offered:
            if version[:2] not in best or version > best[version[:2]]:
                best[version[:2]] = version
        for minor, version in sorted(best.items()):
            if minor in per_minor and version > per_minor[minor]:
                kind, nearest = "patch", per_minor[minor]
            elif minor > newest_minor:
                kind, nearest = "minor", table[-1]
            else:
                continue
            found.append(
                Newer(framework, python, offered[version], _fmt(version), kind, _fmt(nearest))
            )
    return found


def markdown(found: Sequence[Newer]) -> str:
    """A Markdown table (what the weekly workflow writes to its job summary)."""
    if not found:
        return "The table is up to date: the index offers no newer framework release.\n"
    lines = [
        "| framework | Python | package | newer release | kind | table has |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n.framework} | {n.python} | {n.package} | {n.version} | {n.kind} | {n.table} |"
        for n in found
    ]
    return "\n".join(lines) + "\n\nAdd a line per release to matrix.toml, then `nox -s lock`.\n"
