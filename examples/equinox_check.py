"""Check ``equinox_port`` with the Equinox adapter: ``--backend equinox_check``.

With ``examples/`` on ``PYTHONPATH``: ``wgan-parity check-port equinox_check``, or a full
``wgan-parity dump --backend equinox_check --out port.npz`` and ``aggregate``.
"""

import equinox_port as ep
import jax

from wgan_parity.backends import equinox_module as em

BASE = "jax"
K = jax.random.PRNGKey(0)  # the port's own initial values; the tool's tensors replace them
PORT = em.EquinoxPort(
    factories={
        "residual_block": lambda s: ep.ResidualBlock(s.cin, s.cout, s.resample, (s.h, s.w), key=K),
        "good_generator": lambda s: ep.GoodGenerator(s.dim, key=K),
        "good_discriminator": lambda s: ep.GoodDiscriminator(s.dim, key=K),
    },
    names=lambda: NAMES,  # the name map, below
    transforms={"*norm*": "expand", "*.b": "expand"},  # per-element LayerNorm; (C, 1, 1) biases
)
residual_block, good_generator, good_discriminator = PORT.composites()

# The name map: tool name -> the port's parameter, or its submodule (a tap: its output). A tap is
# a module that takes the batch (linear), not the layer it vmaps per sample (linear.linear).
# fmt: off
BLOCKS = {f"res{i}.": f"blocks.{i - 1}." for i in range(1, 5)}  # res1.conv1.w -> blocks.0.<...>
NAMES = {
    "residual_block": {
        "shortcut.w": "shortcut.conv.conv.weight", "shortcut.b": "shortcut.conv.conv.bias",
        "shortcut": "shortcut", "norm1": "norm1", "conv1": "conv1", "norm2": "norm2",
        "conv2": "conv2"},
    "residual_block:up": {
        "norm1.scale": "norm1.weight", "norm1.offset": "norm1.bias",
        "norm2.scale": "norm2.weight", "norm2.offset": "norm2.bias",
        "conv1.w": "conv1.conv.conv.weight", "conv2.w": "conv2.conv.weight",
        "conv2.b": "conv2.conv.bias"},
    "residual_block:down": {
        "norm1.scale": "norm1.norm.weight", "norm1.offset": "norm1.norm.bias",
        "norm2.scale": "norm2.norm.weight", "norm2.offset": "norm2.norm.bias",
        "conv1.w": "conv1.conv.weight", "conv2.w": "conv2.conv.conv.weight",
        "conv2.b": "conv2.conv.conv.bias"},
    "good_generator": {
        **BLOCKS, "input.w": ("linear.linear.weight", "transpose"),
        "input.b": "linear.linear.bias", "input": "linear", "output_norm.scale": "norm.weight",
        "output_norm.offset": "norm.bias",
        "output_norm": "norm", "output.w": "conv.conv.weight", "output.b": "conv.conv.bias",
        "output_conv": "conv"},
    "good_discriminator": {
        **BLOCKS, "input.w": "conv.conv.weight", "input.b": "conv.conv.bias", "input": "conv",
        "output.w": ("linear.linear.weight", "transpose"),
        "output.b": "linear.linear.bias"},
}
# fmt: on
