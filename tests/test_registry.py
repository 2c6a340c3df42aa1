"""The framework registry: one entry declares a framework, and every stage derives from it.

The toy framework (``tests/toy_framework.py``: NumPy float32 as its own adapter) is registered
for a while, and the conformance and parity machinery pick it up with no other edit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import test_parity
from conftest import CatalogDumps
from toy_framework import ENTRY as TOY
from wgan_parity import frameworks
from wgan_parity.core.catalog import select
from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump
from wgan_parity.matrix import envtable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SMALL_CASE = "conv2d.probe"


def _pytest_with_toy(*args: str) -> str:
    """Run pytest in a subprocess with the toy framework registered (``-p toy_plugin``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "src")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "toy_plugin", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"pytest {args} exited {done.returncode}:\n{done.stdout[-3000:]}"
    return done.stdout


def test_conformance_and_parity_ids_include_a_registered_framework() -> None:
    listed = _pytest_with_toy(
        "--collect-only", "-q", "tests/test_backend_protocol.py", "tests/test_parity.py"
    )
    toy = TOY.name
    assert f"test_builtin_module_implements_protocol[{toy}]" in listed
    assert f"test_adapter_does_not_import_its_framework_at_import_time[{toy}]" in listed
    ids = {line.split("[", 1)[1][:-1] for line in listed.splitlines() if "test_matches_" in line}
    for framework in frameworks.compared():
        mine = {i for i in ids if i.endswith(f"/{framework.name}")}
        toys = {i[: -len(toy)] + framework.name for i in ids if i.endswith(f"/{toy}")}
        assert toys == mine, f"the parity ids of {toy} differ from those of {framework.name}"
    assert any(i.endswith(f"/{toy}") for i in ids), f"no parity id for {toy}: {sorted(ids)[:5]}"


@pytest.mark.slow
def test_conformance_tests_pass_for_a_registered_framework() -> None:
    out = _pytest_with_toy("-q", "-rA", "-k", TOY.name, "tests/test_backend_protocol.py")
    for test in ("builtin_module_implements_protocol", "adapter_does_not_import_its_framework"):
        assert f"PASSED tests/test_backend_protocol.py::test_{test}" in out, out[-2000:]


@pytest.fixture
def toy_dumps(tmp_path: Path):
    """Dumps of one small case by the truth and the toy, as the session fixture serves them."""
    with frameworks.registered(TOY):
        for name in (frameworks.truth().name, TOY.name):
            write_catalog_dump(DumpRequest(name, tmp_path / f"{name}.npz", select([SMALL_CASE])))
        dumps = CatalogDumps(tmp_path, reuse=True)
        yield dumps


@pytest.mark.slow
def test_parity_test_runs_on_a_registered_framework(toy_dumps: CatalogDumps) -> None:
    """The parity test itself, on the toy's dump: NumPy float32 is within float32 noise."""
    assert TOY.name in list(toy_dumps), "the session's dumps come from the registry"
    dump = toy_dumps[TOY.name]
    assert dump.meta["env_id"].startswith(f"{TOY.short}-"), dump.meta["env_id"]
    tensors = list(dump.meta["cases"][SMALL_CASE]["tensors"])
    assert tensors, f"the toy dump of {SMALL_CASE} is empty: {dump.meta['cases']}"
    for tensor in tensors:
        test_parity.test_matches_float64_truth(toy_dumps, SMALL_CASE, tensor, TOY.name)


def test_envtable_accepts_a_framework_only_while_registered(tmp_path: Path) -> None:
    row = {"id": "toy-1", "framework": TOY.name, "pins": ["numpy==2.0.0"], "sets": ["default"]}
    data = {
        "schema": 1,
        "sets": {"default": "d"},
        "matrix": {
            "env": [{"id": "reference", "framework": "reference", "sets": ["default"]}, row]
        },
    }
    with pytest.raises(envtable.TableError, match="expected framework in"):
        envtable.parse_table(data, tmp_path / "matrix.toml")
    with frameworks.registered(TOY):
        table = envtable.parse_table(data, tmp_path / "matrix.toml")
        assert table.get("toy-1").import_module == "numpy"
        wrong = {**data, "matrix": {"env": [{**row, "pins": ["torch==2.4.1"]}]}}
        with pytest.raises(envtable.TableError, match=r"name one of \['numpy'\]"):
            envtable.parse_table(wrong, tmp_path / "matrix.toml")


def test_registration_is_temporary_and_refuses_a_clash() -> None:
    before = frameworks.names()
    with frameworks.registered(TOY):
        assert TOY.name in frameworks.names()
        assert frameworks.framework_of_label("toy-1.2") == (TOY, "1.2")
    assert frameworks.names() == before
    clash = frameworks.Framework("torch", "t", "x", "x", rank=5)
    with pytest.raises(frameworks.FrameworkError, match="already name"):
        frameworks.registered(clash).__enter__()
    with pytest.raises(frameworks.FrameworkError, match="expected one of"):
        frameworks.get("mxnet")


def test_labels_round_trip_for_every_framework() -> None:
    for framework in frameworks.all_frameworks():
        label = framework.env_id("1.2.3")
        version = "" if framework.truth else "1.2.3"
        assert frameworks.framework_of_label(label) == (framework, version)


def test_pyproject_has_each_framework_extra() -> None:
    """The extra named by each entry exists and installs one of its distributions."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for framework in frameworks.compared():
        assert framework.extra in extras, f"pyproject lacks the [{framework.extra}] extra"
        names = {
            r.split(">")[0].split("=")[0].split("<")[0].strip() for r in extras[framework.extra]
        }
        assert names & set(framework.distributions), (
            f"[{framework.extra}] installs {sorted(names)}, expected one of "
            f"{list(framework.distributions)}"
        )


def test_a_case_that_cannot_run_fails_its_test_not_the_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A case missing from the tensors file is run small; a model bug there becomes a failure."""
    import _parity

    def broken(case):
        raise ValueError("model bug")

    monkeypatch.setattr(_parity, "recorded_tensor_names", dict)
    monkeypatch.setattr(_parity.names, "run_tensor_names", broken)
    _parity.tensor_names.cache_clear()
    try:
        params = _parity.parity_params(select([SMALL_CASE]))
        assert [p.id for p in params] == [
            f"{SMALL_CASE}/{_parity.UNKNOWN}/{f.name}" for f in frameworks.compared()
        ]
        with pytest.raises(pytest.fail.Exception, match="ValueError: model bug"):
            _parity.check_against_truth(None, None, SMALL_CASE, _parity.UNKNOWN, "torch")
    finally:
        _parity.tensor_names.cache_clear()
