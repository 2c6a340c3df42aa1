"""The environment table (``matrix.toml``): load, validate and select environments.

Standard library only: the noxfile and tox import it before any environment exists.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from wgan_parity import frameworks
from wgan_parity.core import names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

TABLE_NAME = "matrix.toml"
TABLE_ENV_VAR = "WGAN_PARITY_MATRIX"
SCHEMA = 1
REPORT_ID = "_report"
_ID_RE = names.ID  # core.names: a dump's env id meets it too (plus "+" and "@" of default ids)
_ENV_KEYS = {
    "id",
    "framework",
    "pins",
    "extra",
    "python",
    "sets",
    "backend",
    "dump_args",
    "runs_on",
    "disk_gb",
}
# `wgan-parity dump` options the runner sets itself: an env's dump_args may not repeat them
RUNNER_DUMP_OPTIONS = ("--backend", "--out", "--env-id", "--quiet")


class TableError(ValueError):
    """``matrix.toml`` is missing or malformed; the message says where and what to do."""


@dataclass(frozen=True)
class EnvSpec:
    """One environment: a framework release (or the reference) in its own venv."""

    id: str
    framework: str
    pins: Tuple[str, ...] = ()
    extra: Tuple[str, ...] = ()
    python: str = "3.11"
    sets: Tuple[str, ...] = ()
    backend: str = ""
    dump_args: Tuple[str, ...] = ()  # more `wgan-parity dump` options, e.g. --device cuda --tf32
    runs_on: str = ""  # CI runner label for this env's dump job ("" = the run's default)
    disk_gb: float = 1.0
    extras: Tuple[str, ...] = ()  # the package's optional-dependency groups (report env only)

    @property
    def tags(self) -> Tuple[str, ...]:
        """Framework first, then the sets: what nox/tox/CI select on."""
        return (self.framework, *self.sets)

    @property
    def dump_backend(self) -> str:
        """The ``wgan-parity dump --backend`` value."""
        return self.backend or self.framework

    @property
    def import_module(self) -> str:
        """The module whose import proves the framework works (the 'import' stage)."""
        return frameworks.get(self.framework).import_module

    @property
    def requirements(self) -> Tuple[str, ...]:
        """The env's own requirements: pins, then extra pins."""
        return (*self.pins, *self.extra)


@dataclass(frozen=True)
class EnvTable:
    """The parsed table: environments in file order, set descriptions, the report env."""

    path: Path
    envs: Tuple[EnvSpec, ...]
    sets: Mapping[str, str] = field(default_factory=dict)
    report: Optional[EnvSpec] = None

    @property
    def root(self) -> Path:
        """The project root: the folder holding ``matrix.toml``."""
        return self.path.parent

    def get(self, env_id: str) -> EnvSpec:
        """Return the env named ``env_id`` (the report env is ``_report``)."""
        for env in self.all_envs():
            if env.id == env_id:
                return env
        known = ", ".join(e.id for e in self.envs)
        raise TableError(f"no env {env_id!r} in {self.path}; known: {known}")

    def all_envs(self) -> Tuple[EnvSpec, ...]:
        """The dump envs plus the report env."""
        return (*self.envs, self.report) if self.report else self.envs

    def in_set(self, name: str) -> Tuple[EnvSpec, ...]:
        """The envs of set ``name``, in table order."""
        if name not in self.sets:
            raise TableError(
                f"unknown set {name!r}; expected one of {sorted(self.sets)} ([sets] in {self.path})"
            )
        return tuple(e for e in self.envs if name in e.sets)

    def select(
        self,
        set_name: Optional[str] = None,
        tags: Sequence[str] = (),
        ids: Sequence[str] = (),
    ) -> Tuple[EnvSpec, ...]:
        """Envs by explicit ids, else by tags (any match), else by set (default: ``default``)."""
        if ids:
            return tuple(self.get(i) for i in ids)
        if tags:
            known = {t for e in self.envs for t in e.tags}
            unknown = sorted(set(tags) - known)
            if unknown:
                raise TableError(f"unknown tag(s) {unknown}; expected some of {sorted(known)}")
            return tuple(e for e in self.envs if set(tags) & set(e.tags))
        return self.in_set(set_name or "default")


def find_table(start: Optional[Path] = None) -> Path:
    """Locate ``matrix.toml``: ``$WGAN_PARITY_MATRIX``, else ``start`` (cwd) and its parents."""
    if os.environ.get(TABLE_ENV_VAR):
        return Path(os.environ[TABLE_ENV_VAR]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / TABLE_NAME).is_file():
            return folder / TABLE_NAME
    raise TableError(
        f"no {TABLE_NAME} in {here} or its parents; run from the project checkout "
        f"or set {TABLE_ENV_VAR}=/path/to/{TABLE_NAME}"
    )


def load_table(path: Optional[Path] = None) -> EnvTable:
    """Read and validate ``matrix.toml`` (found with :func:`find_table` when ``path`` is None)."""
    path = Path(path).resolve() if path else find_table()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TableError(f"{path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TableError(f"{path} is not valid TOML: {exc}") from exc
    return parse_table(data, path)


def parse_table(data: Mapping[str, Any], path: Path) -> EnvTable:
    """Validate the decoded TOML ``data``; raise :class:`TableError` naming the bad entry."""
    if data.get("schema") != SCHEMA:
        raise TableError(f"{path}: expected `schema = {SCHEMA}`, found {data.get('schema')!r}")
    python = str(_table(data, "defaults", path).get("python", "3.11"))
    disk = {str(k): float(v) for k, v in _table(data, "disk_gb", path).items()}
    sets = {str(k): str(v) for k, v in _table(data, "sets", path).items()}
    rows = _table(data, "matrix", path).get("env")
    if not isinstance(rows, list) or not rows:
        raise TableError(f"{path}: expected a non-empty `env = [...]` list under [matrix]")
    envs = tuple(_parse_env(row, n, python, disk, path) for n, row in enumerate(rows, 1))
    _check_unique(envs, path)
    for env in envs:
        missing = [s for s in env.sets if s not in sets]
        if missing:
            raise TableError(
                f"{path}: env {env.id!r} names undeclared set(s) {missing}; "
                f"declare them under [sets] (known: {sorted(sets)})"
            )
    empty = [name for name in sets if not any(name in e.sets for e in envs)]
    if empty:
        raise TableError(f"{path}: set(s) {empty} have no env; remove them or tag an env")
    report = _parse_report(_table(data, "report", path), python, path)
    return EnvTable(path=path, envs=envs, sets=sets, report=report)


def _table(data: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise TableError(f"{path}: expected [{key}] to be a table, found {type(value).__name__}")
    return value


def _strings(row: Mapping[str, Any], key: str, where: str) -> Tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TableError(f"{where}: expected `{key}` to be a list of strings, found {value!r}")
    control = [v for v in value if any(ord(c) < 32 or ord(c) == 127 for c in v)]
    if control:
        raise TableError(
            f"{where}: `{key}` holds control characters (a newline would inject lines into the "
            f"requirements uv reads): {control!r}; write one requirement per list item"
        )
    return tuple(v.strip() for v in value)


def _parse_env(row: Any, n: int, python: str, disk: Mapping[str, float], path: Path) -> EnvSpec:
    where = f"{path}: env #{n}"
    if not isinstance(row, dict):
        raise TableError(f"{where}: expected an inline table {{id = ..., ...}}, found {row!r}")
    unknown = sorted(set(row) - _ENV_KEYS)
    if unknown:
        raise TableError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_ENV_KEYS)}")
    env_id = row.get("id")
    if not isinstance(env_id, str) or not _ID_RE.fullmatch(env_id):  # "$" would pass a newline
        raise TableError(
            f"{where}: expected `id` of letters, digits, '.', '_' or '-' (e.g. 'torch-2.4.1'), "
            f"found {env_id!r}"
        )
    where = f"{path}: env {env_id!r}"
    found = row.get("framework")
    known = frameworks.find(found) if isinstance(found, str) else None
    if known is None:
        raise TableError(
            f"{where}: expected framework in {frameworks.names()}, found {found!r} "
            "(a new framework is declared in wgan_parity/frameworks.py)"
        )
    framework = known.name
    pins = _strings(row, "pins", where)
    if known.needs_pins and not pins:
        raise TableError(
            f"{where}: a {framework} env needs `pins` naming one of {list(known.distributions)}, "
            f'e.g. ["{known.distributions[0]}==1.2.3"]'
        )
    sets = _strings(row, "sets", where)
    dump_args = _strings(row, "dump_args", where)
    owned = [a for a in dump_args if a.split("=", 1)[0] in RUNNER_DUMP_OPTIONS]
    if owned:
        raise TableError(
            f"{where}: `dump_args` may not set {owned}: the runner sets {RUNNER_DUMP_OPTIONS} "
            "itself (use `backend` for the backend); keep options such as --device cuda, --tf32"
        )
    runs_on = row.get("runs_on", "")
    if not isinstance(runs_on, str):
        raise TableError(f'{where}: expected `runs_on` as a runner label string, e.g. "gpu"')
    _check_release_pinned(known, pins, where)
    return EnvSpec(
        id=env_id,
        framework=framework,
        pins=pins,
        extra=_strings(row, "extra", where),
        python=str(row.get("python", python)),
        sets=sets,
        backend=str(row.get("backend", "")),
        dump_args=dump_args,
        runs_on=runs_on,
        disk_gb=float(row.get("disk_gb", disk.get(framework, 1.0))),
    )


def _check_release_pinned(framework: frameworks.Framework, pins: Sequence[str], where: str) -> None:
    """A framework's env pins one of its distributions (the release under test)."""
    if not framework.needs_pins:
        return
    named = {
        re.split(r"[<>=!~\[;@ ]", pin, maxsplit=1)[0].lower().replace("_", "-") for pin in pins
    }
    if not named & set(framework.distributions):
        raise TableError(
            f"{where}: expected `pins` to name one of {list(framework.distributions)} (the "
            f"{framework.name} release under test), found {list(pins)}"
        )


def _parse_report(row: Mapping[str, Any], python: str, path: Path) -> Optional[EnvSpec]:
    if not row:
        return None
    where = f"{path}: [report]"
    return EnvSpec(
        id=REPORT_ID,
        framework=frameworks.truth().name,
        pins=_strings(row, "pins", where),
        python=str(row.get("python", python)),
        extras=_strings(row, "extras", where),
        disk_gb=0.5,
    )


def _check_unique(envs: Iterable[EnvSpec], path: Path) -> None:
    seen: Dict[str, int] = {}
    for env in envs:
        seen[env.id] = seen.get(env.id, 0) + 1
    dupes: List[str] = [k for k, v in seen.items() if v > 1]
    if dupes:
        raise TableError(f"{path}: duplicate env id(s) {dupes}; each id must be unique")
