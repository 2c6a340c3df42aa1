"""PyTorch adapter (torch 1.0 - 2.15), functional API only (``torch.nn.functional``).

Importing this module does not import torch: :func:`configure` imports it and applies the
determinism, TF32, thread and device switches in one place. A switch a release does not have
(``use_deterministic_algorithms`` < 1.8, TF32 < 1.7, ``padding="same"`` < 1.9, the CPU
capability query < 2.0) is recorded as ``"unavailable"`` with its reason under ``unavailable``.
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
_channels_last = False
_same_padding = True  # F.conv2d(padding="same") exists (torch >= 1.9); set by configure()


def configure(flags: Flags) -> Dict[str, Any]:
    """Apply determinism, TF32, threads and device; return what is in effect."""
    global torch, F, _device, _channels_last, _same_padding
    if flags.device.startswith("cuda") and flags.deterministic:
        # cuBLAS is deterministic only with a fixed workspace; must be set before it starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch as torch_module
    import torch.nn.functional as functional

    torch, F, _device = torch_module, functional, flags.device
    _channels_last = flags.switch("channels_last")
    if flags.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"--device {flags.device} asked for, but this torch {torch.__version__} sees no CUDA "
            f"device (torch.version.cuda={torch.version.cuda}); use --device cpu or a CUDA build"
        )
    if flags.threads:
        torch.set_num_threads(flags.threads)
    unavailable: Dict[str, str] = {}
    deterministic = _set_deterministic(flags.deterministic, unavailable)
    tf32 = _set_tf32(flags.tf32, unavailable)
    torch.backends.cudnn.deterministic = flags.deterministic
    torch.backends.cudnn.benchmark = False
    _same_padding = _release() >= (1, 9)
    if not _same_padding:
        unavailable["conv_padding_same"] = (
            'F.conv2d(padding="same") is torch >= 1.9; explicit symmetric padding k//2 '
            "(the same for odd kernels)"
        )
    interop = getattr(torch, "get_num_interop_threads", None)
    mkldnn = getattr(torch.backends, "mkldnn", None)
    return {
        "deterministic": deterministic,
        "tf32": tf32,
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": interop() if interop is not None else 0,
        "mkldnn": bool(mkldnn.is_available()) if mkldnn is not None else False,
        "cpu_capability": _cpu_capability(unavailable),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
        "device": _device,
        "memory_format": "channels_last" if _channels_last else "contiguous",
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cuda": torch.version.cuda or "",
        "cudnn": int(torch.backends.cudnn.version() or 0) if torch.cuda.is_available() else 0,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG", ""),
        **({"unavailable": unavailable} if unavailable else {}),
    }


def _set_deterministic(wanted: bool, unavailable: Dict[str, str]) -> Any:
    """``use_deterministic_algorithms`` (1.8+), ``set_deterministic`` (1.7), else unavailable."""
    if hasattr(torch, "use_deterministic_algorithms"):
        torch.use_deterministic_algorithms(wanted)
        return bool(torch.are_deterministic_algorithms_enabled())
    if hasattr(torch, "set_deterministic"):
        torch.set_deterministic(wanted)
        return bool(torch.is_deterministic())
    unavailable["deterministic"] = (
        "torch.use_deterministic_algorithms is torch >= 1.8 (1.7: set_deterministic)"
    )
    return "unavailable" if wanted else False


def _set_tf32(wanted: bool, unavailable: Dict[str, str]) -> Any:
    """TF32 on CUDA matmul and cuDNN (torch 1.7+); before 1.7 there is no such switch."""
    matmul = getattr(getattr(torch.backends, "cuda", None), "matmul", None)
    if matmul is None or not hasattr(torch.backends.cudnn, "allow_tf32"):
        unavailable["tf32"] = "torch.backends.cuda.matmul.allow_tf32 is torch >= 1.7"
        if wanted:
            raise RuntimeError(
                f"--tf32 asked for, but torch {torch.__version__} has no TF32 switch "
                "(torch >= 1.7); drop --tf32 for this env"
            )
        return "unavailable"
    matmul.allow_tf32 = wanted
    torch.backends.cudnn.allow_tf32 = wanted
    return bool(matmul.allow_tf32)


def _release() -> Tuple[int, int]:
    """``(major, minor)`` of the loaded torch (``"1.13.1+cu117"`` -> ``(1, 13)``)."""
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def _cpu_capability(unavailable: Dict[str, str]) -> str:
    """The ISA of ATen's CPU kernels (``AVX512``, ``AVX2``, ``DEFAULT``; torch >= 2.0)."""
    query = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    if query is None:
        unavailable["cpu_capability"] = "torch.backends.cpu.get_cpu_capability is torch >= 2.0"
        return "unavailable"
    return str(query())


def framework_version() -> str:
    """``torch.__version__``."""
    return str(torch.__version__)


def asarray(value: Any) -> Any:
    """A float32 tensor on the configured device (4-D ones channels-last when asked for)."""
    tensor = torch.from_numpy(np.array(value, dtype=np.float32)).to(_device)
    if _channels_last and tensor.dim() == 4:
        return tensor.contiguous(memory_format=torch.channels_last)
    return tensor


def to_numpy(tensor: Any) -> np.ndarray:
    """Detach, move to CPU, convert (a bfloat16 or float16 tensor to float32 first)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.numpy()


def autocast(precision: str) -> Any:
    """``torch.autocast`` on the dump's device at ``precision`` (torch >= 1.10 on CPU)."""
    if not hasattr(torch, "autocast"):
        raise ValueError(
            f"--precision {precision}: torch {torch.__version__} has no torch.autocast "
            "(torch >= 1.10); run this release at float32"
        )
    return torch.autocast(device_type=_device.split(":")[0], dtype=getattr(torch, precision))


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
    """``F.conv2d`` with ``padding="same"``, stride 1 (before 1.9: padding k//2, odd k only)."""
    if _same_padding:
        return F.conv2d(x, w, b, stride=1, padding="same")
    kh, kw = int(w.shape[2]), int(w.shape[3])
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(
            f"'same' padding of an even {kh}x{kw} kernel is asymmetric; torch "
            f"{torch.__version__} has no padding='same' (torch >= 1.9): use odd kernels"
        )
    return F.conv2d(x, w, b, stride=1, padding=(kh // 2, kw // 2))


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
