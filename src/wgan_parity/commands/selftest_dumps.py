"""The selftest's dumps: run each in a subprocess, or cut a clean one out of a full dump.

A planted bug's dump runs ``wgan-parity dump`` with the Python that has its framework, and this
process's ``wgan_parity`` first on PYTHONPATH; no framework is imported here.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

from wgan_parity.commands.selftest_plan import SelftestError
from wgan_parity.frameworks import names as framework_names
from wgan_parity.invocation import argv

#: Label prefix of the clean dumps' jobs; they keep their default env id (``torch-2.13.0``), which
#: the known rules of the thresholds file are written for.
CLEAN = "clean-"
Say = Callable[[str], None]


def child_environ() -> Dict[str, str]:
    """The environment of a dump subprocess: this very ``wgan_parity`` first on PYTHONPATH.

    Framework envs may have the package installed from another checkout; the bug modules and
    the code under test must be the ones of this process.
    """
    root = str(Path(__file__).resolve().parents[2])  # src/, holding wgan_parity/
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, *rest])}


@dataclass
class Job:
    """One dump to run in a subprocess."""

    label: str
    backend: str
    python: str
    cases: Sequence[str]
    out: Path
    args: Tuple[str, ...] = ()  # more `dump` options (--precision, --noise-precision)


def _command(job: Job) -> List[str]:
    env_id = () if job.label.startswith(CLEAN) else ("--env-id", job.label)
    return argv(
        "dump",
        "--backend",
        job.backend,
        *env_id,
        "--out",
        job.out,
        "--quiet",
        *job.args,
        "--cases",
        *job.cases,
        python=job.python,
    )


def run_dumps(jobs: Sequence[Job], parallel: int, say: Say) -> Dict[str, str]:
    """Run the dumps, ``parallel`` at a time; return label -> failure message (exit not 0/1)."""
    failures: Dict[str, str] = {}
    pending = list(jobs)
    running: List[Tuple[Job, subprocess.Popen, float]] = []
    env = child_environ()
    while pending or running:
        while pending and len(running) < max(1, parallel):
            job = pending.pop(0)
            log = job.out.with_suffix(".log")
            with open(log, "w") as handle:
                try:
                    proc = subprocess.Popen(
                        _command(job), stdout=handle, stderr=subprocess.STDOUT, env=env
                    )
                except OSError as exc:  # no such interpreter
                    failures[job.label] = f"could not start {job.python}: {exc}"
                    say(f"dump of {job.label} failed: {failures[job.label]}")
                    continue
            running.append((job, proc, time.perf_counter()))
        time.sleep(0.05)
        for item in list(running):
            job, proc, started = item
            code = proc.poll()
            if code is None:
                continue
            running.remove(item)
            took = time.perf_counter() - started
            if code in (0, 1):
                say(f"dumped {job.label} ({len(job.cases)} cases, {took:.1f}s)")
            else:
                log = job.out.with_suffix(".log")
                last = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
                failures[job.label] = f"exit {code}: {last}"
                say(f"dump of {job.label} failed ({failures[job.label]}); log: {log}")
    return failures


def subset_dump(source: Path, target: Path, cases: Sequence[str]) -> Dict[str, Any]:
    """Copy ``cases`` of a full dump into ``target`` (metadata, noise and catalog hash kept)."""
    from wgan_parity.dump.dumpfile import DumpReader, write_dump
    from wgan_parity.dump.meta import DumpMeta

    wanted = set(cases)
    with DumpReader(source) as reader:
        full = DumpMeta.from_json(reader.meta)
        absent = sorted(wanted - set(full.cases))
        if absent:
            raise SelftestError(f"{source} lacks the cases {absent}: dump them or omit --dumps")
        meta = replace(
            full,
            cases={c: r for c, r in full.cases.items() if c in wanted},
            noise={k: v for k, v in full.noise.items() if k.split("/", 1)[0] in wanted},
        ).to_json()
        keys = [k for k in reader if k.split("/", 1)[0] in wanted]
        write_dump(target, meta, ((k, reader.get(k)) for k in keys))
    return meta


def clean_sources(folder: Path) -> Dict[str, Path]:
    """Framework (``reference``, ``torch``, ``tensorflow``) -> a built-in backend's dump."""
    from wgan_parity.dump.dumpfile import DumpError, DumpReader

    found: Dict[str, Path] = {}
    for path in sorted(folder.glob("*.npz")):
        try:
            with DumpReader(path) as reader:
                meta = reader.meta
        except DumpError:
            continue
        backend = meta.get("backend")
        if backend in framework_names() and backend == meta.get("framework"):
            found.setdefault(backend, path)
    return found


def meta_of(path: Path) -> Dict[str, Any]:
    """A dump's metadata, as written."""
    from wgan_parity.dump.dumpfile import DumpReader

    with DumpReader(path) as reader:
        return reader.meta
