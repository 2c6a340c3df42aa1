"""The matrix runner behind ``wgan-parity run`` and ``wgan-parity lock`` (what nox and tox call).

``run`` dumps a selection of matrix.toml's envs, each in its own venv, then aggregates them
(``--dump-only``: the dumps only); ``lock`` re-resolves ``locks/<id>.txt``. The dumps of every
env live in one folder (``dumps/<id>.npz`` + ``.key.json``/``.status.json``/``.log``); a run
links the selected envs' files into ``dumps/sets/<selection>/`` and aggregates exactly that
folder. Exit codes: :data:`wgan_parity.exitcodes.MEANINGS` (8 when the aggregator crashed).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import cachekey, locks, pipeline
from wgan_parity.matrix.envtable import EnvSpec, EnvTable, TableError
from wgan_parity.matrix.pipeline import EnvResult, RunOptions
from wgan_parity.matrix.progress import Progress
from wgan_parity.matrix.venvs import Builder, StageFailed

AGG_RECORD = ".aggregate.json"
EXIT_AGGREGATE_CRASHED = int(ExitCode.INTERNAL)
# Runs `wgan-parity aggregate`, mapping an uncaught exception to exit 8: Python's own exit code
# for a crash is 1, which would read as "diverged".
_AGGREGATE = (
    "import sys, traceback\n"
    "from wgan_parity.cli import main\n"
    "try:\n    code = main(['aggregate', *sys.argv[1:]])\n"
    "except SystemExit:\n    raise\n"
    "except BaseException:\n    traceback.print_exc()\n"
    f"    code = {EXIT_AGGREGATE_CRASHED}\n"
    "sys.exit(code)\n"
)


@dataclass(frozen=True)
class Selection:
    """Which envs of the table to run: a named set, tags, env ids, and a cap on their kernels."""

    set_name: Optional[str] = None
    tags: Tuple[str, ...] = ()
    env_ids: Tuple[str, ...] = ()
    max_isa: Optional[str] = None

    @property
    def picked(self) -> bool:
        """Whether anything narrows the table (else ``lock`` locks every env)."""
        return bool(self.set_name or self.tags or self.env_ids)

    def name(self) -> str:
        """A folder-safe name for the selection (``dumps/sets/<name>/``)."""
        if self.env_ids:
            ids = self.env_ids
            return "envs-" + "+".join(ids) if len(ids) <= 3 else "envs-custom"
        if self.tags:
            return "tags-" + "+".join(sorted(self.tags))
        return self.set_name or "default"

    def envs(self, table: EnvTable) -> Tuple[EnvSpec, ...]:
        """The chosen envs, each capped at :attr:`max_isa` when set."""
        envs = table.select(self.set_name, list(self.tags), list(self.env_ids))
        if self.max_isa:
            envs = tuple(capped(env, self.max_isa) for env in envs)
        return envs


@dataclass(frozen=True)
class AggregateOptions:
    """How ``run`` aggregates the selection's dumps: where, against which baseline, and the
    extra arguments of ``wgan-parity aggregate``."""

    out: Path
    baseline: Optional[Path] = None
    extra: Tuple[str, ...] = ()


def capped(env: EnvSpec, max_isa: str) -> EnvSpec:
    """``env`` dumping with its CPU kernels capped at ``max_isa``, unless its row caps them."""
    if any(a.split("=", 1)[0] == "--max-isa" for a in env.dump_args):
        return env
    return dataclasses.replace(env, dump_args=(*env.dump_args, "--max-isa", max_isa))


def link_set(dump_dir: Path, name: str, results: Sequence[EnvResult]) -> Path:
    """``dumps/sets/<name>/``: exactly the selected envs' dumps and status files (hard links)."""
    folder = dump_dir / "sets" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for result in results:
        for suffix in (".npz", ".status.json"):
            src = dump_dir / f"{result.env_id}{suffix}"
            if src.is_file():
                try:
                    os.link(src, folder / src.name)
                except OSError:
                    shutil.copy2(src, folder / src.name)
    return folder


def ensure_report_env(table: EnvTable, opts: RunOptions, builder: Builder) -> Path:
    """The aggregator's env (``[report]`` in matrix.toml): locked and installed; its python."""
    if table.report is None:
        raise TableError(f'{table.path}: no [report] table; expected e.g. extras = ["report"]')
    env = table.report
    log = opts.dump_dir / f"{env.id}.log"
    lock_file = pipeline.ensure_lock(table, env, builder, opts.locked)
    pipeline.ensure_venv(env, lock_file, builder, opts.min_free_gb, log, Progress(0, bar=False))
    return builder.python(env)


def aggregate(
    table: EnvTable,
    opts: RunOptions,
    set_dir: Path,
    out: Path,
    python: Path,
    extra: Sequence[str],
    results: Sequence[EnvResult],
) -> int:
    """Run ``wgan-parity aggregate``; reuse ``out`` when none of its inputs changed."""
    keys = {  # what each input *is* now (its bytes' identity), not the key it was made under
        r.env_id: cachekey.file_identity(opts.dump_dir / f"{r.env_id}.npz") or r.status
        for r in results
    }
    key = cachekey.make_key(
        {
            "dumps": keys,
            "args": list(extra),
            "out": str(out),
            "source_sha256": cachekey.source_hash(table.root / "src" / "wgan_parity"),
            "config": {f.name: cachekey.file_hash(f) for f in sorted(table.root.glob("*.toml"))},
            "baseline": [cachekey.dir_hash(Path(a)) for a in extra if Path(a).is_dir()],
        }
    )
    record = pipeline.read_json(out / AGG_RECORD) or {}
    if record.get("key") == key and all((out / f).is_file() for f in record.get("files", [])):
        sys.stdout.write(record.get("stdout", ""))
        print(f"aggregate: inputs unchanged, reused {out}/ (exit {record['rc']})", file=sys.stderr)
        return int(record["rc"])
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    args = [str(set_dir), "--out", str(out), *extra]
    print(f"aggregate: wgan-parity aggregate {' '.join(args)}", file=sys.stderr, flush=True)
    cmd = [str(python), "-c", _AGGREGATE, *args]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
        cwd=table.root,
        errors="replace",
    )
    sys.stdout.write(done.stdout)
    if done.returncode == EXIT_AGGREGATE_CRASHED:
        print(
            f"aggregate: crashed (exit {EXIT_AGGREGATE_CRASHED}); see the traceback above",
            file=sys.stderr,
        )
    files = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name != AGG_RECORD and p.stat().st_mtime >= started - 1
    )
    if done.returncode in (0, 1, 4, 5):
        pipeline.write_json(
            out / AGG_RECORD,
            {"key": key, "rc": done.returncode, "files": files, "stdout": done.stdout[-20000:]},
        )
    return done.returncode


def run_selection(
    table: EnvTable,
    chosen: Selection,
    opts: RunOptions,
    then: Optional[AggregateOptions] = None,
    plain: bool = False,
) -> int:
    """Dump the chosen envs, then aggregate them unless ``then`` is None; the exit code."""
    name, envs = chosen.name(), chosen.envs(table)
    builder = pipeline.make_builder(table, opts)
    print(
        f"wgan-parity: {len(envs)} env(s) of selection {name!r}; dumps in {opts.dump_dir}/",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    progress = Progress(len(envs), bar=False if plain else None)
    results = pipeline.run_envs(table, envs, opts, builder, progress)
    rc = 0
    if then is not None:
        set_dir = link_set(opts.dump_dir, name, results)
        try:
            python = ensure_report_env(table, opts, builder)
        except StageFailed as exc:
            print(f"aggregate: cannot prepare the report env: {exc}", file=sys.stderr)
            return pipeline.EXIT_ENV_FAILED
        baseline = ["--baseline", str(then.baseline.resolve())] if then.baseline else []
        extra = [*baseline, *then.extra]
        rc = aggregate(table, opts, set_dir, table.root / then.out, python, extra, results)
    code = pipeline.exit_code(results, rc)
    lowest = builder.min_free_gb
    pipeline.write_json(
        opts.dump_dir / "sets" / f"{name}.run.json",
        {
            "selection": name,
            "exit_code": code,
            "wall_s": round(time.monotonic() - started, 2),
            "min_free_gb": None if lowest == float("inf") else round(lowest, 2),
            "envs": [asdict(r) for r in results],
        },
    )
    counts = ", ".join(f"{n} {s}" for s, n in pipeline.summary(results).items())
    print(
        f"wgan-parity: {counts}; {time.monotonic() - started:.2f} s; exit {code}", file=sys.stderr
    )
    return code


def lock_envs(table: EnvTable, chosen: Selection, opts: RunOptions) -> int:
    """Re-resolve the chosen envs' locks (every env and the report env when none is picked)."""
    envs: List[EnvSpec] = list(chosen.envs(table) if chosen.picked else table.all_envs())
    builder = pipeline.make_builder(table, opts)
    failed = 0
    for env in envs:
        try:
            path = locks.compile_lock(table, env, builder.uv, builder.environ)
            print(
                f"locked {env.id}: {path.relative_to(table.root)} "
                f"({len(locks.packages(path))} packages)",
                file=sys.stderr,
            )
        except locks.LockError as exc:
            failed += 1
            print(f"lock failed for {env.id}: {exc}", file=sys.stderr)
    return pipeline.EXIT_ENV_FAILED if failed else 0
