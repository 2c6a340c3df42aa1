"""A PyTorch port of the WGAN-GP 64x64 ResNet, written as such ports are: ``nn.Module`` trees.

This is the code under test, not part of the tool: its names, layouts and forward code are the
port's own (``nn.Linear`` weights are ``(out, in)``, the critic's LayerNorm has per-element
affine parameters, the up path uses a permute-based depth_to_space). ``torch_module_check.py``
checks it with the tool's module adapter, unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class MyConvo2d(nn.Module):
    def __init__(self, input_dim, output_dim, kernel_size, bias=True):
        super().__init__()
        self.conv = nn.Conv2d(input_dim, output_dim, kernel_size, 1, kernel_size // 2, bias=bias)

    def forward(self, x):
        return self.conv(x)


class ConvMeanPool(nn.Module):
    def __init__(self, input_dim, output_dim, kernel_size, bias=True):
        super().__init__()
        self.conv = MyConvo2d(input_dim, output_dim, kernel_size, bias=bias)

    def forward(self, x):
        out = self.conv(x)
        return (out[:, :, ::2, ::2] + out[:, :, 1::2, ::2] + out[:, :, ::2, 1::2]
                + out[:, :, 1::2, 1::2]) / 4  # fmt: skip


class MeanPoolConv(nn.Module):
    def __init__(self, input_dim, output_dim, kernel_size, bias=True):
        super().__init__()
        self.conv = MyConvo2d(input_dim, output_dim, kernel_size, bias=bias)

    def forward(self, x):
        out = (
            x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]
        ) / 4
        return self.conv(out)


class DepthToSpace(nn.Module):
    """TensorFlow's depth_to_space (DCR), through NHWC as the TF code does it."""

    def __init__(self, block_size):
        super().__init__()
        self.block_size = block_size

    def forward(self, x):
        n, c, h, w = x.shape
        b = self.block_size
        out = x.permute(0, 2, 3, 1).reshape(n, h, w, b, b, c // (b * b))
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // (b * b))
        # Back to NCHW. Without .contiguous() the result stays channels-last in memory, and
        # torch 2.13's CPU batch_norm is then far less accurate (see docs/findings.md).
        return out.permute(0, 3, 1, 2).contiguous()


class UpSampleConv(nn.Module):
    def __init__(self, input_dim, output_dim, kernel_size, bias=True):
        super().__init__()
        self.conv = MyConvo2d(input_dim, output_dim, kernel_size, bias=bias)
        self.depth_to_space = DepthToSpace(2)

    def forward(self, x):
        out = torch.cat((x, x, x, x), 1)
        return self.conv(self.depth_to_space(out))


class ResidualBlock(nn.Module):
    def __init__(self, input_dim, output_dim, kernel_size, resample, hw=(64, 64)):
        super().__init__()
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        if resample == "down":
            self.bn1 = nn.LayerNorm([input_dim, hw[0], hw[1]])
            self.bn2 = nn.LayerNorm([input_dim, hw[0], hw[1]])
            self.conv_shortcut = MeanPoolConv(input_dim, output_dim, 1)
            self.conv_1 = MyConvo2d(input_dim, input_dim, kernel_size, bias=False)
            self.conv_2 = ConvMeanPool(input_dim, output_dim, kernel_size)
        elif resample == "up":
            self.bn1 = nn.BatchNorm2d(input_dim)
            self.bn2 = nn.BatchNorm2d(output_dim)
            self.conv_shortcut = UpSampleConv(input_dim, output_dim, 1)
            self.conv_1 = UpSampleConv(input_dim, output_dim, kernel_size, bias=False)
            self.conv_2 = MyConvo2d(output_dim, output_dim, kernel_size)
        else:
            raise ValueError(f"resample must be 'down' or 'up', not {resample!r}")

    def forward(self, x):
        shortcut = self.conv_shortcut(x)
        out = self.conv_1(self.relu1(self.bn1(x)))
        out = self.conv_2(self.relu2(self.bn2(out)))
        return shortcut + out


class GoodGenerator(nn.Module):
    def __init__(self, dim=64, output_dim=3 * 64 * 64):
        super().__init__()
        self.dim = dim
        self.ln1 = nn.Linear(128, 4 * 4 * 8 * dim)
        self.rb1 = ResidualBlock(8 * dim, 8 * dim, 3, resample="up")
        self.rb2 = ResidualBlock(8 * dim, 4 * dim, 3, resample="up")
        self.rb3 = ResidualBlock(4 * dim, 2 * dim, 3, resample="up")
        self.rb4 = ResidualBlock(2 * dim, 1 * dim, 3, resample="up")
        self.bn = nn.BatchNorm2d(dim)
        self.conv1 = MyConvo2d(dim, 3, 3)
        self.relu = nn.ReLU()
        self.tanh = nn.Tanh()
        self.output_dim = output_dim

    def forward(self, x):
        out = self.ln1(x.contiguous()).view(-1, 8 * self.dim, 4, 4)
        out = self.rb4(self.rb3(self.rb2(self.rb1(out))))
        out = self.conv1(self.relu(self.bn(out)))
        return self.tanh(out).view(-1, self.output_dim)


class GoodDiscriminator(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.dim = dim
        self.conv1 = MyConvo2d(3, dim, 3)
        self.rb1 = ResidualBlock(dim, 2 * dim, 3, resample="down", hw=(64, 64))
        self.rb2 = ResidualBlock(2 * dim, 4 * dim, 3, resample="down", hw=(32, 32))
        self.rb3 = ResidualBlock(4 * dim, 8 * dim, 3, resample="down", hw=(16, 16))
        self.rb4 = ResidualBlock(8 * dim, 8 * dim, 3, resample="down", hw=(8, 8))
        self.ln1 = nn.Linear(4 * 4 * 8 * dim, 1)

    def forward(self, x):
        out = self.conv1(x.contiguous().view(-1, 3, 64, 64))
        out = self.rb4(self.rb3(self.rb2(self.rb1(out))))
        return self.ln1(out.view(-1, 4 * 4 * 8 * self.dim)).view(-1)
