"""TensorFlow releases before 2.9: which switches exist, and what stands in for the missing ones.

Used by :mod:`wgan_parity.backends.tensorflow` only; every function takes the imported ``tf``
module, so importing this module imports nothing. A switch a release lacks is recorded as
``"unavailable"`` in the flags, with its reason under ``unavailable``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List

from wgan_parity.core.flags import Flags

UNAVAILABLE = "unavailable"


def version_tuple(tf: Any) -> tuple:
    """``(major, minor)`` of ``tf.__version__``."""
    major, minor = str(tf.__version__).split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def is_tf1(tf: Any) -> bool:
    """True for TF 1.x, where eager execution must be switched on explicitly."""
    return version_tuple(tf)[0] == 1


def _v1(tf: Any) -> Any:
    """``tf.compat.v1`` (1.13+), else ``tf`` itself."""
    return getattr(getattr(tf, "compat", None), "v1", tf)


def _onednn(tf: Any, unavailable: Dict[str, str]) -> Dict[str, Any]:
    """TF_ENABLE_ONEDNN_OPTS is read from TF 2.5 on; before, the switch does not exist."""
    if version_tuple(tf) >= (2, 5):
        return {}
    unavailable["onednn"] = "TF_ENABLE_ONEDNN_OPTS is TF >= 2.5 (PyPI wheels before it: no oneDNN)"
    return {"onednn": UNAVAILABLE}


def execution(tf: Any, flags: Flags) -> str:
    """How the cases run, for the flags: graph mode, else eager under ``tf.function`` (its
    TF 1.13 stand-in, ``tf.contrib.eager.defun``)."""
    if flags.switch("graph"):
        return GRAPH_EXECUTION
    return "eager+tf.function" if hasattr(tf, "function") else "eager+contrib.eager.defun"


def _no_tf32_switch(tf: Any) -> RuntimeError:
    """The error for ``--tf32`` on a release without the switch (TF < 2.4)."""
    return RuntimeError(
        f"--tf32 asked for, but TF {tf.__version__} has no TF32 switch (TF >= 2.4); "
        "drop --tf32 for this env"
    )


def session_config(tf: Any, flags: Flags) -> Any:
    """A ``ConfigProto`` with the thread counts and, on the CPU, no GPU."""
    options: Dict[str, Any] = {}
    if flags.threads:
        options.update(
            intra_op_parallelism_threads=flags.threads, inter_op_parallelism_threads=flags.threads
        )
    if flags.device == "cpu":
        options["device_count"] = {"GPU": 0}
    return _v1(tf).ConfigProto(**options)


GRAPH_EXECUTION = "graph+tf.gradients+Session"


def configure_tf1(tf: Any, flags: Flags) -> Dict[str, Any]:
    """TF 1.13 - 1.15: eager on (graph mode stays off with the ``graph`` switch), with threads and
    the CPU-only device count in its config."""
    v1 = _v1(tf)
    v1.logging.set_verbosity(v1.logging.ERROR)
    if not flags.switch("graph"):
        v1.enable_eager_execution(config=session_config(tf, flags))
    unavailable = {
        "deterministic": "no determinism switch before TF 2.1 (TF_DETERMINISTIC_OPS), "
        "tf.config.experimental.enable_op_determinism is TF >= 2.9",
        "tf32": "TensorFloat-32 control is TF >= 2.4",
    }
    if flags.tf32:
        raise _no_tf32_switch(tf)
    return {
        "deterministic": UNAVAILABLE if flags.deterministic else False,
        "tf32": UNAVAILABLE,
        "intra_op_threads": flags.threads or 0,
        "inter_op_threads": flags.threads or 0,
        "device": flags.device,
        "gpus": [],
        "jit_compile": False,
        "execution": execution(tf, flags),
        **_onednn(tf, unavailable),
        "unavailable": unavailable,
    }


def configure_tf2_early(tf: Any, flags: Flags) -> Dict[str, Any]:
    """TF 2.0 - 2.8: no ``enable_op_determinism``; TF32 control from 2.4 only."""
    tf.get_logger().setLevel("ERROR")
    config = tf.config
    set_visible = getattr(config, "set_visible_devices", None)
    set_visible = set_visible or config.experimental.set_visible_devices
    get_visible = getattr(config, "get_visible_devices", None)
    get_visible = get_visible or config.experimental.get_visible_devices
    if flags.device == "cpu":
        set_visible([], "GPU")
    if flags.threads:
        config.threading.set_intra_op_parallelism_threads(flags.threads)
        config.threading.set_inter_op_parallelism_threads(flags.threads)
    unavailable = {
        "deterministic": "tf.config.experimental.enable_op_determinism is TF >= 2.9"
        + ("; TF_DETERMINISTIC_OPS=1 set (GPU kernels only)" if version_tuple(tf) >= (2, 1) else "")
    }
    if flags.deterministic and version_tuple(tf) >= (2, 1):
        os.environ["TF_DETERMINISTIC_OPS"] = "1"
    tf32: Any = UNAVAILABLE
    enable_tf32 = getattr(config.experimental, "enable_tensor_float_32_execution", None)
    if enable_tf32 is not None:
        enable_tf32(flags.tf32)
        tf32 = config.experimental.tensor_float_32_execution_enabled()
    else:
        unavailable["tf32"] = "TensorFloat-32 control is TF >= 2.4"
        if flags.tf32:
            raise _no_tf32_switch(tf)
    return {
        "deterministic": UNAVAILABLE if flags.deterministic else False,
        "tf32": tf32,
        "intra_op_threads": config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": config.threading.get_inter_op_parallelism_threads(),
        "device": flags.device,
        "gpus": [d.name for d in get_visible("GPU")],
        "jit_compile": False,
        "execution": execution(tf, flags),
        **_onednn(tf, unavailable),
        "unavailable": unavailable,
    }


# tf.function's keywords by release: XLA off (jit_compile 2.5+, experimental_compile 2.1-2.4)
# and one trace per input signature (reduce_retracing 2.9+, experimental_relax_shapes before).
_FUNCTION_OPTIONS: List[Dict[str, bool]] = [
    {"jit_compile": False, "reduce_retracing": True},
    {"jit_compile": False, "experimental_relax_shapes": True},
    {"experimental_compile": False, "experimental_relax_shapes": True},
    {"experimental_relax_shapes": True},
    {},
]


def function(tf: Any, fn: Callable) -> Callable:
    """``tf.function`` without XLA; ``tf.contrib.eager.defun`` on TF 1.13."""
    if not hasattr(tf, "function"):
        return tf.contrib.eager.defun(fn)
    for options in _FUNCTION_OPTIONS:
        try:
            return tf.function(fn, **options)
        except TypeError:  # a keyword this release does not know
            continue
    raise RuntimeError(f"tf.function of TF {tf.__version__} accepts none of {_FUNCTION_OPTIONS}")


def graph_function(tf: Any, fn: Callable, config: Any) -> Callable:
    """``fn`` built into a fresh ``tf.Graph`` (NumPy arguments fed through placeholders) and run
    in a ``tf.compat.v1.Session``: the seed's own execution. Returns NumPy values."""
    v1 = _v1(tf)

    def run(*args: Any) -> Any:
        graph = tf.Graph()
        feeds: Dict[Any, Any] = {}

        def placeholder(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: placeholder(v) for k, v in value.items()}
            slot = v1.placeholder(tf.float32, shape=value.shape)
            feeds[slot] = value
            return slot

        with graph.as_default():
            result = fn(*(placeholder(a) for a in args))
            with v1.Session(graph=graph, config=config) as session:
                return session.run(result, feed_dict=feeds)

    return run


def gradients(tf: Any, target: Any, xs: List[Any]) -> List[Any]:
    """``tf.gradients`` with zeros for unconnected inputs (graph mode, any order)."""
    grads = tf.gradients(target, xs)
    return [tf.zeros_like(x) if g is None else g for g, x in zip(grads, xs)]


def moments(tf: Any, x: Any, axes: List[int]) -> Any:
    """``tf.nn.moments`` keeping dims (``keepdims``; ``keep_dims`` before TF 1.14)."""
    try:
        return tf.nn.moments(x, axes=axes, keepdims=True)
    except TypeError:
        return tf.nn.moments(x, axes=axes, keep_dims=True)


def fused_batch_norm(tf: Any) -> Callable:
    """``tf.compat.v1.nn.fused_batch_norm`` (its training-mode signature), else ``tf.nn``'s."""
    return _v1(tf).nn.fused_batch_norm
