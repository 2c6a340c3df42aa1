"""Sharded aggregation: shard every dump, aggregate each shard with --partial, merge the parts.

The merged folder must hold byte for byte what one ``wgan-parity aggregate`` of the unsplit dumps
writes (the scenario of test_aggregate: failures, cases not run, a lost tensor, a scale bug), and
a merge of an incomplete or inconsistent set of parts must fail with a message, not a result.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path
from typing import List

import pytest

from test_aggregate import SCENARIO_OPTIONS, write_set
from wgan_parity.cli import main
from wgan_parity.core import shardplan
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.dump.shards import split

REPORT_OPTIONS = SCENARIO_OPTIONS[1:]  # --matrix ... --seed-report ...: merge takes them too


def _sharded(folder: Path, work: Path, count: int) -> List[Path]:
    """Split every dump of ``folder`` into ``count`` shards; one part per shard."""
    for dump in sorted(folder.glob("*.npz")):
        split(dump, count, work / "shards")
    parts = []
    for k in range(1, count + 1):
        job = work / f"job-{k}"
        job.mkdir(parents=True)
        for shard in (work / "shards").glob(f"*.shard-{k}of{count}.npz"):
            shutil.copy(shard, job / shard.name)
        part = work / "parts" / f"part-{k}.npz"
        assert main(["aggregate", str(job), "--partial", str(part), "--quiet"]) == 0
        parts.append(part)
    return parts


@pytest.mark.parametrize("count", [1, 2, 3])
def test_merged_shards_are_byte_identical_to_one_aggregate(tmp_path: Path, count: int) -> None:
    folder = write_set(tmp_path / "dumps")
    single = tmp_path / "single"
    expected = main(["aggregate", str(folder), "--out", str(single), *SCENARIO_OPTIONS])
    parts = _sharded(folder, tmp_path / "work", count)
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "--out", str(merged), *REPORT_OPTIONS]) == expected
    names = sorted(p.name for p in single.iterdir())
    assert names == sorted(p.name for p in merged.iterdir())
    _match, mismatch, errors = filecmp.cmpfiles(single, merged, names, shallow=False)
    assert (mismatch, errors) == ([], []), f"{count} shards: {mismatch} differ"


def test_a_shard_is_a_dump_of_its_cases_only(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "dumps")
    shards = split(folder / "reference.npz", 3, tmp_path / "shards")
    with DumpReader(folder / "reference.npz") as whole:
        keys, meta = set(whole.keys()), whole.meta
    seen = set()
    for k, path in enumerate(shards, start=1):
        assert path.name == f"reference.shard-{k}of3.npz"
        with DumpReader(path) as shard:
            cases = set(shard.meta["cases"])
            assert all(key.split("/")[0] in cases for key in shard)
            assert shard.meta["shard"]["source_meta_sha256"] == shardplan.meta_digest(meta)
            seen |= set(shard.keys())
    assert seen == keys


def test_merge_refuses_a_missing_shard_and_mixed_verdict_inputs(tmp_path: Path, capsys) -> None:
    folder = write_set(tmp_path / "dumps")
    parts = _sharded(folder, tmp_path / "work", 2)
    assert main(["merge", str(parts[0]), "--out", str(tmp_path / "m")]) == 2
    assert "none for [2]" in capsys.readouterr().err
    assert main(["merge", str(parts[0]), str(parts[0]), "--out", str(tmp_path / "m")]) == 2
    assert "several for [1]" in capsys.readouterr().err
    other = tmp_path / "work" / "other.npz"
    job = tmp_path / "work" / "job-2"
    assert main(["aggregate", str(job), "--partial", str(other), "--calibration", "none"]) == 0
    assert main(["merge", str(parts[0]), str(other), "--out", str(tmp_path / "m")]) == 2
    assert "other thresholds or calibration" in capsys.readouterr().err
    assert not (tmp_path / "m" / "pairs.csv").exists()


def test_aggregate_refuses_two_shards_of_one_dump_together(tmp_path: Path, capsys) -> None:
    folder = write_set(tmp_path / "dumps")
    split(folder / "a.npz", 2, tmp_path / "mixed")
    shutil.copy(folder / "reference.npz", tmp_path / "mixed" / "reference.npz")
    assert main(["aggregate", str(tmp_path / "mixed"), "--out", str(tmp_path / "o")]) == 2
    assert "expected the same shard of every dump" in capsys.readouterr().err


def test_the_plan_depends_on_names_only_and_balances_sizes() -> None:
    names = [f"case{k}" for k in range(10)]
    sizes = {name: float(k + 1) for k, name in enumerate(names)}
    plan = shardplan.plan(names, 3, sizes)
    assert plan == shardplan.plan(list(reversed(names)), 3, sizes)  # sizes differ: no ties
    loads = [sum(sizes[n] for n in names if plan[n] == k) for k in (1, 2, 3)]
    assert max(loads) - min(loads) <= max(sizes.values())
    assert shardplan.shard_of("not.in.catalog", plan, 3) == shardplan.shard_of(
        "not.in.catalog", {}, 3
    )
    assert shardplan.parse_stem("tf-2.21.0@Linux-X64-7.shard-2of9") == (
        "tf-2.21.0@Linux-X64-7",
        2,
        9,
    )
    assert shardplan.parse_stem("tf-2.21.0") is None


def test_every_catalog_case_has_a_measured_size() -> None:
    from wgan_parity.core.catalog import CATALOG

    missing = [c.name for c in CATALOG if c.name not in shardplan.weights()]
    assert not missing, f"add the size of {missing} to data/case_weights.json (MB of float32)"
