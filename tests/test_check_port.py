"""The PyTorch module adapter and ``wgan-parity check-port``: the example port passes, a port
that copies the tool's tensors into fresh ``nn.Parameter`` objects is a cut-gradient error."""

from __future__ import annotations

import pytest

from _ports import EXAMPLES, check_written_port, dump_and_aggregate
from wgan_parity.cli import main

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

CUT_PORT = '''
    """Loads the tool's kernels into fresh nn.Parameter objects, as a hand-written adapter might."""
    from wgan_parity.backends import torch as base

    BASE = "torch"


    def conv2d(x, w, b=None):
        return base.conv2d(x, base.torch.nn.Parameter(w.detach().clone()), b)
'''


@pytest.fixture
def examples(monkeypatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(EXAMPLES)


def test_the_example_port_passes_check_port(examples, capsys) -> None:
    code = main(["check-port", "torch_module_check", "--cases", "residual_*", "*.check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "residual_down.probe: ok; taps 5/5 covered; gradients 10/10 reach" in out
    assert "gradient_penalty.check: ok; taps 25/25 covered; gradients 41/41 reach" in out


def test_a_port_that_copies_into_new_parameters_is_a_cut_gradient_error(
    tmp_path, monkeypatch, capsys
) -> None:
    pytest.importorskip("torch")
    code, out = check_written_port(
        "cut_port", CUT_PORT, ["conv2d.probe", "residual_down.probe"], tmp_path, monkeypatch, capsys
    )
    assert code == 4, out  # an error, not a divergence (bit 1)
    assert "conv2d.probe: error; taps 0/0 covered; gradients 2/3 reach their parameter" in out
    assert "gradient cut for shortcut.w, conv1.w, conv2.w: the port copied the tensor" in out
    assert "diverged" not in out


def test_the_example_port_through_a_dump_and_an_aggregate(examples, tmp_path) -> None:
    pairs = dump_and_aggregate("torch_module_check", tmp_path, ["residual_*.probe"])
    assert len(pairs[pairs.tensor.str.startswith("tap/")]) == 10
    assert set(pairs.status) <= {"ok", "degenerate"}


def test_an_unmapped_port_parameter_fails_clearly(examples) -> None:
    import torch_module_check as check

    from wgan_parity.backends import torch_module as tm

    names = {**check.NAMES, "residual_block": dict(check.NAMES["residual_block"])}
    del names["residual_block"]["norm1.scale"]
    port = tm.ModulePort(check.PORT.factories, names, {"*norm*": "expand"})
    spec = tm.Spec(5, 7, 12, 20, "down", "layer")
    with pytest.raises(tm.PortError, match=r"'norm1.scale' is not in the name map.*'bn1.weight'"):
        port.module("residual_block", spec)
