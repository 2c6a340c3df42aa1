"""The import contract: each stage imports only what it may (docs/architecture.md).

Read from the source with ``ast`` (nothing is imported), so a violation fails here even on a
machine without the framework in question.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wgan_parity"
FRAMEWORKS = {"tensorflow", "torch", "jax", "jaxlib", "flax", "autograd"}
PLOTTING = {"matplotlib"}
TABLES = {"pandas"}

# The stages, by module (the tree is still flat: see docs/architecture.md).
MATRIX = {
    "atomic", "cachekey", "envtable", "exitcodes", "hostinfo", "invocation", "isa", "locks",
    "matrixrun",
    "orchestrate", "pipbridge", "progress", "resources", "toxgen", "venvs",
}  # fmt: skip
COMPARE = {
    "blockpass", "calibration", "compare", "dumpfile", "dumpset", "engine", "localize", "metrics",
    "npzstream", "seedreport", "thresholds", "traits", "verdict",
}  # fmt: skip
REPORT = {
    "baseline", "calibration_table", "heatmap", "regress", "results", "selftest", "summary",
    "summary_power",
    "tables",
}  # fmt: skip
# Optional imports the runner guards: tomli (tomllib before Python 3.11), uv (the PyPI package
# that ships the uv binary, looked up if installed).
MATRIX_OPTIONAL = {"tomli", "uv"}
STAGES = {"matrix": MATRIX, "compare": COMPARE, "report": REPORT}


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
            if node.module == "wgan_parity":
                found.update(f"wgan_parity.{alias.name}" for alias in node.names)
    return found


def _package_module(name: str) -> str:
    return name.split(".", 1)[1] if name.startswith("wgan_parity.") else ""


def violations(stage: str, members: Set[str]) -> List[str]:
    """What the modules of ``stage`` import that the contract forbids."""
    found = []
    for module, path in _modules():
        if module not in members:
            continue
        for name in sorted(_imports(path)):
            top = name.split(".")[0]
            inner = _package_module(name)
            if stage == "matrix":
                ok = (top in sys.stdlib_module_names | MATRIX_OPTIONAL) or (
                    inner in MATRIX or name == "wgan_parity"
                )
            elif stage == "compare":
                ok = top not in FRAMEWORKS | PLOTTING | TABLES and inner not in REPORT
            else:  # report: no framework, and nothing of the dump side's model
                ok = top not in FRAMEWORKS
            if not ok:
                found.append(f"{module} imports {name}")
    return found


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_imports_only_what_it_may(stage: str) -> None:
    broken = violations(stage, STAGES[stage])
    assert not broken, f"{stage} breaks the import contract: {broken}"


def test_every_module_has_a_stage() -> None:
    dump_side = {
        "blocks", "catalog", "cli", "dump", "fixtures", "flags", "model", "noise", "provenance",
        "runner", "synthetic", "__init__", "__main__",
    }  # fmt: skip
    known = MATRIX | COMPARE | REPORT | dump_side
    orphans = [
        m for m, _ in _modules() if "." not in m and m not in known
    ]  # commands/ and backends/ are their own stages
    assert not orphans, f"modules with no stage in this test and docs/architecture.md: {orphans}"


def test_only_backends_import_a_framework_and_only_inside_configure() -> None:
    found: Dict[str, Set[str]] = {}
    for module, path in _modules():
        hits = {n for n in _imports(path) if n.split(".")[0] in FRAMEWORKS}
        if hits:
            found[module] = hits
    outside = [m for m in found if not m.startswith("backends.")]
    assert not outside, f"only backends/ may import a framework: {outside}"
    for module, path in _modules():
        if module in ("backends.tensorflow", "backends.torch"):
            top = {n for n in _imports(path, top_level_only=True) if n.split(".")[0] in FRAMEWORKS}
            assert not top, f"{module} imports {top} at import time; import it in configure()"


def test_the_contract_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the rule once, in a copy: the check must see it."""
    copy = tmp_path / "wgan_parity"
    copy.mkdir()
    (copy / "verdict.py").write_text("import pandas\n")
    (copy / "envtable.py").write_text("import numpy\nfrom wgan_parity import results\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    assert violations("compare", COMPARE) == ["verdict imports pandas"]
    assert violations("matrix", MATRIX) == [
        "envtable imports numpy",
        "envtable imports wgan_parity.results",
    ]
