"""Run-time switches that change numerics; each backend's ``configure`` applies and records them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class Flags:
    """Precision and determinism switches requested for one dump.

    ``onednn`` maps to ``TF_ENABLE_ONEDNN_OPTS`` (TF's own default on x86 Linux is on);
    ``tf32`` allows TensorFloat-32 matmuls/convs on NVIDIA GPUs (off: full float32);
    ``threads`` of ``None`` keeps the framework's default thread count; ``max_isa`` (an
    :data:`wgan_parity.core.isa.CLASSES` name) caps the CPU kernels through ``ATEN_CPU_CAPABILITY``
    and ``ONEDNN_MAX_CPU_ISA``, set before the framework is imported; ``channels_last`` (torch)
    gives every 4-D tensor the channels-last memory layout, as a port's ``permute`` or
    ``model.to(memory_format=torch.channels_last)`` does: the same values, other kernels;
    ``graph`` (TensorFlow) runs each case as the seed did, in graph mode with ``tf.gradients`` in
    a ``tf.compat.v1.Session``, instead of eager with ``tf.function``.
    """

    deterministic: bool = True
    onednn: bool = True
    tf32: bool = False
    threads: Optional[int] = None
    device: str = "cpu"
    max_isa: Optional[str] = None
    channels_last: bool = False
    graph: bool = False

    def as_dict(self) -> Dict[str, Any]:
        """The requested switches, for the dump's metadata."""
        return asdict(self)
