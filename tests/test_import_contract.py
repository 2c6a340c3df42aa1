"""The import contract: each stage (subpackage) imports only what it may (docs/architecture.md).

Read from the source with ``ast`` (nothing is imported), so a violation fails here even on a
machine without the framework in question.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from wgan_parity.frameworks import all_frameworks

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wgan_parity"
# Every registered framework's import module, and some not (yet) registered.
FRAMEWORKS = {fw.import_module for fw in all_frameworks()}
FRAMEWORKS |= {"jax", "jaxlib", "flax", "keras", "equinox"}
STDLIB = set(sys.stdlib_module_names)
# Optional imports the runner guards: tomli (tomllib before Python 3.11), uv (the PyPI package
# that ships the uv binary, looked up if installed).
MATRIX_OPTIONAL = {"tomli", "uv"}
# Top-level modules every stage may use: standard library only (`frameworks`: the registry).
SHARED = {
    "wgan_parity",
    "wgan_parity.atomic",
    "wgan_parity.exitcodes",
    "wgan_parity.frameworks",
    "wgan_parity.invocation",
}
# What each stage may import from the package, besides itself and SHARED.
MAY_USE = {
    "core": set(),
    "dump": {"core", "backends"},
    "matrix": {
        "core.hostinfo",
        "core.isa",
        "core.names",
    },  # the machine's identity: standard library only
    "compare": {"core", "dump.dumpfile", "dump.meta"},  # the dump format, read
    # never core: case order, groups and seed rows come from the results (report/cases.py)
    "report": {"compare", "dump.meta"},
}
ROOT_ATTRIBUTES = {"__version__", "SCHEMA_VERSION"}  # `from wgan_parity import __version__`
# Third-party packages each stage may import.
THIRD_PARTY = {
    "core": {"numpy"},
    "dump": {"numpy", "threadpoolctl"},
    "matrix": MATRIX_OPTIONAL,
    "compare": {"numpy", "tomli"},  # tomli: tomllib before Python 3.11
    "report": {"numpy", "pandas", "matplotlib"},
}


def _modules() -> Iterator[Tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        yield ".".join(rel.parts), path


def _imports(path: Path, top_level_only: bool = False) -> Set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: Set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module.startswith("wgan_parity"):
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _allowed(stage: str, name: str) -> bool:
    top = name.split(".")[0]
    if top != "wgan_parity":
        return top in STDLIB or top in THIRD_PARTY[stage]
    if name in SHARED or any(name.startswith(m + ".") for m in SHARED if m != "wgan_parity"):
        return True
    if name.split(".", 1)[1] in ROOT_ATTRIBUTES:
        return True
    inner = name[len("wgan_parity.") :]
    if inner == stage or inner.startswith(stage + "."):
        return True
    return any(inner == m or inner.startswith(m + ".") for m in MAY_USE[stage]) or (
        inner in {m.rsplit(".", 1)[0] for m in MAY_USE[stage] if "." in m}  # `from core import x`
    )


def violations(stage: str) -> List[str]:
    """What the modules of ``stage`` import that the contract forbids."""
    found = []
    for module, path in _modules():
        if module.split(".")[0] != stage:
            continue
        for name in sorted(_imports(path)):
            if not _allowed(stage, name):
                found.append(f"{module} imports {name}")
    return found


@pytest.mark.parametrize("stage", sorted(MAY_USE))
def test_stage_imports_only_what_it_may(stage: str) -> None:
    broken = violations(stage)
    assert not broken, f"{stage} breaks the import contract: {broken}"


def test_the_tree_shows_the_stages() -> None:
    top = sorted(m for m, _ in _modules() if "." not in m)
    shared = ["__init__", "__main__", "atomic", "cli", "exitcodes", "frameworks", "invocation"]
    assert top == sorted(shared), "a new top-level module: put it in its stage"
    assert len(top) <= 8, "the top level holds the shared modules only; one command line, no shims"


def test_only_backends_import_a_framework_and_only_inside_configure() -> None:
    found: Dict[str, Set[str]] = {}
    for module, path in _modules():
        hits = {n for n in _imports(path) if n.split(".")[0] in FRAMEWORKS}
        if hits:
            found[module] = hits
    outside = [m for m in found if not m.startswith("backends.")]
    assert not outside, f"only backends/ may import a framework: {outside}"
    adapters = {fw.adapter[len("wgan_parity.") :] for fw in all_frameworks() if not fw.truth}
    # module adapters: the framework only when a block runs
    helpers = {"backends.torch_module", "backends.keras_module", "backends.equinox_module"}
    for module, path in _modules():
        if module in adapters | helpers:
            top = {n for n in _imports(path, top_level_only=True) if n.split(".")[0] in FRAMEWORKS}
            assert not top, f"{module} imports {top} at import time; import it in configure()"


def test_the_contract_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the rule once, in a copy: the check must see it."""
    copy = tmp_path / "wgan_parity"
    (copy / "compare").mkdir(parents=True)
    (copy / "matrix").mkdir()
    (copy / "compare" / "verdict.py").write_text(
        "import pandas\nfrom wgan_parity.report import x\n"
    )
    (copy / "matrix" / "envtable.py").write_text("import numpy\nfrom wgan_parity.core import isa\n")
    (copy / "report").mkdir()
    (copy / "report" / "heatmap.py").write_text("from wgan_parity.core.catalog import CATALOG\n")
    (copy / "report" / "selftest.py").write_text("from wgan_parity.core.catalog import CATALOG\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert violations("compare") == [
        "compare.verdict imports pandas",
        "compare.verdict imports wgan_parity.report",
        "compare.verdict imports wgan_parity.report.x",
    ]
    assert violations("matrix") == ["matrix.envtable imports numpy"]
    assert violations("report") == [  # no module is excepted, the selftest's scoring included
        "report.heatmap imports wgan_parity.core.catalog",
        "report.heatmap imports wgan_parity.core.catalog.CATALOG",
        "report.selftest imports wgan_parity.core.catalog",
        "report.selftest imports wgan_parity.core.catalog.CATALOG",
    ]


def test_shared_modules_use_the_standard_library_only() -> None:
    """The registry and the other shared modules are read by every stage and by noxfile.py."""
    broken = []
    for module in sorted(SHARED - {"wgan_parity"}):
        path = PACKAGE / f"{module.split('.', 1)[1]}.py"
        for name in sorted(_imports(path)):
            if name.split(".")[0] not in STDLIB and name not in SHARED:
                broken.append(f"{module} imports {name}")
    assert not broken, f"shared modules must be standard library only: {broken}"
