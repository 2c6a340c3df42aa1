"""One shard's aggregate kept as a file (a *part*), and the merge of every shard's parts.

``wgan-parity aggregate --partial PART`` over shard ``k`` of every dump keeps what the aggregation
found (rows, envs, cases, messages) in ``PART`` instead of writing reports. :func:`merge` joins
the parts of shards ``1..count`` into the :class:`~wgan_parity.compare.aggregate.Aggregate` that
one aggregation of the unsplit dumps returns: the same envs (their metadata unsplit), the same
rows in the same order. Each row depends only on its own (case, tensor), so nothing is judged
again. A part is an ``.npz`` of float64 columns plus one JSON member for the rest (no pickle).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from wgan_parity import atomic
from wgan_parity.compare import input_files
from wgan_parity.compare.aggregate import Aggregate, case_infos, resolve_pair, result
from wgan_parity.compare.input_files import Env
from wgan_parity.compare.rows import COLUMNS, case_order
from wgan_parity.compare.rowstore import RowStore
from wgan_parity.core import shardplan
from wgan_parity.dump.meta import CaseInfo

FORMAT = "wgan-parity-part"
VERSION = 1
_INFO = "__part__"


class PartError(ValueError):
    """Parts cannot be read or merged; the message says what was expected and what to do."""


@dataclass(frozen=True)
class Part:
    """One shard's aggregation, as read back from its file."""

    file: str
    shard: Tuple[int, int]
    judged_by: Mapping[str, str]
    envs: Tuple[Env, ...]
    compared: Tuple[str, ...]
    truth: str
    cases: Tuple[CaseInfo, ...]
    messages: Tuple[str, ...]
    columns: Mapping[str, np.ndarray]


def shard_of(found: Aggregate) -> Tuple[int, int]:
    """``(index, count)`` of the shard ``found`` compared; ``(1, 1)`` for unsplit dumps."""
    for env in found.envs:
        key = input_files.shard_key(env) if env.status == "ok" else None
        if key is not None:
            return key
    return 1, 1


def _env_json(env: Env) -> Dict[str, Any]:
    return {
        "label": env.label,
        "env_id": env.env_id,
        "file": env.file,
        "status": env.status,
        "meta": env.meta,
        "stage": env.stage,
        "error": env.error,
    }


def _env(data: Mapping[str, Any]) -> Env:
    return Env(
        str(data["label"]),
        str(data["env_id"]),
        str(data["file"]),
        str(data["status"]),
        meta=dict(data["meta"]),
        stage=str(data["stage"]),
        error=str(data["error"]),
    )


def _plain(value: Any) -> Any:
    """A row value as JSON keeps it exactly (NumPy scalars to Python)."""
    return value.item() if isinstance(value, np.generic) else value


def save(found: Aggregate, path: Path, judged_by: Mapping[str, str]) -> Path:
    """Write ``found`` as the part ``path`` (atomically); ``judged_by`` names the verdict inputs."""
    columns = found.rows.columns()
    arrays: Dict[str, np.ndarray] = {}
    text: Dict[str, List[Any]] = {}
    for name in COLUMNS:
        column = columns[name]
        if column.dtype == np.float64:
            arrays[f"col.{name}"] = column
        else:
            text[name] = [_plain(v) for v in column.tolist()]
    info = {
        "format": FORMAT,
        "version": VERSION,
        "shard": list(shard_of(found)),
        "judged_by": dict(judged_by),
        "envs": [_env_json(e) for e in found.envs],
        "compared": list(found.compared),
        "truth": found.truth,
        "cases": [c.to_json() for c in found.cases],
        "messages": list(found.messages),
        "text_columns": text,
    }
    raw = json.dumps(info, sort_keys=True).encode("utf-8")
    arrays[_INFO] = np.frombuffer(raw, dtype=np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]

    return atomic.write_with(path, write)


def load(path: Path) -> Part:
    """Read a part; :class:`PartError` when it is not one (or of another version)."""
    what = f"{path}: expected a part written by `wgan-parity aggregate --partial`"
    try:
        with np.load(path, allow_pickle=False) as npz:
            info = json.loads(npz[_INFO].tobytes().decode("utf-8"))
            floats = {k[4:]: npz[k] for k in npz.files if k.startswith("col.")}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise PartError(f"{what}, but it could not be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise PartError(f"{what}, found another file")
    if info.get("version") != VERSION:
        raise PartError(
            f"{what} at version {VERSION}, found version {info.get('version')!r}: re-run the "
            "shard's aggregate with this wgan-parity"
        )
    text = info["text_columns"]
    columns: Dict[str, np.ndarray] = dict(floats)
    for name in COLUMNS:
        if name not in columns:
            values = np.empty(len(text[name]), dtype=object)
            values[:] = text[name]
            columns[name] = values
    index, count = (int(v) for v in info["shard"])
    return Part(
        file=str(path),
        shard=(index, count),
        judged_by=info["judged_by"],
        envs=tuple(_env(e) for e in info["envs"]),
        compared=tuple(info["compared"]),
        truth=str(info["truth"]),
        cases=tuple(CaseInfo.from_json(c) for c in info["cases"]),
        messages=tuple(info["messages"]),
        columns=columns,
    )


def _check_complete(parts: Sequence[Part]) -> int:
    counts = sorted({p.shard[1] for p in parts})
    if len(counts) != 1:
        raise PartError(
            f"expected parts of one split, found shard counts {counts} in "
            f"{[p.file for p in parts]}: merge the parts of one run only"
        )
    count = counts[0]
    have = sorted(p.shard[0] for p in parts)
    missing = sorted(set(range(1, count + 1)) - set(have))
    repeated = sorted({k for k in have if have.count(k) > 1})
    if missing or repeated:
        raise PartError(
            f"expected one part for each of shards 1..{count}, found "
            + (f"none for {missing}" if missing else "")
            + ("; " if missing and repeated else "")
            + (f"several for {repeated}" if repeated else "")
            + ": aggregate the missing shard(s) with --partial, or pass each part once"
        )
    return count


def _same(parts: Sequence[Part], what: str, value: Any) -> None:
    first = value(parts[0])
    for part in parts[1:]:
        if value(part) != first:
            raise PartError(
                f"expected every part to have the same {what}; {parts[0].file} has {first!r} "
                f"but {part.file} has {value(part)!r}: the shards were aggregated from different "
                "dumps or settings. Re-run every shard's aggregate from the same dumps"
            )


def _unsplit_envs(parts: Sequence[Part]) -> List[Env]:
    envs = []
    for k, env in enumerate(parts[0].envs):
        metas = [p.envs[k].meta for p in parts]
        if shardplan.META_KEY not in env.meta:
            envs.append(env)
            continue
        meta = shardplan.unsplit_meta(metas)
        recorded = env.meta[shardplan.META_KEY].get("source_meta_sha256")
        if shardplan.meta_digest(meta) != recorded:
            raise PartError(
                f"{env.label}: its shards do not add up to the dump they were split from (digest "
                f"{shardplan.meta_digest(meta)[:12]}, recorded {str(recorded)[:12]}): split the "
                "dump again and re-run every shard's aggregate"
            )
        envs.append(Env(env.label, env.env_id, env.file, env.status, meta, env.stage, env.error))
    return envs


def _joined(parts: Sequence[Part], order: Sequence[str]) -> RowStore:
    """Every part's rows, case by case in ``order`` (each case's rows come from one part)."""
    blocks: Dict[str, Tuple[int, int, int]] = {}
    for p, part in enumerate(parts):
        cases = part.columns["case"].tolist()
        start = 0
        while start < len(cases):
            end = start
            while end < len(cases) and cases[end] == cases[start]:
                end += 1
            if cases[start] in blocks:
                other = parts[blocks[cases[start]][0]].file
                raise PartError(
                    f"case {cases[start]!r} has rows in two parts ({other} and {part.file}): the "
                    "dumps were split with different plans. Split every "
                    "dump with the same wgan-parity and shard count"
                )
            blocks[cases[start]] = (p, start, end)
            start = end
    store = RowStore()
    columns: Dict[str, List[np.ndarray]] = {name: [] for name in COLUMNS}
    for case in [c for c in order if c in blocks]:
        p, start, end = blocks[case]
        for name in COLUMNS:
            columns[name].append(parts[p].columns[name][start:end])
    store.add_columns(columns)
    return store


def merge(parts: Sequence[Part], seed_pair: Optional[Sequence[str]] = None) -> Aggregate:
    """The :class:`Aggregate` of the unsplit dumps, from the parts of every shard."""
    if not parts:
        raise PartError("expected at least one part to merge, found none")
    _check_complete(parts)
    parts = sorted(parts, key=lambda p: p.shard[0])
    _same(parts, "envs", lambda p: [(e.label, e.env_id, e.status) for e in p.envs])
    _same(parts, "compared envs", lambda p: p.compared)
    _same(parts, "verdict inputs (thresholds and calibration)", lambda p: dict(p.judged_by))
    envs = _unsplit_envs(parts)
    by_label = {e.label: e for e in envs}
    compared = [by_label[label] for label in parts[0].compared]
    reference = by_label.get(parts[0].truth) if parts[0].truth else None
    order = [case for case, _ in case_order(compared)]
    store = _joined(parts, order)
    messages = list(dict.fromkeys(m for p in parts for m in p.messages))
    pair = resolve_pair(seed_pair, compared, reference) if seed_pair else None
    cases = case_infos(compared)
    return result(store, envs, compared, reference, cases, messages, pair)
