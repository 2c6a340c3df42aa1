"""The stages of one env around its dump: its lock, its dump's cache key and cache hit, its
venv, and what the dump's exit means.

Used by the runner in order (:mod:`~.pipeline`) and ahead of it (:mod:`~.prefetch`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

from wgan_parity.core import isa
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import cachekey, locks
from wgan_parity.matrix.envtable import EnvSpec, EnvTable
from wgan_parity.matrix.venvs import Builder, StageFailed, free_gb

# The exit codes of a `wgan-parity dump` that may have written its dump with some cases failed.
DUMP_WRITTEN_CODES = (int(ExitCode.DIVERGED), int(ExitCode.ENV_PROBLEM))

# Free disk (GiB) kept on top of an env's size before it is installed: room for the env's dump
# (at most 1.9 GB, the reference with its kink probe) and the runner's logs. A larger reserve
# refuses runs that fit: a hosted CI runner has about 14 GB free in all (docs/ci.md).
DEFAULT_MIN_FREE_GB = 2.0


class NotEnoughDisk(StageFailed):
    """The free disk is below the reserve plus the env's size; nothing was installed."""


def ensure_lock(table: EnvTable, env: EnvSpec, builder: Builder, locked: bool) -> Path:
    """The env's current lock; re-locked when missing or stale unless ``locked``."""
    path = locks.lock_path(table, env)
    if locks.is_current(table, env):
        return path
    what = "missing" if not path.exists() else "stale (its env changed in matrix.toml)"
    if locked:
        fix = f"run `nox -s lock -- --env {env.id}`"
        raise StageFailed("install", f"lock {path.name} is {what} (--locked); {fix}")
    try:
        return locks.compile_lock(table, env, builder.uv, builder.environ)
    except locks.LockError as exc:
        raise StageFailed("install", str(exc).splitlines()[0], detail=str(exc)) from exc


def dump_key(env: EnvSpec, lock_file: Path, src_hash: str, port_hash: Optional[str] = None) -> str:
    """The cache key of ``env``'s dump; ``port_hash``: its user backend's
    (:func:`~.cachekey.port_source_hash`), None for a built-in backend."""
    fields = {
        "env_id": env.id,
        "backend": env.dump_backend,
        "dump_args": list(env.dump_args),
        "python": env.python,
        "lock_sha256": locks.digest(lock_file),
        "source_sha256": src_hash,
        # kernels are chosen by the ISA in effect (CPU, capped by ATEN_/ONEDNN_ variables)
        "isa": isa.kernel_isa(env.framework),
        "isa_caps": isa.caps_in_effect(env.framework),
    }
    if port_hash is not None:  # absent for a built-in backend: those keys stay as they were
        fields["port_sha256"] = port_hash
    return cachekey.make_key(fields)


@dataclass(frozen=True)
class DumpCode:
    """The code the dumps of a run execute, hashed once when the run begins: the package's dump
    source and each user backend's (port's) files in the checkout."""

    root: Path
    source: str
    ports: Mapping[str, Optional[str]]

    @classmethod
    def of(cls, root: Path, envs: Iterable[EnvSpec]) -> DumpCode:
        """Hash the dump code of ``envs`` in the project at ``root``."""
        backends = sorted({env.dump_backend for env in envs})
        ports = {name: cachekey.port_source_hash(root, name) for name in backends}
        return cls(root, cachekey.dump_source_hash(root / "src" / cachekey.PACKAGE), ports)

    def port(self, env: EnvSpec) -> Optional[str]:
        """The hash of ``env``'s user backend (None: built-in)."""
        if env.dump_backend in self.ports:
            return self.ports[env.dump_backend]
        return cachekey.port_source_hash(self.root, env.dump_backend)

    def key(self, env: EnvSpec, lock_file: Path) -> str:
        """The cache key of ``env``'s dump (:func:`dump_key`)."""
        return dump_key(env, lock_file, self.source, self.port(env))

    def changed(self, env: EnvSpec) -> bool:
        """Whether the code ``env``'s dump runs changed since the run began."""
        source = cachekey.dump_source_hash(self.root / "src" / cachekey.PACKAGE)
        port = cachekey.port_source_hash(self.root, env.dump_backend)
        return source != self.source or port != self.port(env)


def cache_hit(npz: Path, key_file: Path, key: str) -> Optional[bool]:
    """True: ``npz`` is the dump made under ``key``, untouched; False: it was made under ``key``
    but changed on disk since; None: no dump of ``key`` (missing, or another key)."""
    try:
        recorded = json.loads(key_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("key") != key or not npz.is_file():
        return None
    identity = cachekey.file_identity(npz)
    return identity is not None and recorded.get("file") == identity


def ensure_venv(
    env: EnvSpec, lock_file: Path, builder: Builder, min_free_gb: float, log: Path, progress: Any
) -> None:
    """(Re)build the env's venv when its lock changed, after checking free disk.

    ``progress`` has ``stage(text)`` and ``event(env_id, what, seconds)`` (a ``Progress``).
    """
    digest = locks.digest(lock_file)
    if builder.installed_digest(env) == digest:
        return
    folders = [builder.envs_dir] + ([builder.cache_dir()] if builder.uv else [])
    free = min(free_gb(f) for f in folders if f is not None)
    need = min_free_gb + env.disk_gb
    if free < need:
        raise NotEnoughDisk(
            "install",
            (
                f"not enough free disk to create env {env.id}: need {need:.1f} GiB "
                f"({min_free_gb:g} reserve + {env.disk_gb:.1f} for the env), "
                f"found {free:.1f} GiB; "
                "free space (`uv cache clean`, delete .wgan-parity/envs/*), run with "
                "--delete-venvs --prune-cache, or lower --min-free-gb"
            ),
        )
    progress.stage("installing")
    start = time.monotonic()
    builder.install(env, lock_file, digest, log)
    progress.event(env.id, "installed", time.monotonic() - start)


def run_dump(
    builder: Builder,
    env: EnvSpec,
    npz: Path,
    log: Path,
    timeout_s: Optional[float],
    report: Callable[[str], None],
) -> str:
    """Run the env's dump; a note ('' when clean). A dump written with some cases failed stands.

    ``wgan-parity dump`` exits 1 or 4 when some case failed and still writes the dump, and 4 when
    the backend could not load at all (no dump): the dump file tells the two apart, not the code.
    """
    before = npz.stat().st_mtime_ns if npz.is_file() else None  # an earlier run's dump
    try:
        return builder.dump(env, npz, log, timeout_s, report=report)
    except StageFailed as exc:
        written = npz.is_file() and npz.stat().st_mtime_ns != before
        if exc.code not in DUMP_WRITTEN_CODES or not written:
            raise  # the env could not import or run: no dump of this run
        if "failed cases" in exc.reason:
            return exc.reason
        return f"some cases failed (dump exit {exc.code}): {exc.reason}"
