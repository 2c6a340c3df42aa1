"""``wgan-parity matrix --outdated`` against a local index (a folder of wheel names): no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from _workflow import ROOT, run_step
from wgan_parity.matrix.envtable import EnvSpec
from wgan_parity.matrix.outdated import Newer, find_newer, markdown, parse, pip_lister

SRC = Path(__file__).resolve().parents[1] / "src"
WHEELS = {
    "torch": ["2.14.1", "2.15.0", "2.15.1", "2.16.0", "2.17.0rc1", "1.13.1"],
    "tensorflow-cpu": ["2.21.0"],
}


def _index(folder: Path) -> Path:
    folder.mkdir()
    for package, versions in WHEELS.items():
        for version in versions:
            name = package.replace("-", "_")
            (folder / f"{name}-{version}-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    return folder


def _environ(index: Path) -> dict:
    """Only this folder: pip's own config files and indexes are switched off."""
    return {
        **os.environ,
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(index),
    }


def _table() -> List[EnvSpec]:
    return [
        EnvSpec(id="reference", framework="reference"),
        EnvSpec(id="torch-2.15.0", framework="torch", pins=("torch==2.15.0",), python="3.11"),
        EnvSpec(id="torch-2.14.1", framework="torch", pins=("torch==2.14.1",), python="3.11"),
        EnvSpec(id="tf", framework="tensorflow", pins=("tensorflow-cpu==2.21.0",), python="3.11"),
    ]


def test_newer_patch_and_minor_from_a_local_index(tmp_path: Path) -> None:
    found = find_newer(_table(), pip_lister(_environ(_index(tmp_path / "wheels"))))
    assert found == [
        Newer("torch", "3.11", "torch", "2.15.1", "patch", "2.15.0"),
        Newer("torch", "3.11", "torch", "2.16.0", "minor", "2.15.0"),
    ]  # no pre-release (2.17.0rc1), nothing older than the table, TF up to date
    assert "| torch | 3.11 | torch | 2.16.0 | minor | 2.15.0 |" in markdown(found)


def test_a_package_the_index_lacks_is_not_an_error(tmp_path: Path) -> None:
    env = EnvSpec(id="jax", framework="jax", pins=("jax==0.4.0",), python="3.11")
    assert find_newer([env], pip_lister(_environ(_index(tmp_path / "wheels")))) == []


def test_the_command_prints_markdown(tmp_path: Path) -> None:
    table = tmp_path / "matrix.toml"
    table.write_text(
        "schema = 1\n[sets]\ndefault = 'd'\n[matrix]\nenv = [\n"
        '  {id = "torch-2.15.0", framework = "torch", pins = ["torch==2.15.0"],'
        ' sets = ["default"]},\n'
        "]\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "wgan_parity", "matrix", "--outdated", "--table", str(table)],
        capture_output=True,
        text=True,
        env={**_environ(_index(tmp_path / "wheels")), "PYTHONPATH": str(SRC)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| torch | 3.11 | torch | 2.15.1 | patch | 2.15.0 |" in done.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.15.1", (2, 15, 1)), ("2.17.0rc1", None), ("2.13.0+cpu", None), ("1.0", (1, 0))],
)
def test_parse_keeps_final_releases_only(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_the_weekly_workflow_writes_the_list_to_the_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    done = run_step(
        "plan",
        "outdated",
        ROOT,
        {**_environ(_index(tmp_path / "wheels")), "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert done.returncode == 0, done.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## New framework releases")
    assert "| torch | 3.11 | torch | 2.16.0 | minor | 2.15.0 |" in text
