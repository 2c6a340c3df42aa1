"""Check a Keras 3 port as it is: the Keras driver of :mod:`wgan_parity.backends.module_port`.

A user backend (``BASE = "tensorflow"``) builds one :class:`KerasPort` from a factory per block,
a name map and optional transforms (all described in :mod:`module_port`)::

    PORT = KerasPort(factories, names)
    residual_block, good_generator, good_discriminator = PORT.composites()

**Names** are Keras paths relative to the block's own layer: ``rb1/conv1/kernel`` for a
variable, ``rb1/conv1`` for a sublayer (a tap). Name your layers (``name="conv1"``): Keras
numbers unnamed ones per session (``conv2d_7``), so their paths change from build to build.

The layer runs through ``stateless_call`` with the tool's tensors as its trainable variables
(training mode: BatchNormalization uses the batch's statistics), inside the tool's
``GradientTape``, so first and second-order gradients reach them. Taps record the outputs of the
mapped sublayers while the call runs (Keras has no forward hooks: the sublayer's ``call`` is
wrapped for the call, then restored).

**Layout.** Keras ports are channels-last: block inputs, outputs and 4-D taps are moved between
the tool's NCHW and NHWC here; the critic's flat input (CHW order) becomes an NHWC image and the
generator's NHWC image becomes the tool's flat CHW output.

**Transforms** (:attr:`KerasPort.NAMED`): ``hwio`` (the tool's OIHW kernel as Keras' HWIO),
``expand`` (a per-channel ``(C,)`` tensor broadcast to a channels-last per-element parameter,
e.g. ``LayerNormalization(axis=[1, 2, 3])``'s ``(H, W, C)``), ``hwc_rows`` / ``hwc_columns``
(a linear weight's rows / a linear weight's or bias' last axis from the tool's CHW flattening of
the 4x4 feature map to a channels-last HWC flattening) and, for taps, ``chw_flatten`` (an NHWC
tap flattened in the tool's CHW order).

Importing this module imports no framework; TensorFlow is imported when a block first runs.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Set, Tuple

from wgan_parity.backends import module_port
from wgan_parity.backends.module_port import Entry, PortError, Spec, Transform

__all__ = ["Entry", "KerasPort", "PortError", "Spec", "Transform"]

FEATURE_MAP = 4  # the critic's last and the generator's first feature map is 4x4


def _tf() -> Any:
    import tensorflow as tf

    return tf


def hwio(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """The tool's OIHW kernel as Keras' HWIO."""
    del shape
    return _tf().transpose(tensor, (2, 3, 1, 0))


def expand(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A per-channel ``(C,)`` tensor broadcast to a channels-last per-element ``(..., C)``.

    The identity when the port's parameter is per channel too (BatchNormalization).
    """
    tf = _tf()
    if tuple(tensor.shape) == tuple(shape):
        return tensor
    ones = (1,) * (len(shape) - 1)
    return tf.broadcast_to(tf.reshape(tensor, (*ones, int(tensor.shape[0]))), shape)


def hwc_rows(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A linear weight ``(C*4*4, out)`` whose rows follow the tool's CHW flattening, with its
    rows in the HWC order of a channels-last ``Flatten``."""
    tf, side = _tf(), FEATURE_MAP
    rows, out = (int(d) for d in tensor.shape)
    chw = tf.reshape(tensor, (rows // (side * side), side, side, out))
    return tf.reshape(tf.transpose(chw, (1, 2, 0, 3)), (rows, out))


def hwc_columns(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A linear weight ``(in, C*4*4)`` or bias ``(C*4*4,)`` whose last axis follows the tool's
    CHW order, reordered to the HWC order a channels-last ``Reshape((4, 4, C))`` expects."""
    tf, side = _tf(), FEATURE_MAP
    lead = tuple(int(d) for d in tensor.shape[:-1])
    width = int(tensor.shape[-1])
    chw = tf.reshape(tensor, (*lead, width // (side * side), side, side))
    perm = (*range(len(lead)), len(lead) + 1, len(lead) + 2, len(lead))
    return tf.reshape(tf.transpose(chw, perm), (*lead, width))


def chw_flatten(tensor: Any, shape: Tuple[int, ...]) -> Any:
    """A tap: an NHWC ``(N, H, W, C)`` output flattened in the tool's CHW order."""
    del shape
    tf = _tf()
    return tf.reshape(tf.transpose(tensor, (0, 3, 1, 2)), (int(tensor.shape[0]), -1))


def _nhwc(x: Any) -> Any:
    return _tf().transpose(x, (0, 2, 3, 1))


def _nchw(x: Any) -> Any:
    return _tf().transpose(x, (0, 3, 1, 2))


class KerasPort(module_port.ModulePort):
    """A user's Keras 3 port as the tool's composites."""

    NAMED: Mapping[str, Transform] = {
        "hwio": hwio,
        "expand": expand,
        "hwc_rows": hwc_rows,
        "hwc_columns": hwc_columns,
        "chw_flatten": chw_flatten,
    }

    def prepare(self, kind: str, spec: Spec, module: Any) -> None:
        """Build the layer's variables eagerly (outside any ``tf.function`` being traced)."""
        import numpy as np

        tf = _tf()
        if not hasattr(module, "stateless_call"):
            raise PortError(
                f"{kind}: the factory returned a {type(module).__name__}, expected a Keras 3 "
                "layer or model (with stateless_call); Keras 2 (tf.keras before TF 2.16) is not "
                "supported"
            )
        tool_input = {
            "residual_block": (1, spec.cin, spec.h, spec.w),
            "good_generator": (1, 128),
            "good_discriminator": (1, 3 * 64 * 64),
        }[kind]
        with tf.init_scope():
            module(self.to_port(kind, tf.constant(np.zeros(tool_input, np.float32))))

    @staticmethod
    def _relative(module: Any, path: str) -> str:
        prefix = f"{module.path}/"
        return path[len(prefix) :] if path.startswith(prefix) else path

    def parameters(self, module: Any) -> Dict[str, Tuple[int, ...]]:
        """The trainable variables by path relative to the block: path -> shape."""
        return {
            self._relative(module, v.path): tuple(int(d) for d in v.shape)
            for v in module.trainable_variables
        }

    def submodules(self, module: Any) -> Set[str]:
        """Every sublayer's path relative to the block, and "" (the block)."""
        return {"", *_sublayers(module)}

    def call(
        self, module: Any, params: Mapping[str, Any], x: Any, tap_subs: Mapping[str, str]
    ) -> Tuple[Any, Dict[str, Any]]:
        """``stateless_call`` in training mode, sublayer ``call``s wrapped to record taps."""
        layers = _sublayers(module)
        seen: Dict[str, Any] = {}
        wrapped = []
        for tap, sub in tap_subs.items():
            if sub == "":
                continue
            layer = layers[sub]
            object.__setattr__(layer, "call", _recording(layer.call, tap, seen))
            wrapped.append(layer)
        try:
            trainable = [params[self._relative(module, v.path)] for v in module.trainable_variables]
            frozen = [v.value for v in module.non_trainable_variables]
            out, _ = module.stateless_call(trainable, frozen, x, training=True)
        finally:
            for layer in wrapped:
                del layer.__dict__["call"]
        if "" in tap_subs:
            seen[""] = out
        return out, seen

    def constant(self, value: float, shape: Tuple[int, ...], like: Any) -> Any:
        """``tf.fill``, of ``like``'s dtype (no gradient: not a tool tensor)."""
        tf = _tf()
        return tf.fill(list(shape), tf.constant(float(value), dtype=like.dtype))

    def to_port(self, kind: str, x: Any) -> Any:
        """NCHW to NHWC; the critic's flat CHW input to an NHWC image."""
        if kind == "good_discriminator":
            return _nhwc(_tf().reshape(x, (-1, 3, 64, 64)))
        return _nhwc(x) if len(x.shape) == 4 else x

    def from_port(self, kind: str, out: Any) -> Any:
        """NHWC to NCHW; the generator's image flattened in CHW order; the critic's ``(N,)``."""
        tf = _tf()
        if kind == "good_discriminator":
            return tf.reshape(out, (-1,))
        if kind == "good_generator" and len(out.shape) == 4:
            return tf.reshape(_nchw(out), (-1, 3 * 64 * 64))
        return _nchw(out) if len(out.shape) == 4 else out

    def tap_value(self, value: Any) -> Any:
        """4-D taps back to NCHW."""
        return _nchw(value) if len(value.shape) == 4 else value


def _sublayers(layer: Any, prefix: str = "") -> Dict[str, Any]:
    """Sublayers by their names joined with ``/`` (a weightless layer has no Keras path)."""
    found: Dict[str, Any] = {}
    for child in layer._flatten_layers(include_self=False, recursive=False):
        path = f"{prefix}{child.name}"
        found[path] = child
        found.update(_sublayers(child, f"{path}/"))
    return found


def _recording(call: Callable[..., Any], tap: str, seen: Dict[str, Any]) -> Callable[..., Any]:
    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = call(*args, **kwargs)
        seen.setdefault(tap, out)
        return out

    return recorded
