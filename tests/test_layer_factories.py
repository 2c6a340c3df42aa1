"""Layer factories: check-port runs the layer cases on the port's own layers (issue #26 item 4).

The example port's layer classes pass every layer case; a port whose DepthToSpace is torch's
``pixel_shuffle`` (CRD order, not tflib's DCR) diverges in depth_to_space and upsample_conv; an
unmapped layer parameter, a bias the tool does not pass and a foreign eps are PortErrors.
"""

from __future__ import annotations

import pytest

from _ports import EXAMPLES, check_written_port

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

LAYER_CASES = [
    "conv2d.probe",
    "depth_to_space.probe",
    "upsample_conv.probe",
    "conv_mean_pool.probe",
    "mean_pool_conv.probe",
    "batch_norm.probe",
    "layer_norm.probe",
]

LAYER_PORT = '''
    """The example port's layers, checked in the layer cases through layer factories."""
    import torch_module_port as port
    from torch import nn

    from wgan_parity.backends import torch_module as tm

    BASE = "torch"
    DepthToSpace = port.DepthToSpace


    def upsample_conv_layer(s):
        layer = port.UpSampleConv(s.cin, s.cout, s.k, bias=s.bias)
        layer.depth_to_space = DepthToSpace(2)
        return layer


    PORT = tm.ModulePort(
        factories={
            "conv2d": lambda s: port.MyConvo2d(s.cin, s.cout, s.k, bias=s.bias),
            "conv_mean_pool": lambda s: port.ConvMeanPool(s.cin, s.cout, s.k, bias=s.bias),
            "mean_pool_conv": lambda s: port.MeanPoolConv(s.cin, s.cout, s.k, bias=s.bias),
            "upsample_conv": upsample_conv_layer,
            "depth_to_space": lambda s: DepthToSpace(s.block),
            "batch_norm": lambda s: nn.BatchNorm2d(s.cin),
            "layer_norm": lambda s: nn.LayerNorm([s.cin, s.h, s.w]),  # per element
        },
        names={
            "conv2d": {"w": "conv.weight", "b": "conv.bias"},
            "conv_mean_pool": {"w": "conv.conv.weight", "b": "conv.conv.bias"},
            "mean_pool_conv": {"w": "conv.conv.weight", "b": "conv.conv.bias"},
            "upsample_conv": {"w": "conv.conv.weight", "b": "conv.conv.bias"},
            "batch_norm": {"scale": "weight", "offset": "bias"},
            "layer_norm": {"scale": ("weight", "expand"), "offset": ("bias", "expand")},
        },
    )
    globals().update(PORT.layers())
'''

CRD_PORT = LAYER_PORT.replace(
    "    DepthToSpace = port.DepthToSpace\n",
    '''
    class DepthToSpace(nn.Module):
        """torch's pixel_shuffle: CRD order, not tflib's DCR (a real porting bug)."""

        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            return nn.functional.pixel_shuffle(x, self.block)
''',
)


@pytest.fixture
def examples(monkeypatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(EXAMPLES)


def test_the_example_layers_pass_every_layer_case(examples, tmp_path, monkeypatch, capsys) -> None:
    code, out = check_written_port(
        "layer_port", LAYER_PORT, LAYER_CASES, tmp_path, monkeypatch, capsys
    )
    assert code == 0, out
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("not run:")], out
    for case in LAYER_CASES:
        assert any(line.startswith(f"{case}: ok") for line in lines), (case, out)


def test_a_crd_depth_to_space_diverges(examples, tmp_path, monkeypatch, capsys) -> None:
    cases = ["depth_to_space.probe", "upsample_conv.probe", "conv2d.probe", "residual_up.probe"]
    code, out = check_written_port("crd_port", CRD_PORT, cases, tmp_path, monkeypatch, capsys)
    assert code & 1, out  # a divergence
    lines = out.splitlines()
    for case in cases[:2]:
        assert any(line.startswith(f"{case}: diverged") for line in lines), (case, out)
    assert any(line.startswith("conv2d.probe: ok") for line in lines), out
    assert "hint:" not in out  # a channel-order bug is far beyond what channels-last explains


def _port(**changes):
    import torch_module_port as port
    from torch import nn

    from wgan_parity.backends import torch_module as tm

    factories = {
        "conv2d": lambda s: port.MyConvo2d(s.cin, s.cout, s.k, bias=s.bias),
        "layer_norm": lambda s: nn.LayerNorm([s.cin, s.h, s.w]),
    }
    names = {
        "conv2d": {"w": "conv.weight", "b": "conv.bias"},
        "layer_norm": {"scale": ("weight", "expand"), "offset": ("bias", "expand")},
    }
    return tm.ModulePort({**factories, **changes.pop("factories", {})},
                         {**names, **changes.pop("names", {})}, **changes)  # fmt: skip


def test_an_unmapped_layer_parameter_fails_clearly(examples) -> None:
    import torch

    from wgan_parity.backends import torch_module as tm

    port = _port(names={"conv2d": {"w": "conv.weight"}})
    conv2d = port.layers()["conv2d"]
    x, w, b = torch.zeros(2, 3, 4, 4), torch.zeros(5, 3, 3, 3), torch.zeros(5)
    with pytest.raises(tm.PortError, match=r"conv2d MyConvo2d .*'b' is not in the name map.*"
                       r"'conv.bias' \(5,\) is unmapped"):  # fmt: skip
        conv2d(x, w, b)
    assert tuple(conv2d(x, w).shape) == (2, 5, 4, 4)  # no bias passed: the port builds none


def test_a_bias_the_tool_does_not_pass_is_held_by_extra(examples) -> None:
    import torch
    import torch_module_port as port

    from wgan_parity.backends import torch_module as tm

    always = {"conv2d": lambda s: port.MyConvo2d(s.cin, s.cout, s.k, bias=True)}
    x, w, b = torch.randn(2, 3, 4, 4), torch.randn(5, 3, 3, 3), torch.randn(5)
    with pytest.raises(tm.PortError, match=r"'conv.bias' \(5,\) is unmapped"):
        _port(factories=always).layers()["conv2d"](x, w)
    held = _port(factories=always, extra={"conv2d": {"conv.bias": 0.0}})
    conv2d = held.layers()["conv2d"]
    torch.testing.assert_close(conv2d(x, w), torch.nn.functional.conv2d(x, w, padding=1))
    w.requires_grad_(True), b.requires_grad_(True)
    conv2d(x, w, b).sum().backward()  # the tool's bias is mapped when passed: gradients reach it
    assert w.grad is not None
    assert b.grad is not None
    assert float(b.grad.abs().sum()) > 0
    assert held.deviations() == ["conv2d: conv.bias (5,) held at 0.0: tflib has no such parameter"]
    assert conv2d.runs_port
    assert conv2d.__name__ == "conv2d"


def test_a_port_eps_unlike_tflibs_is_a_port_error(examples) -> None:
    import torch
    from torch import nn

    from wgan_parity.backends import torch_module as tm

    port = _port(factories={"layer_norm": lambda s: nn.LayerNorm([s.cin, s.h, s.w], eps=1e-3)})
    x, scale, offset = torch.randn(2, 3, 4, 4), torch.ones(3), torch.zeros(3)
    with pytest.raises(tm.PortError, match=r"the port's eps is 0.001 \(eps\), the tool's .* 1e-05"):
        port.layers()["layer_norm"](x, scale, offset, 1e-5)


def test_layer_factories_need_a_driver_that_runs_layers() -> None:
    from wgan_parity.backends import module_port

    with pytest.raises(module_port.PortError, match=r"\['conv2d'\].*ModulePort runs no layers"):
        module_port.ModulePort({"conv2d": lambda s: None}, {})
    assert module_port.Spec(5, 7, 12, 20, "down", "layer", 0) == module_port.Spec(
        cin=5, cout=7, h=12, w=20, resample="down", norm="layer"
    )
