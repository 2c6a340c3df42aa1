"""The C allocator's policy for array-heavy NumPy code (glibc only; a no-op elsewhere).

glibc serves every allocation above its mmap threshold (32 MiB at most) with a fresh ``mmap``
and unmaps it on ``free``, so each large temporary costs a page fault and a kernel zero-fill per
4 KiB page. The float64 reference allocates hundreds of such temporaries per case (autograd keeps
no buffers), and that zero-fill was 30% of its float64 pass (bench/profile_reference.py: the
heavy cases 39 s -> 27 s). :func:`keep_freed_memory` keeps large blocks in the heap for reuse;
:func:`release_freed_memory` hands the free heap back to the kernel at a case boundary, so one
case's peak does not carry into the next one's. Neither changes a computed value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Dict, Optional

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LARGEST = 2**31 - 1  # mallopt takes an int


def _glibc() -> Optional[ctypes.CDLL]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        return libc
    except (OSError, AttributeError):  # musl and others have no gnu_get_libc_version
        return None


def keep_freed_memory() -> Dict[str, object]:
    """Serve large blocks from the heap and keep freed ones; return what is in effect (recorded)."""
    libc = _glibc()
    if libc is None:
        return {"allocator": "system default (not glibc)"}
    version = libc.gnu_get_libc_version().decode()
    applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, _LARGEST)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, _LARGEST)
    )
    policy = "heap reuse (mmap and trim thresholds 2 GiB)" if applied else "default (refused)"
    return {"allocator": f"glibc {version}: {policy}"}


def release_freed_memory() -> bool:
    """Return the heap's free pages to the kernel (``malloc_trim(0)``); False where unsupported."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
