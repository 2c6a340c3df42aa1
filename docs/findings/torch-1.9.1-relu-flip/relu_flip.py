"""torch 1.9.1, residual_up.random grad/x: one ReLU derivative flip, not a kernel defect.

Needs only NumPy and torch. Rebuilds the case's fixtures exactly (NumPy PCG64 streams keyed by
the case seed and each tensor's name, rounded to float32, as wgan-parity's core/fixtures.py
does), runs the up block in torch float32 and float64 (the truth), and prints the gradient
errors, the ReLU inputs whose sign differs from the truth's, and the same gradients with the
second ReLU's derivative forced to the truth's signs. Run: python relu_flip.py
(``DNNL_MAX_CPU_ISA=AVX2`` caps torch 1.9's oneDNN 2.1; it does not read ``ONEDNN_MAX_CPU_ISA``).
"""
import json, platform, zlib

import numpy as np
import torch
import torch.nn.functional as F

SEED, N = 701, 512  # residual_up.random: 512x12x32x32 -> 512x4x64x64
SPECS = {  # name: (shape, init, stdev)
    "x": ((N, 12, 32, 32), "input", 0.0),
    "shortcut.w": ((4, 12, 1, 1), "weight", 0.3535533905932738),
    "shortcut.b": ((4,), "bias", 0.0),
    "norm1.scale": ((12,), "scale", 0.0),
    "norm1.offset": ((12,), "offset", 0.0),
    "conv1.w": ((4, 12, 3, 3), "weight", 0.16666666666666666),
    "norm2.scale": ((4,), "scale", 0.0),
    "norm2.offset": ((4,), "offset", 0.0),
    "conv2.w": ((4, 4, 3, 3), "weight", 0.23570226039551584),
    "conv2.b": ((4,), "bias", 0.0),
    "R": ((N, 4, 64, 64), "input", 0.0),  # the cotangent: grads are of sum(out * R)
}
RANGES = {"input": (-1.0, 1.0), "bias": (-0.1, 0.1), "scale": (0.5, 1.5), "offset": (-0.5, 0.5)}


def fixture(name):
    shape, init, stdev = SPECS[name]
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode("utf-8"))])
    low, high = (-stdev * 3**0.5, stdev * 3**0.5) if init == "weight" else RANGES[init]
    return np.asarray(low + (high - low) * rng.random(shape), np.float32).astype(np.float64)


ARGS = {name: fixture(name) for name in SPECS}


def up(x):  # four copies along channels, then TF's DCR depth_to_space(2)
    x = torch.cat([x, x, x, x], 1)
    n, c, h, w = x.shape
    return F.pixel_shuffle(x.reshape(n, 4, c // 4, h, w).transpose(1, 2).reshape(n, c, h, w), 2)


def block(dtype, relu_mask=None):
    torch.use_deterministic_algorithms(True)
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=k != "R") for k, v in ARGS.items()}
    norm1 = F.batch_norm(p["x"], None, None, p["norm1.scale"], p["norm1.offset"], True, 0.0, 1e-5)
    conv1 = F.conv2d(up(F.relu(norm1)), p["conv1.w"], None, padding="same")
    norm2 = F.batch_norm(conv1, None, None, p["norm2.scale"], p["norm2.offset"], True, 0.0, 1e-5)
    relu2 = F.relu(norm2) if relu_mask is None else norm2 * torch.tensor(relu_mask, dtype=dtype)
    main = F.conv2d(relu2, p["conv2.w"], p["conv2.b"], padding="same")
    out = F.conv2d(up(p["x"]), p["shortcut.w"], p["shortcut.b"], padding="same") + main
    names = [k for k in ARGS if k != "R"]
    grads = torch.autograd.grad((out * p["R"]).sum(), [p[k] for k in names])
    found = {"out": out, "tap/norm2": norm2, **{"grad/" + k: g for k, g in zip(names, grads)}}
    return {k: v.detach().double().numpy() for k, v in found.items()}


def err(a, t):
    return float(np.linalg.norm(a - t) / np.linalg.norm(t))


truth = block(torch.float64)
plain = block(torch.float32)
mask = (truth["tap/norm2"] > 0).astype(np.float64)
forced = block(torch.float32, relu_mask=mask)  # relu' at norm2 takes the truth's signs
flips = np.argwhere((plain["tap/norm2"] > 0) != (truth["tap/norm2"] > 0))
SHOWN = ("out", "tap/norm2", "grad/x", "grad/norm1.scale", "grad/norm1.offset", "grad/norm2.offset")
figures = {k: {"err": err(plain[k], truth[k]), "relu_forced": err(forced[k], truth[k])} for k in SHOWN}
for k, f in figures.items():
    print(f"{k:18s} err {f['err']:.3e}   with the truth's relu' at norm2 {f['relu_forced']:.3e}")
at = [tuple(int(i) for i in ix) for ix in flips]
print(f"norm2 outputs whose sign differs from the truth's: {len(at)} of {mask.size}")
for ix in at:
    print(f"  at {ix}: float64 {truth['tap/norm2'][ix]:.3e}, float32 {plain['tap/norm2'][ix]:.3e}")
print(f"torch {torch.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}")
print("REPRO " + json.dumps({"version": torch.__version__, "figures": figures, "flips": len(at)}))
