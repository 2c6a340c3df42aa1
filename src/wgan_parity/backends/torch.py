"""PyTorch adapter (torch 2.0 - 2.14), functional API only (``torch.nn.functional``).

Importing this module does not import torch: :func:`configure` imports it and applies the
determinism, TF32, thread and device switches in one place.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from wgan_parity.core.flags import Flags
from wgan_parity.core.protocol import Aux, Differentiable

FRAMEWORK = "torch"
DTYPE = "float32"
torch: Any = None  # the torch module, bound by configure()
F: Any = None  # torch.nn.functional
_device = "cpu"


def configure(flags: Flags) -> Dict[str, Any]:
    """Apply determinism, TF32, threads and device; return what is in effect."""
    global torch, F, _device
    if flags.device.startswith("cuda") and flags.deterministic:
        # cuBLAS is deterministic only with a fixed workspace; must be set before it starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch as torch_module
    import torch.nn.functional as functional

    torch, F, _device = torch_module, functional, flags.device
    if flags.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"--device {flags.device} asked for, but this torch {torch.__version__} sees no CUDA "
            f"device (torch.version.cuda={torch.version.cuda}); use --device cpu or a CUDA build"
        )
    if flags.threads:
        torch.set_num_threads(flags.threads)
    torch.use_deterministic_algorithms(flags.deterministic)
    torch.backends.cuda.matmul.allow_tf32 = flags.tf32
    torch.backends.cudnn.allow_tf32 = flags.tf32
    torch.backends.cudnn.deterministic = flags.deterministic
    torch.backends.cudnn.benchmark = False
    return {
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "cpu_capability": _cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "device": _device,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cuda": torch.version.cuda or "",
        "cudnn": int(torch.backends.cudnn.version() or 0) if torch.cuda.is_available() else 0,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG", ""),
    }


def _cpu_capability() -> str:
    """The ISA of ATen's CPU kernels (``AVX512``, ``AVX2``, ``DEFAULT``; torch >= 2.0)."""
    query = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return str(query()) if query is not None else "unknown"


def framework_version() -> str:
    """``torch.__version__``."""
    return str(torch.__version__)


def asarray(value: Any) -> Any:
    """A float32 tensor on the configured device."""
    return torch.from_numpy(np.array(value, dtype=np.float32)).to(_device)


def to_numpy(tensor: Any) -> np.ndarray:
    """Detach, move to CPU, convert."""
    return tensor.detach().cpu().numpy()


def stop_gradient(tensor: Any) -> Any:
    """``tensor.detach()``."""
    return tensor.detach()


def compile(fn: Callable) -> Callable:
    """Eager: nothing to compile (``torch.compile`` would change the numerics under test)."""
    return fn


def vjp(
    fn: Differentiable,
    args: Mapping[str, Any],
    wrt: Sequence[str],
    cotangent: Optional[Any] = None,
    create_graph: bool = False,
) -> Tuple[Any, Aux, Dict[str, Any]]:
    """``(out, aux, grads)`` via ``torch.autograd.grad``; ``create_graph`` for double backward."""
    args = dict(args)
    for key in wrt:
        if not args[key].requires_grad:
            args[key] = args[key].detach().requires_grad_(True)
    with torch.enable_grad():
        out, aux = fn(args)
        target = out.sum() if cotangent is None else (out * cotangent).sum()
        inputs = [args[k] for k in wrt]
        grads = torch.autograd.grad(target, inputs, create_graph=create_graph, allow_unused=True)
    return (
        out,
        dict(aux),
        {k: torch.zeros_like(t) if g is None else g for k, t, g in zip(wrt, inputs, grads)},
    )


def _dcr_to_crd_channels(x: Any, block: int) -> Any:
    """Reorder channels from TF's DCR layout to ``pixel_shuffle``'s CRD layout."""
    n, c, h, w = x.shape
    out_c = c // (block * block)
    return x.reshape(n, block * block, out_c, h, w).transpose(1, 2).reshape(n, c, h, w)


def _to_torch_linear_weight(w: Any) -> Any:
    """tflib's ``(in, out)`` weight as ``nn.Linear``'s ``(out, in)``."""
    return w.t()


def conv2d(x: Any, w: Any, b: Optional[Any] = None) -> Any:
    """``F.conv2d`` with ``padding="same"``, stride 1."""
    return F.conv2d(x, w, b, stride=1, padding="same")


def depth_to_space(x: Any, block: int) -> Any:
    """DCR depth_to_space: channel reorder, then ``F.pixel_shuffle`` (CRD)."""
    return F.pixel_shuffle(_dcr_to_crd_channels(x, block), block)


def linear(x: Any, w: Any, b: Any) -> Any:
    """``F.linear`` with the weight transposed to ``(out, in)``."""
    return F.linear(x, _to_torch_linear_weight(w), b)


def concat(tensors: Sequence[Any], axis: int) -> Any:
    """``torch.cat``."""
    return torch.cat(list(tensors), dim=axis)


def reshape(x: Any, shape: Sequence[int]) -> Any:
    """``torch.reshape``."""
    return torch.reshape(x, tuple(shape))


def relu(x: Any) -> Any:
    """``F.relu``."""
    return F.relu(x)


def tanh(x: Any) -> Any:
    """``torch.tanh``."""
    return torch.tanh(x)


def sqrt(x: Any) -> Any:
    """``torch.sqrt``."""
    return torch.sqrt(x)


def mean(x: Any, axis: Optional[Any] = None) -> Any:
    """``torch.mean``."""
    return x.mean() if axis is None else x.mean(dim=axis)


def sum(x: Any, axis: Optional[Any] = None) -> Any:
    """``torch.sum``."""
    return x.sum() if axis is None else x.sum(dim=axis)


def _per_channel(v: Any) -> Any:
    return v.reshape(1, -1, 1, 1)


def layer_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``F.layer_norm`` over (C, H, W) without affine, then tflib's per-channel affine."""
    return F.layer_norm(x, tuple(x.shape[1:]), eps=eps) * _per_channel(scale) + _per_channel(offset)


def batch_norm(x: Any, scale: Any, offset: Any, eps: float) -> Any:
    """``F.batch_norm`` in training mode (batch statistics), per-channel affine."""
    return F.batch_norm(x, None, None, scale, offset, training=True, eps=eps)
