"""The primitives and their vector-Jacobian products in plain NumPy, in any float dtype.

These functions are copied, as source, into the standalone scripts ``wgan-parity repro``
writes (:mod:`~wgan_parity.dump.repro_script`): there they give the float64 answer and a float32
bound without any framework. So each one uses NumPy only (``np``) and the other functions of
this module, never a name from the package. Semantics are the protocol's (NCHW, OIHW kernels,
SAME padding, tflib's norms); ``tests/test_repro.py`` checks values and gradients against the
float64 reference backend. ``*_vjp(g, inputs...)`` returns the gradient of ``sum(out * g)`` for
every input, in the order of the forward's parameters.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

Arrays = Tuple[np.ndarray, ...]
EPS = 1e-5


def _norm(x: np.ndarray, scale: np.ndarray, offset: np.ndarray, axes: tuple) -> Arrays:
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(EPS))
    xhat = (x - mean) * rstd
    return xhat * scale.reshape(1, -1, 1, 1) + offset.reshape(1, -1, 1, 1), xhat, rstd


def _norm_vjp(g: np.ndarray, x: np.ndarray, scale: np.ndarray, offset: np.ndarray,
              axes: tuple) -> Arrays:  # fmt: skip
    _, xhat, rstd = _norm(x, scale, offset, axes)
    n = x.size // int(np.prod([x.shape[a] for a in range(4) if a not in axes]))
    gh = g * scale.reshape(1, -1, 1, 1)
    gx = rstd / n * (n * gh - gh.sum(axis=axes, keepdims=True)
                     - xhat * (gh * xhat).sum(axis=axes, keepdims=True))  # fmt: skip
    return gx, (g * xhat).sum(axis=(0, 2, 3)), g.sum(axis=(0, 2, 3))


def batch_norm(x: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Training-mode BatchNorm: statistics over (N, H, W), biased variance, eps in the root."""
    return _norm(x, scale, offset, (0, 2, 3))[0]


def batch_norm_vjp(g: np.ndarray, x: np.ndarray, scale: np.ndarray,
                   offset: np.ndarray) -> Arrays:  # fmt: skip
    return _norm_vjp(g, x, scale, offset, (0, 2, 3))


def layer_norm(x: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """tflib LayerNorm: statistics over (C, H, W) per sample, per-channel scale and offset."""
    return _norm(x, scale, offset, (1, 2, 3))[0]


def layer_norm_vjp(g: np.ndarray, x: np.ndarray, scale: np.ndarray,
                   offset: np.ndarray) -> Arrays:  # fmt: skip
    return _norm_vjp(g, x, scale, offset, (1, 2, 3))


def _patches(x: np.ndarray, k: int) -> np.ndarray:
    p, (h, w) = k // 2, x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return np.stack([xp[:, :, i : i + h, j : j + w] for i in range(k) for j in range(k)], axis=2)


def conv2d(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> np.ndarray:
    """Stride-1 SAME cross-correlation, NCHW input, OIHW kernel, optional bias."""
    k = w.shape[2]
    y = np.einsum("nckhw,ock->nohw", _patches(x, k), w.reshape(w.shape[0], w.shape[1], k * k))
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv2d_vjp(g: np.ndarray, x: np.ndarray, w: np.ndarray,
               b: Optional[np.ndarray] = None) -> Arrays:  # fmt: skip
    k, p, (h, wd) = w.shape[2], w.shape[2] // 2, x.shape[2:]
    gw = np.einsum("nohw,nckhw->ock", g, _patches(x, k)).reshape(w.shape)
    gcols = np.einsum("nohw,ock->nckhw", g, w.reshape(w.shape[0], w.shape[1], k * k))
    gxp = np.zeros((x.shape[0], x.shape[1], h + 2 * p, wd + 2 * p), x.dtype)
    for idx in range(k * k):
        i, j = divmod(idx, k)
        gxp[:, :, i : i + h, j : j + wd] += gcols[:, :, idx]
    gb = g.sum(axis=(0, 2, 3)) if b is not None else None
    return (gxp[:, :, p : p + h, p : p + wd], gw) + ((gb,) if gb is not None else ())


def depth_to_space(x: np.ndarray) -> np.ndarray:
    """TensorFlow's DCR depth_to_space with block 2, NCHW."""
    n, c, h, w = x.shape
    y = x.reshape(n, 2, 2, c // 4, h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(n, c // 4, h * 2, w * 2)


def depth_to_space_vjp(g: np.ndarray, x: np.ndarray) -> Arrays:
    n, c, h, w = x.shape
    return (g.reshape(n, c // 4, h, 2, w, 2).transpose(0, 3, 5, 1, 2, 4).reshape(x.shape),)


def tile4(x: np.ndarray) -> np.ndarray:
    """The up block's concatenation of four copies along channels."""
    return np.concatenate([x, x, x, x], axis=1)


def tile4_vjp(g: np.ndarray, x: np.ndarray) -> Arrays:
    c = x.shape[1]
    return (g[:, :c] + g[:, c : 2 * c] + g[:, 2 * c : 3 * c] + g[:, 3 * c :],)


def mean_pool(x: np.ndarray) -> np.ndarray:
    """tflib's 2x2 mean pool: the four strided slices summed in tflib's order, over 4."""
    return (x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4


def mean_pool_vjp(g: np.ndarray, x: np.ndarray) -> Arrays:
    gx = np.zeros_like(x)
    for i in (0, 1):
        for j in (0, 1):
            gx[:, :, i::2, j::2] = g / 4
    return (gx,)


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``."""
    return np.maximum(x, 0)


def relu_vjp(g: np.ndarray, x: np.ndarray) -> Arrays:
    return (g * (x > 0),)


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x @ w + b`` with an ``(in, out)`` weight."""
    return x @ w + b


def linear_vjp(g: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Arrays:
    return g @ w.T, x.T @ g, g.sum(axis=0)
