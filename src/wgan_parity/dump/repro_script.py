"""A standalone reproducer: one chain of ops in one framework against NumPy float64.

:func:`render` writes a Python script that imports only NumPy and the framework. It builds the
inputs (drawn from a seeded NumPy generator, or read from a ``.npz`` beside it), runs the chain
of ops in the framework in float32 and in NumPy in float64 (the truth) and float32 (what a good
float32 implementation gets), and prints, for the output and each gradient, the framework's
relative error ``‖x − t‖ / ‖t‖``, the bound and the ratio, then the versions, the switches and
the CPU. Its last line is machine-readable (``REPRO {json}``): the minimizer
(:mod:`~wgan_parity.dump.repro_shrink`) reads it.

The framework calls mirror the built-in adapters (``backends/<framework>.py``) call for call;
``tests/test_repro.py`` checks them against the adapters on the same inputs.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from wgan_parity import frameworks
from wgan_parity.dump import repro_numpy

#: Op -> its parameters after the input (name, shape from the input's channels).
PARAMS: Dict[str, Tuple[str, ...]] = {
    "batch_norm": ("scale", "offset"),
    "layer_norm": ("scale", "offset"),
    "conv2d": ("w", "b"),
    "conv2d_nobias": ("w",),
    "linear": ("w", "b"),
    "depth_to_space": (),
    "tile4": (),
    "mean_pool": (),
    "relu": (),
}
#: NumPy function behind each op (``conv2d_nobias`` is ``conv2d`` without its bias).
NUMPY_OF = {op: "conv2d" if op == "conv2d_nobias" else op for op in PARAMS}

_NORM = {
    "torch": {
        "batch_norm": "F.batch_norm(x, None, None, scale, offset, training=True, eps=1e-5)",
        "layer_norm": "F.layer_norm(x, tuple(x.shape[1:]), eps=1e-5) * scale.reshape(1, -1, 1, 1)"
        " + offset.reshape(1, -1, 1, 1)",
    },
    "tensorflow": {
        "batch_norm": "tf.transpose(tf.compat.v1.nn.fused_batch_norm(tf.transpose(x, (0, 2, 3, 1))"
        ", scale, offset, epsilon=1e-5, data_format='NHWC', is_training=True)[0], (0, 3, 1, 2))",
        "layer_norm": "tf.nn.batch_normalization(x, *tf.nn.moments(x, axes=[1, 2, 3], "
        "keepdims=True), tf.reshape(offset, (1, -1, 1, 1)), tf.reshape(scale, (1, -1, 1, 1)), "
        "1e-5)",
    },
    "jax": {
        "batch_norm": "jax.nn.standardize(x, axis=(0, 2, 3), epsilon=1e-5) * scale.reshape(1, -1,"
        " 1, 1) + offset.reshape(1, -1, 1, 1)",
        "layer_norm": "jax.nn.standardize(x, axis=(1, 2, 3), epsilon=1e-5) * scale.reshape(1, -1,"
        " 1, 1) + offset.reshape(1, -1, 1, 1)",
    },
}
_POOL = "(x[:, :, ::2, ::2] + x[:, :, 1::2, ::2] + x[:, :, ::2, 1::2] + x[:, :, 1::2, 1::2]) / 4"
#: Framework -> op -> one expression of ``x`` and the op's parameters.
CALLS: Dict[str, Dict[str, str]] = {
    "torch": {
        **_NORM["torch"],
        "conv2d": "F.conv2d(x, w, b, padding='same')",
        "conv2d_nobias": "F.conv2d(x, w, None, padding='same')",
        "linear": "F.linear(x, w.t(), b)",
        "depth_to_space": "F.pixel_shuffle(x.reshape(x.shape[0], 4, x.shape[1] // 4, "
        "*x.shape[2:]).transpose(1, 2).reshape(x.shape), 2)",
        "tile4": "torch.cat([x, x, x, x], 1)",
        "mean_pool": _POOL,
        "relu": "F.relu(x)",
    },
    "tensorflow": {
        **_NORM["tensorflow"],
        "conv2d": "tf.transpose(tf.nn.bias_add(tf.nn.conv2d(tf.transpose(x, (0, 2, 3, 1)), "
        "tf.transpose(w, (2, 3, 1, 0)), [1, 1, 1, 1], 'SAME'), b), (0, 3, 1, 2))",
        "conv2d_nobias": "tf.transpose(tf.nn.conv2d(tf.transpose(x, (0, 2, 3, 1)), "
        "tf.transpose(w, (2, 3, 1, 0)), [1, 1, 1, 1], 'SAME'), (0, 3, 1, 2))",
        "linear": "tf.nn.bias_add(tf.matmul(x, w), b)",
        "depth_to_space": "tf.transpose(tf.nn.depth_to_space(tf.transpose(x, (0, 2, 3, 1)), 2), "
        "(0, 3, 1, 2))",
        "tile4": "tf.concat([x, x, x, x], 1)",
        "mean_pool": _POOL,
        "relu": "tf.nn.relu(x)",
    },
    "jax": {
        **_NORM["jax"],
        "conv2d": "jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NCHW', "
        "'OIHW', 'NCHW')) + b.reshape(1, -1, 1, 1)",
        "conv2d_nobias": "jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', "
        "dimension_numbers=('NCHW', 'OIHW', 'NCHW'))",
        "linear": "jnp.matmul(x, w) + b",
        "depth_to_space": "jnp.reshape(jnp.transpose(jnp.reshape(x, (x.shape[0], 2, 2, "
        "x.shape[1] // 4, *x.shape[2:])), (0, 3, 4, 1, 5, 2)), (x.shape[0], x.shape[1] // 4, "
        "x.shape[2] * 2, x.shape[3] * 2))",
        "tile4": "jnp.concatenate([x, x, x, x], 1)",
        "mean_pool": _POOL,
        "relu": "jax.nn.relu(x)",
    },
}
#: Framework -> (imports, how a float32 array becomes an input, forward+vjp of ``run``).
_TEMPLATES: Dict[str, Tuple[str, str, str]] = {
    "torch": (
        "import torch\nimport torch.nn.functional as F\nVERSION = torch.__version__\n"
        "if DETERMINISTIC and hasattr(torch, 'use_deterministic_algorithms'):\n"
        "    torch.use_deterministic_algorithms(True)",
        "def tensor(a):\n    t = torch.from_numpy(a.astype(np.float32))\n"
        "    return t.contiguous(memory_format=torch.channels_last) "
        "if CHANNELS_LAST and t.dim() == 4 else t",
        "def framework(args, g):\n    ts = [tensor(a).requires_grad_(True) for a in args]\n"
        "    y = run(*ts)\n    grads = torch.autograd.grad(y, ts, tensor(g))\n"
        "    return [t.detach().numpy() for t in (y, *grads)]",
    ),
    "tensorflow": (
        "import tensorflow as tf\nVERSION = tf.__version__\n"
        "if DETERMINISTIC and hasattr(tf.config.experimental, 'enable_op_determinism'):\n"
        "    tf.config.experimental.enable_op_determinism()",
        "def tensor(a):\n    return tf.constant(a.astype(np.float32))",
        "@tf.function\ndef _both(ts, g):\n    with tf.GradientTape() as tape:\n"
        "        tape.watch(ts)\n        y = run(*ts)\n"
        "    return [y, *tape.gradient(y, ts, g)]\n\n\n"
        "def framework(args, g):\n    return [t.numpy() for t in _both([tensor(a) for a in args]"
        ", tensor(g))]",
    ),
    "jax": (
        "import jax\nimport jax.numpy as jnp\nVERSION = jax.__version__",
        "def tensor(a):\n    return jnp.asarray(a.astype(np.float32))",
        "@jax.jit\ndef _both(ts, g):\n    y, pullback = jax.vjp(run, *ts)\n"
        "    return [y, *pullback(g)]\n\n\n"
        "def framework(args, g):\n    return [np.asarray(t) for t in _both([tensor(a) for a in "
        "args], tensor(g))]",
    ),
}
#: Framework switch -> environment variable set before the import (``None``: a script flag).
ENV_SWITCHES = {"onednn": "TF_ENABLE_ONEDNN_OPTS"}


def split_params(ops: Tuple[str, ...], params: Sequence[np.ndarray]) -> List[List[np.ndarray]]:
    """The chain's flat parameter list, per op (:data:`PARAMS` says how many each takes)."""
    rest, found = list(params), []
    for op in ops:
        found.append([rest.pop(0) for _ in PARAMS[op]])
    return found


def numpy_chain(ops: Tuple[str, ...], x: np.ndarray,
                params: Sequence[np.ndarray]) -> List[np.ndarray]:  # fmt: skip
    """The chain run in NumPy: its input, then each op's output (the last is the chain's)."""
    values = [x]
    for op, mine in zip(ops, split_params(ops, params)):
        values.append(getattr(repro_numpy, NUMPY_OF[op])(values[-1], *mine))
    return values


@dataclass(frozen=True)
class Spec:
    """What one reproducer runs: a chain of ops on an input, in one framework, with switches.

    ``gradients``: report the input's and parameters' gradients too (NumPy VJPs in the
    script); without, only the output (the framework still runs its backward, as a dump does).
    ``inputs`` is ``"random"`` (drawn in the script from ``seed``, the input with mean
    ``x_loc`` and standard deviation ``x_scale``, or a rectified standard normal with
    ``x_relu``, as a ReLU's output is) or the name of a ``.npz``
    beside the script holding ``x``, ``g`` (the cotangent) and ``p0``, ``p1``, ... (the ops'
    parameters in order). ``bound_factor`` and ``bound_floor`` turn NumPy float32's own error
    into the bound (the tool's noise limit: ``max(factor x noise, floor)``). ``row`` is what the
    result recorded, printed beside the script's figures.
    """

    framework: str
    ops: Tuple[str, ...]
    shape: Tuple[int, ...]
    params: Tuple[Tuple[int, ...], ...] = ()
    inputs: str = "random"
    seed: int = 0
    x_loc: float = 0.0
    x_scale: float = 1.0
    x_relu: bool = False
    switches: Tuple[Tuple[str, object], ...] = ()
    environment: Tuple[Tuple[str, str], ...] = ()
    gradients: bool = True
    bound_factor: float = 32.0
    bound_floor: float = 1e-6
    title: str = ""
    row: Mapping[str, object] = field(default_factory=dict)

    def switch(self, name: str) -> object:
        """A switch's value (None when not set)."""
        return dict(self.switches).get(name)


def render(spec: Spec) -> str:
    """The script's source."""
    imports, to_tensor, both = _TEMPLATES[spec.framework]
    kinds = _param_kinds(spec.ops)
    names = kinds if len(set(kinds)) == len(kinds) else [f"p{i}" for i in range(len(kinds))]
    environ = dict(spec.environment)
    for switch in frameworks.get(spec.framework).switches:  # as the dump set them: explicitly
        if switch.key in ENV_SWITCHES:
            value = spec.switch(switch.key)
            on = switch.default if value is None else bool(value)
            environ[ENV_SWITCHES[switch.key]] = "1" if on else "0"
    lines = [
        f'"""{spec.title or "Reproducer"}: {spec.framework} float32 vs NumPy float64.',
        "",
        "Written by `wgan-parity repro`; needs only NumPy and the framework.",
        f"Recorded by the run: {json.dumps(dict(spec.row), sort_keys=True)}",
        '"""',
        "import json, os, platform, sys",
        *[f"os.environ[{k!r}] = {v!r}" for k, v in sorted(environ.items())],
        "import numpy as np",
        f"DETERMINISTIC = {spec.switch('deterministic') is not False}  # as the dump ran",
        imports,
        f"CHANNELS_LAST = {bool(spec.switch('channels_last'))}",
        "EPS = 1e-5",
        *_numpy_sources(spec.ops, spec.gradients),
        _chain("truth", spec.ops, names, numpy=True),
        *([_chain_vjp(spec.ops, names)] if spec.gradients else []),
        _chain("run", spec.ops, names, numpy=False, framework=spec.framework),
        to_tensor,
        both,
        _inputs(spec, names),
        _report(spec),
    ]
    return "\n".join(lines) + "\n"


def _numpy_sources(ops: Tuple[str, ...], gradients: bool) -> List[str]:
    wanted: Dict[str, Callable] = {}
    for op in ops:
        name = NUMPY_OF[op]
        for helper in _helpers(name, gradients):
            wanted[helper] = getattr(repro_numpy, helper)
        for fn in (name, f"{name}_vjp") if gradients else (name,):
            wanted[fn] = getattr(repro_numpy, fn)
    return [_plain(inspect.getsource(fn)) for fn in wanted.values()]


def _helpers(name: str, gradients: bool) -> Tuple[str, ...]:
    if name in ("batch_norm", "layer_norm"):
        return ("_norm", "_norm_vjp") if gradients else ("_norm",)
    return ("_patches",) if name == "conv2d" else ()


def _plain(source: str) -> str:
    """A function's source without its annotations and docstring (the script stays short)."""
    tree = ast.parse(textwrap.dedent(source))
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    fn.returns = None
    for arg in [*fn.args.args, *fn.args.kwonlyargs]:
        arg.annotation = None
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(fn.body) > 1:
        fn.body = fn.body[1:]
    return ast.unparse(fn) + "\n"


def _chain(name: str, ops: Tuple[str, ...], params: List[str], numpy: bool,
           framework: str = "") -> str:  # fmt: skip
    lines = [f"def {name}(x, {', '.join(params)}):" if params else f"def {name}(x):"]
    taken = 0
    for op in ops:
        mine = params[taken : taken + len(PARAMS[op])]
        taken += len(mine)
        if numpy:
            lines.append(f"    x = {NUMPY_OF[op]}({', '.join(['x', *mine])})")
            continue
        if mine and tuple(mine) != PARAMS[op]:
            lines.append(f"    {', '.join(PARAMS[op])} = {', '.join(mine)}")
        lines.append(f"    x = {CALLS[framework][op]}")
    lines.append("    return x")
    return "\n".join(lines) + "\n"


def _chain_vjp(ops: Tuple[str, ...], params: List[str]) -> str:
    """``truth_vjp(g, x, *params)``: the chain's gradients, back through each op's VJP."""
    head = f"def truth_vjp(g, x, {', '.join(params)}):" if params else "def truth_vjp(g, x):"
    lines, taken, steps = [head, "    xs = [x]"], 0, []
    for op in ops:
        mine = params[taken : taken + len(PARAMS[op])]
        taken += len(mine)
        steps.append((op, mine))
        lines.append(f"    xs.append({NUMPY_OF[op]}({', '.join(['xs[-1]', *mine])}))")
    lines.append("    grads = {}")
    for k in range(len(steps) - 1, -1, -1):
        op, mine = steps[k]
        targets = ", ".join(["g", *[f"grads[{p!r}]" for p in mine]])
        lines.append(f"    {targets}, = {NUMPY_OF[op]}_vjp({', '.join(['g', f'xs[{k}]', *mine])})")
    names = ", ".join(f"grads[{p!r}]" for p in params)
    lines.append(f"    return [g{', ' + names if names else ''}]")
    return "\n".join(lines) + "\n"


def _inputs(spec: Spec, params: List[str]) -> str:
    if spec.inputs != "random":
        listed = ", ".join(f"data['p{i}']" for i in range(len(params)))
        return (
            f"data = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "
            f"{spec.inputs!r}))\nARGS = [data['x'], {listed}]\nG = data['g']\n"
        )
    shapes = spec.params
    draws = []
    for op_param, shape in zip(_param_kinds(spec.ops), shapes):
        scale = "1 + 0.1 * " if op_param == "scale" else "0.1 * " if op_param in "b offset" else ""
        fan_in = shape[0] if len(shape) == 2 else float(np.prod(shape[1:]))
        fan = f" / {fan_in**0.5:.4f}" if op_param == "w" else ""
        draws.append(f"{scale}rng.standard_normal({shape}){fan}")
    return (
        f"rng = np.random.default_rng({spec.seed})\n"
        f"ARGS = [{_draw(spec)}, {', '.join(draws)}]\n"
        "G = rng.standard_normal(truth(*ARGS).shape)\n"
    )


def _draw(spec: Spec) -> str:
    """The input's draw: normal with mean ``x_loc`` and std ``x_scale``, rectified if ``x_relu``."""
    normal = f"rng.standard_normal({tuple(spec.shape)})"
    if spec.x_relu:
        return f"np.maximum({normal}, 0)"
    text = "" if spec.x_loc == 0.0 else f"{spec.x_loc:.3g} + "
    return text + ("" if spec.x_scale == 1.0 else f"{spec.x_scale:.3g} * ") + normal


def _param_kinds(ops: Tuple[str, ...]) -> List[str]:
    return [p for op in ops for p in PARAMS[op]]


def _report(spec: Spec) -> str:
    kinds = _param_kinds(spec.ops)
    names = ["out", "grad/x"] if spec.gradients else ["out"]
    if spec.gradients:
        names += [
            f"grad/{k}" if kinds.count(k) == 1 else f"grad/{k}{i}" for i, k in enumerate(kinds)
        ]
    vjp = ", *truth_vjp(G, *ARGS)" if spec.gradients else ""
    vjp32 = ", *truth_vjp(G.astype(np.float32), *a32)" if spec.gradients else ""
    return "\n".join(
        [
            "def err(a, t):",
            "    return float(np.linalg.norm(np.asarray(a, np.float64) - t) / np.linalg.norm(t))",
            "",
            "",
            f"t64 = [truth(*ARGS){vjp}]",
            "a32 = [a.astype(np.float32) for a in ARGS]",
            f"t32 = [truth(*a32){vjp32}]",
            "got = framework(ARGS, G)",
            f"NAMES = {names!r}",
            "figures = {}",
            "for name, t, f32, x in zip(NAMES, t64, t32, got):",
            f"    bound = max({spec.bound_factor!r} * err(f32, t), {spec.bound_floor!r})",
            "    figures[name] = {'err': err(x, t), 'bound': bound, 'numpy_f32': err(f32, t)}",
            "    print(f'{name:10s} err {figures[name][\"err\"]:.3e}  bound {bound:.3e}  '",
            "          f'x bound {figures[name][\"err\"] / bound:8.2f}')",
            "cpu = platform.processor() or platform.machine()",
            f"SWITCHES = {dict(spec.switches)!r}",
            f"print(f'{spec.framework} {{VERSION}}, numpy {{np.__version__}}, python "
            "{platform.python_version()}, {cpu}, switches {SWITCHES}, '",
            "      f'shape {tuple(ARGS[0].shape)}')",
            "print('REPRO ' + json.dumps({'version': VERSION, 'figures': figures}))",
        ]
    )
