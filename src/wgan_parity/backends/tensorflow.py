"""TensorFlow adapter (TF 1.13 - 2.21; eager, as TF 2 runs it, or graph mode as the seed ran).

Importing this module does not import TensorFlow: :func:`configure` sets the environment
(``TF_ENABLE_ONEDNN_OPTS`` must be set before TF loads), imports it and applies the switches.
TF on CPU has no NCHW convolution without oneDNN and no NCHW depth_to_space, so activations are
transposed to NHWC (and kernels OIHW -> HWIO) inside the small helpers below. Cases run under
``tf.function`` (no XLA): the gradient penalty's double backward needs half the memory of eager.

TF 1.x: eager execution is switched on explicitly (with the thread settings, which TF 1.13 only
takes there); 1.13 has no ``tf.function`` and uses ``tf.contrib.eager.defun``. A switch a release
does not have is recorded as ``"unavailable"`` with its reason under ``unavailable``, never
skipped silently (see :mod:`wgan_parity.backends.tfcompat`).

``--tf-graph`` (the ``graph`` switch) runs each case the seed's way instead: a fresh ``tf.Graph``,
``tf.gradients`` for every order and a ``tf.compat.v1.Session``; the flags record which ran.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from wgan_parity.backends import tfcompat
from wgan_parity.core.flags import Flags
from wgan_parity.core.protocol import Aux, Differentiable

FRAMEWORK = "tensorflow"
DTYPE = "float32"
tf: Any = None  # the tensorflow module, bound by configure()
_graph: Any = None  # the Session config in graph mode (``--tf-graph``), else None


def configure(flags: Flags) -> Dict[str, Any]:
    """Set oneDNN, determinism, TF32 and threads; import TensorFlow; return what is in effect."""
    global tf, _graph
    imported_before = "tensorflow" in sys.modules
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if flags.switch("onednn") else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow

    tf = tensorflow
    _graph = tfcompat.session_config(tf, flags) if flags.switch("graph") else None
    if flags.switch("graph") and not tfcompat.is_tf1(tf):
        tf.compat.v1.disable_eager_execution()
    environment = {
        "TF_ENABLE_ONEDNN_OPTS": os.environ["TF_ENABLE_ONEDNN_OPTS"],
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "tf_imported_before_configure": imported_before,
    }
    if tfcompat.is_tf1(tf):
        return {**tfcompat.configure_tf1(tf, flags), **environment}
    if not hasattr(tf.config.experimental, "enable_op_determinism"):  # TF 2.0 - 2.8
        return {**tfcompat.configure_tf2_early(tf, flags), **environment}
    tf.get_logger().setLevel("ERROR")  # one trace per case is expected; silence retrace warnings
    if flags.device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    if flags.threads:
        tf.config.threading.set_intra_op_parallelism_threads(flags.threads)
        tf.config.threading.set_inter_op_parallelism_threads(flags.threads)
    if flags.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(flags.tf32)
    return {
        **environment,
        "deterministic": flags.deterministic,
        "tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "device": flags.device,
        "gpus": [d.name for d in tf.config.get_visible_devices("GPU")],
        "jit_compile": False,
        "execution": tfcompat.execution(tf, flags),
    }


def framework_version() -> str:
    """``tf.__version__``."""
    return str(tf.__version__)


def asarray(value: Any) -> Any:
    """A float32 constant (graph mode: a float32 array, fed when the case's graph runs)."""
    array = np.asarray(value, dtype=np.float32)
    return array if _graph is not None else tf.constant(array)


def to_numpy(tensor: Any) -> np.ndarray:
    """The tensor's value as NumPy (graph mode: already NumPy, from ``Session.run``)."""
    return np.asarray(tensor) if _graph is not None else tensor.numpy()


def cast(tensor: Any, dtype: str) -> Any:
    """``tf.cast`` to ``dtype`` (a precision name): the mixed-precision policy's casts."""
    return tf.cast(tensor, getattr(tf, dtype))


def stop_gradient(tensor: Any) -> Any:
    """``tf.stop_gradient``."""
    return tf.stop_gradient(tensor)


def compile(fn: Callable) -> Callable:
    """``tf.function`` without XLA (older releases: see :func:`tfcompat.function`); in graph
    mode a fresh graph per call, run in a Session (:func:`tfcompat.graph_function`)."""
    if _graph is not None:
        return tfcompat.graph_function(tf, fn, _graph)
    return tfcompat.function(tf, fn)


def vjp(
    fn: Differentiable,
    args: Mapping[str, Any],
    wrt: Sequence[str],
    cotangent: Optional[Any] = None,
    create_graph: bool = False,
) -> Tuple[Any, Aux, Dict[str, Any]]:
    """``(out, aux, grads)`` via ``GradientTape``; nested tapes give higher orders. Graph mode:
    ``tf.gradients``, which differentiates its own result again just as well."""
    if _graph is not None:
        out, aux = fn(args)
        target = tf.reduce_sum(out) if cotangent is None else tf.reduce_sum(out * cotangent)
        grads = tfcompat.gradients(tf, target, [args[k] for k in wrt])
        return out, dict(aux), dict(zip(wrt, grads))
    with tf.GradientTape() as tape:
        for key in wrt:
            tape.watch(args[key])
        out, aux = fn(args)
        target = tf.reduce_sum(out) if cotangent is None else tf.reduce_sum(out * cotangent)
    grads = tape.gradient(
        target, [args[k] for k in wrt], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return out, dict(aux), dict(zip(wrt, grads))


def _to_nhwc(x: Any) -> Any:
    return tf.transpose(x, (0, 2, 3, 1))


def _to_nchw(x: Any) -> Any:
    return tf.transpose(x, (0, 3, 1, 2))


def _oihw_to_hwio(w: Any) -> Any:
    return tf.transpose(w, (2, 3, 1, 0))


def _per_channel(v: Any) -> Any:
    return tf.reshape(v, (-1, 1, 1))


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """``tf.nn.conv2d`` SAME, stride 1, in NHWC; bias via ``tf.nn.bias_add``."""
    y = tf.nn.conv2d(
        _to_nhwc(x), _oihw_to_hwio(w), strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC"
    )
    if b is not None:
        y = tf.nn.bias_add(y, b, data_format="NHWC")
    return _to_nchw(y)


def depth_to_space(x: Any, block: int) -> Any:
    """``tf.nn.depth_to_space`` (DCR) in NHWC."""
    return _to_nchw(tf.nn.depth_to_space(_to_nhwc(x), block))


def linear(x: Any, w: Any, b: Any) -> Any:
    """tflib Linear: ``tf.matmul`` then ``tf.nn.bias_add``."""
    return tf.nn.bias_add(tf.matmul(x, w), b)


def concat(tensors: Sequence[Any], axis: int) -> Any:
    """``tf.concat``."""
    return tf.concat(list(tensors), axis=axis)


def reshape(x: Any, shape: Sequence[int]) -> Any:
    """``tf.reshape``."""
    return tf.reshape(x, tuple(shape))


def relu(x: Any) -> Any:
    """``tf.nn.relu``."""
    return tf.nn.relu(x)


def tanh(x: Any) -> Any:
    """``tf.tanh``."""
    return tf.tanh(x)


def sqrt(x: Any) -> Any:
    """``tf.sqrt``."""
    return tf.sqrt(x)


def mean(x: Any, axis: Optional[Any] = None) -> Any:
    """``tf.reduce_mean``."""
    return tf.reduce_mean(x, axis=axis)


def sum(x: Any, axis: Optional[Any] = None) -> Any:
    """``tf.reduce_sum``."""
    return tf.reduce_sum(x, axis=axis)


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """tflib Layernorm: ``tf.nn.moments`` over [1, 2, 3] and ``tf.nn.batch_normalization``."""
    mu, var = tfcompat.moments(tf, x, axes=[1, 2, 3])
    return tf.nn.batch_normalization(x, mu, var, _per_channel(offset), _per_channel(scale), eps)


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """tflib Batchnorm: fused batch norm in training mode (NHWC on CPU)."""
    y, _, _ = tfcompat.fused_batch_norm(tf)(
        _to_nhwc(x), scale, offset, epsilon=eps, data_format="NHWC", is_training=True
    )
    return _to_nchw(y)
