"""A dump of a subset of cases: the cases it did not select are ``not-run``, never a problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.compare import verdict


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subset")
    truth = ["dump", "--backend", "reference", "--quiet", "--out", str(folder / "reference.npz")]
    assert main([*truth, "--cases", "conv2d.probe", "depth_to_space.probe"]) == 0
    port = ["dump", "--backend", "reference32", "--quiet", "--out", str(folder / "r32.npz")]
    assert main([*port, "--cases", "conv2d.probe"]) == 0
    return folder


def _aggregate(dumps: Path, out: Path, *extra: str) -> int:
    return main(["aggregate", str(dumps), "--out", str(out), "--quiet", *extra])


def test_a_subset_dump_aggregates_with_exit_zero(dumps: Path, tmp_path: Path) -> None:
    assert _aggregate(dumps, tmp_path) == 0
    pairs = pd.read_csv(tmp_path / "pairs.csv", keep_default_na=False)
    skipped = pairs[pairs["case"] == "depth_to_space.probe"]
    assert len(skipped)
    assert set(skipped["status"]) == {verdict.NOT_RUN}
    assert set(skipped["blame"]) == {"reference32"}
    assert set(pairs[pairs["case"] == "conv2d.probe"]["status"]) == {verdict.OK}
    summary = (tmp_path / "summary.md").read_text()
    assert "## Cases not run" in summary
    assert "- `reference32`: 1 cases: `depth_to_space.probe`" in summary


def test_aggregate_cases_restricts_the_comparison(dumps: Path, tmp_path: Path) -> None:
    assert _aggregate(dumps, tmp_path, "--cases", "conv2d.*") == 0
    pairs = pd.read_csv(tmp_path / "pairs.csv", keep_default_na=False)
    assert set(pairs["case"]) == {"conv2d.probe"}
    assert "Cases not run" not in (tmp_path / "summary.md").read_text()


def test_a_cases_glob_that_matches_nothing_is_a_usage_error(dumps: Path, tmp_path, capsys):
    assert _aggregate(dumps, tmp_path, "--cases", "nope.*") == 2
    assert "--cases ['nope.*'] matched no case" in capsys.readouterr().err


def test_not_run_is_neither_a_problem_nor_a_divergence() -> None:
    ran, skipped = verdict.Side("a"), verdict.Side("b", ran=False, present=False)
    got = verdict.precheck(ran, skipped, None)
    assert got is not None
    assert (got.status, got.blame) == (verdict.NOT_RUN, "b")
    assert not verdict.is_env_problem(verdict.NOT_RUN)
    assert not verdict.is_divergence(verdict.NOT_RUN, "")
    lost = verdict.precheck(ran, verdict.Side("b", present=False), None)
    assert lost is not None
    assert lost.status == verdict.MISSING
    assert verdict.is_env_problem(verdict.MISSING)
