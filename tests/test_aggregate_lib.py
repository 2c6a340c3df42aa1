"""The library behind ``wgan-parity aggregate``: :func:`compare.aggregate.aggregate` called
directly, the typed dump metadata, and the recorded catalog the reports read (``cases.csv``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_aggregate import write_set
from wgan_parity.cli import main
from wgan_parity.compare import calibration, thresholds
from wgan_parity.compare.aggregate import AggregateError, aggregate
from wgan_parity.core.catalog import CATALOG
from wgan_parity.dump import synthetic
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.dump.meta import CaseInfo, CaseRecord, DumpMeta, catalog_info
from wgan_parity.report import cases as report_cases
from wgan_parity.report import resultset

RECORDED = [{"name": "blk.case", "group": "mine", "seed_rows": [["MySeedRow", "out"]]}]
WITH_CATALOG = synthetic.FakeEnv(extra={"catalog": RECORDED})


def _aggregate(folder: Path, **kwargs):
    return aggregate([folder], thresholds.load(None), calibration=calibration.none(), **kwargs)


def test_aggregate_returns_the_rows_envs_and_counts(tmp_path: Path) -> None:
    found = _aggregate(write_set(tmp_path / "dumps"), seed_pair=("env-a", "reference"))
    assert found.status_counts == {
        "degenerate": 3,
        "diverged": 2,
        "error": 2,
        "missing": 2,
        "non-finite": 2,
        "not-run": 1,
        "ok": 7,
        "shape-mismatch": 2,
    }
    assert len(found.rows) == 21
    assert len(found.divergent) == 6
    assert found.env_problem_rows == 4  # error and missing; not-run is not a problem
    assert found.diverged
    assert found.env_problem
    assert found.compared == ("env-a", "env-b", "reference")
    assert found.truth == "reference"
    assert found.seed_pair == ("env-a", "reference")
    assert not found.problems
    statuses = found.rows.columns()["status"]
    assert {statuses[k] for k in found.divergent} == {"diverged", "shape-mismatch", "non-finite"}
    # dumps without a recorded catalog: today's, then the cases it does not know, by name
    assert found.cases[: len(CATALOG)] == catalog_info(CATALOG)
    assert [c.name for c in found.cases[len(CATALOG) :]] == ["blk.case", "blk.fail", "blk.only"]
    assert all(env.dump is None for env in found.envs)  # closed


def test_aggregate_refuses_what_it_cannot_compare(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "dumps")
    with pytest.raises(AggregateError, match="no compared environment is labelled 'env-z'"):
        _aggregate(folder, seed_pair=("env-a", "env-z"))
    with pytest.raises(AggregateError, match="expected at least two dumps"):
        _aggregate(folder / "a.npz")


def test_the_recorded_catalog_reaches_cases_csv_and_the_reports(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "dumps", WITH_CATALOG)
    found = _aggregate(folder)
    mine = CaseInfo("blk.case", "mine", (("MySeedRow", "out"),))
    assert found.cases == (mine, CaseInfo("blk.fail"), CaseInfo("blk.only"))
    out = tmp_path / "out"
    args = ["aggregate", str(folder), "--out", str(out), "--quiet", "--calibration", "none"]
    assert main([*args, "--seed-report", "env-a", "reference"]) == 5
    assert (out / "cases.csv").read_text().splitlines() == [
        "case,group,seed_row,tensor",
        "blk.case,mine,MySeedRow,out",
        "blk.fail,other,,",
        "blk.only,other,,",
    ]
    assert (
        "-----------MySeedRow------------"
        in (out / "seed_report_env-a_vs_reference.txt").read_text()
    )
    assert (out / "heatmap_pairs_mine.png").is_file()
    loaded = resultset.load(out).cases
    assert loaded.recorded
    assert loaded.group("blk.case") == "mine"
    assert loaded.seed_names() == {("blk.case", "out"): "MySeedRow"}


def test_report_on_results_older_than_cases_csv_falls_back(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "dumps", WITH_CATALOG)
    out = tmp_path / "out"
    main(["aggregate", str(folder), "--out", str(out), "--quiet", "--calibration", "none"])
    (out / "cases.csv").unlink()  # as results written before cases.csv existed
    for png in out.glob("heatmap_*.png"):
        png.unlink()
    assert main(["report", str(out)]) == 0
    loaded = resultset.load(out).cases
    assert not loaded.recorded
    assert loaded.seed_names() == {}
    assert loaded.order == ("blk.case", "blk.fail", "blk.only")  # as pairs.csv names them
    assert sorted(p.name for p in out.glob("heatmap_*.png")) == [
        "heatmap_pairs_other.png",
        "heatmap_vs_reference.png",
    ]


def test_cases_csv_with_other_columns_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "cases.csv").write_text("name,kind\nx,y\n")
    with pytest.raises(ValueError, match="re-run `wgan-parity aggregate`"):
        report_cases.read(tmp_path, resultset.pd.DataFrame({"case": ["x"]}))


def test_dump_meta_reads_old_dumps_and_writes_the_same_json(tmp_path: Path) -> None:
    old_env = synthetic.FakeEnv(case_errors={"c.y": "boom"}, extra={"custom": 1})
    old = synthetic.metadata("env-a", ["c.x/out"], old_env)
    meta = DumpMeta.from_json(old)
    assert meta.catalog is None
    assert meta.lineage is None
    assert meta.cases["c.y"] == CaseRecord(status="error", error="boom")
    assert meta.extra == {"custom": 1}
    assert meta.to_json() == old  # same keys, same values: old dumps stay as they were
    path = synthetic.write(tmp_path / "d.npz", "env-a", {}, WITH_CATALOG)
    with DumpReader(path) as reader:
        assert DumpMeta.from_json(reader.meta).catalog == (
            CaseInfo("blk.case", "mine", (("MySeedRow", "out"),)),
        )
