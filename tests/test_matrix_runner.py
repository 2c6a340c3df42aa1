"""The runner (``matrix.pipeline``): caching, failures recorded, exit codes.

Driven with a fake builder, except two tests that run a real ``wgan-parity dump``
subprocess (one needs torch: marked ``frameworks``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Optional

import pytest

from _matrix import MATRIX, FakeBuilder, make_project, run, run_in_this_python
from wgan_parity.core import hostinfo
from wgan_parity.matrix import install, pipeline, runner
from wgan_parity.matrix.envtable import EnvSpec, load_table
from wgan_parity.matrix.pipeline import EnvResult, RunOptions
from wgan_parity.matrix.progress import Progress
from wgan_parity.matrix.venvs import StageFailed

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway project: a tiny package, a three-env matrix.toml and its locks."""
    return make_project(tmp_path, monkeypatch)


@pytest.mark.frameworks
def test_dump_args_reach_the_dump_and_a_missing_gpu_fails_clearly(project: Path) -> None:
    env = EnvSpec(
        id="cuda-here",
        framework="torch",
        pins=("torch==2.13.0",),
        dump_args=("--device", "cuda", "--cases", "conv2d.probe"),
    )
    result = run_in_this_python(project, env)
    import torch

    if torch.cuda.is_available():  # a GPU machine: the options worked, the dump ran on CUDA
        assert result.status == "ok", result.reason
        return
    assert result.status == "failed"
    assert "--device cuda asked for" in (project / "dumps" / "cuda-here.log").read_text()


def test_warm_run_reuses_every_dump(project: Path) -> None:
    builder = FakeBuilder(project)
    assert [r.status for r in run(project, builder)] == ["ok", "ok", "ok"]
    builder.calls.clear()
    assert [r.status for r in run(project, builder)] == ["cached", "cached", "cached"]
    assert builder.calls == []
    assert not list((project / "dumps").glob("*.status.json"))


def test_a_cached_dump_that_changed_on_disk_is_dumped_again(project: Path) -> None:
    builder = FakeBuilder(project)
    run(project, builder)
    dump = project / "dumps" / "tf-a.npz"
    dump.write_bytes(dump.read_bytes()[:-7])  # truncated after it was written
    builder.calls.clear()
    statuses = {r.env_id: r.status for r in run(project, builder)}
    assert statuses == {"reference": "cached", "tf-a": "ok", "torch-a": "cached"}
    assert ("dump", "tf-a") in builder.calls
    other = project / "dumps" / "torch-a.npz"
    with zipfile.ZipFile(other, "w") as archive:  # a valid ZIP, other content, same name
        archive.writestr("case/out.npy", "something else entirely")
    assert {r.env_id: r.status for r in run(project, builder)}["torch-a"] == "ok"


def test_a_killed_dumps_temporary_is_removed_by_the_next_run(project: Path) -> None:
    dumps = project / "dumps"
    dumps.mkdir()
    left = dumps / "tf-a.npz.tmp-8763"  # what a SIGKILLed `wgan-parity dump` leaves behind
    left.write_bytes(b"half a zip")
    other = dumps / "torch-a.npz.tmp-1"
    run(project, FakeBuilder(project, fail={"torch-a": "install"}))
    assert not left.exists()
    assert not other.exists()  # removed before torch-a's (failed) attempt too


def test_changing_one_pin_reruns_only_that_env(project: Path) -> None:
    builder = FakeBuilder(project)
    run(project, builder)
    builder.calls.clear()
    (project / "matrix.toml").write_text(MATRIX.format(tf_pin="tensorflow-cpu==2.20.0"))
    statuses = {r.env_id: r.status for r in run(project, builder)}
    assert statuses == {"reference": "cached", "tf-a": "ok", "torch-a": "cached"}
    assert builder.calls == [("install", "tf-a"), ("dump", "tf-a")]
    assert "tensorflow-cpu==2.20.0" in (project / "locks" / "tf-a.txt").read_text()


def test_source_change_reruns_all_but_runner_change_reruns_none(project: Path) -> None:
    builder = FakeBuilder(project)
    run(project, builder)
    (project / "src" / "wgan_parity" / "pipeline.py").write_text("# edited\n")
    assert {r.status for r in run(project, builder)} == {"cached"}
    (project / "src" / "wgan_parity" / "core" / "catalog.py").write_text("CASES = 2\n")
    assert {r.status for r in run(project, builder)} == {"ok"}
    assert ("install", "reference") not in builder.calls[3:], "same lock: no reinstall"


def test_dump_code_edited_during_a_dump_is_not_cached(project: Path) -> None:
    class EditingBuilder(FakeBuilder):
        def dump(self, env: EnvSpec, out: Path, log: Path, timeout_s=None, report=None) -> str:
            if env.id == "tf-a":  # the user edits the checkout while this env dumps
                (project / "src" / "wgan_parity" / "core" / "catalog.py").write_text("CASES = 9\n")
            return super().dump(env, out, log, timeout_s)

    results = run(project, EditingBuilder(project))
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert [r.reason for r in results][1:] == [
        "dump code changed during the run: not cached, the next run redoes it"
    ] * 2
    assert (project / "dumps" / "reference.key.json").is_file()
    assert not (project / "dumps" / "tf-a.key.json").exists()
    again = {r.env_id: r.status for r in run(project, FakeBuilder(project))}
    assert again == {"reference": "ok", "tf-a": "ok", "torch-a": "ok"}  # all redone: code changed
    assert {r.status for r in run(project, FakeBuilder(project))} == {"cached"}


def test_delete_venvs_and_prune_cache_spare_what_later_envs_need(project: Path) -> None:
    builder = FakeBuilder(project)
    run(project, builder, delete_venvs=True, prune_cache=True)
    cleanup = [c for c in builder.calls if c[0] in ("remove", "prune")]
    assert cleanup == [
        ("remove", "reference"),
        ("prune", ""),  # numpy==1.22 is pinned by later envs
        ("remove", "tf-a"),
        ("prune", "tensorflow-cpu"),
        ("remove", "torch-a"),
        ("prune", "torch"),  # numpy stays: the report env pins it
    ]


@pytest.mark.parametrize("stage", ["install", "import", "dump"])
def test_a_failing_env_is_recorded_and_the_rest_completes(project: Path, stage: str) -> None:
    run(project, FakeBuilder(project))  # an earlier good dump must not survive the failure
    (project / "src" / "wgan_parity" / "core" / "catalog.py").write_text("CASES = 3\n")
    results = run(project, FakeBuilder(project, fail={"tf-a": stage}))
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    status = json.loads((project / "dumps" / "tf-a.status.json").read_text())
    assert set(status) == {"env_id", "status", "stage", "reason", "duration_s", "platform"}
    assert status["platform"] == hostinfo.platform_info([], "tensorflow")  # records stay apart
    assert (status["env_id"], status["status"], status["stage"]) == ("tf-a", "failed", stage)
    assert "broke on purpose" in status["reason"]
    assert not (project / "dumps" / "tf-a.npz").exists()
    assert pipeline.exit_code(results) == 4


class _CasesFail(FakeBuilder):
    """`wgan-parity dump` exiting ``code`` for tf-a, having written its dump or not."""

    def __init__(self, root: Path, code: int, written: bool) -> None:
        super().__init__(root)
        self.code, self.written = code, written

    def dump(
        self, env: EnvSpec, out: Path, log: Path, timeout_s: Optional[float] = None, report=None
    ) -> str:
        note = super().dump(env, out, log, timeout_s, report)
        if env.id != "tf-a":
            return note
        if not self.written:
            out.unlink()
        if self.code == 1:  # what Builder.dump accepts: it returns the last line
            return "failed cases: conv2d.random" if self.written else ""
        stage = "import" if self.code == 4 else "dump"  # what Builder.dump raises
        raise StageFailed(stage, "failed cases: conv2d.random", self.code)


@pytest.mark.parametrize("code", [1, 4])
def test_a_written_dump_with_failed_cases_stands_whatever_its_exit_code(
    project: Path, code: int
) -> None:
    """The dump file, not the exit code, says whether the env ran: 1 (today) and 4 (a dump that
    tells an env problem) both leave a dump with some cases failed, and the env stays ok."""
    results = run(project, _CasesFail(project, code, written=True))
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert "failed cases: conv2d.random" in results[1].reason
    assert (project / "dumps" / "tf-a.npz").is_file()
    assert (project / "dumps" / "tf-a.key.json").is_file()  # cached like any written dump
    assert not (project / "dumps" / "tf-a.status.json").exists()
    assert pipeline.exit_code(results) == 0


@pytest.mark.parametrize(("code", "stage"), [(1, "dump"), (4, "import"), (8, "dump")])
def test_a_dump_that_wrote_nothing_fails_the_env(project: Path, code: int, stage: str) -> None:
    results = run(project, _CasesFail(project, code, written=False))
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert results[1].stage == stage
    status = json.loads((project / "dumps" / "tf-a.status.json").read_text())
    assert (status["status"], status["stage"]) == ("failed", stage)
    assert not (project / "dumps" / "tf-a.npz").exists()
    assert pipeline.exit_code(results) == 4


class _StaleDumpImportFails(FakeBuilder):
    """tf-a's backend cannot load (exit 4, nothing written) beside an earlier run's dump."""

    def dump(
        self, env: EnvSpec, out: Path, log: Path, timeout_s: Optional[float] = None, report=None
    ) -> str:
        if env.id != "tf-a":
            return super().dump(env, out, log, timeout_s, report)
        raise StageFailed("import", "ModuleNotFoundError: tensorflow", 4)


def test_an_earlier_runs_dump_is_not_taken_for_this_runs(project: Path) -> None:
    """Exit 4 beside a dump file this run did not write is an env that failed (the pipeline
    removes an older dump before it dumps, and run_dump checks the file is this run's)."""
    stale = project / "dumps" / "tf-a.npz"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"an earlier run's dump")
    results = run(project, _StaleDumpImportFails(project))
    assert (results[1].status, results[1].stage) == ("failed", "import")
    assert pipeline.exit_code(results) == 4


def test_too_little_disk_fails_the_install_stage_clearly(project: Path) -> None:
    table = load_table(project / "matrix.toml")
    opts = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs", min_free_gb=1e9)
    progress = Progress(0, stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    results = pipeline.run_envs(table, table.envs[:1], opts, FakeBuilder(project), progress)
    assert (results[0].status, results[0].stage) == ("failed", "install")
    assert "not enough free disk" in results[0].reason
    assert "--min-free-gb" in results[0].reason


def test_the_default_reserve_installs_the_default_set_where_ci_had_16_gib(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI run found 16.6 GiB free after its test session, and a 15 GiB reserve refused every
    env of the default set. The default reserve installs the largest of them there."""
    real = load_table(Path(__file__).resolve().parents[1] / "matrix.toml")
    largest = max(env.disk_gb for env in real.envs if "default" in env.sets)
    table = load_table(project / "matrix.toml")
    env = dataclasses.replace(table.envs[0], disk_gb=largest)
    opts = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs")
    progress = Progress(0, stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    monkeypatch.setattr(install, "free_gb", lambda path: largest + opts.min_free_gb - 0.1)
    refused = pipeline.run_envs(table, [env], opts, FakeBuilder(project), progress)
    assert (refused[0].status, refused[0].stage) == ("failed", "install")
    monkeypatch.setattr(install, "free_gb", lambda path: 16.6)
    results = pipeline.run_envs(table, [env], opts, FakeBuilder(project), progress)
    assert results[0].status == "ok", results[0].reason


def test_a_real_dump_subprocess_that_fails_is_recorded(project: Path) -> None:
    env = EnvSpec(id="broken", framework="reference", backend="no_such_backend_module")
    result = run_in_this_python(project, env)
    assert (result.status, result.stage) in {("failed", "import"), ("failed", "dump")}
    assert "no_such_backend_module" in result.reason
    assert "no_such_backend_module" in (project / "dumps" / "broken.log").read_text()


@pytest.mark.parametrize(
    ("env_failed", "aggregate_rc", "expected"),
    [
        (False, 0, 0),
        (False, 1, 1),
        (True, 0, 4),
        (True, 1, 5),
        (True, 4, 4),
        (False, 3, 3),
        (True, 2, 2),
    ],
)
def test_exit_codes_combine_env_failures_with_the_aggregator(
    env_failed: bool, aggregate_rc: int, expected: int
) -> None:
    results = [EnvResult("a", "failed" if env_failed else "ok", "dump", "", 0.0)]
    assert pipeline.exit_code(results, aggregate_rc) == expected


def test_aggregation_is_reused_when_no_input_changed(project: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "fakepython"
    fake.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "out.mkdir(exist_ok=True)\n"
        "(out / 'pairs.csv').write_text('x\\n')\n"
        f"open({str(calls)!r}, 'a').write('run\\n')\nsys.exit(1)\n"
    )
    fake.chmod(0o755)
    builder = FakeBuilder(project)
    results = run(project, builder)
    table = load_table(project / "matrix.toml")
    opts = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs")
    set_dir = runner.link_set(opts.dump_dir, "default", results)
    out = project / "results"
    assert sorted(p.name for p in set_dir.iterdir()) == ["reference.npz", "tf-a.npz", "torch-a.npz"]
    for _ in range(2):
        assert runner.aggregate(table, opts, set_dir, out, fake, [], results) == 1
    assert calls.read_text().count("run") == 1
    (out / "pairs.csv").unlink()
    assert runner.aggregate(table, opts, set_dir, out, fake, [], results) == 1
    assert calls.read_text().count("run") == 2
