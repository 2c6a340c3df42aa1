"""``wgan-parity aggregate`` end to end on synthetic dumps of fake environments."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.dump import synthetic
from wgan_parity.dump.dumpfile import encode_meta, write_dump

RNG = np.random.default_rng(7)
TRUTH = {
    "blk.case/out": RNG.standard_normal((4, 3, 5, 7)),
    "blk.case/shape": RNG.standard_normal((4, 6)),
    "blk.case/nan": RNG.standard_normal(50),
    "blk.case/zero": np.zeros(30),
    "blk.case/ill": RNG.standard_normal(40) * 1e-9,
    "blk.only/out": RNG.standard_normal(10),
    "blk.fail/out": RNG.standard_normal(10),
}
NOISE = {k: {"rel_l2": 3e-8, "max_abs": 1e-7} for k in TRUTH}
NOISE["blk.case/zero"] = {"rel_l2": float("inf"), "max_abs": 1e-9}
NOISE["blk.case/ill"] = {"rel_l2": 1e-2, "max_abs": 1e-11}


def _f32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32)


def env_a() -> dict:
    """Float32 rounding of the truth, except a NaN, and an honest-ish ill-conditioned error."""
    t = {k: _f32(v) for k, v in TRUTH.items() if k != "blk.fail/out"}
    t["blk.case/nan"] = t["blk.case/nan"].copy()
    t["blk.case/nan"][3] = np.nan
    t["blk.case/zero"] = _f32(RNG.standard_normal(30) * 1e-12)
    t["blk.case/ill"] = _f32(TRUTH["blk.case/ill"] * (1 + 5e-3 * RNG.standard_normal(40)))
    return t


def env_b() -> dict:
    """A 1e-4 scale bug on ``out``, a transposed ``shape``, no ``blk.only``; ``blk.fail`` raised."""
    t = {k: _f32(v) for k, v in TRUTH.items() if not k.startswith(("blk.only", "blk.fail"))}
    t["blk.case/out"] = _f32(TRUTH["blk.case/out"] * (1 + 1e-4))
    t["blk.case/shape"] = _f32(TRUTH["blk.case/shape"].T)
    t["blk.case/zero"] = _f32(RNG.standard_normal(30) * 1e-12)
    t["blk.case/ill"] = _f32(TRUTH["blk.case/ill"] * (1 + 2e-2 * RNG.standard_normal(40)))
    return t


def write_truth(path: Path, keys=None) -> dict:
    """The float64 reference dump (with its float32 noise) of ``keys`` (all of TRUTH)."""
    truth = {k: TRUTH[k] for k in (keys or TRUTH)}
    noise = {k: NOISE[k] for k in truth}
    reference = synthetic.FakeEnv(framework="reference", dtype="float64", noise=noise)
    synthetic.write(path, "reference", truth, reference)
    return truth


def write_clean_set(folder: Path) -> dict:
    """Reference + env-a + env-b, both exactly the truth rounded to float32; returns the truth."""
    truth = write_truth(folder / "r.npz", ["blk.case/out", "blk.case/shape"])
    synthetic.write(folder / "a.npz", "env-a", {k: _f32(v) for k, v in truth.items()})
    synthetic.write(folder / "b.npz", "env-b", {k: _f32(v) for k, v in truth.items()})
    return truth


def write_set(folder: Path, env: synthetic.FakeEnv = synthetic.DEFAULT) -> Path:
    """env-a did not select ``blk.fail`` (not-run); env-b ran ``blk.only`` and lost its tensor."""
    folder.mkdir(parents=True, exist_ok=True)
    write_truth(folder / "reference.npz")
    synthetic.write(folder / "a.npz", "env-a", env_a(), env)
    tensors = env_b()
    failed = synthetic.FakeEnv(case_errors={"blk.fail": "RuntimeError: boom"})
    meta = synthetic.metadata("env-b", list(tensors), failed)
    meta["cases"]["blk.only"] = {**meta["cases"]["blk.case"], "tensors": ["out"]}
    write_dump(folder / "b.npz", meta, tensors.items())
    return folder


SCENARIO_OPTIONS = ["--quiet", "--matrix", "status", "rel_l2", "--seed-report", "env-a", "env-b"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> tuple:
    folder = write_set(tmp_path_factory.mktemp("dumps"))
    out = folder / "out"
    code = main(["aggregate", str(folder), "--out", str(out), *SCENARIO_OPTIONS])
    return code, out, read(out / "pairs.csv")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def row(df: pd.DataFrame, key: str, a: str, b: str) -> dict:
    case, tensor = key.split("/", 1)
    hit = df[(df.case == case) & (df.tensor == tensor) & (df.env_a == a) & (df.env_b == b)]
    assert len(hit) == 1, f"expected one row for {key} {a} vs {b}, found {len(hit)}"
    return hit.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("key", "a", "b", "status", "blame"),
    [
        ("blk.case/out", "env-a", "reference", "ok", ""),
        ("blk.case/out", "env-b", "reference", "diverged", "env-b"),
        ("blk.case/out", "env-a", "env-b", "diverged", "env-b"),
        ("blk.case/shape", "env-a", "env-b", "shape-mismatch", "env-b"),
        ("blk.case/shape", "env-a", "reference", "ok", ""),
        ("blk.case/nan", "env-a", "env-b", "non-finite", "env-a"),
        ("blk.case/nan", "env-b", "reference", "ok", ""),
        ("blk.case/zero", "env-a", "env-b", "degenerate", ""),
        ("blk.case/zero", "env-a", "reference", "degenerate", ""),
        ("blk.case/ill", "env-a", "env-b", "ok", ""),
        ("blk.only/out", "env-a", "env-b", "missing", "env-b"),
        ("blk.only/out", "env-a", "reference", "ok", ""),
        ("blk.fail/out", "env-a", "env-b", "error", "env-b"),
        ("blk.fail/out", "env-a", "reference", "not-run", "env-a"),
    ],
)
def test_status_and_blame(scenario, key, a, b, status, blame):
    _, _, df = scenario
    got = row(df, key, a, b)
    assert (got["status"], got["blame"]) == (status, blame), f"{key} {a} vs {b}: {got['note']}"


def test_every_status_occurs(scenario):
    _, _, df = scenario
    assert set(df.status) == {
        "ok",
        "diverged",
        "shape-mismatch",
        "non-finite",
        "missing",
        "degenerate",
        "error",
        "not-run",
    }


def test_exit_code_has_both_bits(scenario):
    code, _, _ = scenario
    assert code == 5


def test_scale_change_is_diverged_although_cosine_passes(scenario):
    _, _, df = scenario
    got = row(df, "blk.case/out", "env-a", "env-b")
    assert got["seed_ok"] == "True"
    assert float(got["cosine_distance"]) < 1e-12
    assert float(got["err_b"]) == pytest.approx(1e-4, rel=1e-2)
    assert float(got["err_a"]) < 1e-7
    assert got["closer"] == "env-a"


def test_ill_conditioned_row_says_which_side_is_closer(scenario):
    _, _, df = scenario
    got = row(df, "blk.case/ill", "env-a", "env-b")
    assert got["ill_conditioned"] == "True"
    assert got["closer"] == "env-a"
    assert float(got["err_a"]) < float(got["err_b"])
    assert row(df, "blk.case/out", "env-a", "env-b")["ill_conditioned"] == "False"


def test_non_finite_row_counts_the_nan(scenario):
    _, _, df = scenario
    got = row(df, "blk.case/nan", "env-a", "reference")
    assert (got["status"], got["nan_mismatch"], got["inf_mismatch"]) == ("non-finite", "1", "0")
    assert float(got["rel_l2"]) < 1e-7  # the other 49 elements agree


def test_error_row_carries_the_message(scenario):
    _, _, df = scenario
    assert "RuntimeError: boom" in row(df, "blk.fail/out", "env-b", "reference")["note"]


def test_matrices_and_envs(scenario):
    _, out, _ = scenario
    cosine = read(out / "matrix_cosine.csv")
    assert list(cosine.columns[:2]) == ["env_a", "env_b"]
    assert len(cosine) == 3
    assert "blk.case/out" in cosine.columns
    status = read(out / "matrix_status.csv")
    assert (
        status.set_index(["env_a", "env_b"]).loc[("env-a", "env-b"), "blk.case/shape"]
        == "shape-mismatch"
    )
    assert (out / "matrix_rel_l2.csv").is_file()
    envs = read(out / "envs.csv")
    assert list(envs.env) == ["env-a", "env-b", "reference"]
    assert envs.set_index("env").loc["reference", "role"] == "truth"
    assert envs.set_index("env").loc["env-b", "cases_error"] == "1"


def test_seed_report_blocks(scenario):
    _, out, _ = scenario
    text = (out / "seed_report_env-a_vs_env-b.txt").read_text()
    assert "env-a vs env-b" in text
    # no catalog seed row names these fake cases, so every tensor gets its own block
    block = (
        text.split("-----------blk.case/out------------\n", 1)[1].split("\n\n", 1)[0].splitlines()
    )
    assert block[0] == "True"
    assert block[1].startswith("env-a.abs.mean: ")
    assert block[2].startswith("env-b.abs.mean: ")
    assert block[3].startswith("diff.mean: ")
    assert block[5].startswith("verdict: diverged")


def test_same_dumps_in_two_folders_give_identical_files(tmp_path, scenario):
    _, first_out, _ = scenario
    folder = tmp_path / "elsewhere" / "copy"
    folder.mkdir(parents=True)
    source = first_out.parent
    for name in ("b.npz", "reference.npz", "a.npz"):
        shutil.copy(source / name, folder / name)
    out = tmp_path / "out2"
    files = [
        str(folder / n) for n in ("reference.npz", "b.npz", "a.npz")
    ]  # other order, files not a dir
    main(["aggregate", *files, "--out", str(out), *SCENARIO_OPTIONS])
    for name in (
        "pairs.csv",
        "matrix_cosine.csv",
        "matrix_status.csv",
        "envs.csv",
        "seed_report_env-a_vs_env-b.txt",
    ):
        assert (out / name).read_bytes() == (first_out / name).read_bytes(), name


def test_mixed_catalog_hash_is_refused_and_other_pairs_still_reported(tmp_path, capsys):
    folder = write_set(tmp_path / "d")
    synthetic.write(
        folder / "old.npz", "env-old", env_a(), synthetic.FakeEnv(catalog_hash="0" * 64)
    )
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert "refused old.npz" in err
    assert "catalog hash 000000000000" in err
    assert "re-run `wgan-parity dump`" in err
    assert code & 4
    envs = read(tmp_path / "out" / "envs.csv").set_index("env")
    assert envs.loc["env-old", "status"] == "refused"
    assert "catalog hash" in envs.loc["env-old", "error"]
    df = read(tmp_path / "out" / "pairs.csv")
    assert "env-old" not in set(df.env_a) | set(df.env_b)
    assert row(df, "blk.case/out", "env-a", "env-b")["status"] == "diverged"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "schema"])
def test_bad_file_among_good_ones(tmp_path, capsys, damage):
    folder = write_set(tmp_path / "d")
    bad = folder / "c.npz"
    if damage == "schema":
        meta = synthetic.metadata("env-c", list(env_a()))
        meta["schema_version"] = 99
        write_dump(bad, meta, env_a().items())
    elif damage == "truncate":
        synthetic.write(bad, "env-c", env_a())
        bad.write_bytes(bad.read_bytes()[:-200])
    else:
        bad.write_bytes(b"not a zip at all")
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert "c.npz" in err
    assert "Re-run `wgan-parity dump`" in err
    assert str(folder) not in read(tmp_path / "out" / "envs.csv").to_csv()  # no paths in the tables
    envs = read(tmp_path / "out" / "envs.csv").set_index("file")
    assert envs.loc["c.npz", "status"] == ("refused" if damage == "schema" else "corrupt")
    assert code & 4
    df = read(tmp_path / "out" / "pairs.csv")
    assert row(df, "blk.case/out", "env-b", "reference")["status"] == "diverged"


def test_object_array_member_is_an_error_row(tmp_path):
    folder = write_set(tmp_path / "d")
    tensors = {**env_a(), "blk.extra/out": np.array([{"x": 1}], dtype=object)}
    meta = synthetic.metadata("env-a", list(tensors))
    with zipfile.ZipFile(folder / "a.npz", "w") as archive:  # what a careless writer could produce
        for key, array in [*tensors.items(), ("__meta__", encode_meta(meta))]:
            with archive.open(key + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=True)
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    df = read(tmp_path / "out" / "pairs.csv")
    got = row(df, "blk.extra/out", "env-a", "reference")
    assert (got["status"], got["blame"]) == ("error", "env-a")
    assert "dtype object" in got["note"]
    assert (
        row(df, "blk.case/out", "env-a", "reference")["status"] == "ok"
    )  # the rest of the dump is used
    assert code & 4


def test_failed_env_record_appears_in_envs(tmp_path):
    folder = write_set(tmp_path / "d")
    record = {
        "env_id": "torch-1.0",
        "status": "failed",
        "stage": "install",
        "reason": "no wheel for py3.11",
        "duration_s": 3.5,
    }
    (folder / "torch-1.0.status.json").write_text(json.dumps(record))
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    envs = read(tmp_path / "out" / "envs.csv").set_index("env")
    assert (envs.loc["torch-1.0", "status"], envs.loc["torch-1.0", "stage"]) == (
        "failed",
        "install",
    )
    assert envs.loc["torch-1.0", "error"] == "no wheel for py3.11"
    assert float(envs.loc["torch-1.0", "wall_s"]) == 3.5
    assert code & 4


def test_clean_set_exits_zero_and_divergence_alone_exits_one(tmp_path):
    folder = tmp_path / "d"
    truth = write_clean_set(folder)
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o1"), "--quiet"]) == 0
    synthetic.write(folder / "b.npz", "env-b", {k: _f32(v * 1.001) for k, v in truth.items()})
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o2"), "--quiet"]) == 1


def test_baseline_round_trip_catches_a_regressed_env(tmp_path, capsys):
    folder = tmp_path / "d"
    truth = write_clean_set(folder)
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o1"), "--quiet"]) == 0
    assert main(["baseline", str(tmp_path / "o1"), "--out", str(tmp_path / "base")]) == 0
    base = ["--baseline", str(tmp_path / "base"), "--quiet"]
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o2"), *base]) == 0
    check = json.loads((tmp_path / "o2" / "baseline_check.json").read_text())
    assert (check["checked"], check["new"], check["regressed"]) == (4, 2, 0)
    assert "4 rows checked, 0 regressed" in (tmp_path / "o2" / "summary.md").read_text()
    synthetic.write(folder / "b.npz", "env-b", {k: _f32(v * 1.001) for k, v in truth.items()})
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o3"), *base]) == 1
    found = pd.read_csv(tmp_path / "o3" / "regressions.csv")
    assert set(found["env_a"]) == {"env-b"}
    assert set(found["env_b"]) == {"reference"}
    assert "regressed: blk.case/out env-b vs reference" in capsys.readouterr().out


def test_bad_baseline_folder_fails_before_any_work(tmp_path, capsys):
    folder = write_set(tmp_path / "d")
    out = tmp_path / "out"
    assert main(["aggregate", str(folder), "--out", str(out), "--baseline", str(tmp_path)]) == 2
    assert "wgan-parity baseline" in capsys.readouterr().err
    assert not out.exists()


def test_thresholds_file_changes_the_verdict_without_new_dumps(tmp_path):
    folder = write_set(tmp_path / "d")
    text = (Path(__file__).parents[1] / "src/wgan_parity/data/thresholds.toml").read_text()
    text += (
        '\n[[rule]]\ncase = "blk.case"\ntensor = "out"\nenv_id = "env-b"\nknown = true\n'
        'name = "ticket-1"\nmax_err = 0.5\nreason = "scale bug, ticket 1"\n'
    )
    custom = tmp_path / "t.toml"
    custom.write_text(text)
    main(
        [
            "aggregate",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--thresholds",
            str(custom),
        ]
    )
    got = row(read(tmp_path / "out" / "pairs.csv"), "blk.case/out", "env-b", "reference")
    assert (got["status"], got["known"]) == ("diverged", "scale bug, ticket 1")
    loose = text.replace("value = 32.0", "value = 1e9")
    custom.write_text(loose)
    main(
        [
            "aggregate",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--thresholds",
            str(custom),
        ]
    )
    got = row(read(tmp_path / "out" / "pairs.csv"), "blk.case/out", "env-b", "reference")
    assert got["status"] == "unjudged"  # a limit of 1e9 x the noise cannot fail: never `ok`


def test_without_reference_blame_is_unknown(tmp_path):
    folder = tmp_path / "d"
    synthetic.write(folder / "a.npz", "env-a", {"blk.case/out": _f32(TRUTH["blk.case/out"])})
    synthetic.write(
        folder / "b.npz", "env-b", {"blk.case/out": _f32(TRUTH["blk.case/out"] * 1.001)}
    )
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    got = row(read(tmp_path / "out" / "pairs.csv"), "blk.case/out", "env-a", "env-b")
    assert (got["status"], got["blame"], got["err_a"]) == ("diverged", "unknown", "")
    assert code == 1


def test_same_env_id_on_two_platforms_gets_two_labels(tmp_path):
    folder = tmp_path / "d"
    data = {"blk.case/out": _f32(TRUTH["blk.case/out"])}
    for name, pid in (("x.npz", "aaaa1111"), ("y.npz", "bbbb2222")):
        platform = {"system": "Linux", "machine": "x86_64", "cpu": name, "gpu": None, "id": pid}
        synthetic.write(folder / name, "torch-2.13.0", data, synthetic.FakeEnv(platform=platform))
    main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    df = read(tmp_path / "out" / "pairs.csv")
    assert (df.env_a.iloc[0], df.env_b.iloc[0]) == (
        "torch-2.13.0@aaaa1111",
        "torch-2.13.0@bbbb2222",
    )
    assert df.status.iloc[0] == "ok"


def test_usage_errors_exit_two(tmp_path, capsys):
    folder = write_set(tmp_path / "d")
    assert main(["aggregate", str(tmp_path / "does-not-exist"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["aggregate", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert (
        main(["aggregate", str(folder), "--out", str(tmp_path / "o"), "--seed-report", "x", "y"])
        == 2
    )
    assert main(["aggregate", str(folder), "--out", str(tmp_path / "o"), "--matrix", "nope"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("schema = 1\n[verdict.noise_factor]\nvalue = 3\n")
    assert (
        main(["aggregate", str(folder), "--out", str(tmp_path / "o"), "--thresholds", str(bad)])
        == 2
    )
    assert "reason" in capsys.readouterr().err


def test_status_record_of_a_successful_env_is_ignored(tmp_path):
    folder = write_set(tmp_path / "d")
    record = {"env_id": "env-a", "status": "ok", "stage": "dump", "reason": "", "duration_s": 1.0}
    (folder / "env-a.status.json").write_text(json.dumps(record))
    ghost = {"env_id": "ghost", "status": "ok", "stage": "dump", "reason": "", "duration_s": 1.0}
    (folder / "ghost.status.json").write_text(json.dumps(ghost))
    main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    envs = read(tmp_path / "out" / "envs.csv").set_index("env")
    assert list(envs.index) == ["env-a", "env-b", "ghost", "reference"]
    assert envs.loc["env-a", "status"] == "ok"
    assert envs.loc["ghost", "status"] == "failed"
    assert "no dump was found" in envs.loc["ghost", "error"]


def test_two_envs_off_the_truth_the_same_way_agree_as_a_pair(tmp_path):
    folder = tmp_path / "d"
    write_truth(folder / "r.npz", ["blk.case/out"])
    shared = _f32(TRUTH["blk.case/out"] * (1 + 1e-3))
    synthetic.write(folder / "a.npz", "tf-2.12", {"blk.case/out": shared})
    synthetic.write(folder / "b.npz", "tf-2.21", {"blk.case/out": shared.copy()})
    synthetic.write(
        folder / "c.npz", "tf-2.22", {"blk.case/out": _f32(TRUTH["blk.case/out"] * (1 - 1e-3))}
    )
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    df = read(tmp_path / "out" / "pairs.csv")
    same = row(df, "blk.case/out", "tf-2.12", "tf-2.21")
    assert (same["status"], same["blame"]) == ("ok", "")
    assert "same way" in same["note"]
    apart = row(df, "blk.case/out", "tf-2.12", "tf-2.22")
    assert (apart["status"], apart["blame"]) == ("diverged", "tf-2.12;tf-2.22")
    assert row(df, "blk.case/out", "tf-2.12", "reference")["status"] == "diverged"
    assert code == 1


def test_output_does_not_depend_on_the_number_of_threads(tmp_path, monkeypatch):
    from wgan_parity.compare import engine, pair_kernels

    monkeypatch.setattr(engine, "BLOCK_BYTES", 32 * 3 * 80)  # 80-element blocks for 3 dumps
    monkeypatch.setattr(pair_kernels, "CHUNK", 64)
    monkeypatch.setattr(pair_kernels, "MIN_COLUMNS", 16)
    folder = write_set(tmp_path / "d")
    for jobs in ("1", "3"):
        main(["aggregate", str(folder), "--out", str(tmp_path / jobs), "--quiet", "--jobs", jobs])
    assert (tmp_path / "1" / "pairs.csv").read_bytes() == (
        tmp_path / "3" / "pairs.csv"
    ).read_bytes()


def test_an_internal_error_exits_3_not_1(tmp_path, monkeypatch, capsys):
    from wgan_parity.compare import rows as compare
    from wgan_parity.exitcodes import ExitCode

    folder = write_set(tmp_path / "d")

    def broken(*args, **kwargs):
        raise RuntimeError("planted bug in the comparison")

    monkeypatch.setattr(compare, "compare", broken)
    code = main(["aggregate", str(folder), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == ExitCode.INTERNAL == 8  # CI reads 1 as "diverged": a crash must not be 1
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: planted bug in the comparison)" in err
    log = err.split("Traceback: ", 1)[1].split(". Please", 1)[0]
    assert "planted bug in the comparison" in Path(log).read_text()
    assert ExitCode.DIVERGED | ExitCode.ENV_PROBLEM == 5


def test_the_exit_code_table_is_one_table() -> None:
    """No code shares a bit with "diverged" unless it means it; the README's table, the workflow's
    summary and the aggregate's help list exactly the codes of ``exitcodes.MEANINGS``."""
    import re

    from wgan_parity import exitcodes
    from wgan_parity.exitcodes import ExitCode

    root = Path(__file__).resolve().parents[1]
    for code in exitcodes.MEANINGS:
        assert bool(code & ExitCode.DIVERGED) == (code in (1, 5)), code
    assert set(exitcodes.MEANINGS) == {0, 1, 2, 4, 5, int(ExitCode.INTERNAL)}
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert {int(c) for c in re.findall(r"^\| (\d+) \|", table, re.M)} == set(exitcodes.MEANINGS)
    workflow = (root / ".github" / "workflows" / "parity.yml").read_text(encoding="utf-8")
    cases = {int(c) for c in re.findall(r"^\s+(\d+)\) meaning=", workflow, re.M)}
    assert cases == set(exitcodes.MEANINGS), cases
    from wgan_parity.commands import aggregate

    epilog = aggregate.__doc__.split("Exit codes", 1)[1]
    assert {int(c) for c in re.findall(r"^\s+(\d+)\s", epilog, re.M)} >= {0, 1, 2, 4, 8}
