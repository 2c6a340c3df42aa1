"""`wgan-parity regen`: the generated files are rewritten by one command each, and a failed
noise-table measurement leaves the committed tables as they were."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from wgan_parity.cli import main
from wgan_parity.dump import noise_regen


class FakeDumps:
    """Stands in for ``subprocess.run`` of the measuring dumps: writes one table per stack."""

    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.envs: List[Dict[str, str]] = []

    def __call__(self, cmd: List[str], env: Dict[str, str], **_: Any) -> Any:
        self.envs.append(env)
        out = Path(cmd[cmd.index("--write-noise-table") + 1])
        name = Path(cmd[cmd.index("--out") + 1]).stem
        if name == self.fail:
            return subprocess.CompletedProcess(cmd, 1)
        (out / f"noise-{name}.json.gz").write_bytes(b"new")
        return subprocess.CompletedProcess(cmd, 0)


def test_noise_tables_are_replaced_only_when_every_stack_was_measured(tmp_path: Path) -> None:
    tables = tmp_path / "noise"
    tables.mkdir()
    (tables / "noise-old.json.gz").write_bytes(b"old")
    failing = FakeDumps(fail="haswell-avx2")
    assert noise_regen.regenerate(tables, "python", runner=failing, host="avx512") == 4
    assert sorted(p.name for p in tables.iterdir()) == ["noise-old.json.gz"]
    fake = FakeDumps()
    assert noise_regen.regenerate(tables, "python", runner=fake, host="avx512") == 0
    assert sorted(p.name for p in tables.iterdir()) == [
        f"noise-{s.name}.json.gz" for s in sorted(noise_regen.STACKS, key=lambda s: s.name)
    ]
    forced = [(e["OPENBLAS_CORETYPE"], e["NPY_DISABLE_CPU_FEATURES"]) for e in fake.envs]
    assert forced == [(s.openblas_coretype, s.npy_disabled) for s in noise_regen.STACKS]


def test_an_avx2_cpu_measures_only_the_avx2_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tables = tmp_path / "noise"
    tables.mkdir()
    (tables / "noise-stale.json.gz").write_bytes(b"old")
    fake = FakeDumps()
    assert noise_regen.regenerate(tables, "python", runner=fake, host="avx2") == 0
    assert sorted(p.name for p in tables.iterdir()) == ["noise-haswell-avx2.json.gz"]
    assert "skipped" in capsys.readouterr().err


def test_the_avx2_stack_is_the_one_ci_caps_to() -> None:
    from wgan_parity.core import isa

    (avx2,) = [s for s in noise_regen.STACKS if s.name == "haswell-avx2"]
    assert {"OPENBLAS_CORETYPE": avx2.openblas_coretype,
            "NPY_DISABLE_CPU_FEATURES": avx2.npy_disabled} == isa.NUMPY_CAPS["avx2"]  # fmt: skip


def test_regen_noise_tables_has_no_check(capsys: pytest.CaptureFixture) -> None:
    assert main(["regen", "noise-tables", "--check"]) == 2
    assert "without --check" in capsys.readouterr().err


def test_regen_parity_tensors_check_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "matrix.toml").write_bytes((root / "matrix.toml").read_bytes())
    (tmp_path / "tests" / "data").mkdir(parents=True)
    stale = tmp_path / "tests" / "data" / "parity_tensors.json"
    stale.write_text('{"no_such.case": ["out"]}\n', encoding="utf-8")
    table = ["--table", str(tmp_path / "matrix.toml")]
    assert main(["regen", "parity-tensors", "--check", *table]) == 1
    assert "run `wgan-parity regen parity-tensors`" in capsys.readouterr().err
