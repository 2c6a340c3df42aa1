"""Per-environment lock files: ``locks/<env_id>.txt`` is the env's full resolution.

A lock is made by ``uv pip compile`` for one target (linux x86_64, the env's Python) from the
env's inputs: its pins and extra pins plus this package's own dependencies. Its header records
those inputs, so a lock whose env changed in ``matrix.toml`` is detected as stale.
"""

from __future__ import annotations

import json
import operator
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from wgan_parity.matrix.cachekey import file_hash
from wgan_parity.matrix.envtable import EnvSpec, EnvTable
from wgan_parity.matrix.venvs import last_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PLATFORM = "x86_64-manylinux_2_28"
LOCK_DIR = "locks"
_INPUTS = "# inputs: "


class LockError(RuntimeError):
    """A lock cannot be made or is missing/stale where it must not be."""


def lock_path(table: EnvTable, env: EnvSpec) -> Path:
    """``<root>/locks/<env_id>.txt``."""
    return table.root / LOCK_DIR / f"{env.id}.txt"


def project_requirements(root: Path, extras: tuple = ()) -> List[str]:
    """This package's runtime dependencies (plus those of ``extras``) from ``pyproject.toml``."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    optional: Mapping[str, List[str]] = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise LockError(
                f"extra {extra!r} is not in [project.optional-dependencies] of "
                f"{root / 'pyproject.toml'}; expected one of {sorted(optional)}"
            )
        reqs.extend(optional[extra])
    return reqs


_PY_MARKER = re.compile(r"""^\s*python_version\s*(<=|>=|==|!=|<|>)\s*['"]([\d.]+)['"]\s*$""")
_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def for_python(requirement: str, python: str) -> Optional[str]:
    """``requirement`` without a ``python_version`` marker if it holds for ``python``, else None.

    Only a single ``python_version OP 'X.Y'`` marker is evaluated; any other marker is kept as
    written (uv evaluates it). A lock's inputs thus read the same as before the marker existed.
    """
    spec, sep, marker = requirement.partition(";")
    match = _PY_MARKER.match(marker) if sep else None
    if not match:
        return requirement
    version = tuple(int(p) for p in python.split(".")[:2])
    wanted = tuple(int(p) for p in match.group(2).split(".")[:2])
    return spec.strip() if _COMPARE[match.group(1)](version, wanted) else None


def lock_inputs(table: EnvTable, env: EnvSpec) -> List[str]:
    """What the lock is compiled from: the env's pins and extra pins, then the package's deps."""
    reqs = (for_python(r, env.python) for r in project_requirements(table.root, env.extras))
    return [*env.requirements, *(r for r in reqs if r is not None)]


def header(env: EnvSpec, inputs: List[str]) -> str:
    """The lock file's header: target, inputs (one JSON line) and how to regenerate it."""
    return (
        f"# Lock of env {env.id!r}: full resolution for {PLATFORM}, Python {env.python}.\n"
        f"{_INPUTS}{json.dumps(inputs)}\n"
        f"# Regenerate: nox -s lock -- --env {env.id}\n"
    )


def recorded_inputs(path: Path) -> Optional[List[str]]:
    """The inputs recorded in a lock's header, or None when the file is missing or foreign."""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(_INPUTS):
                    return list(json.loads(line[len(_INPUTS) :]))
                if not line.startswith("#"):
                    break
    except (OSError, ValueError):
        return None
    return None


def is_current(table: EnvTable, env: EnvSpec) -> bool:
    """True when ``locks/<id>.txt`` exists and was made from the env's current inputs."""
    return recorded_inputs(lock_path(table, env)) == lock_inputs(table, env)


def digest(path: Path) -> str:
    """sha256 of a lock file's bytes."""
    return file_hash(path)


def packages(path: Path) -> Dict[str, str]:
    """``{name: version}`` pinned in a lock (``name==version`` lines only)."""
    pins: Dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip().split(";")[0].strip()
    return pins


def compile_lock(
    table: EnvTable, env: EnvSpec, uv: Optional[str], environ: Mapping[str, str]
) -> Path:
    """Resolve ``env`` with ``uv pip compile`` and write ``locks/<id>.txt`` atomically."""
    if not uv:
        raise LockError(
            f"cannot lock env {env.id!r}: uv not found. Install it (`python -m pip install uv`, "
            "or `nox[uv]`), or set WGAN_PARITY_UV=/path/to/uv"
        )
    inputs = lock_inputs(table, env)
    out = lock_path(table, env)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wgan-lock-") as tmp:
        req_in = Path(tmp) / f"{env.id}.in"
        req_in.write_text("\n".join(inputs) + "\n", encoding="utf-8")
        resolved = Path(tmp) / "lock.txt"
        cmd = [
            uv,
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--python-version",
            env.python,
            "--python-platform",
            PLATFORM,
            "-o",
            str(resolved),
            str(req_in),
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=dict(environ), check=False, errors="replace"
        )
        if done.returncode != 0:
            raise LockError(
                f"cannot lock env {env.id!r}: {last_line(done.stderr)}\n"
                f"inputs: {inputs}\n{done.stderr.strip()[-4000:]}"
            )
        body = resolved.read_text(encoding="utf-8")
    tmp_out = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp_out.write_text(header(env, inputs) + body, encoding="utf-8")
    os.replace(tmp_out, out)
    return out
