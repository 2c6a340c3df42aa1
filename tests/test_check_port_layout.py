"""check-port is not weaker than the full run: a port whose DepthToSpace leaves channels-last
tensors (as a real public port does) fails at the up block's ``norm2``, because check-port runs
the residual blocks at their full size, where torch's CPU BatchNorm on channels-last input is
far less accurate; the same port with ``.contiguous()`` passes. :func:`assert_port` is the same
check in a port's own test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _ports import EXAMPLES
from wgan_parity.cli import main
from wgan_parity.commands.check_port import assert_port, port_ops, runs_port

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]
CONTIGUOUS = "return out.permute(0, 3, 1, 2).contiguous()"


def _write_ports(folder: Path, contiguous: bool) -> str:
    """The example port (optionally without its .contiguous()) and its check module."""
    source = Path(EXAMPLES, "torch_module_port.py").read_text()
    assert CONTIGUOUS in source
    tag = "contiguous" if contiguous else "layout"
    if not contiguous:
        source = source.replace(CONTIGUOUS, "return out.permute(0, 3, 1, 2)")
    (folder / f"{tag}_port.py").write_text(source)
    check = Path(EXAMPLES, "torch_module_check.py").read_text()
    check = check.replace("import torch_module_port as port", f"import {tag}_port as port")
    (folder / f"{tag}_check.py").write_text(check)
    for name in (f"{tag}_port", f"{tag}_check"):
        sys.modules.pop(name, None)
    return f"{tag}_check"


@pytest.fixture
def ports(tmp_path, monkeypatch) -> Path:
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_channels_last_depth_to_space_fails_check_port_at_norm2(ports, capsys) -> None:
    module = _write_ports(ports, contiguous=False)
    code = main(["check-port", module, "--cases", "residual_up.*"])
    out = capsys.readouterr().out
    assert code == 1, out
    line = next(x for x in out.splitlines() if x.startswith("residual_up.random:"))
    assert line.startswith("residual_up.random: diverged"), line
    assert "first divergent tap norm2" in line, line
    assert "hint: a divergence looks like the known rule 'torch-channels-last-batchnorm'" in out


def test_the_same_port_with_contiguous_passes_and_assert_port_agrees(ports) -> None:
    result = assert_port(_write_ports(ports, contiguous=True), ["residual_up.*"])
    assert result.code == 0
    assert any(x.startswith("residual_up.random: ok") for x in result.lines), result.lines
    with pytest.raises(AssertionError, match=r"residual_up.random: diverged.*tap norm2"):
        assert_port(_write_ports(ports, contiguous=False), ["residual_up.*"])


def test_cases_that_run_none_of_the_port_are_said_so(ports) -> None:
    module = _write_ports(ports, contiguous=True)
    ops = port_ops(module)
    assert ops == {"residual_block", "good_generator", "good_discriminator"}
    assert runs_port("gradient_penalty", ops)  # through the critic
    assert not runs_port("conv2d", ops)
    assert not runs_port("batch_norm", ops)
    result = assert_port(module, ["conv2d.probe", "residual_down.probe"])
    assert result.lines[0].startswith("not run: 1 case of conv2d (base ops:"), result.lines
    assert result.lines[1].startswith("residual_down.probe: ok"), result.lines


def test_a_port_repository_runs_its_parity_test_with_pytest(tmp_path) -> None:
    pytest.importorskip("torch")
    example = Path(EXAMPLES, "test_torch_port_parity.py")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([EXAMPLES, os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example), "-k",
         "residual"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout, run.stdout


def test_suggest_map_prints_a_map_to_paste(ports, capsys) -> None:
    module = _write_ports(ports, contiguous=True)
    assert main(["check-port", module, "--suggest-map"]) == 0
    out = capsys.readouterr().out
    assert "NAMES = {" in out, out
    assert '"conv1.w": "conv_1.conv.conv.weight"' in out, out
