"""A port's dump cache key: it covers the user backend's module and the checkout's modules it
imports (issue #26, item 6), so editing a port re-runs its dump and nothing else does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import pytest

from _matrix import FakeBuilder, make_project, run
from wgan_parity.matrix import cachekey
from wgan_parity.matrix.envtable import EnvSpec

ROOT = Path(__file__).resolve().parents[1]

PORT_MATRIX = """schema = 1
[sets]
default = "d"
[matrix]
env = [
  {id = "reference", framework = "reference", sets = ["default"]},
  {id = "port-tf", framework = "tensorflow", pins = ["tensorflow-cpu==2.21.0"], \
backend = "myports.port", sets = ["default"]},
]
"""
PORT_FILES = {
    "myports/__init__.py": "",
    # relative (module and from-module) and absolute imports, a package's own module, a
    # third-party and a standard library import (neither in the checkout)
    "myports/port.py": (
        "from . import helpers\n"
        "from .helpers import scale\n"
        "import myports.more\n"
        "from wgan_parity.core import model\n"
        "import numpy, json\n"
        'BASE = "tensorflow"\n'
    ),
    "myports/helpers.py": "from .sub.deep import DEPTH\nscale = 2\n",
    "myports/more.py": "import srcmod\n\ndef f():\n    from ..  import nothing_above\n",
    "myports/sub/__init__.py": "",
    "myports/sub/deep.py": "from .. import helpers\nDEPTH = 1\n",
    "src/srcmod.py": "X = 1\n",  # found under root/src too
    "myports/unrelated.py": "Y = 1\n",
    "other.py": "import myports.port\n",  # imports the port; the port does not import it
    "src/wgan_parity/core/model.py": "M = 1\n",  # the package: source_sha256 covers it
}
CLOSURE = [
    "myports/__init__.py",
    "myports/helpers.py",
    "myports/more.py",
    "myports/port.py",
    "myports/sub/__init__.py",
    "myports/sub/deep.py",
    "src/srcmod.py",
]


def _write(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def _edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")


def test_port_key_covers_the_port_and_what_it_imports_from_the_checkout(tmp_path: Path) -> None:
    _write(tmp_path, PORT_FILES)
    files = cachekey.port_source_files(tmp_path, "myports.port")
    assert [p.relative_to(tmp_path).as_posix() for p in files] == CLOSURE
    before = cachekey.port_source_hash(tmp_path, "myports.port")
    assert before is not None
    assert len(before) == 64
    for unrelated in ("myports/unrelated.py", "other.py", "src/wgan_parity/core/model.py"):
        _edit(tmp_path / unrelated)
        assert cachekey.port_source_hash(tmp_path, "myports.port") == before, unrelated
    for covered in CLOSURE:
        _edit(tmp_path / covered)
        after = cachekey.port_source_hash(tmp_path, "myports.port")
        assert after != before, covered
        before = after


def test_a_user_base_backend_is_part_of_the_closure(tmp_path: Path) -> None:
    _write(tmp_path, {"ports/v1.py": 'BASE = "ports.v0"\n', "ports/v0.py": 'BASE = "torch"\n'})
    files = cachekey.port_source_files(tmp_path, "ports.v1")
    assert [p.name for p in files] == ["v0.py", "v1.py"]


def test_builtin_and_missing_backends(tmp_path: Path) -> None:
    _write(tmp_path, PORT_FILES)
    for builtin in ("torch", "reference", "reference32", "wgan_parity.backends.module_port"):
        assert cachekey.port_source_hash(tmp_path, builtin) is None, builtin
    assert cachekey.port_source_hash(tmp_path, "elsewhere.port") == (
        "elsewhere.port: not in the checkout"
    )
    (tmp_path / "broken.py").write_text("def (:\n")  # hashed, not parsed: its dump fails anyway
    assert cachekey.port_source_files(tmp_path, "broken") == [tmp_path / "broken.py"]


def test_the_checkouts_example_ports_are_keyed_by_their_own_files() -> None:
    for port in ("examples.seed_tf", "examples.seed_port", "examples.seed_port_v0"):
        files = cachekey.port_source_files(ROOT, port)
        assert files == [ROOT / (port.replace(".", "/") + ".py")], port


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The runner tests' throwaway project, its matrix an env whose backend is a port."""
    project = make_project(tmp_path, monkeypatch)
    (project / "matrix.toml").write_text(PORT_MATRIX, encoding="utf-8")
    _write(project, PORT_FILES)
    return project


def test_editing_a_port_between_two_runs_redumps_only_its_env(project: Path) -> None:
    builder = FakeBuilder(project)
    assert [r.status for r in run(project, builder)] == ["ok", "ok"]
    recorded = json.loads((project / "dumps" / "port-tf.key.json").read_text())
    assert recorded["port_sha256"] == cachekey.port_source_hash(project, "myports.port")
    builder.calls.clear()
    _edit(project / "myports" / "unrelated.py")
    assert [r.status for r in run(project, builder)] == ["cached", "cached"]
    assert builder.calls == []
    for edited in ("myports/helpers.py", "myports/more.py", "myports/port.py"):
        _edit(project / edited)
        builder.calls.clear()
        statuses = {r.env_id: r.status for r in run(project, builder)}
        assert statuses == {"reference": "cached", "port-tf": "ok"}, edited
        assert builder.calls == [("dump", "port-tf")], edited  # same lock: no reinstall
    assert {r.status for r in run(project, builder)} == {"cached"}


def test_a_port_edited_during_its_dump_is_not_cached(project: Path) -> None:
    class EditingBuilder(FakeBuilder):
        def dump(self, env: EnvSpec, out: Path, log: Path, timeout_s=None, report=None) -> str:
            if env.id == "port-tf":  # the user edits the port while its env dumps
                _edit(project / "myports" / "helpers.py")
            return super().dump(env, out, log, timeout_s)

    results = {r.env_id: r for r in run(project, EditingBuilder(project))}
    assert results["port-tf"].status == "ok"
    assert "not cached" in results["port-tf"].reason
    assert not (project / "dumps" / "port-tf.key.json").exists()
    again = {r.env_id: r.status for r in run(project, FakeBuilder(project))}
    assert again == {"reference": "cached", "port-tf": "ok"}
