"""Which shard each case goes to when dumps are split for a sharded aggregation.

A sharded aggregation splits every dump into ``count`` files by case (``<stem>.shard-<k>of<count>
.npz``), aggregates each shard of every env on its own and merges the parts. A case's shard must be
the same in every env, so it depends only on the case name, the catalog and ``count``: never on
what one dump holds. Catalog cases are balanced by their measured size (``data/case_weights.json``,
largest first onto the lightest shard); a case outside the catalog goes by a CRC of its name.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "data" / "case_weights.json"
META_KEY = "shard"  # the dump metadata's key for a shard: index, count, source digest
_SUFFIX = re.compile(r"\.shard-([1-9][0-9]*)of([1-9][0-9]*)$")
MAX_SHARDS = 64
DUMP_GB = 0.94  # one float32 env's dump of the catalog, measured (the float64 truth: twice that)
SHARD_BUDGET_GB = 4.0  # dumps one aggregate job holds: a hosted runner guarantees ~14 GB free
CI_MAX_SHARDS = 16  # the workflow's dump job uploads shards 1..16 (one step each)


class ShardPlanError(ValueError):
    """A shard count or shard file name is not usable; the message says what to do."""


def check_count(count: int) -> int:
    """``count`` if it is a usable shard count (1 to :data:`MAX_SHARDS`)."""
    if not 1 <= count <= MAX_SHARDS:
        raise ShardPlanError(f"expected a shard count from 1 to {MAX_SHARDS}, found {count}")
    return count


def count_for(envs: int, budget_gb: float = SHARD_BUDGET_GB) -> int:
    """How many shards keep one shard of ``envs`` dumps (the truth among them) under budget."""
    total = DUMP_GB * (max(envs, 1) + 1)
    return max(1, min(CI_MAX_SHARDS, math.ceil(total / budget_gb)))


def weights(path: Path = WEIGHTS_FILE) -> Dict[str, float]:
    """MB of float32 tensors per catalog case, as measured (``case_weights.json``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in data["mb"].items()}


def plan(
    cases: Sequence[str], count: int, sizes: Optional[Mapping[str, float]] = None
) -> Dict[str, int]:
    """Shard index (1-based) of each of the catalog ``cases``, balanced by ``sizes`` (MB).

    Largest case first onto the lightest shard (ties: the lower index; equal sizes keep the
    catalog order), so the plan is a pure function of the names, the sizes and ``count``. A case
    without a measured size counts as the largest known one.
    """
    check_count(count)
    sizes = weights() if sizes is None else sizes
    default = max(sizes.values(), default=1.0)
    order = sorted(range(len(cases)), key=lambda k: (-sizes.get(cases[k], default), k))
    load = [0.0] * count
    assigned: Dict[str, int] = {}
    for k in order:
        lightest = min(range(count), key=lambda s: (load[s], s))
        load[lightest] += sizes.get(cases[k], default)
        assigned[cases[k]] = lightest + 1
    return assigned


def shard_of(case: str, assigned: Mapping[str, int], count: int) -> int:
    """The shard of ``case``: its planned one, else one fixed by a CRC-32 of its name."""
    if case in assigned:
        return assigned[case]
    return zlib.crc32(case.encode("utf-8")) % count + 1


def file_stem(stem: str, index: int, count: int) -> str:
    """``<stem>.shard-<index>of<count>``: the stem of shard ``index`` of the dump ``<stem>.npz``."""
    return f"{stem}.shard-{index}of{count}"


def parse_stem(stem: str) -> Optional[Tuple[str, int, int]]:
    """``(source stem, index, count)`` of a shard file's stem, or ``None`` for any other name."""
    match = _SUFFIX.search(stem)
    if match is None:
        return None
    return stem[: match.start()], int(match.group(1)), int(match.group(2))


def meta_digest(meta: Mapping[str, Any]) -> str:
    """SHA-256 of a dump's metadata as JSON: identifies the unsplit dump in each of its shards."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()


def unsplit_meta(parts: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """The metadata of the unsplit dump, from the metadata of all its shards (any order)."""
    cases: Dict[str, Any] = {}
    for part in parts:
        cases.update(part.get("cases") or {})
    first = dict(parts[0])
    first.pop(META_KEY, None)
    first["cases"] = dict(sorted(cases.items()))
    return first
