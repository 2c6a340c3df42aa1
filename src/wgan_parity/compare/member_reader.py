"""Read one tensor of a dump in slices, so that no dump is ever held in memory whole.

Dumps are uncompressed ZIPs of ``.npy`` members (docs/dump-format.md), so a member's array is a
contiguous run of bytes in the file. :class:`DumpFile` finds where, from the ZIP directory and the
``.npy`` header, and :class:`RawMember` reads any element range with a positional read
(``os.preadv``, thread-safe, no copy through ``zipfile``). Members that are Fortran-ordered or
have a header this module does not parse are read whole through
:class:`~wgan_parity.dump.dumpfile.DumpReader` instead (:class:`LoadedMember`).

Every member's CRC-32 is checked against the ZIP directory: in the same pass as the comparison's
own reads when they come in order (the usual case: :func:`~.engine.compare_group` reads each
member once, block by block), else by one extra sequential read. :meth:`RawMember.verify` says
which; a mismatch is an ``error`` row of that file, never a divergence. A compressed member is
refused (the format is uncompressed; inflating it would need memory without bound).
``bench/crc_cost.py`` measures what the check costs.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from wgan_parity.dump.dumpfile import DumpError, DumpReader

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_MAGIC = b"PK\x03\x04"
CRC_BLOCK = 1 << 24  # 16 MiB per read while checking a member's CRC-32
VERIFY_CRC = True  # bench/crc_cost.py turns it off to measure what the check costs


def check_dtype(dtype: np.dtype, where: str) -> None:
    """Refuse anything but real numbers (object, structured, complex, strings)."""
    if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biuf":
        raise DumpError(
            f"{where}: expected a real numeric array, found dtype {dtype}. "
            "Re-run `wgan-parity dump` for this environment."
        )


class LoadedMember:
    """A member read whole (fallback path); slices are views of it."""

    error = ""  # in memory already: its reads cannot fail

    def __init__(self, array: np.ndarray) -> None:
        self._flat = np.ascontiguousarray(array).reshape(-1)
        if not self._flat.dtype.isnative:
            self._flat = self._flat.astype(self._flat.dtype.newbyteorder("="))
        self.shape: Tuple[int, ...] = tuple(array.shape)
        self.dtype = self._flat.dtype
        self.size = int(self._flat.size)

    def read(self, start: int, stop: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Elements ``[start, stop)`` of the flattened array (a view; ``out`` is not needed)."""
        return self._flat[start:stop]

    def verify(self) -> None:
        """Nothing to do: a member read whole went through ``zipfile``, which checks the CRC."""


class Checksum:
    """The CRC-32 of one member, accumulated from in-order reads of its bytes ``[start, end)``."""

    def __init__(self, fd: int, start: int, end: int, expected: int, where: str) -> None:
        self.fd, self.start, self.end, self.expected, self.where = fd, start, end, expected, where
        self.crc, self.next, self.in_order = 0, start, True

    def feed(self, position: int, data: memoryview) -> None:
        """Take the bytes read at ``position``; an out-of-order read ends the running sum."""
        if self.in_order and position == self.next:
            self.crc = zlib.crc32(data, self.crc)
            self.next += data.nbytes
        else:
            self.in_order = False

    def _read_into_sum(self, crc: int, position: int) -> int:
        while position < self.end:
            block = os.pread(self.fd, min(CRC_BLOCK, self.end - position), position)
            if not block:
                raise DumpError(
                    f"{self.where}: the member ends early (file truncated). "
                    "Re-run `wgan-parity dump` for this environment."
                )
            crc = zlib.crc32(block, crc)
            position += len(block)
        return crc

    def verify(self) -> None:
        """Finish the sum (the rest of the bytes, or all of them again if reads were out of
        order) and compare it with the ZIP directory's; :class:`DumpError` when they differ."""
        if self.in_order:
            crc = self._read_into_sum(self.crc, self.next)
        else:
            crc = self._read_into_sum(0, self.start)
        if crc != self.expected:
            raise DumpError(
                f"{self.where}: its bytes do not match the ZIP directory's CRC-32 "
                f"({crc:08x} != {self.expected:08x}): the file is corrupt or was changed while "
                "it was read. Re-run `wgan-parity dump` for this environment."
            )


class RawMember:
    """A stored, C-ordered member: element ranges come straight from the file."""

    def __init__(
        self,
        fd: int,
        offset: int,
        shape: Tuple[int, ...],
        dtype: np.dtype,
        where: str,
        checksum: Optional[Checksum] = None,
    ) -> None:
        self._fd, self._offset, self._where = fd, offset, where
        self._checksum = checksum
        self._file_dtype = dtype
        self.dtype = dtype if dtype.isnative else dtype.newbyteorder("=")
        self.shape = shape
        self.size = int(np.prod(shape, dtype=np.int64))
        self.error = ""  # why a read failed (the file ended early): that member's rows are errors

    def read(self, start: int, stop: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Elements ``[start, stop)`` of the flattened array in native order, read into ``out``
        when it is a contiguous array of the member's dtype and right size (else a new one)."""
        count = max(stop - start, 0)
        if (
            out is None
            or out.dtype != self._file_dtype
            or out.size != count
            or not out.flags.c_contiguous
        ):
            out = np.empty(count, dtype=self._file_dtype)
        view = memoryview(out.view(np.uint8))  # type: ignore[arg-type]  # ndarray is a buffer
        position, done = self._offset + start * out.itemsize, 0
        while done < view.nbytes:
            got = os.preadv(self._fd, [view[done:]], position + done)
            if got <= 0:
                self.error = (
                    f"{self._where}: the member ends early (file truncated while it was read?). "
                    "Re-run `wgan-parity dump` for this environment."
                )
                raise DumpError(self.error)
            done += got
        if self._checksum is not None:
            self._checksum.feed(position, view)
        return out if out.dtype.isnative else out.astype(self.dtype)

    def verify(self) -> None:
        """Check the member's CRC-32 once its reads are done (see :class:`Checksum`)."""
        if self._checksum is not None:
            checksum, self._checksum = self._checksum, None
            checksum.verify()


Member = Union[RawMember, LoadedMember]


class DumpFile:
    """One dump opened for slice reads: ``meta`` and ``keys()`` from the reader, data by member."""

    def __init__(
        self, path: Union[str, Path], reader: Optional[DumpReader] = None, verify: bool = True
    ) -> None:
        self.path = Path(path)
        self.verify = verify and VERIFY_CRC
        self.reader = reader or DumpReader(self.path)
        self.meta = self.reader.meta
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        try:
            with zipfile.ZipFile(self._file) as archive:
                self._infos: Dict[str, zipfile.ZipInfo] = {
                    i.filename: i for i in archive.infolist()
                }
        except (zipfile.BadZipFile, OSError) as exc:
            self._file.close()
            raise DumpError(
                f"{self.path.name}: unreadable ZIP directory ({exc}). "
                "Re-run `wgan-parity dump` for this environment."
            ) from exc

    def content_digest(self) -> str:
        """sha256 of every member's name, size and CRC-32 (from the ZIP directory): equal for
        the same tensors, different for the same metadata over other data."""
        entries = sorted((i.filename, i.file_size, i.CRC) for i in self._infos.values())
        return hashlib.sha256(repr(entries).encode()).hexdigest()

    def keys(self):
        """Tensor keys, metadata excluded."""
        return self.reader.keys()

    def __contains__(self, key: str) -> bool:
        return key in self.reader

    def member(self, key: str) -> Member:
        """A slice reader for ``key``; raises :class:`DumpError` for unusable members."""
        where = f"{self.path.name}: member {key!r}"
        info = self._infos.get(key + ".npy")
        if info is None:
            raise DumpError(f"{where} is not in the file")
        if info.compress_type != zipfile.ZIP_STORED:
            raise DumpError(
                f"{where} is compressed (ZIP method {info.compress_type}); the dump format stores "
                "members uncompressed (np.savez, not savez_compressed). Re-run `wgan-parity dump`."
            )
        raw = self._raw(info, where)
        if raw is not None:
            return raw
        array = self.reader.get(key)
        check_dtype(array.dtype, where)
        return LoadedMember(array)

    def _raw(self, info: zipfile.ZipInfo, where: str) -> Optional[RawMember]:
        self._file.seek(info.header_offset)
        magic, name_len, extra_len = _LOCAL_HEADER.unpack(self._file.read(_LOCAL_HEADER.size))
        if magic != _LOCAL_MAGIC:
            raise DumpError(
                f"{where}: bad ZIP local header (corrupt file). Re-run `wgan-parity dump`."
            )
        start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        self._file.seek(start)
        try:
            version = np.lib.format.read_magic(self._file)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._file)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(self._file)
            else:
                return None
        except ValueError as exc:
            raise DumpError(
                f"{where}: unreadable .npy header ({exc}). Re-run `wgan-parity dump`."
            ) from exc
        check_dtype(dtype, where)
        if fortran and len(shape) > 1:
            return None
        offset = self._file.tell()
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset + nbytes > start + info.compress_size:
            raise DumpError(
                f"{where}: the array needs {nbytes} bytes but the member is shorter "
                "(corrupt or truncated). Re-run `wgan-parity dump` for this environment."
            )
        fd = self._file.fileno()
        checksum = None
        if self.verify:
            checksum = Checksum(fd, start, start + info.compress_size, info.CRC, where)
            checksum.feed(start, memoryview(os.pread(fd, offset - start, start)))  # the header
        return RawMember(fd, offset, tuple(shape), dtype, where, checksum)

    def close(self) -> None:
        """Release both file handles."""
        self._file.close()
        self.reader.close()
