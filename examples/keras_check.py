"""Check ``keras_port`` with the Keras adapter: ``--backend keras_check``.

With ``examples/`` on ``PYTHONPATH``: ``wgan-parity check-port keras_check``, or a full
``wgan-parity dump --backend keras_check --out port.npz`` and ``aggregate``.
"""

import keras_port as port

from wgan_parity.backends import keras_module as km

BASE = "tensorflow"
PORT = km.KerasPort(
    factories={
        "residual_block": lambda s: port.ResidualBlock(s.cin, s.cout, s.resample, name="block"),
        "good_generator": lambda s: port.GoodGenerator(s.dim, name="generator"),
        "good_discriminator": lambda s: port.GoodDiscriminator(s.dim, name="critic"),
    },
    names=lambda: NAMES,  # the name map, below
    transforms={"*norm*": "expand", "*.w": "hwio"},  # OIHW kernels -> HWIO; per-element LayerNorm
)
residual_block, good_generator, good_discriminator = PORT.composites()

# The name map: tool name -> the port's variable path, or its sublayer's (a tap: its output).
# fmt: off
BLOCKS = {f"res{i}.": f"rb{i}/" for i in range(1, 5)}  # res1.conv1.w -> rb1/<the block's map>
NAMES = {
    "residual_block": {
        "shortcut.w": "shortcut/conv/kernel", "shortcut.b": "shortcut/conv/bias",
        "norm1.scale": "norm1/gamma", "norm1.offset": "norm1/beta", "norm2.scale": "norm2/gamma",
        "norm2.offset": "norm2/beta", "shortcut": "shortcut", "norm1": "norm1", "conv1": "conv1",
        "norm2": "norm2", "conv2": "conv2"},
    "residual_block:up": {
        "conv1.w": "conv1/conv/kernel", "conv2.w": "conv2/kernel", "conv2.b": "conv2/bias"},
    "residual_block:down": {
        "conv1.w": "conv1/kernel", "conv2.w": "conv2/conv/kernel", "conv2.b": "conv2/conv/bias"},
    "good_generator": {
        **BLOCKS, "input.w": ("dense_in/kernel", "hwc_columns"),
        "input.b": ("dense_in/bias", "hwc_columns"), "input": ("reshape_in", "chw_flatten"),
        "output_norm.scale": "bn_out/gamma", "output_norm.offset": "bn_out/beta",
        "output_norm": "bn_out", "output.w": "conv_out/kernel", "output.b": "conv_out/bias",
        "output_conv": "conv_out"},
    "good_discriminator": {
        **BLOCKS, "input.w": "conv_in/kernel", "input.b": "conv_in/bias", "input": "conv_in",
        "output.w": ("dense_out/kernel", "hwc_rows"), "output.b": "dense_out/bias"},
}
# fmt: on
