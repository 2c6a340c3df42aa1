"""An Equinox port of the WGAN-GP 64x64 ResNet, written as such ports are: pytree modules.

This is the code under test, not part of the tool: its names, layouts and forward code are the
port's own (``eqx.nn.Linear`` weights are ``(out, in)``, conv biases ``(C, 1, 1)``, per-sample
layers ``jax.vmap``'d over the batch, per-element LayerNorm parameters, a hand-written
training-mode BatchNorm as Equinox ports often have). ``equinox_check.py`` checks it with the
tool's Equinox adapter, unchanged.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

EPS = 1e-5


def mean_pool(x):
    return (x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4


def depth_to_space(x, block):  # TensorFlow's DCR order, NCHW
    n, c, h, w = x.shape
    out = x.reshape(n, block, block, c // block**2, h, w).transpose(0, 3, 4, 1, 5, 2)
    return out.reshape(n, c // block**2, h * block, w * block)


class Conv(eqx.Module):
    conv: eqx.nn.Conv2d

    def __init__(self, cin, cout, kernel_size, use_bias=True, *, key):
        self.conv = eqx.nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2,
                                  use_bias=use_bias, key=key)  # fmt: skip

    def __call__(self, x):
        return jax.vmap(self.conv)(x)


class Linear(eqx.Module):
    linear: eqx.nn.Linear

    def __init__(self, cin, cout, *, key):
        self.linear = eqx.nn.Linear(cin, cout, key=key)

    def __call__(self, x):
        return jax.vmap(self.linear)(x)


class ConvMeanPool(eqx.Module):
    conv: Conv

    def __init__(self, cin, cout, kernel_size, *, key):
        self.conv = Conv(cin, cout, kernel_size, key=key)

    def __call__(self, x):
        return mean_pool(self.conv(x))


class MeanPoolConv(eqx.Module):
    conv: Conv

    def __init__(self, cin, cout, kernel_size, *, key):
        self.conv = Conv(cin, cout, kernel_size, key=key)

    def __call__(self, x):
        return self.conv(mean_pool(x))


class UpsampleConv(eqx.Module):
    conv: Conv

    def __init__(self, cin, cout, kernel_size, use_bias=True, *, key):
        self.conv = Conv(cin, cout, kernel_size, use_bias, key=key)

    def __call__(self, x):
        return self.conv(depth_to_space(jnp.concatenate([x, x, x, x], axis=1), 2))


class LayerNorm(eqx.Module):
    norm: eqx.nn.LayerNorm

    def __init__(self, shape):
        self.norm = eqx.nn.LayerNorm(shape, eps=EPS)

    def __call__(self, x):
        return jax.vmap(self.norm)(x)


class BatchNorm(eqx.Module):
    """Training mode only: the batch's statistics, as WGAN-GP's generator uses."""

    weight: jax.Array
    bias: jax.Array

    def __init__(self, channels):
        self.weight, self.bias = jnp.ones(channels), jnp.zeros(channels)

    def __call__(self, x):
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
        scale = self.weight[None, :, None, None] / jnp.sqrt(var + EPS)
        return (x - mean) * scale + self.bias[None, :, None, None]


class ResidualBlock(eqx.Module):
    shortcut: eqx.Module
    norm1: eqx.Module
    conv1: eqx.Module
    norm2: eqx.Module
    conv2: eqx.Module

    def __init__(self, cin, cout, resample, hw=(64, 64), *, key):
        k1, k2, k3 = jax.random.split(key, 3)
        if resample == "down":
            self.shortcut = MeanPoolConv(cin, cout, 1, key=k1)
            self.norm1, self.norm2 = LayerNorm((cin, *hw)), LayerNorm((cin, *hw))
            self.conv1 = Conv(cin, cin, 3, use_bias=False, key=k2)
            self.conv2 = ConvMeanPool(cin, cout, 3, key=k3)
        elif resample == "up":
            self.shortcut = UpsampleConv(cin, cout, 1, key=k1)
            self.norm1, self.norm2 = BatchNorm(cin), BatchNorm(cout)
            self.conv1 = UpsampleConv(cin, cout, 3, use_bias=False, key=k2)
            self.conv2 = Conv(cout, cout, 3, key=k3)
        else:
            raise ValueError(f"resample must be 'down' or 'up', not {resample!r}")

    def __call__(self, x):
        out = self.conv1(jax.nn.relu(self.norm1(x)))
        out = self.conv2(jax.nn.relu(self.norm2(out)))
        return self.shortcut(x) + out


class GoodGenerator(eqx.Module):
    linear: Linear
    blocks: list
    norm: BatchNorm
    conv: Conv
    dim: int = eqx.field(static=True)

    def __init__(self, dim=64, *, key):
        keys = jax.random.split(key, 6)
        self.dim = dim
        self.linear = Linear(128, 4 * 4 * 8 * dim, key=keys[0])
        channels = [(8, 8), (8, 4), (4, 2), (2, 1)]
        self.blocks = [ResidualBlock(a * dim, b * dim, "up", key=k)
                       for (a, b), k in zip(channels, keys[1:5])]  # fmt: skip
        self.norm = BatchNorm(dim)
        self.conv = Conv(dim, 3, 3, key=keys[5])

    def __call__(self, noise):
        out = self.linear(noise).reshape(-1, 8 * self.dim, 4, 4)
        for block in self.blocks:
            out = block(out)
        out = self.conv(jax.nn.relu(self.norm(out)))
        return jnp.tanh(out).reshape(-1, 3 * 64 * 64)


class GoodDiscriminator(eqx.Module):
    conv: Conv
    blocks: list
    linear: Linear
    dim: int = eqx.field(static=True)

    def __init__(self, dim=64, *, key):
        keys = jax.random.split(key, 6)
        self.dim = dim
        self.conv = Conv(3, dim, 3, key=keys[0])
        channels = [(1, 2, 64), (2, 4, 32), (4, 8, 16), (8, 8, 8)]
        self.blocks = [ResidualBlock(a * dim, b * dim, "down", (s, s), key=k)
                       for (a, b, s), k in zip(channels, keys[1:5])]  # fmt: skip
        self.linear = Linear(4 * 4 * 8 * dim, 1, key=keys[5])

    def __call__(self, images):
        out = self.conv(images.reshape(-1, 3, 64, 64))
        for block in self.blocks:
            out = block(out)
        return self.linear(out.reshape(-1, 4 * 4 * 8 * self.dim)).reshape(-1)
