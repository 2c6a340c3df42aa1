"""The float64 NumPy truth: plain NumPy kernels, gradients from the ``autograd`` package.

No framework kernel is borrowed. Convolution is a sum over kernel offsets of shifted-slice
tensor contractions; every op here is differentiable to any order by autograd, which gives the
double backward of the gradient penalty.
"""

from __future__ import annotations

import platform
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from wgan_parity.flags import Flags

FRAMEWORK = "reference"
DTYPE = "float64"


def configure(flags: Flags) -> Dict[str, Any]:
    """Nothing to switch: NumPy float64 is deterministic for a given BLAS; record the BLAS."""
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "unknown")
    except TypeError:
        pass
    return {"blas": blas, "deterministic": True, "processor": platform.processor()}


def framework_version() -> str:
    """NumPy's version plus autograd's: the reference's own 'framework'."""
    from importlib.metadata import version

    return f"numpy-{np.__version__}+autograd-{version('autograd')}"


def asarray(value: np.ndarray) -> np.ndarray:
    """A fresh float64 array."""
    return np.array(value, dtype=np.float64)


def to_numpy(tensor: Any) -> np.ndarray:
    """Unbox and return a NumPy array."""
    return np.asarray(getval(tensor))


def stop_gradient(tensor: Any) -> Any:
    """The value without its autograd trace."""
    return getval(tensor)


def compile(fn: Callable) -> Callable:  # noqa: A001 - protocol name
    """No compilation in NumPy."""
    return fn


def vjp(
    fn: Callable[[Mapping[str, Any]], Any],
    args: Mapping[str, Any],
    wrt: Sequence[str],
    cotangent: Optional[Any] = None,
    create_graph: bool = False,
) -> Tuple[Any, Dict[str, Any]]:
    """Value and gradient of ``sum(fn(args) * cotangent)`` w.r.t. ``args[k]`` for ``k in wrt``."""
    fixed = {k: v for k, v in args.items() if k not in wrt}

    def restricted(chosen: Dict[str, Any]) -> Any:
        return fn({**fixed, **chosen})

    pullback, out = autograd.make_vjp(restricted)({k: args[k] for k in wrt})
    seed = anp.ones_like(getval(out)) if cotangent is None else cotangent
    return out, dict(pullback(seed))


def _same_padding(k: int) -> Tuple[int, int]:
    return (k - 1) // 2, k - 1 - (k - 1) // 2


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """Stride-1 SAME convolution (cross-correlation), NCHW input, OIHW kernel."""
    _, _, kh, kw = w.shape
    height, width = x.shape[2], x.shape[3]
    padded = anp.pad(x, ((0, 0), (0, 0), _same_padding(kh), _same_padding(kw)), "constant")
    acc = None
    for i in range(kh):
        for j in range(kw):
            patch = padded[:, :, i : i + height, j : j + width]
            term = anp.tensordot(w[:, :, i, j], patch, axes=([1], [1]))  # (O, N, H, W)
            acc = term if acc is None else acc + term
    out = anp.transpose(acc, (1, 0, 2, 3))
    return out if b is None else out + anp.reshape(b, (1, -1, 1, 1))


def depth_to_space(x: Any, block: int) -> Any:
    """DCR order: input channel ``(i*block + j)*C_out + c`` goes to output pixel offset (i, j)."""
    n, c, h, w = x.shape
    out_c = c // (block * block)
    y = anp.reshape(x, (n, block, block, out_c, h, w))
    y = anp.transpose(y, (0, 3, 4, 1, 5, 2))
    return anp.reshape(y, (n, out_c, h * block, w * block))


def linear(x: Any, w: Any, b: Any) -> Any:
    """``x @ w + b`` with an ``(in, out)`` weight."""
    return anp.dot(x, w) + b


def concat(tensors: Sequence[Any], axis: int) -> Any:
    """Concatenate along ``axis``."""
    return anp.concatenate(list(tensors), axis=axis)


def reshape(x: Any, shape: Sequence[int]) -> Any:
    """Reshape (C order)."""
    return anp.reshape(x, tuple(shape))


def relu(x: Any) -> Any:
    """max(x, 0)."""
    return anp.maximum(x, 0.0)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return anp.tanh(x)


def sqrt(x: Any) -> Any:
    """Square root."""
    return anp.sqrt(x)


def mean(x: Any, axis: Optional[Any] = None) -> Any:
    """Mean over ``axis`` (all axes if None)."""
    return anp.mean(x, axis=axis)


def sum(x: Any, axis: Optional[Any] = None) -> Any:  # noqa: A001 - protocol name
    """Sum over ``axis`` (all axes if None)."""
    return anp.sum(x, axis=axis)


def _affine(x: Any, scale: Any, offset: Any) -> Any:
    return x * anp.reshape(scale, (1, -1, 1, 1)) + anp.reshape(offset, (1, -1, 1, 1))


def _standardize(x: Any, axes: Tuple[int, ...], eps: float) -> Any:
    mu = anp.mean(x, axis=axes, keepdims=True)
    centred = x - mu
    var = anp.mean(centred * centred, axis=axes, keepdims=True)
    return centred / anp.sqrt(var + eps)


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """tflib LayerNorm: statistics over C, H, W per sample; per-channel affine."""
    return _affine(_standardize(x, (1, 2, 3), eps), scale, offset)


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """Training-mode BatchNorm: statistics over N, H, W; per-channel affine."""
    return _affine(_standardize(x, (0, 2, 3), eps), scale, offset)
