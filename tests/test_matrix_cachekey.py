"""The dump cache key: it covers exactly the code a dump runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wgan_parity.matrix import cachekey
from wgan_parity.matrix.envtable import load_table

ROOT = Path(__file__).resolve().parents[1]
SRC_PACKAGE = ROOT / "src" / "wgan_parity"
TABLE = load_table(ROOT / "matrix.toml")


def test_dump_key_covers_dump_code_only(tmp_path: Path) -> None:
    package = tmp_path / "wgan_parity"
    shutil.copytree(SRC_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = cachekey.dump_source_hash(package)
    report_side_files = (
        "report/heatmap.py",
        "report/summary.py",
        "matrix/pipeline.py",
        "data/thresholds.toml",
    )
    for report_side in report_side_files:
        (package / report_side).write_text((package / report_side).read_text() + "\n# edit\n")
        assert cachekey.dump_source_hash(package) == before, report_side
    blocks = package / "core" / "blocks.py"
    blocks.write_text(blocks.read_text() + "\n# edit\n")
    assert cachekey.dump_source_hash(package) != before


def test_dump_key_refuses_a_relative_import(tmp_path: Path) -> None:
    package = tmp_path / "wgan_parity"
    package.mkdir()
    (package / "cli.py").write_text("from . import catalog\n")
    (package / "catalog.py").write_text("CASES = 1\n")
    with pytest.raises(ValueError, match=r"cli\.py: relative import"):
        cachekey.dump_source_files(package)


@pytest.mark.slow
def test_dump_key_closure_holds_every_module_a_dump_loads(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from wgan_parity.cli import main\n"
        f"rc = main(['dump', '--backend', 'reference32', '--out', {str(tmp_path / 'd.npz')!r},"
        " '--cases', 'depth_to_space.seed', '--quiet'])\n"
        "assert rc == 0, rc\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] == 'wgan_parity':\n"
        "        print('MODULE', module.__file__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    loaded = {Path(line[7:]).resolve() for line in out if line.startswith("MODULE ")}
    closure = {p.resolve() for p in cachekey.dump_source_files(SRC_PACKAGE)}
    assert loaded, "the dump loaded no wgan_parity module?"
    assert loaded <= closure, sorted(loaded - closure)
    assert (SRC_PACKAGE / "report" / "heatmap.py").resolve() not in closure
