"""Cold-start benchmark: the README's first command from a fresh clone, with empty caches.

Usage: python bench/bench_coldstart.py [--keep] [--nox NOX] [--install-nox] [-- NOX ARGS...]

It clones this checkout's HEAD (commit first: uncommitted edits are not in the clone) into a
throwaway folder, points ``UV_CACHE_DIR`` and JAX's compilation cache at empty folders there (your
pip find-links and indexes still apply: the runner bridges them into uv), and runs
``nox -s compare`` in the clone (no dumps, no venvs, no lock cache yet), with ``CI=true`` so
progress comes as plain lines. Each line is echoed with its time since the start. At the end it
prints the wall time, each stage's time (nox's own venv, each env's install and dump, the
aggregation) and the reference/torch dump ratio (issue 13's goals: total <= 6 min on a 2-core
machine, ratio <= 2.5). ``--install-nox``
also times ``python -m pip install 'nox[uv]'`` into a fresh venv first, as the README does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
# "[2/3] tf-2.21.0: installed in 24.2 s" / "... dumped in 57.8 s" (matrix.progress lines)
STAGE = {"installed": "install", "dumped": "dump"}
EVENT = re.compile(r"^\[\s*\d+/\d+\] (?P<env>[^:]+): (?P<what>installed|dumped) in (?P<s>[\d.]+) s")


def _run_timed(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> Tuple[int, list]:
    """Run ``cmd``; echo and log each output line with its time; return (exit code, lines)."""
    start = time.monotonic()
    lines = []
    with (
        log.open("w", encoding="utf-8") as fh,
        subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as child,
    ):
        for raw in child.stdout or ():
            at = time.monotonic() - start
            line = raw.rstrip("\n")
            lines.append((at, line))
            fh.write(f"{at:8.1f}s {line}\n")
            print(f"{at:8.1f}s {line}", flush=True)
    return child.returncode, lines


def _stages(lines: List[Tuple[float, str]], wall: float) -> Dict[str, float]:
    """Stage times from the runner's lines; the nox venv and the aggregation from timestamps."""
    stages: Dict[str, float] = {}
    first_env = next((at for at, line in lines if line.startswith("[")), None)
    if first_env is not None:
        stages["nox venv + package install"] = first_env
    for _, line in lines:
        match = EVENT.match(line.removeprefix("nox > ").strip())
        if match:
            stages[f"{match['env']} {STAGE[match['what']]}"] = float(match["s"])
    agg = next((at for at, line in lines if line.startswith("aggregate:")), None)
    if agg is not None:
        stages["aggregate (report env + aggregation)"] = wall - agg
    return stages


def _dump_time(stages: Dict[str, float], prefix: str) -> Optional[float]:
    return next(
        (s for k, s in stages.items() if k.startswith(prefix) and k.endswith(" dump")), None
    )


def main() -> int:
    """Clone, run, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the throwaway folder")
    parser.add_argument("--nox", default=shutil.which("nox") or "nox", help="the nox to run")
    parser.add_argument("--install-nox", action="store_true", help="pip install 'nox[uv]' too")
    parser.add_argument("nox_args", nargs="*", help="after --: passed to `nox -s compare --`")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wgan-parity-coldstart-"))
    clone, cache = tmp / "wgan-parity", tmp / "uv-cache"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update({"UV_CACHE_DIR": str(cache), "CI": "true"})
    env["WGAN_PARITY_JAX_CACHE"] = str(cache.parent / "xla-cache")  # JAX compiles from scratch
    started = time.monotonic()
    stages: Dict[str, float] = {}
    code = -1
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        stages["git clone"] = time.monotonic() - started
        nox = args.nox
        if args.install_nox:
            begin = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", str(tmp / "nox-venv")], check=True)
            pip = [str(tmp / "nox-venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, "nox[uv]"], check=True, env=env)
            nox = str(tmp / "nox-venv" / "bin" / "nox")
            stages["pip install nox[uv]"] = time.monotonic() - begin
        cmd = [nox, "-s", "compare", *(["--", *args.nox_args] if args.nox_args else [])]
        begin = time.monotonic()
        code, lines = _run_timed(cmd, clone, env, tmp / "coldstart.log")
        stages.update(_stages(lines, time.monotonic() - begin))
        stages["nox -s compare (total)"] = time.monotonic() - begin
    finally:
        wall = time.monotonic() - started
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ncold start of `nox -s compare` (clone of {ROOT} HEAD, empty uv cache): exit {code}")
    for name, seconds in stages.items():
        print(f"  {name:42s} {seconds:8.1f} s")
    print(f"  {'wall (goal <= 360 s)':42s} {wall:8.1f} s")
    ref, torch = _dump_time(stages, "reference"), _dump_time(stages, "torch")
    if ref and torch:
        print(f"  reference/torch dump ratio (goal <= 2.5): {ref / torch:.2f}")
    print(f"  load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.keep:
        print(f"  kept: {tmp}")
    return code


if __name__ == "__main__":
    sys.exit(main())
