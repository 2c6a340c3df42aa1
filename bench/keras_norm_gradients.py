"""Why the Keras 3 port's ``residual_down.random`` gradients diverge: an ablation (TF backend).

    PYTHONPATH=examples .nox/tests/bin/python bench/keras_norm_gradients.py

The port (examples/keras_port.py through ``--backend keras_check``) misses the truth on grad/x and
the norm gradients of ``residual_down.random`` by ~300x where the tool's own TF ops pass. This
rebuilds the block from TF ops (NHWC, ``tf.function``, the case's fixtures and cotangent R), swaps
one component at a time, and prints per variant the relative L2 error of a few gradients against
the float64 truth (the tool's reference backend) and the number of ReLU inputs whose sign differs
from the truth's ("flips" at norm1 / norm2 outputs). Each variant also runs with the truth's ReLU
masks forced (``masked``). Measured on TF 2.21 / Keras 3.15.1 (an AVX-512 AMD EPYC, 2 threads
shared): each variant whose norm2 output has one flip (one of 6.3M elements) shows the 1e-4 errors,
whatever the norm's code: the port's layer flips (157, 27, 30, 6) (truth -6.7e-9, grad/x 9.9e-5,
the dump's figures exactly); per-channel Keras and ``tf.nn.batch_normalization`` in NHWC, per-
channel or per-element, flip (275, 22, 5, 11) (truth +1.3e-7, two cancelling terms of 0.28; grad/x
2.4e-4); the tool's NCHW ops and the centred formula flip none (2.0e-7). With the masks forced
every variant is at 2e-7. The cause is a ReLU kink crossing, a float32 rounding lottery, not a
Keras op, the ``expand`` transform or the adapter. Last, ``residual_up.seed``: Keras'
BatchNormalization formula flips 440 norm2 ReLUs at the seed's ties, TF's fused kernel 92 (grad/x
4.6e-3 against 2.0e-3; masks forced: 7.3e-4 against 2.5e-4).
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from wgan_parity.backends import load_backend
from wgan_parity.core.catalog import CATALOG
from wgan_parity.core.fixtures import make_fixtures
from wgan_parity.core.flags import Flags
from wgan_parity.dump.case_runner import run_case

CASES = {c.name: c for c in CATALOG if c.name in ("residual_down.random", "residual_up.seed")}
EPS = 1e-5
ROWS = ("grad/x", "grad/norm1.offset", "grad/norm2.offset", "grad/norm1.scale")


def err(found, truth) -> float:
    return float(np.linalg.norm(np.asarray(found, np.float64) - truth) / np.linalg.norm(truth))


def norms(tf, keras):
    """The norm variants: (x NHWC, per-channel scale, offset) -> y."""

    def full(v, x):  # the adapter's "expand": (C,) -> (H, W, C)
        return tf.broadcast_to(tf.reshape(v, (1, 1, -1)), x.shape[1:])

    def moments(x):
        return tf.nn.moments(x, [1, 2, 3], keepdims=True)

    def nchw(x, s, o):  # the tool's TF ops: NCHW, per-channel (C, 1, 1) parameters
        xc = tf.transpose(x, (0, 3, 1, 2))
        mu, var = moments(xc)
        y = tf.nn.batch_normalization(xc, mu, var, tf.reshape(o, (-1, 1, 1)),
                                      tf.reshape(s, (-1, 1, 1)), EPS)  # fmt: skip
        return tf.transpose(y, (0, 2, 3, 1))

    return {
        "keras.ops.layer_normalization, per-element (the port)": lambda x, s, o: (
            keras.ops.layer_normalization(x, full(s, x), full(o, x), [1, 2, 3], EPS)
        ),
        "keras.ops.layer_normalization, per-channel": lambda x, s, o: keras.ops.layer_normalization(
            x, tf.reshape(s, (1, 1, 1, -1)), tf.reshape(o, (1, 1, 1, -1)), [1, 2, 3], EPS
        ),
        "tf.nn.batch_normalization NHWC, per-element": lambda x, s, o: tf.nn.batch_normalization(
            x, *moments(x), full(o, x), full(s, x), EPS
        ),
        "tf.nn.batch_normalization NHWC, per-channel": lambda x, s, o: tf.nn.batch_normalization(
            x, *moments(x), o, s, EPS
        ),
        "tf.nn.batch_normalization NCHW (the tool's ops)": nchw,
        "centred (x - mean) * rsqrt(var + eps) * s + o": lambda x, s, o: (
            (x - moments(x)[0]) * tf.math.rsqrt(moments(x)[1] + EPS) * s + o
        ),
    }


def block(tf, x, p, norm, masks, resample):
    """tflib's down or up block in NHWC: ``masks`` (float64 ReLU masks) replace relu' if given."""

    def pool(v):
        return (v[:, ::2, ::2] + v[:, 1::2, ::2] + v[:, ::2, 1::2] + v[:, 1::2, 1::2]) / 4

    def conv(v, w):
        return tf.nn.conv2d(v, tf.transpose(w, (2, 3, 1, 0)), 1, "SAME")

    def relu(v, i):
        return tf.nn.relu(v) if masks is None else v * tf.cast(masks[i], v.dtype)

    def up(v):
        return tf.nn.depth_to_space(tf.concat([v, v, v, v], -1), 2)

    h1 = norm(x, p["norm1.scale"], p["norm1.offset"])
    if resample == "up":
        h2 = norm(conv(up(relu(h1, 0)), p["conv1.w"]), p["norm2.scale"], p["norm2.offset"])
        out = conv(up(x), p["shortcut.w"]) + p["shortcut.b"]
        return out + conv(relu(h2, 1), p["conv2.w"]) + p["conv2.b"], (h1, h2)
    h2 = norm(conv(relu(h1, 0), p["conv1.w"]), p["norm2.scale"], p["norm2.offset"])
    out = conv(pool(x), p["shortcut.w"]) + p["shortcut.b"]
    return out + pool(conv(relu(h2, 1), p["conv2.w"]) + p["conv2.b"]), (h1, h2)


def run(tf, fx, norm, dtype, masks=None, resample="down"):
    """Gradients of sum(out * R) (NCHW, like the dumps) and the two norm outputs (NHWC)."""
    nhwc = lambda a: tf.constant(np.transpose(a, (0, 2, 3, 1)), dtype)  # noqa: E731
    x, g = nhwc(fx.args["x"]), nhwc(fx.projection)
    p = {k: tf.constant(v, dtype) for k, v in fx.args.items() if k != "x"}

    @tf.function
    def grads(x, p):
        with tf.GradientTape() as tape:
            tape.watch([x, p])
            out, mids = block(tf, x, p, norm, masks, resample)
            loss = tf.reduce_sum(out * g)
        return tape.gradient(loss, [x, p]), mids

    (gx, gp), mids = grads(x, p)
    found = {"grad/x": np.transpose(gx.numpy(), (0, 3, 1, 2))}
    found.update({f"grad/{k}": v.numpy() for k, v in gp.items()})
    return found, [m.numpy() for m in mids]


def main() -> None:
    """The port and the tool's TF via the tool, then the rebuilt block's variants."""
    case = CASES["residual_down.random"]
    fx = make_fixtures(case)
    ref = run_case(load_backend("reference"), case, fx)
    head = "".join(f"{r[5:]:>13s}" for r in ROWS)
    print(f"{'variant':56s}{head}  relu flips n1/n2 (n,h,w,c)=f32")
    for name in ("keras_check", "tensorflow"):
        got = run_case(load_backend(name, Flags()), case, fx)
        print(f"{'wgan-parity dump --backend ' + name:56s}"
              + "".join(f"{err(got[r], ref[r]):13.2e}" for r in ROWS))  # fmt: skip
    import keras
    import tensorflow as tf

    variants = norms(tf, keras)
    centred = variants["centred (x - mean) * rsqrt(var + eps) * s + o"]
    truth, mids64 = run(tf, fx, centred, tf.float64)
    print(f"{'TF float64 block vs the reference backend':56s}"
          + "".join(f"{err(truth[r], ref[r]):13.2e}" for r in ROWS))  # fmt: skip
    masks = [m > 0 for m in mids64]
    for label, norm in variants.items():
        for forced in (None, masks):
            found, mids = run(tf, fx, norm, tf.float32, forced)
            flips = [np.argwhere((a > 0) != b) for a, b in zip(mids, masks)]
            at = ";".join(
                f"{tuple(int(v) for v in i)}={m[tuple(i)]:+.1e}"
                for f, m in zip(flips, mids)
                for i in f[:2]
            )
            flips = "/".join(str(len(f)) for f in flips) + (f" {at}" if forced is None else "")
            print(
                f"{label + (' masked' if forced else ''):56s}"
                + "".join(f"{err(found[r], ref[r]):13.2e}" for r in ROWS)
                + f"  {flips}"
            )
    h2 = mids64[1]
    near = np.argwhere(np.abs(h2) < 2e-7)
    print(
        "float64 norm2 outputs within 2e-7 of 0 (n, h, w, c: value):",
        ", ".join(f"{tuple(int(v) for v in i)}: {h2[tuple(i)]:+.2e}" for i in near),
    )
    up_seed(tf, keras)


def up_seed(tf, keras) -> None:
    """residual_up.seed (seed-mode ReLU ties): Keras' BatchNormalization formula against TF's
    fused kernel (the tool's TF ops), grad/x and the norm2 ReLU flips."""
    case = CASES["residual_up.seed"]
    fx = make_fixtures(case)
    ref = run_case(load_backend("reference"), case, fx)["grad/x"]

    def keras_bn(x, s, o):  # BatchNormalization.call in training mode, TF backend
        mean, var = keras.ops.moments(x, [0, 1, 2])
        return keras.ops.batch_normalization(x, mean, var, -1, o, s, EPS)

    def fused(x, s, o):
        return tf.compat.v1.nn.fused_batch_norm(x, s, o, epsilon=EPS, is_training=True)[0]

    _, mids64 = run(tf, fx, keras_bn, tf.float64, resample="up")
    masks = [m > 0 for m in mids64]
    print("residual_up.seed grad/x:")
    for label, norm in (("Keras BatchNormalization formula", keras_bn),
                        ("tf fused_batch_norm (the tool's ops)", fused)):  # fmt: skip
        for forced in (None, masks):
            found, mids = run(tf, fx, norm, tf.float32, forced, "up")
            flips = "/".join(str(int(((a > 0) != b).sum())) for a, b in zip(mids, masks))
            print(
                f"  {label + (' masked' if forced else ''):54s}"
                f"{err(found['grad/x'], ref):13.2e}  relu flips n1/n2 {flips}"
            )


if __name__ == "__main__":
    main()
