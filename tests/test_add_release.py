"""A release the index offers beyond the table becomes a row, a lock, a dump and a result.

The fast tests edit a small table. The end-to-end test builds a *newer* JAX in a local find-links
folder (the installed jax, relabelled 0.10.3: the same code, so its dump must agree with the
truth as 0.10.2's does), then runs the weekly job's path: ``matrix --add-new`` adds the row and
regenerates tox.ini, the runner locks and dumps it from that folder, and the aggregator compares
it with the float64 truth.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.matrix import addrelease, pipbridge
from wgan_parity.matrix.envtable import load_table
from wgan_parity.matrix.outdated import Newer

ROOT = Path(__file__).resolve().parents[1]
TABLE = """schema = 1
[sets]
default = "d"
releases = "r"
[matrix]
env = [
  {id = "reference", framework = "reference", sets = ["default", "releases"]},
  # JAX
  {id = "jax-0.10.2", framework = "jax", pins = ["jax==0.10.2", "jaxlib==0.10.2"], sets = ["default", "releases"]},
  {id = "jax-0.10.2-x", framework = "jax", pins = ["jax==0.10.2", "jaxlib==0.10.2"], dump_args = ["--threads", "1"], sets = ["releases"]},
]
"""  # noqa: E501


def _table(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "matrix.toml"
    path.write_text(TABLE, encoding="utf-8")
    return path


def test_a_new_release_is_one_line_after_its_template(tmp_path: Path) -> None:
    table = load_table(_table(tmp_path))
    found = [Newer("jax", "3.11", "jax", "0.10.3", "patch", "0.10.2")]
    added = addrelease.plan(table, found)
    assert [a.env.id for a in added] == ["jax-0.10.3"]  # the plain row is the template
    assert added[0].env.pins == ("jax==0.10.3", "jaxlib==0.10.2")
    addrelease.write(table, added)
    lines = table.path.read_text(encoding="utf-8").splitlines()
    at = next(k for k, line in enumerate(lines) if 'id = "jax-0.10.2"' in line)
    assert 'id = "jax-0.10.3"' in lines[at + 1]
    reread = load_table(table.path)
    assert reread.get("jax-0.10.3").sets == ("default", "releases")
    assert addrelease.plan(reread, found) == []  # a second run adds nothing


def _relabelled_wheel(package: str, version: str, folder: Path) -> Path:
    """The installed ``package`` as a wheel that says it is ``version`` (same code)."""
    dist = metadata.distribution(package)
    old = dist.version
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{package}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as out:
        for file in dist.files or []:
            name = str(file).replace(f"{package}-{old}.dist-info", f"{package}-{version}.dist-info")
            if name.endswith(("RECORD", ".pyc")) or name.startswith(".."):
                continue
            data = Path(str(file.locate())).read_bytes()
            if name.endswith(".dist-info/METADATA") or name == f"{package}/version.py":
                data = data.replace(old.encode(), version.encode())
            out.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")
        record = f"{package}-{version}.dist-info/RECORD"
        out.writestr(record, "\n".join([*records, f"{record},,"]) + "\n")
    return wheel


@pytest.mark.slow
def test_a_newer_release_in_find_links_becomes_row_lock_dump_and_result(
    tmp_path: Path, catalog_dumps
) -> None:
    pytest.importorskip("jax")
    if not (shutil.which("uv") or os.environ.get("WGAN_PARITY_UV")):
        pytest.skip("uv is not installed here (`nox -s tests` has it): the runner locks with uv")
    if metadata.version("jax") != "0.10.2":
        pytest.skip("the table's template is jax 0.10.2; this env runs another jax")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "src", project / "src")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "locks", project / "locks")
    table = _table(project)
    (project / "tox.ini").write_text("", encoding="utf-8")
    wheels = tmp_path / "wheels"
    _relabelled_wheel("jax", "0.10.3", wheels)
    links = [*pipbridge.pip_settings().get("find-links", []), str(wheels)]
    environ = {**os.environ, "PIP_FIND_LINKS": " ".join(links), "PYTHONPATH": str(project / "src")}
    environ.pop("UV_FIND_LINKS", None)  # nox bridged pip's own find-links: bridge them again

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args], cwd=project, env=environ, capture_output=True, text=True
        )

    added = run("-m", "wgan_parity", "matrix", "--add-new", "--json", "--table", str(table))
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"] == ["jax-0.10.3"]
    assert "jax-0.10.3" in (project / "tox.ini").read_text(encoding="utf-8")
    runner = ("-m", "wgan_parity")
    locked = run(*runner, "lock", "--env", "jax-0.10.3", "--table", str(table))
    assert locked.returncode == 0, locked.stderr
    assert "jax==0.10.3" in (project / "locks" / "jax-0.10.3.txt").read_text(encoding="utf-8")
    dumps = tmp_path / "dumps"
    dumped = run(
        *runner, "run", "--dump-only", "--env", "jax-0.10.3", "--table", str(table),
        "--locked", "--plain", "--dump-dir", str(dumps), "--min-free-gb", "1",
    )  # fmt: skip
    assert dumped.returncode == 0, dumped.stderr[-3000:]
    catalog_dumps["reference"]
    out = tmp_path / "results"
    code = main(
        ["aggregate", str(catalog_dumps.folder / "reference.npz"), str(dumps), "--out", str(out)]
    )
    envs = pd.read_csv(out / "envs.csv", keep_default_na=False, dtype=str).set_index("env")
    assert envs.at["jax-0.10.3", "framework_version"] == "0.10.3"
    assert envs.at["jax-0.10.3", "status"] == "ok"
    pairs = pd.read_csv(out / "pairs.csv", keep_default_na=False, dtype=str)
    assert (pairs["env_a"] == "jax-0.10.3").sum() > 100
    assert code in (0, 1)  # a verdict, not a usage or env problem
