"""jax-0.9.2: residual_up.random tap/norm2 (5 ops from norm1 -> norm2): jax float32 vs NumPy float64.

Written by `wgan-parity repro`; needs only NumPy and the framework.
Recorded by the run: {"err_a": 7.647116e-05, "inherited_err_a": 7.738265e-05, "isa": "avx2", "limit_a": 1.700221e-06, "own_err_a": 1.019908e-06, "version": "0.9.2"}
"""
import json, os, platform, sys
os.environ['ATEN_CPU_CAPABILITY'] = 'avx2'
os.environ['NPY_DISABLE_CPU_FEATURES'] = 'X86_V4 AVX512_ICL AVX512_SPR'
os.environ['ONEDNN_MAX_CPU_ISA'] = 'AVX2'
os.environ['OPENBLAS_CORETYPE'] = 'Haswell'
import numpy as np
DETERMINISTIC = True  # as the dump ran
import jax
import jax.numpy as jnp
VERSION = jax.__version__
CHANNELS_LAST = False
EPS = 1e-5
def _patches(x, k):
    p, (h, w) = (k // 2, x.shape[2:])
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return np.stack([xp[:, :, i:i + h, j:j + w] for i in range(k) for j in range(k)], axis=2)

def conv2d(x, w, b=None):
    k = w.shape[2]
    y = np.einsum('nckhw,ock->nohw', _patches(x, k), w.reshape(w.shape[0], w.shape[1], k * k))
    return y if b is None else y + b.reshape(1, -1, 1, 1)

def _norm(x, scale, offset, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(EPS))
    xhat = (x - mean) * rstd
    return (xhat * scale.reshape(1, -1, 1, 1) + offset.reshape(1, -1, 1, 1), xhat, rstd)

def batch_norm(x, scale, offset):
    return _norm(x, scale, offset, (0, 2, 3))[0]

def truth(x, w, scale, offset):
    x = conv2d(x, w)
    x = batch_norm(x, scale, offset)
    return x

def run(x, w, scale, offset):
    x = jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=('NCHW', 'OIHW', 'NCHW'))
    x = jax.nn.standardize(x, axis=(0, 2, 3), epsilon=1e-5) * scale.reshape(1, -1, 1, 1) + offset.reshape(1, -1, 1, 1)
    return x

def tensor(a):
    return jnp.asarray(a.astype(np.float32))
@jax.jit
def _both(ts, g):
    y, pullback = jax.vjp(run, *ts)
    return [y, *pullback(g)]


def framework(args, g):
    return [np.asarray(t) for t in _both([tensor(a) for a in args], tensor(g))]
rng = np.random.default_rng(0)
ARGS = [np.maximum(rng.standard_normal((512, 12, 64, 64)), 0), rng.standard_normal((4, 12, 3, 3)) / 10.3923, 1 + 0.1 * rng.standard_normal((4,)), 0.1 * rng.standard_normal((4,))]
G = rng.standard_normal(truth(*ARGS).shape)

def err(a, t):
    return float(np.linalg.norm(np.asarray(a, np.float64) - t) / np.linalg.norm(t))


t64 = [truth(*ARGS)]
a32 = [a.astype(np.float32) for a in ARGS]
t32 = [truth(*a32)]
got = framework(ARGS, G)
NAMES = ['out']
figures = {}
for name, t, f32, x in zip(NAMES, t64, t32, got):
    bound = max(32.0 * err(f32, t), 1e-06)
    figures[name] = {'err': err(x, t), 'bound': bound, 'numpy_f32': err(f32, t)}
    print(f'{name:10s} err {figures[name]["err"]:.3e}  bound {bound:.3e}  '
          f'x bound {figures[name]["err"] / bound:8.2f}')
cpu = platform.processor() or platform.machine()
SWITCHES = {'deterministic': True}
print(f'jax {VERSION}, numpy {np.__version__}, python {platform.python_version()}, {cpu}, switches {SWITCHES}, '
      f'shape {tuple(ARGS[0].shape)}')
print('REPRO ' + json.dumps({'version': VERSION, 'figures': figures}))
