"""JAX adapter (jax 0.4.38 - 0.10): ``jax.lax`` / ``jax.numpy``, float32, XLA under ``jax.jit``.

Importing this module does not import JAX: :func:`configure` sets ``XLA_FLAGS`` (read when XLA
starts), imports JAX and sets the config switches that change its numbers in one place. The
canonical NCHW / OIHW layouts are XLA's own dimension numbers, so no transpose is needed for conv.

LayerNorm and BatchNorm use ``jax.nn.standardize``: JAX's own normalization op, and the formula
Flax's ``LayerNorm``/``BatchNorm`` use by default (one pass: ``E[x^2] - E[x]^2``, then
``rsqrt(var + eps)``), with tflib's per-channel affine after it. No Flax dependency.

Gradients are ``jax.vjp(..., has_aux=True)``; the penalty's double backward is a ``jax.vjp``
nested inside another (a transform of a transform, not a tape). Cases run under ``jax.jit``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from wgan_parity.core.compat import dist_version
from wgan_parity.core.flags import Flags
from wgan_parity.core.protocol import Aux, Differentiable

FRAMEWORK = "jax"
DTYPE = "float32"
jax: Any = None  # the jax module, bound by configure()
jnp: Any = None  # jax.numpy
_device: Any = None  # the jax.Device arrays are placed on

# XLA:CPU has no thread-count switch other than single-threaded Eigen.
_SINGLE_THREAD = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
_GPU_DETERMINISM = "--xla_gpu_deterministic_ops=true"
# XLA's compiled programs, kept across cases and runs: a `.random` case compiles the program its
# `.seed` twin compiled (same shapes, weights are arguments), and a second dump compiles nothing.
# Same program, same executable: the numbers do not change. "0" turns it off.
CACHE_ENV = "WGAN_PARITY_JAX_CACHE"


def _xla_flags(flags: Flags) -> List[str]:
    """The ``XLA_FLAGS`` items ``flags`` need (threads, GPU determinism)."""
    if flags.threads not in (None, 1):
        raise ValueError(
            f"--threads {flags.threads}: XLA:CPU can only be made single-threaded "
            "(--threads 1) or left at its default (omit --threads)"
        )
    wanted = list(_SINGLE_THREAD) if flags.threads == 1 else []
    if flags.device.startswith("cuda") and flags.deterministic:
        wanted.append(_GPU_DETERMINISM)
    return wanted


def _platform(device: str) -> str:
    """JAX's platform name for ``--device`` (``cuda`` -> ``gpu``)."""
    return "gpu" if device.startswith("cuda") else device


def configure(flags: Flags) -> Dict[str, Any]:
    """Set XLA_FLAGS, x64 off, matmul precision, platform; import JAX; return what is in effect.

    ``tf32`` off asks for full float32 matmuls and convs (``jax_default_matmul_precision`` =
    ``highest``); on leaves JAX's default (TF32 on recent NVIDIA GPUs, float32 on the CPU).
    """
    global jax, jnp, _device
    present = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join(present + [f for f in _xla_flags(flags) if f not in present])
    import jax as jax_module
    import jax.numpy as jax_numpy

    jax, jnp = jax_module, jax_numpy
    jax.config.update("jax_enable_x64", False)
    jax.config.update("jax_default_matmul_precision", None if flags.tf32 else "highest")
    platform = _platform(flags.device)
    try:
        devices = jax.devices(platform)
    except RuntimeError as exc:
        raise RuntimeError(
            f"--device {flags.device} asked for, but this jax {jax.__version__} has no "
            f"{platform} backend ({exc}); use --device cpu or install a CUDA build of jaxlib"
        ) from exc
    _device = devices[0]
    jax.config.update("jax_default_device", _device)
    cache = _compilation_cache()
    return {
        "compilation_cache": cache,
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "XLA_FLAGS": os.environ["XLA_FLAGS"],
        "deterministic": flags.deterministic,
        "tf32": flags.tf32,
        "intra_op_threads": 1 if flags.threads == 1 else "xla-default",
        "cpu_count": os.cpu_count() or 0,
        "jit": True,
        "device": flags.device,
        "platform": _device.platform,
        "gpus": [d.device_kind for d in jax.devices()] if platform == "gpu" else [],
        "jaxlib": _jaxlib_version(),
    }


def _compilation_cache() -> str:
    """Turn on JAX's persistent compilation cache (``CACHE_ENV``); return "on" or "off"."""
    wanted = os.environ.get(CACHE_ENV, "")
    if wanted == "0":
        return "off"
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = wanted or os.path.join(home, "wgan-parity", f"jax-{_jaxlib_version()}")
    try:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (AttributeError, KeyError, ValueError):  # a jax without these switches
        return "off"
    return "on"  # not the folder: a home path says nothing about the numbers


def _jaxlib_version() -> str:
    return dist_version("jaxlib")


def framework_version() -> str:
    """``jax.__version__``."""
    return str(jax.__version__)


def asarray(value: Any) -> Any:
    """A float32 array on the configured device."""
    return jax.device_put(np.asarray(value, dtype=np.float32), _device)


def to_numpy(tensor: Any) -> np.ndarray:
    """The array's value as NumPy (waits for it)."""
    return np.asarray(tensor)


def cast(tensor: Any, dtype: str) -> Any:
    """``astype`` to ``dtype`` (a precision name): the mixed-precision policy's casts."""
    return tensor.astype(getattr(jnp, dtype))


def stop_gradient(tensor: Any) -> Any:
    """``jax.lax.stop_gradient``."""
    return jax.lax.stop_gradient(tensor)


def compile(fn: Callable) -> Callable:
    """``jax.jit`` (XLA), as a JAX user runs a step."""
    return jax.jit(fn)


def vjp(
    fn: Differentiable,
    args: Mapping[str, Any],
    wrt: Sequence[str],
    cotangent: Optional[Any] = None,
    create_graph: bool = False,
) -> Tuple[Any, Aux, Dict[str, Any]]:
    """``(out, aux, grads)`` via ``jax.vjp(..., has_aux=True)``.

    The grads are always differentiable by an enclosing transform, so ``create_graph`` needs
    nothing more.
    """
    fixed = {k: v for k, v in args.items() if k not in wrt}

    def restricted(chosen: Dict[str, Any]) -> Tuple[Any, Aux]:
        out, aux = fn({**fixed, **chosen})
        return out, dict(aux)

    out, pullback, aux = jax.vjp(restricted, {k: args[k] for k in wrt}, has_aux=True)
    seed = jnp.ones_like(out) if cotangent is None else jnp.asarray(cotangent, out.dtype)
    (grads,) = pullback(seed)
    return out, aux, dict(grads)


def _per_channel(v: Any) -> Any:
    return jnp.reshape(v, (1, -1, 1, 1))


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """``lax.conv_general_dilated``, SAME, stride 1, NCHW/OIHW as dimension numbers."""
    y = jax.lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding="SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")
    )
    return y if b is None else y + _per_channel(b)


def depth_to_space(x: Any, block: int) -> Any:
    """DCR depth_to_space: channels split as (block_h, block_w, C), interleaved into H and W."""
    n, c, h, w = x.shape
    out_c = c // (block * block)
    y = jnp.reshape(x, (n, block, block, out_c, h, w))
    y = jnp.transpose(y, (0, 3, 4, 1, 5, 2))
    return jnp.reshape(y, (n, out_c, h * block, w * block))


def linear(x: Any, w: Any, b: Any) -> Any:
    """``x @ w + b`` (``jnp.matmul``)."""
    return jnp.matmul(x, w) + b


def concat(tensors: Sequence[Any], axis: int) -> Any:
    """``jnp.concatenate``."""
    return jnp.concatenate(list(tensors), axis=axis)


def reshape(x: Any, shape: Sequence[int]) -> Any:
    """``jnp.reshape``."""
    return jnp.reshape(x, tuple(shape))


def relu(x: Any) -> Any:
    """``jax.nn.relu`` (its derivative at 0 is 0)."""
    return jax.nn.relu(x)


def tanh(x: Any) -> Any:
    """``jnp.tanh``."""
    return jnp.tanh(x)


def sqrt(x: Any) -> Any:
    """``jnp.sqrt``."""
    return jnp.sqrt(x)


def mean(x: Any, axis: Optional[Any] = None) -> Any:
    """``jnp.mean``."""
    return jnp.mean(x, axis=axis)


def sum(x: Any, axis: Optional[Any] = None) -> Any:
    """``jnp.sum``."""
    return jnp.sum(x, axis=axis)


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``jax.nn.standardize`` over (C, H, W), then tflib's per-channel affine."""
    return jax.nn.standardize(x, axis=(1, 2, 3), epsilon=eps) * _per_channel(scale) + _per_channel(
        offset
    )


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``jax.nn.standardize`` over (N, H, W) (batch statistics), per-channel affine."""
    return jax.nn.standardize(x, axis=(0, 2, 3), epsilon=eps) * _per_channel(scale) + _per_channel(
        offset
    )
