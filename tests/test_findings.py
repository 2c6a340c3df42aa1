"""The committed reproducers (docs/findings/) still print the figures their pages state.

Each folder's ``expected.json`` names the framework and, per release, the figure its script
printed when it was written. A script runs here when the test venv has one of those releases:
an affected release must be over the bound, at the stated figure within the stated tolerance (the
script pins its kernels' ISA); a fixed one must be under the bound (a compiler that reads no ISA
cap, XLA's, computes other figures on another CPU).
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

FINDINGS = Path(__file__).resolve().parents[1] / "docs" / "findings"
FOLDERS = sorted(p.parent for p in FINDINGS.glob("*/repro.py"))


def _expected(folder: Path) -> Dict[str, Any]:
    return dict(json.loads((folder / "expected.json").read_text()))


def _installed(module: str) -> str:
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _release(version: str) -> str:
    return version.split("+", 1)[0]


def test_every_finding_has_its_parts() -> None:
    assert FOLDERS, f"no reproducer in {FINDINGS}"
    for folder in FOLDERS:
        expected = _expected(folder)
        assert expected["affected"], f"{folder.name}: expected.json names no affected release"
        assert (folder / "README.md").is_file(), f"{folder.name}: no README.md"
        text = (folder / "repro.py").read_text()
        assert "wgan_parity" not in text.replace("wgan-parity", ""), "a script imports the tool"


def _runs() -> List[Tuple[Path, str, Dict[str, Any], bool]]:
    found = []
    for folder in FOLDERS:
        expected = _expected(folder)
        have = _release(_installed(expected["module"]))
        for kind, affected in (("affected", True), ("fixed", False)):
            if have in expected.get(kind, {}):
                found.append((folder, have, expected[kind][have], affected))
    return found


RUNS = _runs()


@pytest.mark.slow
@pytest.mark.skipif(not RUNS, reason="the test venv has none of the findings' releases")
@pytest.mark.parametrize(("folder", "version", "figure", "affected"), RUNS,
                         ids=[f"{r[0].name}-{r[1]}" for r in RUNS])  # fmt: skip
def test_the_script_prints_the_stated_figure(
    folder: Path, version: str, figure: Dict[str, Any], affected: bool
) -> None:
    done = subprocess.run([sys.executable, str(folder / "repro.py")], capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPRO "))
    found = json.loads(line[len("REPRO ") :])["figures"][figure["figure"]]
    assert (found["err"] > found["bound"]) is affected, done.stdout
    if affected:  # the script pins the kernels it was measured with (--max-isa)
        tolerance = _expected(folder)["tolerance"]
        assert found["err"] == pytest.approx(figure["err"], rel=tolerance), done.stdout
