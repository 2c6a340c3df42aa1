"""The suggested name map (``map_suggest.suggest``): on the example torch port it covers every
block and resolves every tool parameter and tap as the hand-written map does; a port written
otherwise (other names, the shortcut called last, per-channel LayerNorm, pooling after the conv)
gets its own covering map; a parameter tflib lacks goes to EXTRA; what cannot match is reported."""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import pytest

from _ports import EXAMPLES

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]


@pytest.fixture
def tm(monkeypatch) -> Any:
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(EXAMPLES)
    from wgan_parity.backends import torch_module

    return torch_module


def suggested(tm: Any, factories: Dict[str, Callable[..., Any]], **kw: Any) -> Tuple[str, Any]:
    """The suggested source, and a port built from it as a user would paste it."""
    from wgan_parity.backends.map_suggest import suggest

    code = suggest(tm.ModulePort(factories, {}), **kw)
    namespace: Dict[str, Any] = {}
    exec(code, namespace)
    names, transforms, extra = (namespace[k] for k in ("NAMES", "TRANSFORMS", "EXTRA"))
    return code, tm.ModulePort(factories, names, transforms, extra)


def resolved(port: Any) -> Dict[Any, Any]:
    """Every block's tool parameter -> (port parameter, transform) and tap -> submodule."""
    from wgan_parity.backends.map_suggest import SPECS

    out = {}
    for kind in port.factories:
        for spec in SPECS[kind]:
            module = port.module(kind, spec)  # coverage: raises PortError on a gap
            plan = port.plan(kind, spec, module).items()
            out[kind, spec] = {t: (n, f.__name__) for t, (n, f) in plan}
            out[kind, spec, "taps"] = {t: s for t, (s, _) in port.taps(kind, spec, module).items()}
    return out


def test_the_example_port_gets_its_hand_written_map(tm) -> None:
    import torch_module_check as check

    code, port = suggested(tm, check.PORT.factories)
    assert "UNMATCHED" not in code, code
    assert "NOT COVERED" not in code, code
    assert "good_generator (Spec(dim=4)): covered; ran: output (2, 12288)" in code
    hand = tm.ModulePort(check.PORT.factories, check.NAMES, check.PORT.transforms)
    assert resolved(port) == resolved(hand)
    assert '"res1.": "rb1.",' in code
    assert '"input.w": ("ln1.weight", "transpose"),' in code
    assert 'TRANSFORMS = {"*norm*.scale": "expand", "*norm*.offset": "expand"}' in code


SECOND_PORT = """
import torch
from torch import nn


class Up(nn.Module):
    def __init__(self, cin, cout, k, bias=True):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.op = nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)

    def forward(self, x):
        return self.op(self.up(x))


class Block(nn.Module):
    def __init__(self, cin, cout, resample, bias1=False):
        super().__init__()
        up = resample == "up"
        norm = nn.BatchNorm2d if up else (lambda c: nn.GroupNorm(1, c))  # LayerNorm, per channel
        mid = cout if up else cin
        self.pre_norm = norm(cin)
        self.main_conv = Up(cin, cout, 3, bias1) if up else nn.Conv2d(cin, cin, 3, 1, 1, bias=bias1)
        self.post_norm = norm(mid)
        self.out_conv = nn.Conv2d(mid, cout, 3, padding=1)
        self.pool = nn.Identity() if up else nn.AvgPool2d(2)
        pooled = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1))
        self.skip = Up(cin, cout, 1) if up else pooled

    def forward(self, x):
        h = self.main_conv(torch.relu(self.pre_norm(x)))
        h = self.pool(self.out_conv(torch.relu(self.post_norm(h))))
        return h + self.skip(x)  # the shortcut last


class Gen(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.project = nn.Linear(128, 4 * 4 * 8 * dim)
        chans = [(8, 8), (8, 4), (4, 2), (2, 1)]
        self.stages = nn.ModuleList([Block(a * dim, b * dim, "up") for a, b in chans])
        self.head = nn.Sequential(nn.BatchNorm2d(dim), nn.ReLU(), nn.Conv2d(dim, 3, 3, padding=1),
                                  nn.Tanh())

    def forward(self, z):
        h = self.project(z).reshape(-1, 8 * self.dim, 4, 4)
        for stage in self.stages:
            h = stage(h)
        return self.head(h).reshape(z.shape[0], -1)


class Critic(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 3, padding=1)
        chans = [(1, 2), (2, 4), (4, 8), (8, 8)]
        self.body = nn.Sequential(*[Block(a * dim, b * dim, "down") for a, b in chans])
        self.fc = nn.Linear(4 * 4 * 8 * dim, 1)

    def forward(self, x):
        h = self.body(self.stem(x.reshape(-1, 3, 64, 64)))
        return self.fc(h.reshape(x.shape[0], -1)).reshape(-1)
"""


@pytest.fixture
def second(tm, tmp_path, monkeypatch) -> Any:
    """The second port, written otherwise, as a module."""
    (tmp_path / "second_port.py").write_text(SECOND_PORT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import second_port

    return second_port


def test_a_port_written_otherwise_gets_its_own_covering_map(tm, second) -> None:
    from wgan_parity.backends.map_suggest import SPECS

    factories = {
        "residual_block": lambda s: second.Block(s.cin, s.cout, s.resample),
        "good_generator": lambda s: second.Gen(s.dim),
        "good_discriminator": lambda s: second.Critic(s.dim),
    }
    code, port = suggested(tm, factories)
    assert "UNMATCHED" not in code, code
    assert "NOT COVERED" not in code, code
    maps = resolved(port)
    (up_spec, down_spec), (model,) = SPECS["residual_block"], SPECS["good_generator"]
    up, down = maps["residual_block", up_spec], maps["residual_block", down_spec]
    assert up["shortcut.w"] == ("skip.op.weight", "same")  # the 1x1 conv, called last
    assert down["shortcut.w"] == ("skip.1.weight", "same")
    assert up["conv1.w"] == ("main_conv.op.weight", "same")
    assert up["conv2.w"] == ("out_conv.weight", "same")
    assert down["norm1.scale"] == ("pre_norm.weight", "same")  # per channel: no transform
    assert maps["residual_block", down_spec, "taps"] == {
        "": "",
        "shortcut": "skip",
        "norm1": "pre_norm",
        "conv1": "main_conv",
        "norm2": "post_norm",
        "conv2": "pool",  # the mean pool after the conv, as tflib's ConvMeanPool
    }
    gen, critic = maps["good_generator", model], maps["good_discriminator", model]
    assert gen["input.w"] == ("project.weight", "transpose")
    assert gen["res4.conv2.b"] == ("stages.3.out_conv.bias", "same")
    assert gen["output.w"] == ("head.2.weight", "same")
    assert maps["good_generator", model, "taps"]["output_norm"] == "head.0"
    assert critic["res2.shortcut.w"] == ("body.1.skip.1.weight", "same")
    assert critic["output.w"] == ("fc.weight", "transpose")
    assert "TRANSFORMS: dict = {}" in code
    assert "EXTRA: dict = {}" in code
    assert suggested(tm, factories)[0] == code  # deterministic


def test_a_bias_tflib_lacks_is_held_in_extra(tm, second) -> None:
    block = lambda s: second.Block(s.cin, s.cout, s.resample, bias1=True)  # noqa: E731
    code, port = suggested(tm, {"residual_block": block})
    assert "NOT COVERED" not in code, code
    assert "tflib has no main_conv.op.bias (7,): EXTRA holds it at 0.0" in code
    assert '"residual_block:up": {\n        "main_conv.op.bias": 0.0,' in code
    resolved(port)
    assert port.deviations() == [
        "residual_block (down): main_conv.bias (5,) held at 0.0: tflib has no such parameter",
        "residual_block (up): main_conv.op.bias (7,) held at 0.0: tflib has no such parameter",
    ]


def test_what_cannot_match_is_reported_not_guessed(tm) -> None:
    from torch import nn

    def no_affine(s: Any) -> Any:  # norms without parameters: nothing to map them to
        return nn.Sequential(nn.BatchNorm2d(s.cin, affine=False), nn.Conv2d(s.cin, s.cout, 1))

    from wgan_parity.backends.map_suggest import suggest

    code = suggest(tm.ModulePort({"residual_block": no_affine}, {}))
    assert "UNMATCHED: expected 3 convs (one (7, 5, 1, 1)) and 2 norms: 1 Conv2d" in code
    assert "NOT COVERED residual_block (up, Spec(5, 7, 12, 20)): PortError" in code
    assert "NAMES: dict = {}" in code
