"""Test helpers: read ``.github/workflows/parity.yml`` and run one of its ``run:`` steps locally.

The steps are run verbatim under bash, with the ``env:`` of the workflow, the job and the step
and whatever the test adds (e.g. ``GITHUB_OUTPUT``, ``RUNNER_OS``), so the tests check the
workflow's own shell, not a copy of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "parity.yml"


def load() -> Dict[str, Any]:
    """The parsed workflow (PyYAML reads the ``on:`` key as ``True``; it is renamed back)."""
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def job(name: str) -> Dict[str, Any]:
    """One job of the workflow."""
    return load()["jobs"][name]


def step(job_name: str, step_id: str) -> Dict[str, Any]:
    """The step of ``job_name`` whose ``id`` is ``step_id``."""
    for item in job(job_name)["steps"]:
        if item.get("id") == step_id:
            return item
    raise KeyError(f"no step with id {step_id!r} in job {job_name!r} of {WORKFLOW}")


def _plain(env: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The entries of an ``env:`` block that hold no ``${{ }}`` expression."""
    return {k: str(v) for k, v in (env or {}).items() if "${{" not in str(v)}


def run_step(
    job_name: str, step_id: str, cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess:
    """Run the step's ``run:`` script with bash in ``cwd``; ``python`` is this interpreter."""
    script = step(job_name, step_id)["run"]
    assert "${{" not in script, f"step {step_id!r} uses an expression: cannot run it locally"
    data = load()
    full = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **_plain(data.get("env")),
        **_plain(data["jobs"][job_name].get("env")),
        **_plain(step(job_name, step_id).get("env")),
        **env,
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", script],  # GitHub's default `run` shell
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
