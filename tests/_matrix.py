"""Test helpers for the runner tests: a fake venv builder and a throwaway project."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from wgan_parity.matrix import locks, pipeline
from wgan_parity.matrix.envtable import EnvSpec, load_table
from wgan_parity.matrix.pipeline import EnvResult, RunOptions
from wgan_parity.matrix.progress import Progress
from wgan_parity.matrix.venvs import Builder, StageFailed

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


MATRIX = """schema = 1
[sets]
default = "d"
[report]
extras = ["report"]
[matrix]
env = [
  {{id = "reference", framework = "reference", sets = ["default"]}},
  {{id = "tf-a", framework = "tensorflow", pins = ["{tf_pin}"], sets = ["default"]}},
  {{id = "torch-a", framework = "torch", pins = ["torch==2.13.0"], sets = ["default"]}},
]
"""


class FakeBuilder(Builder):
    """Records calls; fails the stage named in ``fail`` ({env_id: stage})."""

    def __init__(self, root: Path, fail: Optional[Dict[str, str]] = None) -> None:
        super().__init__(project_root=root, envs_dir=root / "envs", uv=None, environ={})
        self.fail, self.calls = fail or {}, []
        self.installed: Dict[str, str] = {}

    def installed_digest(self, env: EnvSpec) -> Optional[str]:
        return self.installed.get(env.id)

    def install(self, env: EnvSpec, lock_file: Path, digest: str, log: Path) -> None:
        self.calls.append(("install", env.id))
        self._maybe_fail(env, "install")
        self.installed[env.id] = digest

    def probe(self, env: EnvSpec, log: Path) -> str:
        self._maybe_fail(env, "import")
        return "1.0"

    def dump(
        self, env: EnvSpec, out: Path, log: Path, timeout_s: Optional[float] = None, report=None
    ) -> str:
        self.calls.append(("dump", env.id))
        self._maybe_fail(env, "dump")
        with zipfile.ZipFile(out, "w") as archive:  # a dump is a ZIP: the cache reads its directory
            archive.writestr("case/out.npy", f"{env.id} {len(self.calls)}")
        return ""

    def cache_dir(self) -> Optional[Path]:
        return None

    def remove(self, env: EnvSpec) -> None:
        self.calls.append(("remove", env.id))

    def prune_cache(self, packages, log: Path) -> None:
        self.calls.append(("prune", ",".join(packages)))

    def _maybe_fail(self, env: EnvSpec, stage: str) -> None:
        if self.fail.get(env.id) == stage:
            raise StageFailed(stage, f"{stage} broke on purpose")


def fake_compile(table, env, uv, environ) -> Path:
    """Stands in for locks.compile_lock: 'resolves' each input to an exact pin."""
    path = locks.lock_path(table, env)
    path.parent.mkdir(exist_ok=True)
    body = "".join(f"{r.replace('>=', '==')}\n" for r in locks.lock_inputs(table, env))
    path.write_text(locks.header(env, locks.lock_inputs(table, env)) + body, encoding="utf-8")
    return path


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny package, a three-env matrix.toml and its (fake) locks, in ``tmp_path``."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["numpy>=1.22"]\n'
        '[project.optional-dependencies]\nreport = ["pandas>=1.5"]\n',
        encoding="utf-8",
    )
    pkg = tmp_path / "src" / "wgan_parity"
    pkg.mkdir(parents=True)
    (pkg / "core").mkdir()
    (pkg / "core" / "catalog.py").write_text("CASES = 1\n", encoding="utf-8")
    (pkg / "cli.py").write_text("import wgan_parity.core.catalog\n", encoding="utf-8")
    (pkg / "pipeline.py").write_text("# runner only\n", encoding="utf-8")
    (tmp_path / "matrix.toml").write_text(MATRIX.format(tf_pin="tensorflow-cpu==2.21.0"))
    monkeypatch.setattr(locks, "compile_lock", fake_compile)
    table = load_table(tmp_path / "matrix.toml")
    for env in table.all_envs():  # as committed in a checkout
        fake_compile(table, env, None, {})
    return tmp_path


def run(project: Path, builder: FakeBuilder, **opts: object) -> List[EnvResult]:
    table = load_table(project / "matrix.toml")
    options = RunOptions(
        dump_dir=project / "dumps", envs_dir=project / "envs", min_free_gb=0, **opts
    )
    progress = Progress(len(table.envs), stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    return pipeline.run_envs(table, table.envs, options, builder, progress)


def run_in_this_python(project: Path, env: EnvSpec) -> EnvResult:
    """Run ``env`` for real through the orchestrator, its 'venv' being this test's Python."""
    table = load_table(project / "matrix.toml")
    venv = project / "envs" / env.id
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    builder = Builder(project_root=ROOT, envs_dir=project / "envs", uv=None, environ=environ)
    fake_compile(table, env, None, {})
    builder.installed_digest = lambda _env: locks.digest(locks.lock_path(table, env))  # type: ignore[method-assign]
    opts = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs", min_free_gb=0)
    progress = Progress(1, stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    [result] = pipeline.run_envs(table, [env], opts, builder, progress)
    return result
