"""The Keras module adapter: the example Keras 3 port is checked as it is (NHWC, HWIO, paths),
a port that uses a detached copy of a kernel is a cut-gradient error, and an
unmapped variable fails before anything runs."""

from __future__ import annotations

import pytest

from _ports import EXAMPLES, check_written_port, dump_and_aggregate
from wgan_parity.cli import main

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

CUT_PORT = '''
    """Uses a detached copy of its kernel, as a port that loaded values instead of tensors does."""
    import keras
    import keras_port as port
    import tensorflow as tf

    from wgan_parity.backends import keras_module as km

    BASE = "tensorflow"


    class CopiedConv(keras.layers.Conv2D):
        def call(self, x):
            return tf.nn.conv2d(x, tf.stop_gradient(tf.identity(self.kernel)), 1, "SAME")


    class Loaded(port.ResidualBlock):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.conv1 = CopiedConv(self.conv1.filters, 3, use_bias=False, name="conv1")


    PORT = km.KerasPort(
        {"residual_block": lambda s: Loaded(s.cin, s.cout, s.resample, name="block")},
        {"residual_block": {
            "shortcut.w": "shortcut/conv/kernel", "shortcut.b": "shortcut/conv/bias",
            "norm1.scale": "norm1/gamma", "norm1.offset": "norm1/beta",
            "norm2.scale": "norm2/gamma", "norm2.offset": "norm2/beta",
            "conv1.w": "conv1/kernel", "conv2.w": "conv2/conv/kernel",
            "conv2.b": "conv2/conv/bias"}},
        {"*norm*": "expand", "*.w": "hwio"},
    )
    residual_block, good_generator, good_discriminator = PORT.composites()
'''


@pytest.fixture
def examples(monkeypatch) -> None:
    pytest.importorskip("keras")
    monkeypatch.syspath_prepend(EXAMPLES)


def test_check_port_flags_what_the_full_run_flags_in_the_keras_port(examples, capsys) -> None:
    """The Keras port's seed-mode BatchNorm gradients (residual_up.seed: its formula flips 440
    norm2 ReLU ties where TF's fused kernel flips 92) are flagged, at the case's own size. Its
    residual_down.random gradients, one ReLU input of 6.3M on the other side of zero, are within
    the reference's kink allowance since issue 28 (docs/findings.md); the probes, the generator
    and the penalty pass."""
    cases = ["residual_*.probe", "residual_down.random", "residual_up.seed"]
    cases += ["good_generator.random", "gradient_penalty.check"]
    code = main(["check-port", "keras_check", "--cases", *cases])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "residual_up.probe: ok; taps 5/5 covered; gradients 10/10 reach" in out
    assert "residual_down.probe: ok; taps 5/5 covered; gradients 10/10 reach" in out
    assert "residual_down.random: ok; taps 5/5 covered; gradients 10/10 reach" in out
    assert "good_generator.random: ok; taps 27/27 covered; gradients 43/43 reach" in out
    assert "gradient_penalty.check: ok; taps 25/25 covered; gradients 41/41 reach" in out
    up = next(x for x in out.splitlines() if x.startswith("residual_up.seed:"))
    assert up.startswith("residual_up.seed: diverged"), up
    assert "grad/x" in up, up


def test_the_keras_port_through_a_dump_and_an_aggregate(examples, tmp_path) -> None:
    pairs = dump_and_aggregate("keras_check", tmp_path, ["residual_*.probe"])
    assert len(pairs[pairs.tensor.str.startswith("tap/")]) == 10
    assert set(pairs.status) <= {"ok", "degenerate"}


def test_a_keras_port_that_detaches_its_kernel_is_a_cut_gradient_error(
    examples, tmp_path, monkeypatch, capsys
) -> None:
    code, out = check_written_port(
        "keras_cut_port", CUT_PORT, ["residual_down.probe"], tmp_path, monkeypatch, capsys
    )
    assert code == 4, out  # an error, not a divergence (bit 1)
    assert "residual_down.probe: error" in out
    assert "gradient cut for conv1.w: the port copied the tensor" in out


def test_an_unmapped_keras_variable_fails_clearly(examples) -> None:
    import keras_check as check

    from wgan_parity.backends import keras_module as km

    names = {**check.NAMES, "residual_block": dict(check.NAMES["residual_block"])}
    del names["residual_block"]["norm1.scale"]
    port = km.KerasPort(check.PORT.factories, names, {"*norm*": "expand", "*.w": "hwio"})
    spec = km.Spec(4, 6, 8, 8, "down", "layer")
    with pytest.raises(km.PortError, match=r"'norm1.scale' is not in the name map.*'norm1/gamma'"):
        port.module("residual_block", spec)


def test_a_factory_that_returns_no_keras_layer_fails_clearly(examples) -> None:
    from wgan_parity.backends import keras_module as km

    port = km.KerasPort({"residual_block": lambda s: object()}, {"residual_block": {}})
    with pytest.raises(km.PortError, match="expected a Keras 3 layer or model"):
        port.module("residual_block", km.Spec(4, 6, 8, 8, "down", "layer"))
