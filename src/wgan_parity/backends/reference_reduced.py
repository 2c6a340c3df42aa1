"""The float32 reference under a reduced precision's policy: what sets the limits of bfloat16 and
float16 envs (``wgan-parity dump --noise-precision``; :mod:`wgan_parity.core.precision`).

Built over ``reference32``. The policy's casts round with the reference's ``cast``; this module
adds ``cast_up``, the cast of a reduced value back to float32, whose backward rounds the cotangent
to the reduced precision, as a framework's cast does (TF's bfloat16 -> float32 cast has a float32
-> bfloat16 cast as its gradient).
"""

from __future__ import annotations

from typing import Any

from autograd.extend import defvjp, primitive

from wgan_parity.backends.reference import cast

BASE = "reference32"


@primitive
def cast_up(tensor: Any, source: str) -> Any:
    """``tensor`` (a ``source``-rounded float32 array) as float32: the value, unchanged."""
    return tensor


defvjp(cast_up, lambda ans, tensor, source: lambda g: cast(g, source))
