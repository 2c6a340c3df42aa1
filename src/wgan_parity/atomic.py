"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A reader (or a crash) never sees half a file, and a failed write leaves the old file in place and
no temporary behind. The streaming dump writer (:mod:`~wgan_parity.dump.dumpfile`) does the
same on its own, because it writes member by member.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, List, Union

PathLike = Union[str, Path]


def write_with(path: PathLike, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp)`` to fill a temporary file, then move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):  # unlink(missing_ok=) is 3.8+ (3.7 dumps)
            tmp.unlink()
    return path


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: PathLike, data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def writable_folder(folder: PathLike) -> str:
    """ "" when ``folder`` is (or can be made) a folder this process can write, else why not.

    Checked before long work starts, so an unusable output is found in a second, not after an
    hour of comparison. Creates the folder; writes and removes one probe file.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"{folder}: cannot write there ({exc.strerror or exc}); choose another --out"
    return ""


OUTPUTS = ".wgan-parity-outputs.json"  # in an output folder: the files the last run wrote


def replace_outputs(folder: PathLike, written: List[Path]) -> List[str]:
    """Record ``written`` as ``folder``'s outputs; remove what the previous run wrote and this
    one did not (a stale heatmap, matrix or seed report). Only files a manifest lists are ever
    removed: never a file the tool did not write. Returns the names removed."""
    folder = Path(folder)
    manifest = folder / OUTPUTS
    try:
        before = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        before = []
    now = sorted({Path(p).resolve().relative_to(folder.resolve()).as_posix() for p in written})
    removed = []
    for name in before:
        if not isinstance(name, str) or name in now or "/" in name or name.startswith("."):
            continue
        stale = folder / name
        if stale.is_file():
            stale.unlink()
            removed.append(name)
    write_json(manifest, {"files": now})
    return removed
