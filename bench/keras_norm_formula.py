"""Keras 3's normalization formula against the centred one, alone (TensorFlow backend).

    python bench/keras_norm_formula.py      # in a venv with TF 2.16+ (Keras 3), e.g. .nox/tests

Keras 3's ``LayerNormalization`` (``keras.ops.layer_normalization``) computes
``x * inv + (beta - mean * inv)`` over ``tf.nn.moments``, not ``(x - mean) * inv + beta``. Prints,
per input mean, the relative L2 error against float64 of the forward output and of the input
gradient of ``sum(y * g)``, for Keras' layer and for the centred formula in TF. Measured on TF
2.21 / Keras 3.15.1: at most 2.7x apart (mean 30, std 0.3), far from the 30-500x the Keras
example port shows on whole blocks (docs/findings.md): the formula alone is not the cause.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rel_l2(found: np.ndarray, truth: np.ndarray) -> float:
    """``||found - truth|| / ||truth||`` in float64."""
    return float(np.linalg.norm(found - truth) / np.linalg.norm(truth))


def truth(x: np.ndarray, g: np.ndarray, eps: float) -> tuple:
    """Float64 LayerNorm over (H, W, C) per sample, and its input gradient for cotangent g."""
    axes = (1, 2, 3)
    n = np.prod([x.shape[a] for a in axes])
    mu = x.mean(axes, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(axes, keepdims=True) + eps)
    y = xc * inv
    gx = inv * (g - g.mean(axes, keepdims=True) - y * (g * y).sum(axes, keepdims=True) / n)
    return y, gx


def main() -> None:
    """One line per input mean: forward and gradient errors, Keras against the centred form."""
    import keras
    import tensorflow as tf

    eps = 1e-5
    print(f"keras {keras.__version__}, tensorflow {tf.__version__}")
    rng = np.random.default_rng(0)
    for mean in (0.0, 3.0, 30.0):
        x64 = rng.normal(mean, 0.3, (8, 32, 32, 16))
        g64 = rng.normal(0.0, 1.0, x64.shape)
        y64, gx64 = truth(x64, g64, eps)
        layer = keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=eps, center=False,
                                                scale=False)  # fmt: skip
        x, g = tf.constant(x64, tf.float32), tf.constant(g64, tf.float32)

        def centred(v: tf.Tensor) -> tf.Tensor:
            mu = tf.reduce_mean(v, (1, 2, 3), keepdims=True)
            var = tf.reduce_mean(tf.square(v - mu), (1, 2, 3), keepdims=True)
            return (v - mu) * tf.math.rsqrt(var + eps)

        errors = []
        for fn in (layer, centred):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x)
                loss = tf.reduce_sum(y * g)
            gx = tape.gradient(loss, x)
            errors.append((rel_l2(y.numpy(), y64), rel_l2(gx.numpy(), gx64)))
        (ky, kg), (cy, cg) = errors
        print(
            f"mean {mean:4.1f} std 0.3: Keras forward {ky:.1e} grad {kg:.1e}; "
            f"centred forward {cy:.1e} grad {cg:.1e}"
        )


if __name__ == "__main__":
    main()
