"""The float64 NumPy truth: plain NumPy kernels, gradients from the ``autograd`` package.

No framework kernel is borrowed. Convolution is one im2col matrix product, registered with
autograd as a primitive whose adjoints are again correlations (as autograd does for its own
``convolve``): every op here is differentiable to any order, which gives the gradient penalty's
double backward, and the graph keeps only each conv's inputs, not per-offset partial sums.
"""

from __future__ import annotations

import platform
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import autograd
import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from wgan_parity.core.allocator import keep_freed_memory
from wgan_parity.core.flags import Flags
from wgan_parity.core.precision import round_to
from wgan_parity.core.protocol import Aux, Differentiable

FRAMEWORK = "reference"
DTYPE = "float64"


def configure(flags: Flags) -> Dict[str, Any]:
    """Keep freed memory for reuse (:mod:`core.allocator`); record the BLAS.

    NumPy float64 is deterministic for a given BLAS: nothing numeric to switch.
    """
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.26
        blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "unknown")
    except TypeError:
        pass
    return {
        "blas": blas,
        "deterministic": True,
        "processor": platform.processor(),
        **keep_freed_memory(),
    }


def framework_version() -> str:
    """NumPy's version plus autograd's: the reference's own 'framework'."""
    from wgan_parity.core.compat import dist_version  # importlib.metadata is 3.8+

    return f"numpy-{np.__version__}+autograd-{dist_version('autograd')}"


def asarray(value: np.ndarray) -> np.ndarray:
    """A fresh float64 array."""
    return np.array(value, dtype=np.float64)


def to_numpy(tensor: Any) -> np.ndarray:
    """Unbox and return a NumPy array."""
    return np.asarray(getval(tensor))


@primitive
def cast(tensor: Any, dtype: str) -> Any:
    """Round to ``dtype`` (a precision name), kept in the array's own dtype: how the float32
    reference emulates a reduced-precision run (the cotangent is rounded alike)."""
    if dtype in ("float32", "float64"):
        return tensor
    return round_to(tensor, dtype).astype(tensor.dtype, copy=False)


defvjp(cast, lambda ans, tensor, dtype: lambda g: cast(g, dtype))


def stop_gradient(tensor: Any) -> Any:
    """The value without its autograd trace."""
    return getval(tensor)


def compile(fn: Callable) -> Callable:
    """No compilation in NumPy."""
    return fn


def vjp(
    fn: Differentiable,
    args: Mapping[str, Any],
    wrt: Sequence[str],
    cotangent: Optional[Any] = None,
    create_graph: bool = False,
) -> Tuple[Any, Aux, Dict[str, Any]]:
    """``(out, aux, grads)`` of ``fn`` via ``autograd.make_vjp``; every order is differentiable.

    autograd has no ``has_aux``: the aux values leave the trace unboxed (they carry no gradient).
    """
    fixed = {k: v for k, v in args.items() if k not in wrt}
    aux: Aux = {}

    def restricted(chosen: Dict[str, Any]) -> Any:
        out, taps = fn({**fixed, **chosen})
        aux.update({name: getval(value) for name, value in taps.items()})
        return out

    pullback, out = autograd.make_vjp(restricted)({k: args[k] for k in wrt})
    seed = anp.ones_like(getval(out)) if cotangent is None else cotangent
    return out, aux, dict(pullback(seed))


def _same_padding(k: int) -> Tuple[int, int]:
    if k % 2 == 0:
        raise ValueError(
            f"conv2d: expected an odd kernel size for symmetric SAME padding, found {k}"
        )
    return k // 2, k // 2


def _im2col(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """Patches as a ``(C*kh*kw, N*H*W)`` matrix (SAME zero padding), for one GEMM.

    The input is padded once in ``(C, N, H, W)`` order and the patches are one copy of its
    sliding windows: about 1.5x faster than nine strided slice copies from NCHW on the
    discriminator's shapes (measured in isolation), and the same bits.
    """
    n, c, height, width = x.shape
    (top, bottom), (left, right) = _same_padding(kh), _same_padding(kw)
    padded = np.zeros((c, n, height + top + bottom, width + left + right), dtype=x.dtype)
    padded[:, :, top : top + height, left : left + width] = x.transpose(1, 0, 2, 3)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    cols = np.empty((c, kh, kw, n, height, width), dtype=x.dtype)
    np.copyto(cols, windows.transpose(0, 4, 5, 1, 2, 3))
    return cols.reshape(c * kh * kw, n * height * width)


_CHUNK_BYTES = 64 * 1024 * 1024  # bound on one im2col buffer


def _batch_chunks(x: np.ndarray, kh: int, kw: int) -> range:
    per_sample = x[0].size * kh * kw * x.itemsize
    return range(0, x.shape[0], max(1, _CHUNK_BYTES // max(per_sample, 1)))


@primitive
def _correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """SAME cross-correlation, NCHW x OIHW -> NCHW: im2col GEMMs over batch chunks."""
    n, _, height, width = x.shape
    kh, kw = w.shape[2], w.shape[3]
    w_matrix = w.reshape(w.shape[0], -1)
    out = np.empty((n, w.shape[0], height, width), dtype=np.result_type(x, w))
    step = _batch_chunks(x, kh, kw).step
    for start in range(0, n, step):
        part = x[start : start + step]
        product = w_matrix @ _im2col(part, kh, kw)
        out[start : start + step] = product.reshape(
            w.shape[0], part.shape[0], height, width
        ).transpose(1, 0, 2, 3)
    return out


@primitive
def _correlate_weight_grad(x: np.ndarray, g: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """``dW[o, c, i, j] = sum_{n,h,w} g[n, o, h, w] * x_padded[n, c, h + i, w + j]``."""
    total = np.zeros((x.shape[1] * kh * kw, g.shape[1]), dtype=np.result_type(x, g))
    step = _batch_chunks(x, kh, kw).step
    for start in range(0, x.shape[0], step):
        g_part = g[start : start + step]
        g_matrix = g_part.transpose(1, 0, 2, 3).reshape(g.shape[1], -1)
        # patches @ g.T, not g @ patches.T: the same sums, but OpenBLAS runs the transposed
        # long-inner-dimension product 10-20x slower (measured in bench/profile_reference.py)
        total += _im2col(x[start : start + step], kh, kw) @ g_matrix.T
    return total.T.reshape(g.shape[1], x.shape[1], kh, kw)


def _flip(w: Any) -> Any:
    """The kernel of the adjoint: swap O and I, rotate 180 degrees (odd kernels, SAME)."""
    return anp.transpose(w[:, :, ::-1, ::-1], (1, 0, 2, 3))


# The adjoints are themselves correlations, so every order of derivative stays available
# (the gradient penalty's double backward); tests check them against finite differences.
defvjp(
    _correlate,
    lambda ans, x, w: lambda g: _correlate(g, _flip(w)),
    lambda ans, x, w: lambda g: _correlate_weight_grad(x, g, w.shape[2], w.shape[3]),
)
defvjp(
    _correlate_weight_grad,
    lambda ans, x, g, kh, kw: lambda wbar: _correlate(g, _flip(wbar)),
    lambda ans, x, g, kh, kw: lambda wbar: _correlate(x, wbar),
)


@primitive
def _mean_pool(x: np.ndarray) -> np.ndarray:
    """tflib's 2x2 mean pool, summed in tflib's order, as :func:`core.model.mean_pool` sums it."""
    return (x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4.0


@primitive
def _mean_pool_adjoint(g: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """The pool's transpose: ``g / 4`` in each of the four strided slices (no scatter-add)."""
    out = np.empty(shape, dtype=g.dtype)
    quarter = g / 4.0
    for i in (0, 1):
        for j in (0, 1):
            out[:, :, i::2, j::2] = quarter
    return out


# Autograd differentiates the strided slices by scatter-adding into zeros (``np.add.at``): a few
# percent of a discriminator's backward. These adjoints give the same bits (g / 4 everywhere) and
# stay differentiable for the double backward of the penalty (the adjoint's adjoint is the pool).
defvjp(_mean_pool, lambda ans, x: lambda g: _mean_pool_adjoint(g, x.shape))
defvjp(_mean_pool_adjoint, lambda ans, g, shape: lambda xbar: _mean_pool(xbar))


def mean_pool(ops: Any, x: Any) -> Any:
    """The composite ``mean_pool`` of :mod:`core.model`, as one primitive with its adjoint."""
    return _mean_pool(x)


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """Stride-1 SAME convolution (cross-correlation), NCHW input, OIHW kernel."""
    out = _correlate(x, w)
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
    """``x if x > 0 else 0``, with the frameworks' gradient convention relu'(0) = 0.

    (``np.maximum(x, 0)`` would split the gradient 0.5/0.5 at exact ties under autograd, and
    seed mode's 2-decimal inputs make exact zeros common.)
    """
    return anp.where(x > 0, x, 0.0)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return anp.tanh(x)


def sqrt(x: Any) -> Any:
    """Square root."""
    return anp.sqrt(x)


def mean(x: Any, axis: Optional[Any] = None) -> Any:
    """Mean over ``axis`` (all axes if None)."""
    return anp.mean(x, axis=axis)


def sum(x: Any, axis: Optional[Any] = None) -> Any:
    """Sum over ``axis`` (all axes if None)."""
    return anp.sum(x, axis=axis)


def _affine(x: Any, scale: Any, offset: Any) -> Any:
    return x * anp.reshape(scale, (1, -1, 1, 1)) + anp.reshape(offset, (1, -1, 1, 1))


@primitive
def _standardize(x: np.ndarray, axes: Tuple[int, ...], eps: float) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (two-pass variance), one graph node."""
    centred = x - x.mean(axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    centred /= np.sqrt(var + eps)
    return centred


def _standardize_vjp(ans: Any, x: Any, axes: Tuple[int, ...], eps: float) -> Callable:
    """``inv * (g - mean(g) - y * mean(g * y))``, written in autograd's NumPy: differentiable
    again (the gradient penalty's double backward). Keeps the output, not the temporaries."""
    centred = x - anp.mean(x, axis=axes, keepdims=True)
    inv = 1.0 / anp.sqrt(anp.mean(centred * centred, axis=axes, keepdims=True) + eps)

    def vjp(g: Any) -> Any:
        mean_g = anp.mean(g, axis=axes, keepdims=True)
        mean_gy = anp.mean(g * ans, axis=axes, keepdims=True)
        return inv * (g - mean_g - ans * mean_gy)

    return vjp


# The normalizations' backward as one adjoint instead of autograd's chain of eight elementwise
# nodes: fewer full-size temporaries kept for the backward pass (peak memory) and less time.
defvjp(_standardize, _standardize_vjp)


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """tflib LayerNorm: statistics over C, H, W per sample; per-channel affine."""
    return _affine(_standardize(x, (1, 2, 3), eps), scale, offset)


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """Training-mode BatchNorm: statistics over N, H, W; per-channel affine."""
    return _affine(_standardize(x, (0, 2, 3), eps), scale, offset)
