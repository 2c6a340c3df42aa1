"""The noise table: its key, its file, its verification by canaries, and the committed tables."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from wgan_parity.core.catalog import select
from wgan_parity.dump import noise_table
from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.dump.noise import NOISE_THREADS

KEY = {"code": "c0de", "numpy": "2.0", "blas": "openblas 0.3 Haswell", "simd": "X86_V2 |"}
FIGURES = {
    "out": {"rel_l2": 1.5e-7, "max_abs": 2e-6},
    "grad/x": {"rel_l2": float("inf"), "max_abs": 0.0},
}


def test_table_round_trip_finds_a_case_only_by_its_fixtures_digest(tmp_path: Path) -> None:
    path = noise_table.write(tmp_path, KEY, {"conv2d.random": "d1"}, {"conv2d.random": FIGURES})
    assert path.name == noise_table.table_name(KEY)
    table = noise_table.load(KEY, tmp_path)
    assert table is not None
    assert table.figures("conv2d.random", "d1") == FIGURES
    assert table.figures("conv2d.random", "other fixtures") is None
    assert table.figures("conv2d.seed", "d1") is None
    assert noise_table.load({**KEY, "numpy": "2.1"}, tmp_path) is None  # another stack


def test_an_unreadable_table_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / noise_table.table_name(KEY)).write_bytes(b"not gzip")
    with pytest.raises(noise_table.NoiseTableError) as err:
        noise_table.load(KEY, tmp_path)
    text = str(err.value)
    assert "expected gzip'd JSON" in text
    assert "found" in text
    assert "--noise measure" in text


def test_a_table_whose_fingerprint_differs_from_its_name_is_refused(tmp_path: Path) -> None:
    data = {"format": noise_table.FORMAT, "fingerprint": {**KEY, "numpy": "9"}, "cases": {}}
    (tmp_path / noise_table.table_name(KEY)).write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(noise_table.NoiseTableError, match="does not match"):
        noise_table.load(KEY, tmp_path)


def test_disagreement_allows_float64_roundoff_only() -> None:
    assert noise_table.disagreement(FIGURES, FIGURES) == []
    nudged = {**FIGURES, "out": {"rel_l2": 1.5e-7 * (1 + 1e-9), "max_abs": 2e-6}}
    assert noise_table.disagreement(nudged, FIGURES) == []
    moved = {**FIGURES, "out": {"rel_l2": 1.6e-7, "max_abs": 2e-6}}
    assert noise_table.disagreement(moved, FIGURES) == [
        "out rel_l2: measured 1.6e-07, table 1.5e-07"
    ]
    assert noise_table.disagreement({"out": FIGURES["out"]}, FIGURES) == [
        "grad/x: in the table only"
    ]
    finite = {**FIGURES, "grad/x": {"rel_l2": 1.0, "max_abs": 0.0}}
    assert noise_table.disagreement(finite, FIGURES) != []


def test_code_digest_ignores_comments_and_docstrings_but_not_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "noise_digest_probe.py"

    def digest(source: str) -> str:
        module.write_text(source)
        sys.modules.pop("noise_digest_probe", None)
        return noise_table.code_digest(("noise_digest_probe",))

    plain = digest('"""Doc."""\ndef f(x):\n    """Doc."""\n    return x * 2\n')
    assert digest('"""Other."""\n# note\ndef f(x):\n    return x * 2  # twice\n') == plain
    assert digest('"""Doc."""\ndef f(x):\n    return x * 3\n') != plain


def _noise(path: Path) -> dict:
    with DumpReader(path) as reader:
        return reader.meta["noise"]


def _source(path: Path) -> dict:
    with DumpReader(path) as reader:
        return reader.meta["flags"]["noise_source"]


@pytest.mark.slow
def test_a_dump_takes_verified_figures_from_a_table_and_measures_when_a_canary_disagrees(
    tmp_path: Path,
) -> None:
    cases = select([*noise_table.CANARIES, "conv_mean_pool.random", "conv2d.probe"])
    tables = tmp_path / "tables"
    tables.mkdir()
    measured = tmp_path / "measured.npz"
    write_catalog_dump(
        DumpRequest("reference", measured, cases, noise_mode="measure", write_noise_table=tables)
    )
    assert _source(measured)["measured"] == [c.name for c in cases]
    [written] = tables.iterdir()

    looked_up = tmp_path / "looked_up.npz"
    write_catalog_dump(DumpRequest("reference", looked_up, cases, noise_tables=tables))
    source = _source(looked_up)
    assert source["table"] == written.name
    assert source["canaries"] == {name: "agrees" for name in noise_table.CANARIES}
    assert source["measured"] == ["conv2d.probe"]  # too small to look up
    assert source["from_table"] == len(cases) - 1
    assert _noise(looked_up) == _noise(measured)

    data = json.loads(gzip.decompress(written.read_bytes()))
    figures = data["cases"]["conv2d.random"]["noise"]["out"]
    figures["rel_l2"] *= 1.01  # a table that no longer matches what this stack computes
    written.write_bytes(gzip.compress(json.dumps(data).encode()))
    rejected = tmp_path / "rejected.npz"
    write_catalog_dump(DumpRequest("reference", rejected, cases, noise_tables=tables))
    source = _source(rejected)
    assert "rejected" in source["table"]
    assert source["canaries"]["conv2d.random"].startswith("out rel_l2: measured")
    assert source["from_table"] == 0
    assert len(source["measured"]) == len(cases)
    assert _noise(rejected) == _noise(measured)


def test_writing_a_table_needs_a_measuring_dump(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--noise measure"):
        write_catalog_dump(
            DumpRequest(
                "reference",
                tmp_path / "d.npz",
                select(["conv2d.random"]),
                noise_tables=tmp_path,
                write_noise_table=tmp_path,
            )
        )


def test_committed_tables_are_for_the_current_code() -> None:
    tables = sorted(noise_table.TABLE_DIR.glob("noise-*.json.gz"))
    assert tables, f"no committed noise table in {noise_table.TABLE_DIR}"
    current = noise_table.code_digest()
    for path in tables:
        data = json.loads(gzip.decompress(path.read_bytes()))
        assert data["fingerprint"]["code"] == current, (
            f"{path.name} was measured with other reference code ({data['fingerprint']['code']}, "
            f"now {current}): run `wgan-parity regen noise-tables` (rewrites every committed "
            "table, about 3 minutes)"
        )
        assert path.name == noise_table.table_name(data["fingerprint"])
        assert data["fingerprint"]["blas_threads"] == str(NOISE_THREADS)


def test_dump_refuses_a_table_it_would_not_measure_before_running_a_case(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from wgan_parity.cli import main

    out = tmp_path / "d.npz"
    base = ["dump", "--backend", "reference", "--out", str(out), "--cases", "conv2d.probe"]
    assert main([*base, "--write-noise-table", str(tmp_path)]) == 2
    assert "expected --noise measure, found --noise table" in capsys.readouterr().err
    blocker = tmp_path / "a file"
    blocker.write_text("")
    assert main([*base, "--noise", "measure", "--write-noise-table", str(blocker / "x")]) == 2
    err = capsys.readouterr().err
    assert "--write-noise-table" in err
    assert "cannot write there" in err
    assert not out.exists()


def test_a_canary_that_cannot_run_leaves_the_table_unused_not_the_case_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wgan_parity.dump import noise_source

    cases = select(["conv_mean_pool.random"])
    tables = tmp_path / "tables"
    write_catalog_dump(
        DumpRequest(
            "reference",
            tmp_path / "m.npz",
            [*select(list(noise_table.CANARIES)), *cases],
            noise_mode="measure",
            write_noise_table=tables,
        )
    )
    real_run_case = noise_source.run_case

    def failing_canary(ops, case, fixtures):  # type: ignore[no-untyped-def]
        if case.name in noise_table.CANARIES:
            raise MemoryError("no memory for the canary")
        return real_run_case(ops, case, fixtures)

    monkeypatch.setattr(noise_source, "run_case", failing_canary)
    out = tmp_path / "d.npz"
    meta = write_catalog_dump(DumpRequest("reference", out, cases, noise_tables=tables))
    assert meta.cases["conv_mean_pool.random"].ok
    source = _source(out)
    assert source["canaries"]["conv2d.random"].startswith("could not run: MemoryError")
    assert "rejected" in source["table"]
    assert source["measured"] == ["conv_mean_pool.random"]
