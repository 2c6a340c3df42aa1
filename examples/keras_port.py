"""A Keras 3 port of the WGAN-GP 64x64 ResNet, written as such ports are: channels-last layers.

This is the code under test, not part of the tool: its names, layouts and forward code are the
port's own (NHWC tensors, HWIO kernels, a ``Flatten`` in HWC order, per-element LayerNorm
parameters, ``tf.nn.depth_to_space`` on NHWC). ``keras_check.py`` checks it with the tool's
Keras adapter, unchanged. Keras' default epsilons (1e-3) are not tflib's: set to 1e-5 here.
"""

from __future__ import annotations

import keras
import tensorflow as tf

EPS = 1e-5


def mean_pool(x):
    return (x[:, ::2, ::2] + x[:, 1::2, ::2] + x[:, ::2, 1::2] + x[:, 1::2, 1::2]) / 4


class ConvMeanPool(keras.layers.Layer):
    def __init__(self, filters, kernel_size, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, kernel_size, padding="same",
                                        use_bias=use_bias, name="conv")  # fmt: skip

    def call(self, x):
        return mean_pool(self.conv(x))


class MeanPoolConv(keras.layers.Layer):
    def __init__(self, filters, kernel_size, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, kernel_size, padding="same",
                                        use_bias=use_bias, name="conv")  # fmt: skip

    def call(self, x):
        return self.conv(mean_pool(x))


class UpsampleConv(keras.layers.Layer):
    def __init__(self, filters, kernel_size, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, kernel_size, padding="same",
                                        use_bias=use_bias, name="conv")  # fmt: skip

    def call(self, x):
        return self.conv(tf.nn.depth_to_space(tf.concat([x, x, x, x], axis=-1), 2))


class ResidualBlock(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, resample, **kwargs):
        super().__init__(**kwargs)
        if resample == "down":
            self.norm1 = keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=EPS, name="norm1")
            self.norm2 = keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=EPS, name="norm2")
            self.shortcut = MeanPoolConv(output_dim, 1, name="shortcut")
            self.conv1 = keras.layers.Conv2D(input_dim, 3, padding="same", use_bias=False,
                                             name="conv1")  # fmt: skip
            self.conv2 = ConvMeanPool(output_dim, 3, name="conv2")
        elif resample == "up":
            self.norm1 = keras.layers.BatchNormalization(epsilon=EPS, name="norm1")
            self.norm2 = keras.layers.BatchNormalization(epsilon=EPS, name="norm2")
            self.shortcut = UpsampleConv(output_dim, 1, name="shortcut")
            self.conv1 = UpsampleConv(output_dim, 3, use_bias=False, name="conv1")
            self.conv2 = keras.layers.Conv2D(output_dim, 3, padding="same", name="conv2")
        else:
            raise ValueError(f"resample must be 'down' or 'up', not {resample!r}")

    def call(self, x, training=None):
        out = self.conv1(tf.nn.relu(self.norm1(x, training=training)))
        out = self.conv2(tf.nn.relu(self.norm2(out, training=training)))
        return self.shortcut(x) + out


class GoodGenerator(keras.Model):
    def __init__(self, dim=64, **kwargs):
        super().__init__(**kwargs)
        self.dense_in = keras.layers.Dense(4 * 4 * 8 * dim, name="dense_in")
        self.reshape_in = keras.layers.Reshape((4, 4, 8 * dim), name="reshape_in")
        self.blocks = [
            ResidualBlock(8 * dim, 8 * dim, "up", name="rb1"),
            ResidualBlock(8 * dim, 4 * dim, "up", name="rb2"),
            ResidualBlock(4 * dim, 2 * dim, "up", name="rb3"),
            ResidualBlock(2 * dim, 1 * dim, "up", name="rb4"),
        ]
        self.bn_out = keras.layers.BatchNormalization(epsilon=EPS, name="bn_out")
        self.conv_out = keras.layers.Conv2D(3, 3, padding="same", name="conv_out")

    def call(self, noise, training=None):
        out = self.reshape_in(self.dense_in(noise))
        for block in self.blocks:
            out = block(out, training=training)
        out = self.conv_out(tf.nn.relu(self.bn_out(out, training=training)))
        return tf.tanh(out)  # (N, 64, 64, 3)


class GoodDiscriminator(keras.Model):
    def __init__(self, dim=64, **kwargs):
        super().__init__(**kwargs)
        self.conv_in = keras.layers.Conv2D(dim, 3, padding="same", name="conv_in")
        self.blocks = [
            ResidualBlock(dim, 2 * dim, "down", name="rb1"),
            ResidualBlock(2 * dim, 4 * dim, "down", name="rb2"),
            ResidualBlock(4 * dim, 8 * dim, "down", name="rb3"),
            ResidualBlock(8 * dim, 8 * dim, "down", name="rb4"),
        ]
        self.flatten = keras.layers.Flatten(name="flatten")
        self.dense_out = keras.layers.Dense(1, name="dense_out")

    def call(self, images, training=None):  # images: (N, 64, 64, 3)
        out = self.conv_in(images)
        for block in self.blocks:
            out = block(out, training=training)
        return self.dense_out(self.flatten(out))  # (N, 1)
