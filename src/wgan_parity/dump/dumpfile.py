"""Read and write dumps: one uncompressed ``.npz`` per environment (see docs/dump-format.md)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, List, Tuple, Union

import numpy as np

from wgan_parity import SCHEMA_VERSION
from wgan_parity.dump.validate import decode_meta_bytes, file_format_problem

META_KEY = "__meta__"
PathLike = Union[str, "os.PathLike[str]"]


class DumpError(ValueError):
    """A dump file cannot be used; the message says what was expected and what to do."""


def encode_meta(meta: Dict[str, Any]) -> np.ndarray:
    """Encode metadata as a 1-D uint8 array of UTF-8 JSON (loads without pickle)."""
    return np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_orphans(path: Path) -> List[Path]:
    """Remove ``PATH.tmp-<pid>`` files a killed writer left, whose process is gone."""
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(path.name)}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):  # unlink(missing_ok=) is 3.8+
                tmp.unlink()
            removed.append(tmp)
    return removed


class DumpWriter:
    """Stream tensors into ``PATH.tmp-<pid>`` and rename to ``PATH`` on :meth:`close`.

    Nothing is held in memory: each tensor goes straight into the ZIP. If the writer is
    never closed successfully, the temporary file is removed and ``PATH`` is untouched.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(self.path)
        self._tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self._zip = zipfile.ZipFile(self._tmp, "w", zipfile.ZIP_STORED, allowZip64=True)
        self._keys: set = set()

    def add(self, key: str, array: np.ndarray) -> None:
        """Append one tensor under ``key`` (``case/tensor``)."""
        array = np.asarray(array)
        if array.dtype == object:
            raise TypeError(f"refusing to write object array for {key!r}")
        if key in self._keys:
            raise KeyError(f"duplicate dump key {key!r}")
        self._keys.add(key)
        with self._zip.open(key + ".npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)

    def add_npy(self, key: str, source: IO[bytes]) -> None:
        """Append one tensor under ``key`` from the bytes of an ``.npy`` file (copied as is)."""
        if key in self._keys:
            raise KeyError(f"duplicate dump key {key!r}")
        self._keys.add(key)
        with self._zip.open(key + ".npy", "w", force_zip64=True) as member:
            shutil.copyfileobj(source, member, 1 << 20)

    def close(self, meta: Dict[str, Any]) -> Path:
        """Write the metadata, finish the ZIP and atomically rename it into place."""
        self.add(META_KEY, encode_meta(meta))
        self._zip.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the destination is left as it was."""
        try:
            self._zip.close()
        finally:
            with contextlib.suppress(FileNotFoundError):  # unlink(missing_ok=) is 3.8+
                self._tmp.unlink()

    def __enter__(self) -> DumpWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def write_dump(
    path: PathLike, meta: Dict[str, Any], tensors: Iterable[Tuple[str, np.ndarray]]
) -> Path:
    """Write ``tensors`` (an iterable of ``(key, array)``) and ``meta`` atomically to ``path``."""
    with DumpWriter(path) as writer:
        for key, array in tensors:
            writer.add(key, array)
        return writer.close(meta)


class DumpReader:
    """Lazy, validated view of one dump; members are read on demand without pickle."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        hint = "Re-run `wgan-parity dump` for this environment to regenerate it."
        if not self.path.is_file():
            raise DumpError(f"{self.path}: no such dump file. {hint}")
        problem = file_format_problem(self.path)
        if problem:
            raise DumpError(f"{self.path}: {problem}. {hint}")
        try:
            self._npz = np.load(self.path, allow_pickle=False)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DumpError(
                f"{self.path}: expected an .npz dump (ZIP of .npy members), but it could not be "
                f"opened ({type(exc).__name__}: {exc}); the file is corrupt or truncated. {hint}"
            ) from exc
        if META_KEY not in self._npz.files:
            raise DumpError(f"{self.path}: expected a {META_KEY!r} member, found none. {hint}")
        meta = decode_meta_bytes(self._read(META_KEY, hint).tobytes())
        if isinstance(meta, str):
            raise DumpError(f"{self.path}: {meta}. {hint}")
        self.meta = meta
        version = self.meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise DumpError(
                f"{self.path}: expected schema_version {SCHEMA_VERSION}, found {version!r}. "
                f"The dump was made by another wgan-parity release; {hint}"
            )

    def _read(self, key: str, hint: str) -> np.ndarray:
        try:
            return self._npz[key]
        except ValueError as exc:  # object arrays need pickle, which is refused
            raise DumpError(
                f"{self.path}: member {key!r} is not a plain numeric array (it needs pickle, "
                f"which is refused). {hint}"
            ) from exc
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise DumpError(
                f"{self.path}: member {key!r} is corrupt or truncated ({exc}). {hint}"
            ) from exc

    def keys(self) -> List[str]:
        """All tensor keys (``case/tensor``), metadata excluded, in file order."""
        return [k for k in self._npz.files if k != META_KEY]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: str) -> bool:
        return key in self._npz.files and key != META_KEY

    def get(self, key: str) -> np.ndarray:
        """Read one tensor; raises :class:`DumpError` if it is unreadable."""
        return self._read(key, "Re-run `wgan-parity dump` for this environment to regenerate it.")

    def close(self) -> None:
        """Release the file handle."""
        self._npz.close()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
