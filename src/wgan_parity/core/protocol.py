"""The backend protocol, typed: every primitive's signature and the tensor contract composites use.

Canonical layout at the boundary: activations NCHW, conv kernels OIHW, linear weights
``(in, out)`` as in tflib (``y = x @ w + b``). Semantic choices are fixed here, not implied:

- ``conv2d``: stride 1, "SAME" zero padding (odd kernels: ``k // 2`` on each side), optional bias.
- ``depth_to_space``: TensorFlow's DCR channel order (ONNX ``mode="DCR"``); note that PyTorch
  ``pixel_shuffle`` is CRD and differs unless the channels are permuted first.
- ``layer_norm``: tflib semantics: moments over axes [1, 2, 3] per sample, per-*channel* affine.
- ``batch_norm``: training mode, batch statistics over axes [0, 2, 3], biased variance,
  per-channel affine, ``eps`` inside the square root.

The ``vjp`` contract is functional, so that tape frameworks (TensorFlow, torch) and transform
frameworks (JAX, autograd) can both meet it: ``fn(args)`` returns ``(out, aux)`` where ``aux`` is a
dict of tensors that carry no gradient (the taps), and ``vjp`` returns ``(out, aux, grads)``.
``grads[k]`` is the gradient of ``sum(out * cotangent)`` (``sum(out)`` if ``cotangent`` is None)
with respect to ``args[k]`` for ``k in wrt``, zero where ``out`` does not depend on it. With
``create_graph`` the grads are themselves differentiable by an enclosing ``vjp`` (the gradient
penalty's double backward). Nothing may leave ``fn`` except through its return value: under
``jax.vjp`` or ``jax.jit`` anything captured on the side would be a leaked tracer.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from wgan_parity.core.flags import Flags

try:
    from typing import Protocol
except ImportError:  # Python 3.7 (old-release dump envs): the classes stay plain, for the names
    Protocol = object  # type: ignore[assignment]


Aux = Dict[str, Any]
#: A differentiable function of named tensors: ``args -> (out, aux)``.
Differentiable = Callable[[Mapping[str, Any]], Tuple[Any, Aux]]


class Primitives(Protocol):
    """Module-level functions every framework adapter defines (same names, same parameters)."""

    FRAMEWORK: str
    DTYPE: str

    def configure(self, flags: Flags) -> Dict[str, Any]:
        """Import the framework, apply every precision switch; return what is in effect."""
        ...

    def framework_version(self) -> str:
        """The version string recorded in the dump."""
        ...

    def asarray(self, value: Any) -> Any:
        """A tensor of ``DTYPE`` from a NumPy array (float64 fixtures)."""
        ...

    def to_numpy(self, tensor: Any) -> Any:
        """A NumPy array from a tensor."""
        ...

    def stop_gradient(self, tensor: Any) -> Any:
        """The value, cut from every gradient."""
        ...

    def compile(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The framework's graph compiler over ``fn`` (``tf.function``, ``jax.jit``), or ``fn``."""
        ...

    def vjp(
        self,
        fn: Differentiable,
        args: Mapping[str, Any],
        wrt: Sequence[str],
        cotangent: Optional[Any] = None,
        create_graph: bool = False,
    ) -> Tuple[Any, Aux, Dict[str, Any]]:
        """``(out, aux, grads)`` of ``fn`` (see the module docstring)."""
        ...

    def conv2d(self, x: Any, w: Any, b: Optional[Any] = None) -> Any:
        """Stride-1 SAME cross-correlation, NCHW x, OIHW w, optional bias."""
        ...

    def depth_to_space(self, x: Any, block: int) -> Any:
        """DCR depth_to_space, NCHW."""
        ...

    def linear(self, x: Any, w: Any, b: Any) -> Any:
        """``x @ w + b`` with an ``(in, out)`` weight."""
        ...

    def concat(self, tensors: Sequence[Any], axis: int) -> Any:
        """Concatenate along ``axis``."""
        ...

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        """C-order reshape."""
        ...

    def relu(self, x: Any) -> Any:
        """``max(x, 0)`` with relu'(0) = 0."""
        ...

    def tanh(self, x: Any) -> Any:
        """Hyperbolic tangent."""
        ...

    def sqrt(self, x: Any) -> Any:
        """Square root."""
        ...

    def mean(self, x: Any, axis: Optional[Any] = None) -> Any:
        """Mean over ``axis`` (all if None)."""
        ...

    def sum(self, x: Any, axis: Optional[Any] = None) -> Any:
        """Sum over ``axis`` (all if None)."""
        ...

    def layer_norm(self, x: Any, scale: Any, offset: Any, eps: float) -> Any:
        """tflib LayerNorm (see the module docstring)."""
        ...

    def batch_norm(self, x: Any, scale: Any, offset: Any, eps: float) -> Any:
        """Training-mode BatchNorm (see the module docstring)."""
        ...


class Composites(Protocol):
    """Blocks written once in :mod:`wgan_parity.core.model`, bound to the backend object.

    ``taps`` is the recorder of the function being differentiated: composites write into it,
    and the function returns its contents as ``aux``.
    """

    def mean_pool(self, x: Any) -> Any: ...
    def conv_mean_pool(self, x: Any, w: Any, b: Optional[Any] = None) -> Any: ...
    def mean_pool_conv(self, x: Any, w: Any, b: Optional[Any] = None) -> Any: ...
    def upsample_conv(self, x: Any, w: Any, b: Optional[Any] = None) -> Any: ...
    def normalize(self, x: Any, p: Mapping[str, Any], scope: str, kind: str) -> Any: ...
    def residual_block(
        self,
        x: Any,
        p: Mapping[str, Any],
        scope: str,
        resample: str,
        norm: str,
        taps: Optional[Any] = None,
    ) -> Any: ...
    def good_generator(
        self, noise: Any, p: Mapping[str, Any], dim: int, taps: Optional[Any] = None
    ) -> Any: ...
    def good_discriminator(
        self, x: Any, p: Mapping[str, Any], dim: int, taps: Optional[Any] = None
    ) -> Any: ...
    def gradient_penalty(
        self, x: Any, p: Mapping[str, Any], dim: int, taps: Optional[Any] = None
    ) -> Any: ...


class Ops(Primitives, Composites, Protocol):
    """A loaded backend: the primitives, the composites, its name and the flags in effect."""

    name: str
    flags: Dict[str, Any]
    modules: Sequence[Any]  # the adapter modules it was built from, base first

    @property
    def framework(self) -> str: ...


def _members(protocol: type) -> Tuple[str, ...]:
    return tuple(
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("_")
    )


#: Module-level functions every backend module defines, derived from :class:`Primitives`.
PRIMITIVES: Tuple[str, ...] = _members(Primitives)
#: Module-level constants every backend module defines.
CONSTANTS: Tuple[str, ...] = ("FRAMEWORK", "DTYPE")
#: Composite blocks; a user backend may override any (``def residual_block(ops, x, ...)``).
COMPOSITES: Tuple[str, ...] = _members(Composites)
