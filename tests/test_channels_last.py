"""The channels-last switch: torch runs the same values in the other memory layout, recorded."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from wgan_parity.backends import load_backend
from wgan_parity.core.flags import Flags

pytestmark = pytest.mark.frameworks
torch = pytest.importorskip("torch")


@pytest.fixture
def channels_last_ops() -> Iterator[object]:
    yield load_backend("torch", Flags(switches={"channels_last": True}))
    load_backend("torch", Flags())  # the adapter's layout is module state: restore the default


def test_channels_last_is_applied_to_4d_tensors_and_recorded(channels_last_ops) -> None:
    ops = channels_last_ops
    assert ops.flags["memory_format"] == "channels_last"
    rng = np.random.default_rng(0)
    x, w = (
        ops.asarray(rng.standard_normal((2, 3, 5, 4))),
        ops.asarray(rng.standard_normal((6, 3, 3, 3))),
    )
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert not x.is_contiguous()  # really the other layout, not a 1-pixel corner case
    assert ops.asarray(np.ones(3)).is_contiguous()  # vectors are untouched
    y = ops.conv2d(x, w, None)
    assert y.is_contiguous(memory_format=torch.channels_last)  # the layout propagates
    contiguous = load_backend("torch", Flags())
    reference = contiguous.conv2d(contiguous.asarray(x.numpy()), contiguous.asarray(w.numpy()))
    np.testing.assert_allclose(y.numpy(), reference.numpy(), rtol=1e-5, atol=1e-5)


def test_the_switch_reaches_the_dump_metadata(tmp_path) -> None:
    from wgan_parity.cli import main
    from wgan_parity.dump.dumpfile import DumpReader

    out = tmp_path / "cl.npz"
    args = ["dump", "--backend", "torch", "--channels-last", "--cases", "batch_norm.probe"]
    try:
        assert main([*args, "--out", str(out), "--quiet"]) == 0
    finally:
        load_backend("torch", Flags())
    with DumpReader(out) as dump:
        assert dump.meta["flags"]["channels_last"] is True
        assert dump.meta["flags"]["memory_format"] == "channels_last"
