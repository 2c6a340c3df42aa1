"""Regressions against a baseline and bisection across releases, on hand-made tables."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import List, Tuple

import pandas as pd
import pytest

from wgan_parity.compare import thresholds
from wgan_parity.compare.traits import EnvTraits
from wgan_parity.report import baseline, csvfiles, regress, resultset

TH = thresholds.load()


def _row(
    case: str,
    env_a: str,
    env_b: str,
    status: str = "ok",
    err_a: float = 1e-7,
    err_b: float = 0.0,
    rel_l2: float = 1e-7,
    limit: float = 1e-6,
    known: str = "",
) -> dict:
    return {
        "case": case,
        "tensor": "out",
        "env_a": env_a,
        "env_b": env_b,
        "status": status,
        "known": known,
        "err_a": err_a,
        "err_b": err_b,
        "limit_a": limit,
        "limit_b": math.nan if env_b == "reference" else limit,
        "rel_l2": rel_l2,
        "dtype_b": "float64" if env_b == "reference" else "float32",
    }


def _frame(rows: list) -> pd.DataFrame:
    return resultset.normalize(pd.DataFrame(rows))


def test_worsened_status_is_a_regression() -> None:
    base = _frame([_row("c", "tf-2.20.0", "reference")])
    now = _frame([_row("c", "tf-2.20.0", "reference", status="diverged", err_a=1e-3)])
    found = regress.regressions(now, base, TH)
    assert list(found["case"]) == ["c"]
    assert "status ok -> diverged" in found["reason"].iloc[0]


def test_known_divergence_is_not_a_worsening() -> None:
    base = _frame([_row("c", "tf-2.20.0", "reference")])
    now = _frame([_row("c", "tf-2.20.0", "reference", status="diverged", err_a=5e-7, known="why")])
    assert regress.regressions(now, base, TH).empty


def test_error_growth_beyond_growth_factor_and_limit_is_a_regression() -> None:
    base = _frame([_row("c", "tf-2.20.0", "reference", err_a=1e-7, limit=1e-6)])
    grew_inside_noise = _frame([_row("c", "tf-2.20.0", "reference", err_a=9e-7, limit=1e-6)])
    assert regress.regressions(grew_inside_noise, base, TH).empty  # 9x, but under the limit
    base_big = _frame([_row("c", "tf-2.20.0", "reference", err_a=1e-5, limit=1e-6)])
    grew = _frame([_row("c", "tf-2.20.0", "reference", err_a=5e-5, limit=1e-6)])
    found = regress.regressions(grew, base_big, TH)
    assert len(found) == 1
    assert "err_a" in found["reason"].iloc[0]
    small_growth = _frame([_row("c", "tf-2.20.0", "reference", err_a=3e-5, limit=1e-6)])
    assert regress.regressions(small_growth, base_big, TH).empty  # 3x < regression_growth 4x


def test_rows_new_since_the_baseline_are_not_regressions() -> None:
    base = _frame([_row("c", "tf-2.20.0", "reference")])
    now = _frame(
        [_row("c", "tf-2.20.0", "reference"), _row("d", "tf-2.21.0", "reference", "diverged")]
    )
    assert regress.regressions(now, base, TH).empty


def test_missing_baseline_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(baseline.BaselineError, match=r"pairs\.csv\.gz.*wgan-parity baseline"):
        baseline.load(tmp_path)


def _results_folder(folder: Path) -> Path:
    rows = [_row("c", e, "reference") for e in ("tf-2.20.0", "torch-2.13.0")]
    rows.append(_row("c", "tf-2.20.0", "torch-2.13.0", err_b=2e-7))
    rows[-1]["dtype_b"] = "float32"
    folder.mkdir()
    csvfiles.write_csv(pd.DataFrame(rows), folder / "pairs.csv")
    envs = pd.DataFrame(
        {
            "env": ["reference", "tf-2.20.0", "torch-2.13.0"],
            "role": ["truth", "env", "env"],
            "status": ["ok"] * 3,
        }
    )
    csvfiles.write_csv(envs, folder / "envs.csv")
    return folder


def test_baseline_keeps_rows_against_the_truth_reproducibly(tmp_path: Path) -> None:
    source = _results_folder(tmp_path / "results")
    written = baseline.write(source, tmp_path / "base")
    names = sorted(p.name for p in written)
    assert names == ["baseline.json", "envs.csv", "pairs.csv.gz"]
    kept = baseline.load(tmp_path / "base")
    assert sorted(zip(kept["env_a"], kept["env_b"])) == [
        ("tf-2.20.0", "reference"),
        ("torch-2.13.0", "reference"),
    ]
    original = pd.read_csv(source / "pairs.csv", dtype=str, keep_default_na=False)
    again = pd.read_csv(tmp_path / "base" / "pairs.csv.gz", dtype=str, keep_default_na=False)
    assert list(again["isa"]) == ["", ""]  # envs.csv records no ISA: unrecorded
    expected = original.iloc[:2].reset_index(drop=True)
    assert again.drop(columns="isa").equals(expected)  # digits kept as written
    first = (tmp_path / "base" / "pairs.csv.gz").read_bytes()
    baseline.write(source, tmp_path / "base")
    assert (tmp_path / "base" / "pairs.csv.gz").read_bytes() == first  # gzip mtime fixed
    meta = baseline.read_meta(tmp_path / "base")
    assert (meta["rows"], meta["rows_in_source"], meta["truth"]) == (2, 3, "reference")


def test_cross_pairs_are_counted_as_not_in_the_baseline(tmp_path: Path) -> None:
    source = _results_folder(tmp_path / "results")
    baseline.write(source, tmp_path / "base")
    now = resultset.load(source).pairs
    found = regress.coverage(now, baseline.load(tmp_path / "base"), "reference")
    assert found == {"checked": 2, "other_isa": 0, "new": 1, "other_isa_envs": []}


def test_baseline_needs_a_reference(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    row = _row("c", "tf-2.20.0", "torch-2.13.0")
    row["dtype_b"] = "float32"
    csvfiles.write_csv(pd.DataFrame([row]), folder / "pairs.csv")
    with pytest.raises(baseline.BaselineError, match="reference"):
        baseline.write(folder, tmp_path / "base")


def _tf_chain(versions: List[str], steps: Tuple[float, float], **columns: List[str]) -> Tuple:
    """envs and rows of three TF releases: each against the truth, then each pair of releases
    (``steps``: the two consecutive steps' rel_l2; the first-to-last pair gets the larger)."""
    labels = [f"tf-{v}" for v in versions]
    envs = pd.DataFrame(
        {
            "env": ["reference", *labels],
            "role": ["truth", "env", "env", "env"],
            "status": ["ok"] * 4,
            "framework": ["reference", "tensorflow", "tensorflow", "tensorflow"],
            "framework_version": ["", *versions],
            **columns,
        }
    )
    rows = [_row("c", e, "reference") for e in labels]
    rows += [
        _row("c", labels[0], labels[1], rel_l2=steps[0]),
        _row("c", labels[1], labels[2], rel_l2=steps[1]),
        _row("c", labels[0], labels[2], rel_l2=max(steps)),
    ]
    for row in rows[3:]:
        row["limit_b"] = row["limit_a"]
        row["dtype_b"] = "float32"
    return envs, rows


def test_bisect_names_the_first_release_that_changed() -> None:
    # 2.19.1 -> 2.20.0 within noise; changed in 2.21.0
    envs, rows = _tf_chain(["2.19.1", "2.20.0", "2.21.0"], (1e-7, 1e-4))
    rows.append(_row("c", "tf-2.19.1", "tf-2.20.0", rel_l2=0.0))  # a second, identical tensor
    rows[-1].update(tensor="grad/x", limit_b=1e-6, dtype_b="float32")
    res = resultset.from_frames(pd.DataFrame(rows), envs, ".")
    found = regress.bisect(res)
    assert found[["case", "framework", "first_changed_in", "previous"]].values.tolist() == [
        ["c", "tensorflow", "tf-2.21.0", "tf-2.20.0"]
    ]
    steps = regress.steps(res)
    assert steps[["release", "previous", "identical", "changed"]].values.tolist() == [
        ["tf-2.20.0", "tf-2.19.1", 1, 1],
        ["tf-2.21.0", "tf-2.20.0", 0, 1],
    ]
    assert steps["max_step_over_limit"].tolist() == pytest.approx([0.1, 100.0])
    assert steps["where"].tolist() == ["c/out", "c/out"]
    assert steps["runtime_change"].tolist() == ["", ""]  # no python/numpy columns: no boundary


def test_steps_and_bisect_mark_a_python_numpy_boundary() -> None:
    envs, rows = _tf_chain(  # changed across the boundary 2.11.0 -> 2.12.1
        ["2.11.0", "2.12.1", "2.13.1"],
        (1e-4, 1e-7),
        python=["3.11.7", "3.7.16", "3.11.7", "3.11.7"],
        numpy=["2.4.6", "1.21.6", "1.24.3", "1.24.3"],
    )
    res = resultset.from_frames(pd.DataFrame(rows), envs, ".")
    boundary = "py3.7.16 numpy 1.21.6 -> py3.11.7 numpy 1.24.3"
    assert regress.steps(res)["runtime_change"].tolist() == [boundary, ""]
    assert regress.bisect(res)["runtime_change"].tolist() == [boundary]


def test_steps_and_bisect_mark_a_kernel_isa_boundary() -> None:
    # two CI runners of different CPUs: 2.11.0 dumped on AVX-512, the next releases on AVX2
    envs, rows = _tf_chain(
        ["2.11.0", "2.12.1", "2.13.1"], (1e-4, 1e-7), isa=["avx2", "avx512", "avx2", "avx2"]
    )
    res = resultset.from_frames(pd.DataFrame(rows), envs, ".")
    assert regress.steps(res)["isa_change"].tolist() == ["isa avx512 -> isa avx2", ""]
    assert regress.bisect(res)["isa_change"].tolist() == ["isa avx512 -> isa avx2"]
    assert regress.steps(res)["runtime_change"].tolist() == ["", ""]  # not a Python change


def test_a_variant_of_a_release_is_its_own_series_not_the_next_release() -> None:
    assert regress.series_of("tf-2.21.0") == regress.series_of("tf-2.12.1") == "tf-{v}"
    assert regress.series_of("tf-2.21.0-onednn0") == "tf-{v}-onednn0"
    assert regress.series_of("tf-2.21.0@5ff81f5a") == "tf-{v}@5ff81f5a"
    labels = ["tf-2.20.0", "tf-2.21.0", "tf-2.21.0-onednn0"]
    envs = pd.DataFrame(
        {
            "env": ["reference", *labels],
            "role": ["truth", "env", "env", "env"],
            "status": ["ok"] * 4,
            "framework": ["reference", "tensorflow", "tensorflow", "tensorflow"],
            "framework_version": ["", "2.20.0", "2.21.0", "2.21.0"],
        }
    )
    rows = [_row("c", e, "reference") for e in labels]
    rows += [
        _row("c", "tf-2.20.0", "tf-2.21.0", rel_l2=1e-7),
        _row("c", "tf-2.21.0", "tf-2.21.0-onednn0", rel_l2=1e-3),  # the switch moves it
        _row("c", "tf-2.20.0", "tf-2.21.0-onednn0", rel_l2=1e-3),
    ]
    for row in rows[3:]:
        row["limit_b"] = row["limit_a"]
        row["dtype_b"] = "float32"
    res = resultset.from_frames(pd.DataFrame(rows), envs, ".")
    assert regress.bisect(res).empty, "oneDNN off is not a release after 2.21.0"
    steps = regress.steps(res)
    assert steps[["series", "previous", "release"]].values.tolist() == [
        ["tf-{v}", "tf-2.20.0", "tf-2.21.0"]
    ]


def _isa_rows(isa: str, err: float) -> pd.DataFrame:
    frame = _frame([_row("c", "torch-2.13.0", "reference", err_a=err, limit=1e-6)])
    return frame.assign(isa=isa)


def test_a_baseline_row_of_another_isa_is_never_applied() -> None:
    base = _isa_rows("avx512", 1e-5)
    grew = _isa_rows("avx2", 1e-3)  # 100x, but on other kernels: not like for like
    assert regress.regressions(grew, base, TH).empty
    counts = regress.coverage(grew, base, "reference")
    assert (counts["checked"], counts["other_isa"], counts["new"]) == (0, 1, 0)
    assert counts["other_isa_envs"] == ["torch-2.13.0 (avx2; baseline: avx512)"]
    same = _isa_rows("avx512", 1e-3)
    assert len(regress.regressions(same, base, TH)) == 1  # like for like: a regression
    both = pd.concat([base, _isa_rows("avx2", 1e-3)], ignore_index=True)
    assert regress.regressions(grew, both, TH).empty  # the AVX2 row of the baseline applies
    assert regress.coverage(grew, both, "reference")["checked"] == 1


def test_unrecorded_isa_matches_nothing_recorded() -> None:
    legacy = _frame([_row("c", "torch-2.13.0", "reference", err_a=1e-5)])  # no isa column
    assert regress.regressions(_isa_rows("avx2", 1e-3), legacy, TH).empty
    assert regress.coverage(_isa_rows("avx2", 1e-3), legacy, "reference")["other_isa"] == 1


def test_a_rule_can_lift_the_growth_rule_for_a_rounding_lottery() -> None:
    rules = (thresholds.Rule(reason="ties", case="c", regression_growth=math.inf),)
    lifted = dataclasses.replace(TH, rules=rules)
    base, grew = _isa_rows("avx2", 1e-5), _isa_rows("avx2", 1e-3)
    assert len(regress.regressions(grew, base, TH)) == 1
    assert regress.regressions(grew, base, lifted).empty


def test_the_seed_tie_rule_is_out_of_the_growth_rule() -> None:
    torch = EnvTraits("torch-2.13.0", "torch", ("torch",))
    side = TH.side("gradient_penalty.seed", "grad/input.w", torch)
    assert side.regression_growth == math.inf
    assert TH.side("gradient_penalty.random", "grad/input.w", torch).regression_growth is None


def _isa_results(folder: Path, isa: str, err: float) -> Path:
    folder.mkdir()
    csvfiles.write_csv(
        pd.DataFrame([_row("c", "torch-2.13.0", "reference", err_a=err)]), folder / "pairs.csv"
    )
    envs = pd.DataFrame(
        {
            "env": ["reference", "torch-2.13.0"],
            "role": ["truth", "env"],
            "status": ["ok", "ok"],
            "isa": ["avx2", isa],
        }
    )
    csvfiles.write_csv(envs, folder / "envs.csv")
    return folder


def test_baseline_add_keeps_one_row_set_per_isa(tmp_path: Path) -> None:
    baseline.write(_isa_results(tmp_path / "wide", "avx512", 1e-7), tmp_path / "base")
    baseline.write(_isa_results(tmp_path / "narrow", "avx2", 2e-7), tmp_path / "base", add=True)
    kept = baseline.load(tmp_path / "base")
    assert sorted(zip(kept["isa"], kept["err_a"])) == [("avx2", 2e-7), ("avx512", 1e-7)]
    assert baseline.read_meta(tmp_path / "base")["isas"] == ["avx2", "avx512"]
    envs = csvfiles.read_csv(tmp_path / "base" / "envs.csv")
    assert sorted(envs.loc[envs["env"] == "torch-2.13.0", "isa"]) == ["avx2", "avx512"]
    baseline.write(_isa_results(tmp_path / "again", "avx2", 3e-7), tmp_path / "base", add=True)
    kept = baseline.load(tmp_path / "base")  # the same env and ISA again: replaced, not doubled
    assert sorted(zip(kept["isa"], kept["err_a"])) == [("avx2", 3e-7), ("avx512", 1e-7)]
