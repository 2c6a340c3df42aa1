"""Create, install, run in and delete one environment's venv (uv, or venv + pip as a fallback).

Each step that can fail raises :class:`StageFailed` with the stage (``install``, ``import`` or
``dump``) and a one-line reason taken from the tool's output; the full output goes to the env's
log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from wgan_parity import invocation
from wgan_parity.matrix import dumpwatch
from wgan_parity.matrix.envtable import EnvSpec

MARKER = ".wgan-parity-env.json"
GB = 1024**3


class StageFailed(RuntimeError):  # noqa: N818 - names the event
    """A stage of one env failed; ``stage`` is install, import or dump."""

    def __init__(
        self, stage: str, reason: str, code: Optional[int] = None, detail: str = ""
    ) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason
        self.code = code
        self.detail = detail  # the full text, for the log (when not already there)


def find_uv(environ: Optional[Dict[str, str]] = None) -> Optional[str]:
    """uv's path: ``$WGAN_PARITY_UV``, next to this interpreter, the ``uv`` package, or PATH."""
    environ = dict(os.environ if environ is None else environ)
    if environ.get("WGAN_PARITY_UV"):
        return environ["WGAN_PARITY_UV"]
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    try:
        import uv  # the PyPI package that ships the binary (installed by `nox[uv]`)

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    return shutil.which("uv", path=environ.get("PATH"))


def find_python(version: str, environ: Optional[Dict[str, str]] = None) -> str:
    """An interpreter for ``version`` ("3.7"): pyenv's newest ``3.7.x`` if installed, else as is.

    pyenv's shims resolve ``python3.7`` only when ``PYENV_VERSION`` names it, so uv (and PATH)
    would not find an installed but inactive version; its own path always works.
    """
    environ = dict(os.environ if environ is None else environ)
    root = Path(environ.get("PYENV_ROOT") or Path(environ.get("HOME", "~")).expanduser() / ".pyenv")
    found = []
    for folder in (root / "versions").glob(f"{version}.*"):
        patch = folder.name[len(version) + 1 :]
        exe = folder / "bin" / f"python{version}"
        if patch.isdigit() and exe.is_file():
            found.append((int(patch), str(exe)))
    return max(found)[1] if found else version


def free_gb(path: Path) -> float:
    """Free space, in GiB, on the filesystem holding ``path`` (or its nearest existing parent)."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free / GB


def _times(path: Path) -> Dict[str, float]:
    """The case times of the env's previous dump (``{}`` when none or unreadable)."""
    try:
        times = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return times if isinstance(times, dict) else {}


def killed_by(signum: int) -> str:
    """A one-line reason for a process killed by ``signum``."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    hint = " (out of memory? see `dmesg`)" if signum == signal.SIGKILL else ""
    return f"killed by {name}{hint}"


def last_line(text: str, limit: int = 300) -> str:
    """The cause of a tool's failure in one line, for a one-line reason.

    uv and pip state it as ``error: ...`` with ``cause:`` / ``Caused by:`` lines under it, then
    may echo the offending input: those are preferred to the echo. Otherwise the last line that
    is not part of a traceback's source excerpt.
    """
    lines = [ln.strip().lstrip("╰─▶ ").strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith(("error:", "×"))]
    causes = [ln for ln in lines if ln.startswith(("cause:", "Caused by:", "Because "))]
    if errors:
        head = errors[-1].split(":", 1)[1].strip() if ":" in errors[-1] else errors[-1]
        cause = causes[-1].split(":", 1)[-1].strip() if causes else ""
        return (f"{head}: {cause}" if cause and cause not in head else head)[:limit]
    for line in reversed(lines):
        if not line.startswith(("File ", "^", "~", "Traceback (most recent call last)")):
            return line[:limit]
    return "(no output)"


@dataclass
class Builder:
    """Builds venvs under ``envs_dir`` with ``uv`` (or stdlib venv + pip when ``uv`` is None)."""

    project_root: Path
    envs_dir: Path
    uv: Optional[str]
    environ: Dict[str, str] = field(default_factory=lambda: dict(os.environ))
    bridged: Dict[str, str] = field(default_factory=dict)  # the UV_* vars taken from pip config
    min_free_gb: float = float("inf")  # lowest free disk seen after an install or a dump
    # an install ahead (matrix.prefetch) and a cache prune after a dump never run at once
    _uv_busy: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def venv_dir(self, env: EnvSpec) -> Path:
        """Where ``env``'s venv lives."""
        return self.envs_dir / env.id

    def python(self, env: EnvSpec) -> Path:
        """The env's interpreter."""
        return self.venv_dir(env) / "bin" / "python"

    def installed_digest(self, env: EnvSpec) -> Optional[str]:
        """The lock digest the venv was built from, or None when there is no complete venv."""
        try:
            marker = json.loads((self.venv_dir(env) / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return marker.get("lock_sha256") if self.python(env).exists() else None

    def install(self, env: EnvSpec, lock_file: Path, digest: str, log: Path) -> None:
        """(Re)create the venv from ``lock_file`` and install this package editable, no deps."""
        with self._uv_busy:
            self._install(env, lock_file, digest, log)

    def _install(self, env: EnvSpec, lock_file: Path, digest: str, log: Path) -> None:
        target = self.venv_dir(env)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        py = str(self.python(env))
        if self.uv:
            python = find_python(env.python, self.environ)
            venv = [self.uv, "venv", "--quiet", "--python", python, str(target)]
            self._run("install", venv, log)
            pip = [self.uv, "pip", "install", "--python", py, "--compile-bytecode"]
            self._run("install", [*pip, "-r", str(lock_file)], log)
        else:
            interpreter = shutil.which(
                find_python(env.python, self.environ), path=self.environ.get("PATH")
            ) or shutil.which(f"python{env.python}", path=self.environ.get("PATH"))
            if not interpreter:
                raise StageFailed(
                    "install",
                    f"python{env.python} not found on PATH; install "
                    f"Python {env.python}, or uv (which finds or fetches it)",
                )
            self._run("install", [interpreter, "-m", "venv", str(target)], log)
            pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--compile"]
            self._run("install", [*pip, "-r", str(lock_file)], log)
        self._run("install", [*pip, "--no-deps", "-e", str(self.project_root)], log)
        marker = {"env_id": env.id, "lock_sha256": digest, "created": time.time()}
        (target / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        self.sample_disk()

    def sample_disk(self) -> float:
        """Record and return the free disk (GiB) on the envs' filesystem."""
        self.min_free_gb = min(self.min_free_gb, free_gb(self.envs_dir))
        return self.min_free_gb

    def probe(self, env: EnvSpec, log: Path) -> str:
        """Import the package and the framework; return the framework version."""
        code = (
            f"import wgan_parity, {env.import_module} as m\n"
            "v = getattr(m, '__version__', None)\n"
            "if v is None:  # importlib.metadata is Python 3.8+\n"
            "    from wgan_parity.core.compat import dist_version\n"
            f"    v = dist_version({env.import_module!r})\n"
            "print(v)"
        )
        out = self._run("import", [str(self.python(env)), "-c", code], log)
        return out.strip().splitlines()[-1] if out.strip() else "?"

    def dump(
        self,
        env: EnvSpec,
        out: Path,
        log: Path,
        timeout_s: Optional[float] = None,
        report: Optional[Callable[[str], None]] = None,
    ) -> str:
        """Run ``wgan-parity dump`` in the env, writing ``out``; return a note ('' when clean).

        Exit 4 is reported as the 'import' stage; it also means some cases failed while the
        dump was written, which :func:`~.install.run_dump` tells apart by the dump file. ``report``
        gets a line per finished case while the dump runs (:mod:`~.dumpwatch`); each case's time
        is kept in ``<env>.times.json`` beside the dump for the next run's estimate.
        """
        progress_file = out.with_name(f"{env.id}.progress.json")
        times_file = out.with_name(f"{env.id}.times.json")
        cmd = invocation.argv(
            "dump",
            *("--backend", env.dump_backend, "--out", out, "--env-id", env.id, "--quiet"),
            *("--progress-file", progress_file),
            *env.dump_args,
            python=self.python(env),
        )
        watch = dumpwatch.DumpWatch(
            progress_file, report or (lambda line: None), _times(times_file)
        )
        try:
            with watch:
                out_text = self._run("dump", cmd, log, timeout_s, ok_codes=(0, 1))
            if watch.last.get("case_s"):
                times_file.write_text(json.dumps(watch.last["case_s"]), encoding="utf-8")
        except StageFailed as exc:
            if exc.code == 4:
                raise StageFailed("import", exc.reason, exc.code) from exc
            raise
        self.sample_disk()
        return last_line(out_text) if "failed cases:" in out_text else ""

    def remove(self, env: EnvSpec) -> None:
        """Delete the env's venv (the dump stays)."""
        shutil.rmtree(self.venv_dir(env), ignore_errors=True)

    def prune_cache(self, packages: Sequence[str], log: Path) -> None:
        """Drop ``packages`` from uv's cache (no-op without uv); failures are only logged."""
        if self.uv and packages:
            with self._uv_busy, contextlib.suppress(StageFailed):
                self._run("prune", [self.uv, "cache", "clean", *packages], log)

    def cache_dir(self) -> Optional[Path]:
        """uv's cache folder, for disk checks (None without uv)."""
        if not self.uv:
            return None
        done = subprocess.run(
            [self.uv, "cache", "dir"], capture_output=True, text=True, env=self.environ, check=False
        )
        return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None

    def _run(
        self,
        stage: str,
        cmd: List[str],
        log: Path,
        timeout_s: Optional[float] = None,
        ok_codes: Sequence[int] = (0,),
    ) -> str:
        """Run ``cmd``, append its output to ``log``; raise StageFailed on a non-zero exit."""
        env = {**self.environ, "UV_COMPILE_BYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        start = time.monotonic()
        try:
            done = subprocess.run(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                cwd=self.project_root,
                timeout=timeout_s,
                check=False,
                errors="replace",
            )
            output, code = done.stdout or "", done.returncode
            if code < 0:  # killed by a signal: say which, not "(no output)"
                output += f"\n{killed_by(-code)}"
        except subprocess.TimeoutExpired as exc:
            output, code = f"{exc.output or ''}\ntimed out after {timeout_s} s", -1
        except OSError as exc:
            output, code = f"cannot run {cmd[0]}: {exc}", -1
        with log.open("a", encoding="utf-8") as fh:
            fh.write(
                f"$ {' '.join(cmd)}\n{output}\n[{stage}] exit {code} "
                f"in {time.monotonic() - start:.1f} s\n\n"
            )
        if code not in ok_codes:
            raise StageFailed(stage, last_line(output), code)
        return output
