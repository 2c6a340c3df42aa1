"""The install stage of one env: its lock, its dump's cache key and cache hit, its venv.

Used by the runner in order (:mod:`~.pipeline`) and ahead of it (:mod:`~.prefetch`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

from wgan_parity.core import isa
from wgan_parity.matrix import cachekey, locks
from wgan_parity.matrix.envtable import EnvSpec, EnvTable
from wgan_parity.matrix.venvs import Builder, StageFailed, free_gb


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


def dump_key(env: EnvSpec, lock_file: Path, src_hash: str) -> str:
    """The cache key of ``env``'s dump."""
    return cachekey.make_key(
        {
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
    )


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
                f"({min_free_gb:.0f} reserve + {env.disk_gb:.1f} for the env), "
                f"found {free:.1f} GiB; "
                "free space (`uv cache clean`, delete .wgan-parity/envs/*), run with "
                "--delete-venvs --prune-cache, or lower --min-free-gb"
            ),
        )
    progress.stage("installing")
    start = time.monotonic()
    builder.install(env, lock_file, digest, log)
    progress.event(env.id, "installed", time.monotonic() - start)
