"""Check ``torch_module_port`` with the module adapter: ``--backend torch_module_check``.

With ``examples/`` on ``PYTHONPATH``: ``wgan-parity check-port torch_module_check``, or a full
``wgan-parity dump --backend torch_module_check --out port.npz`` and ``aggregate``.
"""

import torch_module_port as port

from wgan_parity.backends import torch_module as tm

BASE = "torch"
PORT = tm.ModulePort(
    factories={
        "residual_block": lambda s: port.ResidualBlock(s.cin, s.cout, 3, s.resample, (s.h, s.w)),
        "good_generator": lambda s: port.GoodGenerator(s.dim),
        "good_discriminator": lambda s: port.GoodDiscriminator(s.dim),
    },
    names=lambda: NAMES,  # the name map, below
    transforms={"*norm*.scale": "expand", "*norm*.offset": "expand"},  # per-element LayerNorm
)
residual_block, good_generator, good_discriminator = PORT.composites()

# The name map: tool name -> the port's parameter, or its submodule (a tap: the module's output).
# fmt: off
BLOCKS = {f"res{i}.": f"rb{i}." for i in range(1, 5)}  # res1.conv1.w -> rb1.<the block's map>
NAMES = {
    "residual_block": {
        "shortcut.w": "conv_shortcut.conv.conv.weight",
        "shortcut.b": "conv_shortcut.conv.conv.bias", "norm1.scale": "bn1.weight",
        "norm1.offset": "bn1.bias", "norm2.scale": "bn2.weight", "norm2.offset": "bn2.bias",
        "shortcut": "conv_shortcut", "norm1": "bn1", "conv1": "conv_1", "norm2": "bn2",
        "conv2": "conv_2"},
    "residual_block:up": {  # UpSampleConv wraps one more module than MyConvo2d
        "conv1.w": "conv_1.conv.conv.weight", "conv2.w": "conv_2.conv.weight",
        "conv2.b": "conv_2.conv.bias"},
    "residual_block:down": {
        "conv1.w": "conv_1.conv.weight", "conv2.w": "conv_2.conv.conv.weight",
        "conv2.b": "conv_2.conv.conv.bias"},
    "good_generator": {
        **BLOCKS, "input.w": ("ln1.weight", "transpose"), "input.b": "ln1.bias", "input": "ln1",
        "output_norm.scale": "bn.weight", "output_norm.offset": "bn.bias", "output_norm": "bn",
        "output.w": "conv1.conv.weight", "output.b": "conv1.conv.bias", "output_conv": "conv1"},
    "good_discriminator": {
        **BLOCKS, "input.w": "conv1.conv.weight", "input.b": "conv1.conv.bias", "input": "conv1",
        "output.w": ("ln1.weight", "transpose"), "output.b": "ln1.bias"},
}
# fmt: on
