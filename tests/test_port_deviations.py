"""Declared deviations of a module port (issue #26): a parameter tflib lacks is held at a declared
constant and recorded (``ModulePort.deviations()``, the dump's ``port_deviations``); an
undeclared one, a pattern that matches nothing and a zero-width factory fail with their cause."""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path
from typing import Any, Dict

import pytest

from _ports import EXAMPLES, check_written_port
from wgan_parity.core import blocks
from wgan_parity.core.catalog import CATALOG
from wgan_parity.dump.catalog_dump import DumpRequest, backend_deviations, write_catalog_dump
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.dump.meta import DumpMeta

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

# torch_module_check's port, whose down block's conv_1 has a bias tflib's conv1 lacks.
BIASED_PORT = '''
    """The example port with one conv bias tflib lacks, held at 0 (so it still matches)."""
    import torch_module_check as check
    import torch_module_port as port

    from wgan_parity.backends import torch_module as tm

    BASE = "torch"


    def factory(spec):
        block = port.ResidualBlock(spec.cin, spec.cout, 3, spec.resample, (spec.h, spec.w))
        if spec.resample == "down":
            block.conv_1 = port.MyConvo2d(spec.cin, spec.cin, 3, bias=True)
        return block


    TRANSFORMS = {"*norm*.scale": "expand", "*norm*.offset": "expand"}
    PORT = tm.ModulePort(
        {"residual_block": factory}, check.NAMES, TRANSFORMS, extra={"conv_1.conv.bias": 0.0}
    )
    residual_block, good_generator, good_discriminator = PORT.composites()
    deviations = PORT.deviations
'''
DOWN = "residual_down.probe"
HELD = "residual_block (down): conv_1.conv.bias (5,) held at {}: tflib has no such parameter"


@pytest.fixture
def biased(tmp_path: Path, monkeypatch: Any) -> types.ModuleType:
    """The biased port, importable as ``biased_port`` (examples/ on the path)."""
    pytest.importorskip("torch")
    monkeypatch.syspath_prepend(EXAMPLES)
    (tmp_path / "biased_port.py").write_text(textwrap.dedent(BIASED_PORT))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("biased_port", None)
    import biased_port

    return biased_port


def _port(module: types.ModuleType, extra: Any = None, factory: Any = None) -> Any:
    import torch_module_check as check

    from wgan_parity.backends import torch_module as tm

    factories = {"residual_block": factory or module.factory}
    return tm.ModulePort(factories, check.NAMES, module.TRANSFORMS, extra=extra)


def _down_spec() -> Any:
    from wgan_parity.backends.torch_module import Spec

    return Spec(5, 7, 12, 20, "down", "layer")


def _tool_tensors(spec: Any) -> Dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    params = blocks.residual_params("", spec.cin, spec.cout, spec.resample)
    return {
        name: torch.randn(p.shape, generator=gen, dtype=torch.float32).requires_grad_()
        for name, p in params.items()
    }


def test_a_declared_extra_bias_is_held_at_its_constant_without_a_gradient(biased) -> None:
    import torch

    port, spec = _port(biased, extra={"conv_1.conv.bias": 0.25}), _down_spec()
    module = port.module("residual_block", spec)
    seen = []
    hook = module.conv_1.conv.register_forward_pre_hook(lambda mod, args: seen.append(mod.bias))
    x, p = torch.randn(6, 5, 12, 20), _tool_tensors(spec)
    try:
        out = port.run("residual_block", spec, x, p, "", None, (6, 7, 6, 10))
    finally:
        hook.remove()
    assert torch.equal(seen[0], torch.full((5,), 0.25))  # not the module's own random init
    assert seen[0].dtype == x.dtype
    assert not seen[0].requires_grad
    out.sum().backward()
    assert all(t.grad is not None for t in p.values())  # every tool tensor still gets one
    assert port.deviations() == [HELD.format(0.25)]


def test_check_port_passes_with_a_bias_held_at_zero(biased, tmp_path, monkeypatch, capsys) -> None:
    code, out = check_written_port(
        "biased_port", BIASED_PORT, [DOWN], tmp_path, monkeypatch, capsys
    )
    assert code == 0, out
    assert f"{DOWN}: ok; taps 5/5 covered; gradients 10/10 reach" in out


def test_the_dump_metadata_records_the_deviation(biased, tmp_path) -> None:
    out = tmp_path / "port.npz"
    meta = write_catalog_dump(
        DumpRequest("biased_port", out, [c for c in CATALOG if c.name == DOWN])
    )
    assert meta.cases[DOWN].ok, meta.cases[DOWN].error
    assert meta.port_deviations == (HELD.format(0.0),)
    with DumpReader(out) as reader:
        stored = reader.meta
    assert stored["port_deviations"] == [HELD.format(0.0)]
    assert DumpMeta.from_json(stored).port_deviations == (HELD.format(0.0),)
    older = {k: v for k, v in stored.items() if k != "port_deviations"}
    assert DumpMeta.from_json(older).port_deviations is None  # dumps without it still read
    assert "port_deviations" not in DumpMeta.from_json(older).to_json()


def test_deviations_are_found_on_the_hook_or_on_the_modules_ports(biased) -> None:
    port = _port(biased, extra={"conv_1.conv.bias": 0.0})
    port.module("residual_block", _down_spec())  # built: its plan is known
    plain = types.ModuleType("plain_port")
    plain.PORT = port  # type: ignore[attr-defined]
    hooked = types.ModuleType("hooked_port")
    hooked.PORT, hooked.deviations = port, lambda: ["declared"]  # type: ignore[attr-defined]
    broken = types.ModuleType("broken_port")
    broken.deviations = lambda: 1 / 0  # type: ignore[attr-defined]
    found = backend_deviations(types.SimpleNamespace(modules=[plain, hooked, broken, plain]))
    assert found == [
        HELD.format(0.0),
        "declared",
        "broken_port.deviations() failed: ZeroDivisionError: division by zero",
    ]


def test_an_undeclared_extra_parameter_is_still_unmapped(biased) -> None:
    from wgan_parity.backends.torch_module import PortError

    with pytest.raises(PortError, match=r"'conv_1.conv.bias' \(5,\) is unmapped.*extra="):
        _port(biased).module("residual_block", _down_spec())


def test_an_extra_pattern_that_matches_nothing_fails(biased) -> None:
    from wgan_parity.backends.torch_module import PortError

    port = _port(biased, extra={"conv_1.conv.bias": 0.0, "conv_9.*": 1.0})
    with pytest.raises(PortError, match=r"extra 'conv_9.\*' matches no parameter.*'bn1.bias'"):
        port.module("residual_block", _down_spec())


def test_an_extra_pattern_that_matches_a_mapped_parameter_is_ambiguous(biased) -> None:
    from wgan_parity.backends.torch_module import PortError

    port = _port(biased, extra={"conv_*.bias": 0.0})  # conv_2's bias is tflib's conv2.b
    with pytest.raises(PortError, match=r"'conv_2.conv.conv.bias' is mapped from tool 'conv2.b'"):
        port.module("residual_block", _down_spec())


@pytest.mark.parametrize(
    ("extra", "found"),
    [({"residual": {"a": 0.0}}, "extra section 'residual'"), ({"a": "0"}, "found '0'")],
)
def test_a_malformed_extra_fails_when_the_port_is_built(biased, extra, found) -> None:
    from wgan_parity.backends.torch_module import PortError

    with pytest.raises(PortError, match=found):
        _port(biased, extra=extra)


ZERO_INIT = "ignore:Initializing zero-element tensors:UserWarning"


@pytest.mark.filterwarnings(ZERO_INIT)
def test_a_zero_width_generator_names_the_ignored_spec(biased) -> None:
    import torch
    import torch_module_check as check
    import torch_module_port as port

    from wgan_parity.backends import torch_module as tm

    ported = tm.ModulePort(
        {"good_generator": lambda s: port.GoodGenerator(s.cin)}, check.NAMES, biased.TRANSFORMS
    )  # a model's Spec has only dim: cin is 0
    with pytest.raises(tm.PortError) as caught:
        ported.run("good_generator", tm.Spec(dim=4), torch.zeros(2, 128), {}, "", None, (2, 1))
    message = str(caught.value)
    assert (
        "port parameter 'ln1.weight' has 0 elements (0, 128): the factory ignored Spec(dim=4, ...) "
        "and built a zero-width layer; build the block from the Spec's sizes" in message
    )
    assert "unmapped" not in message
    assert "transform" not in message


@pytest.mark.filterwarnings(ZERO_INIT)
def test_a_zero_width_residual_block_names_the_ignored_spec(biased) -> None:
    from wgan_parity.backends.torch_module import PortError

    def ignores_cin(spec: Any) -> Any:
        return biased.factory(type(spec)(0, spec.cout, spec.h, spec.w, spec.resample, spec.norm))

    ported = _port(biased, extra={"conv_1.conv.bias": 0.0}, factory=ignores_cin)
    expected = r"has 0 elements .*ignored Spec\(cin=5, cout=7, h=12, w=20, \.\.\.\)"
    with pytest.raises(PortError, match=expected):
        ported.module("residual_block", _down_spec())
