"""Dumps from many machines merge by copying files (the CI fan-out of .github/workflows/parity.yml).

Two "machines" write small dumps (the non-square ``*.probe`` cases) into their own folders:
machine A runs the float64 reference and ``reference32`` as env ``r32``; machine B runs ``r32``
too, and its platform is then rewritten through the dumpfile API (another OS/CPU/GPU), as if it
came from an ARM GPU box. Each folder is staged by the workflow's own ``stage`` step (named and
split into case shards), shard k of every machine is aggregated with ``--partial`` and the parts
are merged, as the aggregate and merge jobs do. The same release on two machines must be two
envs, and nothing may depend on which folder or name a file came from.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pandas as pd
import pytest

from _workflow import run_step
from wgan_parity.cli import argv, main
from wgan_parity.dump.dumpfile import DumpReader, write_dump

PLATFORM_B = {
    "system": "Linux",
    "release": "6.8.0",
    "machine": "aarch64",
    "cpu": "Neoverse-V2",
    "cpu_count": 72,
    "gpu": "NVIDIA GH200 480GB",
}
DUMPS = {"a": [("reference", "reference"), ("reference32", "r32")], "b": [("reference32", "r32")]}
RUNNER = {"a": ("Linux", "X64"), "b": ("Linux", "ARM64")}
SHARDS = 2

pytestmark = pytest.mark.slow  # the module's fixture runs real dumps


def _repin(path: Path, platform: Dict[str, object]) -> str:
    """Rewrite ``path`` with ``platform`` in its metadata (id as provenance computes it)."""
    key = "|".join(str(platform[k]) for k in ("system", "machine", "cpu", "gpu"))
    platform = {**platform, "id": hashlib.sha256(key.encode()).hexdigest()[:8]}
    tmp = path.with_name("repinned.npz")
    with DumpReader(path) as reader:
        write_dump(tmp, {**reader.meta, "platform": platform}, ((k, reader.get(k)) for k in reader))
    tmp.replace(path)
    return str(platform["id"])


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<base>/machine-{a,b}/dumps/`` as each machine's orchestrator leaves it, then staged."""
    base = tmp_path_factory.mktemp("fanout")
    procs = []
    for machine, dumps in DUMPS.items():
        for backend, env_id in dumps:
            out = base / f"machine-{machine}" / "dumps" / f"{env_id}.npz"
            cmd = argv(
                "dump",
                *("--backend", backend, "--env-id", env_id, "--out", out, "--quiet"),
                *("--cases", "*.probe"),
            )
            procs.append((out, subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)))
    for out, proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"dump {out} exited {proc.returncode}: {err[-2000:]}"
    _repin(base / "machine-b" / "dumps" / "r32.npz", PLATFORM_B)
    for machine, dumps in DUMPS.items():
        system, arch = RUNNER[machine]
        for _, env_id in dumps:
            env = {"ENV_ID": env_id, "RUNNER_OS": system, "RUNNER_ARCH": arch, "GITHUB_RUN_ID": "7"}
            env.update(SHARDS=str(SHARDS), SHARD_PYTHON=sys.executable)
            done = run_step("dump", "stage", base / f"machine-{machine}", env)
            assert done.returncode == 0, done.stderr
    return base


def _merge(folders: List[Path], into: Path) -> Path:
    """What download-artifact's merge-multiple does: copy every file into one folder."""
    into.mkdir(parents=True)
    for folder in folders:
        for path in folder.iterdir():
            assert not (into / path.name).exists(), f"{path.name} would overwrite another file"
            shutil.copy2(path, into / path.name)
    return into


def _aggregate(out: Path, *inputs: Path, jobs: int = 1) -> int:
    """What the aggregate jobs and the merge job do: each shard's part, then the merge."""
    files = [p for folder in inputs for p in sorted(folder.iterdir())]
    parts = []
    for k in range(1, SHARDS + 1):
        job = out.parent / f"{out.name}-shard-{k}"
        job.mkdir(parents=True)
        for path in files:
            if path.name.endswith(".status.json") or _shard_index(path) == k:
                shutil.copy2(path, job / path.name)
        part = out.parent / f"{out.name}-parts" / f"part-{k}.npz"
        args = ["aggregate", str(job), "--partial", str(part), "--quiet", "--jobs", str(jobs)]
        assert main(args) == 0
        parts.append(str(part))
    return main(["merge", *parts, "--out", str(out)])


def _shard_index(path: Path) -> int:
    """The shard a staged file holds, from its metadata (names may say nothing)."""
    if not path.name.endswith(".npz"):
        return 0
    with DumpReader(path) as reader:
        return int(reader.meta["shard"]["index"])


def _platform_id(path: Path) -> str:
    with DumpReader(path) as reader:
        return str(reader.meta["platform"]["id"])


def test_staging_names_files_uniquely_per_machine(machines: Path) -> None:
    names = {
        m: sorted(p.name for p in (machines / f"machine-{m}" / "upload").iterdir()) for m in DUMPS
    }
    assert names["a"] == [
        *(f"r32@Linux-X64-7.shard-{k}of2.npz" for k in (1, 2)),
        *(f"reference@Linux-X64-7.shard-{k}of2.npz" for k in (1, 2)),
    ]  # the unsplit dumps are gone (--remove): one copy of the data leaves the machine
    assert names["b"] == [f"r32@Linux-ARM64-7.shard-{k}of2.npz" for k in (1, 2)]


def test_same_env_on_two_machines_is_two_envs(machines: Path, tmp_path: Path) -> None:
    staged = [machines / f"machine-{m}" / "upload" for m in DUMPS]
    merged = _merge(staged, tmp_path / "merged")
    assert _aggregate(tmp_path / "out", merged) == 0
    pid_a = _platform_id(machines / "machine-a" / "upload" / "r32@Linux-X64-7.shard-1of2.npz")
    pid_b = _platform_id(machines / "machine-b" / "upload" / "r32@Linux-ARM64-7.shard-1of2.npz")
    assert pid_a != pid_b
    envs = pd.read_csv(tmp_path / "out" / "envs.csv")
    assert sorted(envs["env"]) == sorted([f"r32@{pid_a}", f"r32@{pid_b}", "reference"])
    both = envs[envs["env_id"] == "r32"].set_index("env")
    assert both.loc[f"r32@{pid_b}", "machine"] == "aarch64"
    assert both.loc[f"r32@{pid_b}", "gpu"] == PLATFORM_B["gpu"]
    pairs = pd.read_csv(tmp_path / "out" / "pairs.csv")
    labels = {f"r32@{pid_a}", f"r32@{pid_b}"}  # pairs come in label order, whichever sorts first
    between = pairs[pairs["env_a"].isin(labels) & pairs["env_b"].isin(labels)]
    assert len(between) > 0, "the two machines' r32 dumps must be compared with each other"
    assert (between["status"] == "ok").all()


def test_a_failure_on_another_machine_stays_apart(machines: Path, tmp_path: Path) -> None:
    merged = _merge([machines / "machine-a" / "upload"], tmp_path / "merged")
    key = "|".join(str(PLATFORM_B[k]) for k in ("system", "machine", "cpu", "gpu"))
    platform_b = {**PLATFORM_B, "id": hashlib.sha256(key.encode()).hexdigest()[:8]}
    record = {
        "env_id": "r32",
        "status": "failed",
        "stage": "install",
        "reason": "no wheel",
        "duration_s": 1.0,
        "platform": platform_b,
    }
    (merged / "r32@Linux-ARM64-7.status.json").write_text(json.dumps(record))
    assert _aggregate(tmp_path / "out", merged) == 4  # an env could not run; nothing diverged
    pid_a = _platform_id(machines / "machine-a" / "upload" / "r32@Linux-X64-7.shard-1of2.npz")
    envs = pd.read_csv(tmp_path / "out" / "envs.csv", keep_default_na=False).set_index("env")
    assert envs.loc[f"r32@{pid_a}", "status"] == "ok"
    assert envs.loc[f"r32@{platform_b['id']}", "status"] == "failed"
    assert envs.loc[f"r32@{platform_b['id']}", "machine"] == "aarch64"


def test_result_does_not_depend_on_folders_or_names(machines: Path, tmp_path: Path) -> None:
    staged = [machines / f"machine-{m}" / "upload" for m in DUMPS]
    renamed = tmp_path / "renamed"  # same files, names that say nothing, other order
    renamed.mkdir()
    for n, path in enumerate(sorted(p for f in reversed(staged) for p in f.iterdir())):
        shutil.copy2(path, renamed / f"{9 - n}.npz")
    runs = {
        "merged": [_merge(staged, tmp_path / "merged")],
        "two-folders": staged,
        "two-folders-reversed": staged[::-1],
        "renamed": [renamed],
    }
    outputs = {}
    for n, (name, inputs) in enumerate(runs.items()):  # threads differ too: CI has more cores
        assert _aggregate(tmp_path / name / "out", *inputs, jobs=1 + n % 3) == 0, name
        outputs[name] = tmp_path / name / "out"
    first = outputs["merged"]
    for name, out in outputs.items():
        for table in ("pairs.csv", "matrix_cosine.csv"):
            assert (out / table).read_bytes() == (first / table).read_bytes(), f"{name}: {table}"
        envs = pd.read_csv(out / "envs.csv").drop(columns="file")
        pd.testing.assert_frame_equal(envs, pd.read_csv(first / "envs.csv").drop(columns="file"))


def test_aggregate_job_shell_end_to_end(machines: Path, tmp_path: Path) -> None:
    """The aggregate jobs' own steps after the download (missing envs, the part), then the merge
    job's (merge, summary).

    A planned env whose job uploaded nothing becomes a failed env (stage ``ci``) in every shard,
    the exit code says so (bit 4), and the step summary carries the merged Markdown summary.
    """
    staged = [machines / f"machine-{m}" / "upload" for m in DUMPS]
    merged = _merge(staged, tmp_path / "merged")
    plan = {"include": [{"env_id": "reference"}, {"env_id": "r32"}, {"env_id": "tf-9.9.9"}]}
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = {
        "MATRIX_JSON": json.dumps(plan),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "PARITY_SET": "default",
    }
    merge_job = tmp_path / "merge-job"
    for k in range(1, SHARDS + 1):  # each aggregate job: its shard of every env
        job = tmp_path / f"aggregate-{k}"
        (job / "downloaded").mkdir(parents=True)
        for path in merged.iterdir():
            if f".shard-{k}of" in path.name:
                shutil.copy2(path, job / "downloaded" / path.name)
        _report_tool(job)
        for step_id in ("missing", "partial"):
            done = run_step("aggregate", step_id, job, {**env, "SHARD": str(k)})
            assert done.returncode == 0, f"{step_id}: {done.stdout}{done.stderr}"
        missing = sorted(p.name for p in (job / "downloaded").glob("*.status.json"))
        assert missing == ["tf-9.9.9@missing.status.json"]
        (merge_job / "parts").mkdir(parents=True, exist_ok=True)
        shutil.copy2(job / "parts" / f"part-{k}.npz", merge_job / "parts")
    _report_tool(merge_job)
    done = run_step("merge", "merge", merge_job, env)
    assert done.returncode == 0, f"merge: {done.stdout}{done.stderr}"
    rc = int(dict(line.split("=", 1) for line in output.read_text().splitlines())["rc"])
    assert rc & 4, f"exit {rc}: bit 4 (some env could not run) expected"
    envs = pd.read_csv(merge_job / "results" / "envs.csv").set_index("env")
    assert (envs.loc["tf-9.9.9", "status"], envs.loc["tf-9.9.9", "stage"]) == ("failed", "ci")
    done = run_step("merge", "summary", merge_job, {**env, "RC": str(rc)})
    assert done.returncode == 0, done.stderr
    text = summary.read_text()
    assert f"Set `default`, exit {rc}: " in text
    assert "not a numerical finding" in text  # 4 and 5 are told apart from a regression (1)
    summary.write_text("")
    crashed = run_step("merge", "summary", merge_job, {**env, "RC": "8"})
    assert crashed.returncode == 0, crashed.stderr
    assert "internal error of wgan-parity" in summary.read_text()
    summary.write_text("")
    run_step("merge", "summary", merge_job, {**env, "RC": "1"})
    assert "**a numerical finding**: some row diverged" in summary.read_text()
    if (merge_job / "results" / "summary.md").is_file():
        assert (merge_job / "results" / "summary.md").read_text() in text
    else:
        assert (merge_job / "results" / "aggregate.txt").read_text() in text


def _report_tool(job: Path) -> None:
    """The report env's CLI, as the job installs it: this interpreter's package."""
    tool = job / ".wgan-parity" / "report" / "bin" / "wgan-parity"
    tool.parent.mkdir(parents=True)
    tool.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m wgan_parity "$@"\n')
    tool.chmod(0o755)
