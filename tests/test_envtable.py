"""The env table, its derived front ends (nox, tox, `matrix`), the locks and the runner.

Fast: no framework is installed. The runner is driven with a fake builder, except one test
that runs a real `wgan-parity dump` subprocess that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from wgan_parity.commands import matrix as matrix_command
from wgan_parity.core import hostinfo
from wgan_parity.matrix import cachekey, locks, matrixrun, orchestrate, pipbridge, toxgen
from wgan_parity.matrix.envtable import EnvSpec, TableError, load_table, parse_table
from wgan_parity.matrix.orchestrate import EnvResult, RunOptions
from wgan_parity.matrix.progress import Progress
from wgan_parity.matrix.venvs import Builder, StageFailed

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


# --- the real table -------------------------------------------------------------------------


def test_default_set_is_reference_tf_221_torch_213() -> None:
    envs = TABLE.in_set("default")
    assert [e.framework for e in envs] == ["reference", "tensorflow", "torch"]
    assert [p for e in envs for p in e.pins] == ["tensorflow-cpu==2.21.0", "torch==2.13.0"]


def test_releases_set_has_one_latest_patch_per_minor() -> None:
    envs = TABLE.in_set("releases")
    minors: Dict[str, List[str]] = {"tensorflow": [], "torch": []}
    for env in envs:
        if env.framework != "reference":
            assert env.python == "3.11", env.id
            minors[env.framework].append(".".join(env.pins[0].split("==")[1].split(".")[:2]))
    assert sorted(minors["tensorflow"]) == sorted(f"2.{m}" for m in range(12, 22))
    assert sorted(minors["torch"]) == sorted(f"2.{m}" for m in range(16))
    assert sum(e.framework == "reference" for e in envs) == 1


@pytest.mark.parametrize("env", TABLE.all_envs(), ids=lambda e: e.id)
def test_every_env_has_a_current_lock(env: EnvSpec) -> None:
    path = locks.lock_path(TABLE, env)
    fix = f"run `nox -s lock -- --env {env.id}`"
    assert locks.is_current(TABLE, env), f"{path} is missing or stale: {fix}"
    pins = locks.packages(path)
    for pin in env.pins:
        name, version = pin.split("==")
        assert pins[name].split("+")[0] == version, f"{env.id}: {pin} but lock has {pins[name]}"
    minor = tuple(map(int, env.pins[0].split("==")[1].split(".")[:2])) if env.pins else ()
    if env.framework == "torch" and minor < (2, 3):
        assert pins["numpy"].startswith("1."), f"{env.id}: torch < 2.3 needs numpy<2"


# --- validation -----------------------------------------------------------------------------

GOOD = {
    "schema": 1,
    "sets": {"default": "d"},
    "matrix": {"env": [{"id": "reference", "framework": "reference", "sets": ["default"]}]},
}


def with_env(**row: object) -> dict:
    data = json.loads(json.dumps(GOOD))
    data["matrix"]["env"].append(row)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "schema": 2}, "expected `schema = 1`"),
        (with_env(id="reference", framework="reference"), "duplicate env id"),
        (with_env(id="jax-1", framework="jax", pins=["jax==1"]), "expected framework in"),
        (
            with_env(id="t", framework="torch", pins=["torch==2.4.1"], sets=["nightly"]),
            "undeclared set",
        ),
        (with_env(id="t", framework="torch", pins=["torch==2.4.1"], pin=["x"]), "unknown key"),
        (with_env(id="t", framework="torch"), "needs `pins`"),
        (with_env(id="bad id/x", framework="reference"), "expected `id` of letters"),
        (with_env(id="t", framework="torch", pins="torch==2.4.1"), "list of strings"),
        (
            with_env(id="t", framework="torch", pins=["t==1"], dump_args=["--out", "x.npz"]),
            "may not set ['--out']",
        ),
        (with_env(id="t", framework="torch", pins=["t==1"], runs_on=["gpu"]), "runner label"),
        ({**GOOD, "sets": {"default": "d", "gpu": "g"}}, "have no env"),
        ({**GOOD, "matrix": {"env": []}}, "non-empty `env = [...]`"),
    ],
)
def test_bad_tables_say_what_is_wrong(data: dict, message: str) -> None:
    with pytest.raises(TableError, match=r"matrix\.toml") as info:
        parse_table(data, Path("/x/matrix.toml"))
    assert message in str(info.value)


def test_gpu_envs_carry_their_dump_options_runner_and_cache_key(tmp_path: Path) -> None:
    gpu = {e.id: e for e in TABLE.in_set("gpu")}
    tf32 = gpu["torch-2.14.1-cuda-tf32"]
    assert tf32.dump_args == ("--device", "cuda", "--tf32")
    assert matrix_command.entry(tf32)["runs_on"] == "gpu"
    assert "runs_on" not in matrix_command.entry(gpu["reference"])  # the run's default runner
    lock = tmp_path / "lock.txt"
    lock.write_text("torch==2.14.1\n")
    keys = {orchestrate.dump_key(e, lock, "src") for e in (tf32, gpu["torch-2.14.1-cuda"])}
    assert len(keys) == 2, "TF32 on and off must not share a cached dump"


def test_dump_args_reach_the_dump_and_a_missing_gpu_fails_clearly(project: Path) -> None:
    env = EnvSpec(
        id="cuda-here",
        framework="torch",
        pins=("torch==2.13.0",),
        dump_args=("--device", "cuda", "--cases", "conv2d.probe"),
    )
    result = _run_in_this_python(project, env)
    import torch

    if torch.cuda.is_available():  # a GPU machine: the options worked, the dump ran on CUDA
        assert result.status == "ok", result.reason
        return
    assert result.status == "failed"
    assert "--device cuda asked for" in (project / "dumps" / "cuda-here.log").read_text()


def test_select_by_set_tags_ids_and_unknowns() -> None:
    assert [e.id for e in TABLE.select()] == [e.id for e in TABLE.in_set("default")]
    assert {e.framework for e in TABLE.select(tags=["torch"])} == {"torch"}
    assert [e.id for e in TABLE.select(ids=["tf-2.21.0"])] == ["tf-2.21.0"]
    for kwargs in ({"set_name": "nope"}, {"tags": ["nope"]}, {"ids": ["nope"]}):
        with pytest.raises(TableError, match="nope"):
            TABLE.select(**kwargs)


# --- drift: tox.ini, nox, `wgan-parity matrix` ----------------------------------------------


def test_tox_ini_is_generated_from_the_table() -> None:
    current = (ROOT / "tox.ini").read_text(encoding="utf-8")
    fix = "run `python -m wgan_parity.toxgen --write`"
    assert current == toxgen.render(TABLE), f"tox.ini drifted from matrix.toml: {fix}"
    for env in TABLE.envs:
        assert f"[testenv:dump-{env.id}]" in current


def test_toxgen_check_flags_a_stale_tox_ini(tmp_path: Path) -> None:
    (tmp_path / "matrix.toml").write_bytes((ROOT / "matrix.toml").read_bytes())
    (tmp_path / "tox.ini").write_text("[tox]\n", encoding="utf-8")
    assert toxgen.main(["--table", str(tmp_path / "matrix.toml"), "--check"]) == 1
    assert toxgen.main(["--table", str(tmp_path / "matrix.toml"), "--write"]) == 0
    assert toxgen.main(["--table", str(tmp_path / "matrix.toml"), "--check"]) == 0


@pytest.mark.parametrize("tag", [*sorted(TABLE.sets), "torch"])
def test_nox_sessions_are_generated_from_the_table(tag: str) -> None:
    pytest.importorskip("nox")
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-t", tag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    sessions = {s["session"]: s for s in json.loads(done.stdout)}
    expected = TABLE.select(tags=[tag])
    assert sorted(sessions) == sorted(f"dump({e.id})" for e in expected)
    for env in expected:
        assert sessions[f"dump({env.id})"]["tags"] == list(env.tags)


@pytest.mark.parametrize("set_name", sorted(TABLE.sets))
def test_matrix_command_json_matches_the_set(set_name: str, capsys: pytest.CaptureFixture) -> None:
    from wgan_parity.cli import main

    assert main(["matrix", "--json", "--set", set_name, "--table", str(ROOT / "matrix.toml")]) == 0
    include = json.loads(capsys.readouterr().out)["include"]
    assert [r["env_id"] for r in include] == [e.id for e in TABLE.in_set(set_name)]
    assert {r["nox_session"] for r in include} == {f"dump({e.id})" for e in TABLE.in_set(set_name)}


# --- pip -> uv bridge -----------------------------------------------------------------------


def test_pip_config_is_bridged_into_uv_without_overriding_uv(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nfind-links = /w1\n  /w2\nextra-index-url = file:///a file:///b\n"
        "constraint = /c.txt\n",
        encoding="utf-8",
    )
    environ = {
        "PIP_CONFIG_FILE": str(conf),
        "HOME": str(tmp_path),
        "XDG_CONFIG_DIRS": str(tmp_path),
    }
    bridged = pipbridge.uv_environ(environ)
    assert bridged["UV_FIND_LINKS"] == "/w1,/w2"
    assert bridged["UV_EXTRA_INDEX_URL"] == "file:///a file:///b"
    assert bridged["UV_CONSTRAINT"] == "/c.txt"
    assert bridged["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    environ.update(PIP_FIND_LINKS="/env", UV_CONSTRAINT="/mine.txt")
    bridged = pipbridge.uv_environ(environ)
    assert bridged["UV_FIND_LINKS"] == "/env"
    assert "UV_CONSTRAINT" not in bridged


# --- the runner, with a fake builder --------------------------------------------------------

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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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
    (pkg / "orchestrate.py").write_text("# runner only\n", encoding="utf-8")
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
    return orchestrate.run_envs(table, table.envs, options, builder, progress)


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
    (project / "src" / "wgan_parity" / "orchestrate.py").write_text("# edited\n")
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
    assert orchestrate.exit_code(results) == 4


def test_too_little_disk_fails_the_install_stage_clearly(project: Path) -> None:
    table = load_table(project / "matrix.toml")
    opts = RunOptions(dump_dir=project / "dumps", envs_dir=project / "envs", min_free_gb=1e9)
    progress = Progress(0, stream=open(os.devnull, "w"), bar=False)  # noqa: SIM115
    results = orchestrate.run_envs(table, table.envs[:1], opts, FakeBuilder(project), progress)
    assert (results[0].status, results[0].stage) == ("failed", "install")
    assert "not enough free disk" in results[0].reason
    assert "--min-free-gb" in results[0].reason


def _run_in_this_python(project: Path, env: EnvSpec) -> EnvResult:
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
    [result] = orchestrate.run_envs(table, [env], opts, builder, progress)
    return result


def test_a_real_dump_subprocess_that_fails_is_recorded(project: Path) -> None:
    env = EnvSpec(id="broken", framework="reference", backend="no_such_backend_module")
    result = _run_in_this_python(project, env)
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
    assert orchestrate.exit_code(results, aggregate_rc) == expected


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
    set_dir = matrixrun.link_set(opts.dump_dir, "default", results)
    out = project / "results"
    assert sorted(p.name for p in set_dir.iterdir()) == ["reference.npz", "tf-a.npz", "torch-a.npz"]
    for _ in range(2):
        assert matrixrun.aggregate(table, opts, set_dir, out, fake, [], results) == 1
    assert calls.read_text().count("run") == 1
    (out / "pairs.csv").unlink()
    assert matrixrun.aggregate(table, opts, set_dir, out, fake, [], results) == 1
    assert calls.read_text().count("run") == 2


def test_dump_key_covers_dump_code_only(tmp_path: Path) -> None:
    package = tmp_path / "wgan_parity"
    shutil.copytree(SRC_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = cachekey.dump_source_hash(package)
    report_side_files = (
        "report/heatmap.py",
        "report/summary.py",
        "matrix/orchestrate.py",
        "data/thresholds.toml",
    )
    for report_side in report_side_files:
        (package / report_side).write_text((package / report_side).read_text() + "\n# edit\n")
        assert cachekey.dump_source_hash(package) == before, report_side
    blocks = package / "core" / "blocks.py"
    blocks.write_text(blocks.read_text() + "\n# edit\n")
    assert cachekey.dump_source_hash(package) != before


def test_dump_key_refuses_a_relative_import(tmp_path: Path) -> None:
    package = tmp_path / "wgan_parity"
    package.mkdir()
    (package / "cli.py").write_text("from . import catalog\n")
    (package / "catalog.py").write_text("CASES = 1\n")
    with pytest.raises(ValueError, match=r"cli\.py: relative import"):
        cachekey.dump_source_files(package)


def test_dump_key_closure_holds_every_module_a_dump_loads(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from wgan_parity.cli import main\n"
        f"rc = main(['dump', '--backend', 'reference32', '--out', {str(tmp_path / 'd.npz')!r},"
        " '--cases', 'depth_to_space.seed', '--quiet'])\n"
        "assert rc == 0, rc\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] == 'wgan_parity':\n"
        "        print('MODULE', module.__file__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    loaded = {Path(line[7:]).resolve() for line in out if line.startswith("MODULE ")}
    closure = {p.resolve() for p in cachekey.dump_source_files(SRC_PACKAGE)}
    assert loaded, "the dump loaded no wgan_parity module?"
    assert loaded <= closure, sorted(loaded - closure)
    assert (SRC_PACKAGE / "report" / "heatmap.py").resolve() not in closure


def test_pip_fallback_names_a_missing_interpreter(tmp_path: Path) -> None:
    builder = Builder(
        project_root=tmp_path, envs_dir=tmp_path / "envs", uv=None, environ={"PATH": str(tmp_path)}
    )
    env = EnvSpec(id="old", framework="reference", python="3.99")
    with pytest.raises(StageFailed, match=r"python3\.99 not found") as info:
        builder.install(env, tmp_path / "lock.txt", "digest", tmp_path / "log")
    assert info.value.stage == "install"
