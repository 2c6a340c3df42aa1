"""The matrix runner shared by nox and tox: lock, install, import, dump, cache, record.

For each env: make sure its lock is current, reuse its dump when the cache key is unchanged,
else check free disk, (re)build the venv when its lock changed, import the framework, run
``wgan-parity dump``. The locks and installs of the next envs run on a background thread while
one env dumps (:mod:`~.prefetch`); the dumps run one at a time.

An env that fails leaves ``<dump_dir>/<env_id>.status.json`` (read by the
aggregator into envs.csv) and no dump; a failure in one env never stops the others. A dump
that was written stands even when some of its cases failed (the aggregator reports those): what
tells "the env could not run" from "some cases failed" is whether the dump file exists.

Exit codes: :data:`wgan_parity.exitcodes.MEANINGS`; :func:`exit_code` combines the envs'
failures (bit 4) with the aggregator's code.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from wgan_parity import atomic
from wgan_parity.core import hostinfo
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import cachekey, locks, pipbridge
from wgan_parity.matrix.envtable import EnvSpec, EnvTable
from wgan_parity.matrix.install import (
    DEFAULT_MIN_FREE_GB,
    DumpCode,
    NotEnoughDisk,
    cache_hit,
    ensure_lock,
    ensure_venv,
    run_dump,
)
from wgan_parity.matrix.prefetch import Background, Installer, Prepare
from wgan_parity.matrix.progress import Progress
from wgan_parity.matrix.venvs import Builder, StageFailed, find_uv

Outcome = Tuple[bool, Optional[BaseException]]  # (an install began ahead, its failure)

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_ENV_FAILED = (
    ExitCode.OK,
    ExitCode.DIVERGED,
    ExitCode.USAGE,
    ExitCode.ENV_PROBLEM,
)


@dataclass
class RunOptions:
    """How to run a selection of envs."""

    dump_dir: Path
    envs_dir: Path
    use_cache: bool = True
    locked: bool = False
    delete_venvs: bool = False
    prune_cache: bool = False
    min_free_gb: float = DEFAULT_MIN_FREE_GB
    timeout_s: Optional[float] = None
    install_ahead: int = 1  # envs installed while one dumps (0: one stage at a time)


@dataclass
class EnvResult:
    """What happened to one env; also the content of ``<env_id>.status.json``."""

    env_id: str
    status: str  # ok | cached | failed
    stage: str  # install | import | dump
    reason: str
    duration_s: float


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    atomic.write_json(path, data)


def read_json(path: Path) -> Optional[dict]:
    """Parsed JSON, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_ignored(folder: Path) -> None:
    """Create ``folder`` with a ``.gitignore`` of ``*`` so git never sees its content."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / ".gitignore"
    if not marker.exists():
        marker.write_text("# created by wgan-parity: machine-local outputs\n*\n", encoding="utf-8")


def make_builder(table: EnvTable, opts: RunOptions) -> Builder:
    """A builder using uv when found, with the user's pip config bridged into uv."""
    bridged = pipbridge.uv_environ(os.environ)
    environ = {**os.environ, **bridged}
    return Builder(
        project_root=table.root,
        envs_dir=opts.envs_dir,
        uv=find_uv(environ),
        environ=environ,
        bridged=bridged,
    )


@dataclass(frozen=True)
class EnvRun:
    """What every env of one run shares.

    ``code``: the dump code hashed when the run began (the key's source and port hashes).
    """

    table: EnvTable
    opts: RunOptions
    builder: Builder
    progress: Progress
    code: DumpCode


def run_env(
    run: EnvRun,
    env: EnvSpec,
    keep: Set[Tuple[str, str]],
    ahead: Optional[Callable[[], Outcome]] = None,
) -> EnvResult:
    """Run one env to a status; never raises for a failure of the env itself.

    ``keep``: the (name, version) pins that later envs need, spared by ``--prune-cache``.
    ``ahead``: waits for the background install of this env (:class:`~.prefetch.Installer`).
    """
    table, opts, builder, progress, code = run.table, run.opts, run.builder, run.progress, run.code
    start = time.monotonic()
    progress.start(env.id)
    npz, key_file = opts.dump_dir / f"{env.id}.npz", opts.dump_dir / f"{env.id}.key.json"
    log = opts.dump_dir / f"{env.id}.log"
    lock_file, ran = None, False
    try:
        if ahead is not None:
            progress.stage("installing")
        began, failure = ahead() if ahead is not None else (False, None)
        if failure is not None:
            ran = began  # a venv half-built ahead is deleted with --delete-venvs
            raise failure
        lock_file = ensure_lock(table, env, builder, opts.locked)
        key = code.key(env, lock_file)
        hit = cache_hit(npz, key_file, key) if opts.use_cache else None
        if hit:
            progress.event(env.id, "cached", final=True)
            result = EnvResult(env.id, "cached", "dump", f"key {key[:12]} unchanged", 0.0)
            return _finish(opts, result, env.framework)
        if hit is False:
            changed = f"{npz.name} changed since it was written (size, mtime or members)"
            progress.event(env.id, f"{changed}: re-dumping")
        ran = True
        if not began:  # else the install ahead wrote the log's head and its own output
            _start_log(log, env, builder)
        # an older dump must not stand for this one, nor a killed dump's temporary fill the disk
        for stale in (npz, key_file, *opts.dump_dir.glob(f"{glob.escape(npz.name)}.tmp-*")):
            stale.unlink(missing_ok=True)
        ensure_venv(env, lock_file, builder, opts.min_free_gb, log, progress)  # done if ahead
        progress.stage("importing")
        version = builder.probe(env, log)
        progress.stage(f"dumping ({env.import_module} {version})")
        dump_start = time.monotonic()

        def case_done(line: str) -> None:  # one permanent line per finished case
            progress.line(f"{env.id}: {line}")

        note = run_dump(builder, env, npz, log, opts.timeout_s, case_done)
        if not npz.is_file():
            raise StageFailed("dump", f"wgan-parity dump finished but wrote no {npz.name}")
        if code.changed(env):
            # the env runs the checkout (editable install, the port from the project root): an
            # edit since the run began may or may not be in this dump, so it gets no key and the
            # next run redoes it
            note = "dump code changed during the run: not cached, the next run redoes it"
        else:
            write_json(
                key_file,
                {
                    "key": key,
                    "env_id": env.id,
                    "framework_version": version,
                    "lock_sha256": locks.digest(lock_file),
                    "source_sha256": code.source,
                    "port_sha256": code.port(env),
                    "file": cachekey.file_identity(npz),
                },
            )
        progress.event(env.id, "dumped", time.monotonic() - dump_start, final=True)
        result = EnvResult(env.id, "ok", "dump", note, round(time.monotonic() - start, 2))
    except StageFailed as exc:
        for stale in (npz, key_file):  # never leave an older dump to stand for this env
            stale.unlink(missing_ok=True)
        if exc.detail:
            with log.open("a" if ran else "w", encoding="utf-8") as fh:
                fh.write(f"[{exc.stage}] {exc.detail}\n")
        took = round(time.monotonic() - start, 2)
        result = EnvResult(env.id, "failed", exc.stage, exc.reason, took)
        progress.event(
            env.id, f"failed ({exc.stage}: {exc.reason}); log: {log}", result.duration_s, final=True
        )
    finally:
        if ran and opts.delete_venvs:
            builder.remove(env)
        if ran and opts.prune_cache and lock_file is not None and lock_file.exists():
            pins = locks.packages(lock_file).items()
            builder.prune_cache(sorted(name for name, v in pins if (name, v) not in keep), log)
    return _finish(opts, result, env.framework)


def _finish(opts: RunOptions, result: EnvResult, framework: str) -> EnvResult:
    """Record a failure in ``<env_id>.status.json`` (read by the aggregator); clear it otherwise."""
    path = opts.dump_dir / f"{result.env_id}.status.json"
    if result.status == "failed":  # with the machine, so merged records from many stay apart
        write_json(path, {**asdict(result), "platform": hostinfo.platform_info([], framework)})
    else:
        path.unlink(missing_ok=True)
    return result


def run_envs(
    table: EnvTable,
    envs: Sequence[EnvSpec],
    opts: RunOptions,
    builder: Optional[Builder] = None,
    progress: Optional[Progress] = None,
) -> List[EnvResult]:
    """Run ``envs`` one after the other; every env gets a status whatever the others do."""
    ensure_ignored(opts.dump_dir)
    ensure_ignored(opts.envs_dir.parent)
    builder = builder or make_builder(table, opts)
    progress = progress or Progress(len(envs))
    run = EnvRun(table, opts, builder, progress, DumpCode.of(table.root, envs))
    results: List[EnvResult] = []
    prepare = _prepare_ahead(run)
    installer = Installer(envs, prepare, opts.install_ahead) if opts.install_ahead > 0 else None
    try:
        with installer or contextlib.nullcontext():
            for n, env in enumerate(envs):
                later = _still_needed(table, envs[n + 1 :])
                wait = functools.partial(installer.wait, n) if installer else None
                try:
                    result = run_env(run, env, later, wait)
                    results.append(result)
                finally:
                    if installer:
                        installer.finished(n)
    finally:
        progress.close()
    return results


def _start_log(log: Path, env: EnvSpec, builder: Builder) -> None:
    log.write_text(f"# {env.id}: {pipbridge.describe(builder.bridged)}\n", encoding="utf-8")


def _prepare_ahead(run: EnvRun) -> Prepare:
    """Lock env ``index`` and, unless its dump is cached, build its venv (on the install thread).

    With ``--delete-venvs``, a disk check that fails waits for the env before to be finished
    (its venv deleted) and checks once more: the overlap never fails an env that a run of one
    stage at a time would have installed.
    """
    table, opts, builder, progress, code = run.table, run.opts, run.builder, run.progress, run.code

    def prepare(index: int, env: EnvSpec, wait_previous: Callable[[], None]) -> Outcome:
        began = False
        try:
            lock_file = ensure_lock(table, env, builder, opts.locked)
            npz, key_file = opts.dump_dir / f"{env.id}.npz", opts.dump_dir / f"{env.id}.key.json"
            if opts.use_cache and cache_hit(npz, key_file, code.key(env, lock_file)):
                return False, None
            if builder.installed_digest(env) == locks.digest(lock_file):
                return False, None
            log, began = opts.dump_dir / f"{env.id}.log", True
            _start_log(log, env, builder)
            shown = Background(progress.line, index + 1)
            try:
                ensure_venv(env, lock_file, builder, opts.min_free_gb, log, shown)
            except NotEnoughDisk:
                if not opts.delete_venvs or index == 0:
                    raise
                wait_previous()
                ensure_venv(env, lock_file, builder, opts.min_free_gb, log, shown)
            return True, None
        except StageFailed as exc:
            return began, exc

    return prepare


def _still_needed(table: EnvTable, later: Sequence[EnvSpec]) -> Set[Tuple[str, str]]:
    """(name, version) pins of the later envs and the report env: kept in uv's cache by pruning.

    ``uv cache clean NAME`` drops every version of NAME, so a package is pruned only when no
    later env pins the same version (a later env that pins another version downloads anyway).
    """
    pins: Set[Tuple[str, str]] = set()
    for env in [*later, *([table.report] if table.report else [])]:
        path = locks.lock_path(table, env)
        if path.exists():
            pins.update(locks.packages(path).items())
    return pins


def exit_code(results: Sequence[EnvResult], aggregate_rc: int = 0) -> int:
    """Combine env failures (bit 4) with the aggregator's code (0, 1, 4 or 5)."""
    failed = EXIT_ENV_FAILED if any(r.status == "failed" for r in results) else 0
    if aggregate_rc not in (0, 1, 4, 5):
        return aggregate_rc
    return aggregate_rc | failed


def summary(results: Sequence[EnvResult]) -> Dict[str, int]:
    """Counts per status."""
    counts: Dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
