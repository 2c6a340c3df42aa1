"""torch-2.13.0-channels-last: residual_up.random tap/norm2 (1 ops from conv1 -> norm2): torch float32 vs NumPy float64.

Written by `wgan-parity repro`; needs only NumPy and the framework.
Recorded by the run: {"err_a": 0.0002601538, "isa": "avx2", "limit_a": 1.833605e-05, "version": "2.13.0+cpu"}
"""
import json, os, platform, sys
os.environ['ATEN_CPU_CAPABILITY'] = 'avx2'
os.environ['NPY_DISABLE_CPU_FEATURES'] = 'X86_V4 AVX512_ICL AVX512_SPR'
os.environ['ONEDNN_MAX_CPU_ISA'] = 'AVX2'
os.environ['OPENBLAS_CORETYPE'] = 'Haswell'
import numpy as np
DETERMINISTIC = True  # as the dump ran
import torch
import torch.nn.functional as F
VERSION = torch.__version__
if DETERMINISTIC and hasattr(torch, 'use_deterministic_algorithms'):
    torch.use_deterministic_algorithms(True)
CHANNELS_LAST = True
EPS = 1e-5
def _norm(x, scale, offset, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + x.dtype.type(EPS))
    xhat = (x - mean) * rstd
    return (xhat * scale.reshape(1, -1, 1, 1) + offset.reshape(1, -1, 1, 1), xhat, rstd)

def batch_norm(x, scale, offset):
    return _norm(x, scale, offset, (0, 2, 3))[0]

def truth(x, scale, offset):
    x = batch_norm(x, scale, offset)
    return x

def run(x, scale, offset):
    x = F.batch_norm(x, None, None, scale, offset, training=True, eps=1e-5)
    return x

def tensor(a):
    t = torch.from_numpy(a.astype(np.float32))
    return t.contiguous(memory_format=torch.channels_last) if CHANNELS_LAST and t.dim() == 4 else t
def framework(args, g):
    ts = [tensor(a).requires_grad_(True) for a in args]
    y = run(*ts)
    grads = torch.autograd.grad(y, ts, tensor(g))
    return [t.detach().numpy() for t in (y, *grads)]
rng = np.random.default_rng(0)
ARGS = [rng.standard_normal((64, 4, 64, 64)), 1 + 0.1 * rng.standard_normal((4,)), 0.1 * rng.standard_normal((4,))]
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
SWITCHES = {'deterministic': True, 'channels_last': True}
print(f'torch {VERSION}, numpy {np.__version__}, python {platform.python_version()}, {cpu}, switches {SWITCHES}, '
      f'shape {tuple(ARGS[0].shape)}')
print('REPRO ' + json.dumps({'version': VERSION, 'figures': figures}))
