"""Checks on a dump file before it is trusted: its format, and the shape of its metadata.

Each check raises :class:`~wgan_parity.dump.dumpfile.DumpError`-compatible messages through the
caller: it returns the problem as text (empty when there is none), so the reader adds its hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple, Union

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local header, or an empty archive's directory
NPY_MAGIC = b"\x93NUMPY"
#: Metadata keys whose value must be a JSON object, and the keys whose entries must be too.
OBJECT_KEYS: Tuple[str, ...] = ("platform", "flags", "cases", "noise", "resources")
OBJECT_ENTRIES: Tuple[str, ...] = ("cases",)


def file_format_problem(path: Path) -> str:
    """What is wrong with ``path`` as a ZIP archive, judged from its first bytes ('' if none)."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    if not head:
        return "expected an .npz dump (ZIP of .npy members), found an empty file"
    if head.startswith(NPY_MAGIC):
        return "expected an .npz dump (ZIP of .npy members), found a single .npy array"
    if not head.startswith(ZIP_MAGIC):
        return f"expected an .npz dump (ZIP of .npy members), found no ZIP signature ({head!r})"
    return ""


def decode_meta_bytes(raw: bytes) -> Union[Dict[str, Any], str]:
    """The metadata object, or the problem with it as text."""
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return f"its metadata is not UTF-8 JSON ({type(exc).__name__}: {exc})"
    if not isinstance(meta, dict):
        return f"expected its metadata to be a JSON object, found a {type(meta).__name__}"
    for key in OBJECT_KEYS:
        if key in meta and not isinstance(meta[key], dict):
            found = type(meta[key]).__name__
            return f"expected metadata {key!r} to be a JSON object, found a {found}"
    for key in OBJECT_ENTRIES:
        for name, entry in (meta.get(key) or {}).items():
            if not isinstance(entry, dict):
                found = type(entry).__name__
                return f"expected metadata {key}[{name!r}] to be a JSON object, found a {found}"
    return meta
