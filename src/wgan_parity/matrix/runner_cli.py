"""``python -m wgan_parity.matrixrun``: the command line that nox and tox both call.

Subcommands: ``compare`` (dumps of a selection, then ``wgan-parity aggregate``), ``dump`` (the
dumps only), ``lock`` (re-resolve ``locks/<id>.txt``). The dumps of every env live in one
folder (``dumps/<id>.npz`` + ``.key.json``/``.status.json``/``.log``); a compare links the
selected envs' files into ``dumps/sets/<selection>/`` and aggregates exactly that folder.
Exit codes: see :mod:`wgan_parity.matrix.pipeline`; 3 = the aggregator itself crashed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from wgan_parity.core import isa
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix import cachekey, locks, pipeline
from wgan_parity.matrix.envtable import EnvSpec, EnvTable, TableError, load_table
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


def selection(table: EnvTable, args: argparse.Namespace) -> Tuple[str, Tuple[EnvSpec, ...]]:
    """The chosen envs and a folder-safe name for the selection."""
    tags = [t for group in args.tags for t in group.split(",") if t]
    envs = table.select(args.set, tags, args.env)
    if args.max_isa:
        envs = tuple(capped(env, args.max_isa) for env in envs)
    if args.env:
        name = "envs-" + "+".join(args.env) if len(args.env) <= 3 else "envs-custom"
    elif tags:
        name = "tags-" + "+".join(sorted(tags))
    else:
        name = args.set or "default"
    return name, envs


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


def cmd_run(table: EnvTable, args: argparse.Namespace, with_aggregate: bool) -> int:
    """``dump`` and ``compare``."""
    name, envs = selection(table, args)
    opts = run_options(table, args)
    builder = pipeline.make_builder(table, opts)
    print(
        f"wgan-parity: {len(envs)} env(s) of selection {name!r}; dumps in {opts.dump_dir}/",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    progress = Progress(len(envs), bar=False if args.plain else None)
    results = pipeline.run_envs(table, envs, opts, builder, progress)
    rc = 0
    if with_aggregate:
        set_dir = link_set(opts.dump_dir, name, results)
        try:
            python = ensure_report_env(table, opts, builder)
        except StageFailed as exc:
            print(f"aggregate: cannot prepare the report env: {exc}", file=sys.stderr)
            return pipeline.EXIT_ENV_FAILED
        baseline = ["--baseline", str(Path(args.baseline).resolve())] if args.baseline else []
        extra = [*baseline, *args.aggregate_args]
        rc = aggregate(table, opts, set_dir, table.root / args.out, python, extra, results)
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


def cmd_lock(table: EnvTable, args: argparse.Namespace) -> int:
    """``lock``: re-resolve the selected envs (all envs and the report env by default)."""
    picked = args.env or args.set or args.tags
    envs: List[EnvSpec] = list(selection(table, args)[1] if picked else table.all_envs())
    builder = pipeline.make_builder(table, run_options(table, args))
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


def run_options(table: EnvTable, args: argparse.Namespace) -> RunOptions:
    """Options from the parsed command line (paths relative to the project root)."""
    return RunOptions(
        dump_dir=table.root / args.dump_dir,
        envs_dir=table.root / args.envs_dir,
        use_cache=not args.no_cache,
        locked=args.locked,
        delete_venvs=args.delete_venvs,
        prune_cache=args.prune_cache,
        min_free_gb=args.min_free_gb,
        timeout_s=args.timeout_s,
        install_ahead=args.install_ahead,
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m wgan_parity.matrixrun``."""
    parser = argparse.ArgumentParser(
        prog="python -m wgan_parity.matrixrun",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("compare", "dump", "lock"):
        p = sub.add_parser(name)
        p.add_argument("--set", default=None, help="named set from matrix.toml (default: default)")
        p.add_argument("--tags", action="append", default=[], help="envs with any of these tags")
        p.add_argument("--env", action="append", default=[], help="this env id (repeatable)")
        p.add_argument("--table", type=Path, default=None, help="matrix.toml to use")
        p.add_argument(
            "--dump-dir",
            default="dumps",
            help="where dumps go, relative to the project root (default: dumps)",
        )
        p.add_argument("--envs-dir", default=".wgan-parity/envs", help="where venvs go")
        p.add_argument("--no-cache", action="store_true", help="re-run dumps even if unchanged")
        p.add_argument(
            "--locked",
            action="store_true",
            help="fail an env whose lock is missing or stale instead of re-locking it",
        )
        p.add_argument(
            "--delete-venvs", action="store_true", help="delete each venv right after its dump"
        )
        p.add_argument(
            "--prune-cache",
            action="store_true",
            help="after each dump, drop from uv's cache what no later env needs",
        )
        p.add_argument(
            "--min-free-gb",
            type=float,
            default=15.0,
            help="free disk to keep on top of an env's size (default 15)",
        )
        p.add_argument("--timeout-s", type=float, default=None, help="per-dump time limit")
        p.add_argument(
            "--install-ahead",
            type=int,
            default=1,
            help="envs locked and installed while one dumps (default 1; 0: one at a time)",
        )
        p.add_argument("--plain", action="store_true", help="no progress bar, plain lines only")
        p.add_argument(
            "--max-isa",
            choices=sorted(isa.CAP_SETTINGS),
            default=None,
            help="cap every env's CPU kernels at this ISA (`wgan-parity dump --max-isa`) unless "
            "its row sets its own: runners of different CPUs then compute the same thing (CI)",
        )
        if name == "compare":
            p.add_argument(
                "--out", default="results", help="aggregator output, relative to the project root"
            )
            p.add_argument("--baseline", default=None, help="baseline results folder to check")
            p.add_argument(
                "--aggregate-arg",
                dest="aggregate_args",
                action="append",
                default=[],
                help="extra argument passed to `wgan-parity aggregate` (repeatable)",
            )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and run; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        table = load_table(args.table)
        if args.command == "lock":
            return cmd_lock(table, args)
        return cmd_run(table, args, with_aggregate=args.command == "compare")
    except (TableError, locks.LockError) as exc:
        print(f"wgan-parity: {exc}", file=sys.stderr)
        return pipeline.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
