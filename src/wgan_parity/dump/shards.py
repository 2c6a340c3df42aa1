"""Split a dump into case shards, for an aggregation that never holds every dump at once.

Shard ``k`` of ``<stem>.npz`` is ``<stem>.shard-<k>of<count>.npz``: a dump of the same schema whose
metadata lists only the shard's cases and adds ``shard`` (index, count, the unsplit metadata's
digest), and whose members are copied byte for byte. ``wgan-parity aggregate`` reads a shard like
any dump; the parts of every shard merge into what one aggregate of the unsplit dumps gives
(:mod:`wgan_parity.compare.partial`). Which case goes where is :mod:`wgan_parity.core.shardplan`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

from wgan_parity.core import shardplan
from wgan_parity.dump.dumpfile import DumpError, DumpReader, DumpWriter
from wgan_parity.dump.meta import catalog_of

HINT = "Re-run `wgan-parity dump` for this environment to regenerate it."


def catalog_names(meta: Mapping[str, Any]) -> List[str]:
    """The case names the dump's recorded catalog holds (today's catalog for older dumps)."""
    recorded = catalog_of(meta)
    if recorded is not None:
        return [c.name for c in recorded]
    from wgan_parity.core.catalog import CATALOG

    return [c.name for c in CATALOG]


def assignment(meta: Mapping[str, Any], count: int) -> Dict[str, int]:
    """Shard index of every case the dump records."""
    planned = shardplan.plan(catalog_names(meta), count)
    return {case: shardplan.shard_of(case, planned, count) for case in meta.get("cases") or {}}


def shard_meta(
    meta: Mapping[str, Any], index: int, count: int, cases: Sequence[str]
) -> Dict[str, Any]:
    """The metadata of shard ``index``: ``cases`` restricted, and where it came from."""
    if shardplan.META_KEY in meta:
        raise DumpError(f"expected an unsplit dump, found shard {meta[shardplan.META_KEY]!r}")
    records = meta.get("cases") or {}
    return {
        **meta,
        "cases": {case: records[case] for case in cases},
        shardplan.META_KEY: {
            "index": index,
            "count": count,
            "source_meta_sha256": shardplan.meta_digest(meta),
        },
    }


def split(path: Path, count: int, out: Path) -> List[Path]:
    """Write the ``count`` shards of the dump ``path`` into ``out``; return their paths.

    Every member is read to its end, so a corrupt member (CRC) fails the split with
    :class:`DumpError` and no shard of it is left behind.
    """
    shardplan.check_count(count)
    with DumpReader(path) as reader:
        meta = reader.meta
        keys = reader.keys()
    where = assignment(meta, count)
    stem = path.name[:-4] if path.name.endswith(".npz") else path.name
    written: List[Path] = []
    with zipfile.ZipFile(path) as source:
        for index in range(1, count + 1):
            cases = [case for case, k in where.items() if k == index]
            target = out / f"{shardplan.file_stem(stem, index, count)}.npz"
            with DumpWriter(target) as writer:
                for key in keys:
                    if key.split("/", 1)[0] in cases:
                        try:
                            with source.open(key + ".npy") as member:
                                writer.add_npy(key, member)
                        except (zipfile.BadZipFile, OSError, EOFError) as exc:
                            raise DumpError(
                                f"{path}: member {key!r} is corrupt ({exc}). {HINT}"
                            ) from exc
                written.append(writer.close(shard_meta(meta, index, count, cases)))
    return written
