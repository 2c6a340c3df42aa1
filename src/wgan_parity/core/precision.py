"""Reduced precision as a switch: what computes in bfloat16 or float16, and what stays float32.

A dump at ``precision`` other than ``float32`` runs its backend under a mixed-precision policy, the
one a mixed-precision training loop runs: parameters stay float32 (the master weights) and the
gradients come back float32 through the casts.

- torch: ``torch.autocast`` on the dump's device, the framework's own policy (its op lists
  decide; the adapter's ``autocast`` gives the context). The forward pass runs under it and
  every backward outside it, the gradient penalty's inner one included, as torch's AMP examples
  for gradient penalties do.
- every other backend with a ``cast`` primitive: :data:`POLICY`, Keras' ``mixed_bfloat16`` /
  ``mixed_float16`` semantics applied to the adapter's ops, since the adapters call the
  frameworks' ops and not Keras layers: a conv or a dense layer casts its input and its weights
  to the compute dtype; a normalization layer computes its statistics and its normalization in
  float32 and returns the compute dtype; the model's output and every reduction of the loss and
  the penalty are float32.

The float64 truth never runs reduced: a reduced-precision limit comes from the float32 NumPy
reference under the same :data:`POLICY`, its casts rounding to the precision
(:func:`round_to`), measured against the truth (``--noise-precision``), as the float32 noise is.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

#: The precisions a dump can run at; float32 is the default and needs no policy.
PRECISIONS: Tuple[str, ...] = ("float32", "bfloat16", "float16")
FLOAT32 = "float32"
#: Unit roundoff (half the machine epsilon) of each precision's significand.
UNIT_ROUNDOFF: Mapping[str, float] = {"float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}
#: Short kernel-class tokens (``compare.traits``): a reduced-precision env is its own class.
TOKENS: Mapping[str, str] = {"bfloat16": "bf16", "float16": "fp16"}
#: The op-level policy of backends without a framework autocast: op -> where it computes.
POLICY: Mapping[str, str] = {
    "conv2d": "compute dtype (input, kernel and bias cast down; float32 accumulation is the "
    "kernel's choice)",
    "linear": "compute dtype (input, weight and bias cast down)",
    "batch_norm": "float32 statistics and normalization; output cast to the compute dtype",
    "layer_norm": "float32 statistics and normalization; output cast to the compute dtype",
    "mean": "float32 (loss and penalty reductions)",
    "sum": "float32 (loss and penalty reductions)",
    "sqrt": "float32 (the penalty's gradient norm)",
    "output": "float32 (the model's output is cast up, as Keras advises for a mixed policy)",
    "tanh": "the compute dtype",
    "mean_pool": "the compute dtype",
    "residual_block": "the compute dtype (its shortcut + main path sum)",
    "others": "the dtype they are given (relu, concat, reshape, depth_to_space)",
}


def check(precision: str) -> str:
    """``precision`` if known, else a ValueError that lists the known ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {list(PRECISIONS)}, found {precision!r}")
    return precision


def round_to(x: np.ndarray, precision: str) -> np.ndarray:
    """``x`` (float32) rounded to ``precision`` to nearest even, kept in float32."""
    x = np.asarray(x, dtype=np.float32)
    if precision == "float16":
        with np.errstate(over="ignore"):
            return x.astype(np.float16).astype(np.float32)
    if precision == "bfloat16":
        bits = x.view(np.uint32)
        rounding = ((bits >> 16) & np.uint32(1)) + np.uint32(0x7FFF)
        return ((bits + rounding) & np.uint32(0xFFFF0000)).view(np.float32)
    return x.copy()


def apply(backend: Any, precision: str, cast: Optional[Callable[..., Any]] = None,
          autocast: Optional[Callable[[str], Any]] = None,
          cast_up: Optional[Callable[..., Any]] = None) -> Dict[str, Any]:  # fmt: skip
    """Put ``backend`` (a loaded ``Ops``) under ``precision``; returns what to record.

    ``autocast(precision)`` (a context manager factory) wraps the forward pass in the
    framework's own autocast; else ``cast(x, dtype_name)`` applies :data:`POLICY` to the
    primitives (``cast_up(x, precision)``, if given, is the cast back to float32: the float32
    reference's, whose backward rounds the cotangent). Neither: a ValueError saying the backend has
    no reduced-precision support.
    """
    check(precision)
    if precision == FLOAT32:
        return {"precision": FLOAT32}
    if autocast is not None:
        backend.vjp = _autocast_vjp(backend.vjp, functools.partial(autocast, precision))
        return {"precision": precision, "precision_policy": "framework autocast"}
    if cast is None:
        raise ValueError(
            f"--precision {precision}: backend {backend.name!r} has neither a `cast` primitive "
            "nor an `autocast` context; run it at float32, or give its adapter one of them"
        )
    _apply_policy(backend, precision, cast, cast_up)
    return {"precision": precision, "precision_policy": dict(POLICY)}


def _autocast_vjp(vjp: Callable[..., Any], context: Callable[[], Any]) -> Callable[..., Any]:
    """``vjp`` whose forward pass runs under ``context()`` (the backward outside it)."""

    def wrapped(fn: Callable[..., Any], args: Mapping[str, Any], wrt: Sequence[str],
                cotangent: Any = None, create_graph: bool = False) -> Any:  # fmt: skip
        def forward(arguments: Mapping[str, Any]) -> Any:
            with context():
                return fn(arguments)

        return vjp(forward, args, wrt, cotangent, create_graph)

    return wrapped


def _apply_policy(
    backend: Any, low: str, cast: Callable[..., Any], cast_up: Optional[Callable[..., Any]]
) -> None:
    """Replace the backend's primitives with :data:`POLICY`'s casts around them."""
    policy = _Policy(backend, low, cast, cast_up)
    for name in _Policy.WRAPS:
        setattr(backend, name, getattr(policy, name))


class _Policy:
    """:data:`POLICY` over a backend's own primitives (methods, not lambdas: ``tf.function``'s
    autograph cannot tell apart lambdas defined side by side).

    The cast after a conv or a dense layer is a no-op in a framework (its op returns the compute
    dtype already); the float32 reference rounds its float32-accumulated result there, as the
    framework's op does.
    """

    WRAPS = ("conv2d", "linear", "batch_norm", "layer_norm", "mean", "sum", "sqrt", "tanh",
             "mean_pool", "residual_block", "to_numpy", "vjp")  # fmt: skip

    def __init__(
        self,
        backend: Any,
        low: str,
        cast: Callable[..., Any],
        cast_up: Optional[Callable[..., Any]] = None,
    ) -> None:
        self.base = {name: getattr(backend, name) for name in self.WRAPS}
        self.low, self.cast, self.cast_up = low, cast, cast_up

    def down(self, x: Any) -> Any:
        return None if x is None else self.cast(x, self.low)

    def up(self, x: Any) -> Any:
        if self.cast_up is not None:
            return self.cast_up(x, self.low)
        return self.cast(x, FLOAT32)

    def conv2d(self, x: Any, w: Any, b: Any = None) -> Any:
        return self.down(self.base["conv2d"](self.down(x), self.down(w), self.down(b)))

    def linear(self, x: Any, w: Any, b: Any) -> Any:
        return self.down(self.base["linear"](self.down(x), self.down(w), self.down(b)))

    def batch_norm(self, x: Any, scale: Any, offset: Any, eps: float) -> Any:
        return self.down(self.base["batch_norm"](self.up(x), scale, offset, eps))

    def layer_norm(self, x: Any, scale: Any, offset: Any, eps: float) -> Any:
        return self.down(self.base["layer_norm"](self.up(x), scale, offset, eps))

    def mean(self, x: Any, axis: Any = None) -> Any:
        return self.base["mean"](self.up(x), axis)

    def sum(self, x: Any, axis: Any = None) -> Any:
        return self.base["sum"](self.up(x), axis)

    def sqrt(self, x: Any) -> Any:
        return self.base["sqrt"](self.up(x))

    def tanh(self, x: Any) -> Any:
        return self.down(self.base["tanh"](x))

    def mean_pool(self, x: Any) -> Any:
        return self.down(self.base["mean_pool"](x))

    def residual_block(self, *args: Any, **kwargs: Any) -> Any:
        return self.down(self.base["residual_block"](*args, **kwargs))

    def to_numpy(self, tensor: Any) -> Any:
        return self.base["to_numpy"](self.up(tensor))

    def vjp(self, fn: Callable[..., Any], args: Mapping[str, Any], wrt: Sequence[str],
            cotangent: Any = None, create_graph: bool = False) -> Any:  # fmt: skip
        def forward(arguments: Mapping[str, Any]) -> Any:
            out, aux = fn(arguments)
            return self.up(out), aux

        return self.base["vjp"](forward, args, wrt, cotangent, create_graph)


def dtype_name(tensor: Any) -> str:
    """A tensor's dtype as a plain name (``bfloat16``), whatever the framework."""
    dtype = getattr(tensor, "dtype", None)
    name = getattr(dtype, "name", None) or str(dtype)
    return str(name).replace("torch.", "")
