"""Installs overlap dumps (matrix.prefetch): the next env installs while one dumps, dumps stay
one at a time, and the disk check and ``--delete-venvs`` stay correct. Fake installs and dumps.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from _matrix import FakeBuilder, make_project
from wgan_parity.matrix import install, pipeline
from wgan_parity.matrix.envtable import EnvSpec, load_table
from wgan_parity.matrix.pipeline import EnvResult, RunOptions
from wgan_parity.matrix.prefetch import Installer
from wgan_parity.matrix.progress import Progress

WAIT_S = 10.0  # a bound on each wait, so that a broken overlap fails instead of hanging


class TimedBuilder(FakeBuilder):
    """Installs and dumps that record what ran at the same time; optional disk accounting.

    With ``overlap``, the install of env k+1 waits for env k's dump to start and that dump waits
    for the install to end: a runner that does not overlap them times out here, not flakily.
    """

    ORDER = ("reference", "tf-a", "torch-a")

    def __init__(self, root: Path, venv_gb: float = 0.0, disk_gb: float = 0.0) -> None:
        super().__init__(root)
        self.overlap = venv_gb == 0  # with disk accounting, installs may have to wait instead
        self.lock = threading.Lock()
        self.dumping: Optional[str] = None
        self.installed_during: Dict[str, Optional[str]] = {}  # env -> the env dumping meanwhile
        self.dumps_at_once = 0
        self.max_dumps_at_once = 0
        self.venvs: List[str] = []  # venvs on (fake) disk
        self.venv_gb, self.disk_gb = venv_gb, disk_gb
        self.dump_started = {e: threading.Event() for e in self.ORDER}
        self.installed_event = {e: threading.Event() for e in self.ORDER}

    def free(self) -> float:
        with self.lock:
            return self.disk_gb - self.venv_gb * len(self.venvs)

    def install(self, env: EnvSpec, lock_file: Path, digest: str, log: Path) -> None:
        place = self.ORDER.index(env.id)
        if self.overlap and place > 0:
            self.dump_started[self.ORDER[place - 1]].wait(WAIT_S)
        with self.lock:
            self.installed_during[env.id] = self.dumping
            self.venvs.append(env.id)
        super().install(env, lock_file, digest, log)
        self.installed_event[env.id].set()

    def dump(self, env: EnvSpec, out: Path, log: Path, timeout_s=None, report=None) -> str:
        with self.lock:
            self.dumping = env.id
            self.dumps_at_once += 1
            self.max_dumps_at_once = max(self.max_dumps_at_once, self.dumps_at_once)
        self.dump_started[env.id].set()
        place = self.ORDER.index(env.id)
        if self.overlap and place + 1 < len(self.ORDER):
            self.installed_event[self.ORDER[place + 1]].wait(WAIT_S)
        try:
            return super().dump(env, out, log, timeout_s)
        finally:
            with self.lock:
                self.dumps_at_once -= 1
                self.dumping = None

    def remove(self, env: EnvSpec) -> None:
        with self.lock:
            self.venvs.remove(env.id)
        super().remove(env)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway project: a tiny package, a three-env matrix.toml and its locks."""
    return make_project(tmp_path, monkeypatch)


def run(project: Path, builder: FakeBuilder, **opts: object) -> List[EnvResult]:
    table = load_table(project / "matrix.toml")
    options = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs", **opts)
    progress = Progress(len(table.envs), stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    return pipeline.run_envs(table, table.envs, options, builder, progress)


def test_the_next_env_installs_while_one_dumps(project: Path) -> None:
    builder = TimedBuilder(project)
    assert [r.status for r in run(project, builder, min_free_gb=0)] == ["ok"] * 3
    assert builder.installed_during == {"reference": None, "tf-a": "reference", "torch-a": "tf-a"}
    assert builder.max_dumps_at_once == 1
    dumps = [env for stage, env in builder.calls if stage == "dump"]
    assert dumps == ["reference", "tf-a", "torch-a"]


def test_install_ahead_zero_runs_one_stage_at_a_time(project: Path) -> None:
    builder = FakeBuilder(project)
    run(project, builder, min_free_gb=0, install_ahead=0)
    envs = ("reference", "tf-a", "torch-a")
    assert builder.calls == [(stage, e) for e in envs for stage in ("install", "dump")]


def test_with_delete_venvs_a_short_disk_waits_for_the_venv_before(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # room for one venv: the next install must wait until the dumping env's venv is deleted
    builder = TimedBuilder(project, venv_gb=1.0, disk_gb=1.5)
    monkeypatch.setattr(install, "free_gb", lambda _path: builder.free())
    results = run(project, builder, min_free_gb=0.0, delete_venvs=True)
    assert [r.status for r in results] == ["ok"] * 3
    assert builder.installed_during == {"reference": None, "tf-a": None, "torch-a": None}
    order = [c for c in builder.calls if c[0] in ("install", "remove")]
    assert order == [
        ("install", "reference"),
        ("remove", "reference"),
        ("install", "tf-a"),
        ("remove", "tf-a"),
        ("install", "torch-a"),
        ("remove", "torch-a"),
    ]


def test_without_delete_venvs_a_short_disk_fails_as_before(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builder = TimedBuilder(project, venv_gb=1.0, disk_gb=1.5)
    monkeypatch.setattr(install, "free_gb", lambda _path: builder.free())
    results = run(project, builder, min_free_gb=0.0)
    assert [(r.status, r.stage) for r in results] == [
        ("ok", "dump"),
        ("failed", "install"),
        ("failed", "install"),
    ]
    assert all("not enough free disk" in r.reason for r in results[1:])


def test_a_crash_on_the_install_thread_reaches_the_runner() -> None:
    envs = [EnvSpec(id="a", framework="reference")]

    def prepare(index, env, wait_previous):
        raise KeyError("a bug in prepare")

    with Installer(envs, prepare, ahead=1) as installer:
        began, failure = installer.wait(0)
    assert began
    assert isinstance(failure, KeyError)
