"""Gather the inputs of ``aggregate``: dumps, failure records, labels, and who is comparable.

Inputs are ``.npz`` dumps and ``<env_id>.status.json`` records of environments that failed to
install, import or dump (a directory stands for every such file in it). Each becomes an
:class:`Env` with a unique label: its ``env_id``, plus ``@<platform id>`` when two dumps share an
``env_id`` on different machines, plus ``~2``, ``~3``... for reruns on the same machine. Nothing
depends on the folder a file came from, and the order is sorted, so the same dumps in another
folder give the same output.

Only dumps of one catalog are compared: the largest group of equal ``catalog_hash`` (ties: the one
holding a reference, then the smaller hash). Every other dump is *refused* with a message naming
the files and what to rerun; corrupt files and unknown schema versions are refused too, and the
remaining dumps are still compared.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from wgan_parity import frameworks
from wgan_parity.compare.member_reader import DumpFile
from wgan_parity.core import names, shardplan
from wgan_parity.dump.dumpfile import DumpError

STATUS_SUFFIX = ".status.json"
RERUN = "Re-run `wgan-parity dump` for this environment"


@dataclass
class Env:
    """One environment as the aggregator sees it; ``status`` is ok, failed, refused or corrupt."""

    label: str
    env_id: str
    file: str
    status: str
    meta: Dict[str, Any] = field(default_factory=dict)
    stage: str = ""
    error: str = ""
    dump: Optional[DumpFile] = None

    @property
    def framework(self) -> str:
        """``reference``, ``tensorflow``, ``torch`` or what a user backend says."""
        return str(self.meta.get("framework", ""))

    @property
    def is_reference(self) -> bool:
        """A float64 truth dump."""
        return self.framework == frameworks.truth().name and self.meta.get("dtype") == "float64"


@dataclass
class DumpSet:
    """Every input: ``envs`` (all, sorted by label) and ``compared`` (reference, if any, last)."""

    envs: List[Env]
    compared: List[Env]
    reference: Optional[Env]
    messages: List[str]

    def close(self) -> None:
        """Close every open dump."""
        for env in self.envs:
            if env.dump is not None:
                env.dump.close()
                env.dump = None


def expand(inputs: Iterable[Union[str, Path]]) -> List[Path]:
    """Files named, and every ``*.npz`` / ``*.status.json`` of the directories named."""
    files: List[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.name.endswith((".npz", STATUS_SUFFIX)))
        else:
            files.append(item)
    return files


def _platform_id(meta: Dict[str, Any]) -> str:
    platform = meta.get("platform") or {}
    if platform.get("id"):
        return str(platform["id"])
    key = "|".join(str(platform.get(k)) for k in ("system", "machine", "cpu", "gpu"))
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _source_digest(meta: Dict[str, Any]) -> str:
    """The digest of the unsplit dump's metadata: the same in every shard of it."""
    shard = meta.get(shardplan.META_KEY)
    if isinstance(shard, dict) and shard.get("source_meta_sha256"):
        return str(shard["source_meta_sha256"])
    return shardplan.meta_digest(meta)


def shard_key(env: Env) -> Optional[Tuple[int, int]]:
    """``(index, count)`` when ``env`` is a shard of a split dump, else ``None``."""
    shard = env.meta.get(shardplan.META_KEY)
    if not isinstance(shard, dict):
        return None
    return int(shard.get("index") or 0), int(shard.get("count") or 0)


def shard_problem(envs: Sequence[Env]) -> str:
    """Why these dumps cannot be aggregated together as shards ('' when they can)."""
    keys = {shard_key(e) for e in envs if e.status == "ok"}
    if len(keys) <= 1:
        return ""
    shown = []
    for env in envs:
        key = shard_key(env) if env.status == "ok" else None
        if env.status == "ok":
            shown.append(f"{env.file} ({f'shard {key[0]} of {key[1]}' if key else 'unsplit'})")
    shown.sort()
    return (
        "expected the same shard of every dump (or only unsplit dumps), found "
        + ", ".join(shown)
        + ": aggregate each shard on its own with --partial, then `wgan-parity merge` the parts"
    )


def _read_status(path: Path) -> Env:
    name = names.shown(path.name)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        env_id = str(record["env_id"])
        hostile = names.problem("env_id", record["env_id"], names.DUMP_ID)
        if hostile:
            raise ValueError(hostile)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        env_id = names.shown(path.name[: -len(STATUS_SUFFIX)])
        return Env(
            env_id, env_id, name, "corrupt", error=f"{name}: unreadable status record ({exc})"
        )
    meta = {k: v for k, v in record.items() if k not in {"env_id", "status", "stage", "reason"}}
    if names.meta_problem(meta):
        meta = {}  # what it says about its machine is not usable; its failure still counts
    status = str(record.get("status") or "failed")
    reason = str(record.get("reason") or "no reason given")
    return Env(
        env_id,
        env_id,
        name,
        status,
        meta=meta,
        stage=str(record.get("stage") or ""),
        error=reason if status == "failed" else f"{name} says {status!r} but no dump was found",
    )


def _open_dump(path: Path) -> Env:
    stem = path.name[:-4] if path.name.endswith(".npz") else path.name
    name, safe_stem = names.shown(path.name), names.shown(stem)
    try:
        dump = DumpFile(path)
    except DumpError as exc:
        message = str(exc).replace(str(path), name)
        status = "refused" if "schema_version" in message else "corrupt"
        return Env(safe_stem, safe_stem, name, status, error=message)
    hostile = names.meta_problem(dump.meta)
    if hostile:  # an untrusted name never reaches a label, a CSV or the summary
        dump.close()
        return Env(safe_stem, safe_stem, name, "refused", error=f"{name}: {hostile}. {RERUN}")
    env_id = str(dump.meta.get("env_id") or safe_stem)
    shard = shardplan.parse_stem(stem) if shardplan.META_KEY in dump.meta else None
    file = names.shown(f"{shard[0]}.npz") if shard else name  # a shard stands for its dump
    return Env(env_id, env_id, file, "ok", meta=dump.meta, dump=dump)


def _assign_labels(envs: List[Env]) -> None:
    by_id: Dict[str, List[Env]] = defaultdict(list)
    for env in envs:
        by_id[env.env_id].append(env)
    for same in by_id.values():  # dumps, and failure records that name their machine
        placed = [e for e in same if e.dump is not None or e.meta.get("platform")]
        if len({_platform_id(e.meta) for e in placed}) > 1:
            for env in placed:
                env.label = f"{env.env_id}@{_platform_id(env.meta)}"
    by_label: Dict[str, List[Env]] = defaultdict(list)
    for env in envs:
        by_label[env.label].append(env)
    for label, same in by_label.items():
        same.sort(
            key=lambda e: (
                e.dump is None,
                str(e.meta.get("created_utc", "")),
                _source_digest(e.meta),
                e.file,
            )
        )
        for k, env in enumerate(same[1:], start=2):
            env.label = f"{label}~{k}"


def _reconcile(envs: List[Env]) -> List[Env]:
    """A status record that does not say ``failed`` adds nothing to its env's dump: drop it."""
    dumped = {e.env_id for e in envs if e.dump is not None}
    kept = []
    for env in envs:
        if env.file.endswith(STATUS_SUFFIX) and env.status != "failed":
            if env.env_id in dumped:
                continue
            env.status = "failed"
        kept.append(env)
    return kept


def _drop_duplicates(envs: List[Env], messages: List[str]) -> List[Env]:
    """Drop a second copy of the same dump (same metadata *and* same tensors); two files with the
    same metadata over different tensors are both kept (labelled ``~2``) and reported."""
    seen: Dict[str, Env] = {}
    same_meta: Dict[str, Env] = {}
    kept = []
    for env in envs:
        if env.dump is None:
            kept.append(env)
            continue
        meta = shardplan.meta_digest(env.meta)
        identity = f"{meta}:{env.dump.content_digest()}"
        if identity in seen:
            messages.append(
                f"note: {env.file} is the same dump as {seen[identity].file}; compared once"
            )
            env.dump.close()
            continue
        if meta in same_meta:
            messages.append(
                f"warning: {env.file} and {same_meta[meta].file} have the same metadata but "
                "different tensors; both are compared (the second is labelled ~2). One was "
                "probably changed after it was written: re-run `wgan-parity dump` for it"
            )
        seen[identity] = env
        same_meta.setdefault(meta, env)
        kept.append(env)
    return kept


def _refuse_mixed(envs: Sequence[Env], messages: List[str]) -> None:
    groups: Dict[str, List[Env]] = defaultdict(list)
    for env in envs:
        if env.status == "ok":
            groups[str(env.meta.get("catalog_hash"))].append(env)
    if len(groups) <= 1:
        return
    ranked = sorted(
        groups.items(), key=lambda kv: (-len(kv[1]), not any(e.is_reference for e in kv[1]), kv[0])
    )
    keep_hash, keep = ranked[0]
    keep_files = ", ".join(e.file for e in keep)
    for other_hash, others in ranked[1:]:
        files = ", ".join(e.file for e in others)
        message = (
            f"refused {files}: made from catalog hash {other_hash[:12]}, while {keep_files} "
            f"{'use' if len(keep) > 1 else 'uses'} {keep_hash[:12]}. Dumps of different catalogs "
            f"or fixtures cannot be compared: re-run `wgan-parity dump` for these environments "
            f"with the same wgan-parity checkout as the others (or re-run the others)."
        )
        messages.append(message)
        for env in others:
            env.status, env.error = "refused", message


def load(inputs: Iterable[Union[str, Path]]) -> DumpSet:
    """Open every input; never raises for a bad dump (it is refused and reported instead)."""
    messages: List[str] = []
    envs: List[Env] = []
    for path in expand(inputs):
        if path.name.endswith(STATUS_SUFFIX):
            envs.append(_read_status(path))
        elif not path.is_file():
            name = names.shown(path.name)
            envs.append(Env(name, name, name, "corrupt", error=f"{name}: no such file"))
        else:
            envs.append(_open_dump(path))
    envs = _drop_duplicates(sorted(_reconcile(envs), key=lambda e: (e.env_id, e.file)), messages)
    _assign_labels(envs)
    envs.sort(key=lambda e: e.label)
    for env in envs:
        if env.status in {"corrupt", "refused"} and env.error:
            messages.append(f"refused {env.file}: {env.error}")
        elif env.status != "ok":
            messages.append(
                f"{env.label}: {env.status} at {env.stage or 'unknown stage'}: {env.error}"
            )
    _refuse_mixed(envs, messages)
    for env in envs:
        if env.status != "ok" and env.dump is not None:
            env.dump.close()
            env.dump = None
    ok = [e for e in envs if e.status == "ok"]
    reference = next((e for e in ok if e.is_reference), None)
    compared = [e for e in ok if e is not reference] + ([reference] if reference else [])
    return DumpSet(envs, compared, reference, messages)
