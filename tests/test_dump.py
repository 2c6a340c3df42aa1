"""Dumps: round trip, metadata, pickles and truncation refused, failed cases recorded, atomicity."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from wgan_parity import SCHEMA_VERSION
from wgan_parity.cli import main
from wgan_parity.core import isa
from wgan_parity.core.catalog import CATALOG, select
from wgan_parity.dump.catalog_dump import DumpRequest, write_catalog_dump
from wgan_parity.dump.dumpfile import (
    META_KEY,
    DumpError,
    DumpReader,
    DumpWriter,
    encode_meta,
    write_dump,
)
from wgan_parity.dump.meta import DumpMeta, catalog_info
from wgan_parity.exitcodes import ExitCode


def test_round_trip(tmp_path: Path) -> None:
    tensors = {
        "a.seed/out": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a.seed/grad/x": np.float64(2.5),
    }
    write_dump(
        tmp_path / "d.npz", {"schema_version": SCHEMA_VERSION, "env_id": "e"}, tensors.items()
    )
    with DumpReader(tmp_path / "d.npz") as reader:
        assert reader.keys() == list(tensors)
        assert reader.meta == {"schema_version": SCHEMA_VERSION, "env_id": "e"}
        for key, value in tensors.items():
            np.testing.assert_array_equal(reader.get(key), value)
            assert reader.get(key).dtype == np.asarray(value).dtype


def test_object_arrays_are_refused_on_read(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        **{
            "c/out": np.array([{"evil": 1}], dtype=object),
            META_KEY: encode_meta({"schema_version": SCHEMA_VERSION}),
        },
    )
    reader = DumpReader(path)
    with pytest.raises(DumpError, match="not a plain numeric array"):
        reader.get("c/out")


def test_object_arrays_are_refused_on_write(tmp_path: Path) -> None:
    with DumpWriter(tmp_path / "x.npz") as writer, pytest.raises(TypeError, match="object array"):
        writer.add("c/out", np.array([object()], dtype=object))


def test_truncated_file_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    write_dump(path, {"schema_version": SCHEMA_VERSION}, [("c/out", np.ones(1000, np.float32))])
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(DumpError, match="corrupt or truncated"):
        DumpReader(path)


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    write_dump(tmp_path / "old.npz", {"schema_version": 999}, [])
    with pytest.raises(DumpError, match="schema_version"):
        DumpReader(tmp_path / "old.npz")


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "never.npz"

    def write_then_fail() -> None:
        with DumpWriter(path) as writer:
            writer.add("c/out", np.ones(3))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_failed_case_is_recorded_and_the_dump_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_bn_port.py").write_text(
        textwrap.dedent("""
        BASE = "reference"
        def batch_norm(x, scale, offset, eps):
            raise NotImplementedError("this port has no batch norm")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("broken_bn_port", None)
    out = tmp_path / "broken.npz"
    meta = write_catalog_dump(
        DumpRequest("broken_bn_port", out, select(["batch_norm.probe", "conv2d.probe"]))
    )
    assert meta.cases["batch_norm.probe"].status == "error"
    assert "this port has no batch norm" in (meta.cases["batch_norm.probe"].error or "")
    assert meta.cases["conv2d.probe"].ok
    with DumpReader(out) as reader:
        assert reader.meta["cases"]["batch_norm.probe"]["tensors"] == []
        assert not any(k.startswith("batch_norm.probe/") for k in reader)
        assert "conv2d.probe/out" in reader


def test_a_failed_case_is_an_env_problem_not_a_divergence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Exit 4 (1 means "diverged"), and the dump is still written with the failure in it."""
    (tmp_path / "no_bn_port.py").write_text(
        'BASE = "reference"\ndef batch_norm(x, scale, offset, eps):\n    raise ValueError("no")\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("no_bn_port", None)
    out = tmp_path / "d.npz"
    argv = ["dump", "--backend", "no_bn_port", "--cases", "batch_norm.probe", "--quiet"]
    assert main([*argv, "--out", str(out)]) == ExitCode.ENV_PROBLEM
    assert "failed cases: batch_norm.probe" in capsys.readouterr().err
    with DumpReader(out) as reader:
        assert reader.meta["cases"]["batch_norm.probe"]["status"] == "error"


@pytest.mark.slow
def test_reference_dump_metadata_and_noise(tmp_path: Path) -> None:
    out = tmp_path / "ref.npz"
    typed = write_catalog_dump(
        DumpRequest("reference", out, select(["layer_norm.probe"]), env_id="ref-test")
    )
    meta = typed.to_json()
    with DumpReader(out) as reader:
        assert reader.meta == meta
        assert DumpMeta.from_json(reader.meta) == typed
        assert typed.catalog == catalog_info(CATALOG)  # the whole catalog, not the selection
        for field in (
            "schema_version",
            "catalog_hash",
            "env_id",
            "framework",
            "framework_version",
            "python",
            "numpy",
            "platform",
            "flags",
            "package_version",
            "git_commit",
            "import_s",
            "wall_s",
        ):
            assert field in meta, field
        assert meta["env_id"] == "ref-test"
        assert meta["dtype"] == "float64"
        assert set(meta["noise"]) == {
            f"layer_norm.probe/{t}" for t in meta["cases"]["layer_norm.probe"]["tensors"]
        }
        assert 0 < meta["noise"]["layer_norm.probe/out"]["rel_l2"] < 1e-5
        payload = sum(reader.get(k).nbytes for k in reader)
    assert out.stat().st_size <= 1.05 * payload + 64 * 1024


@pytest.mark.frameworks
def test_framework_dumps_record_versions_and_flags(catalog_dumps) -> None:
    tf_meta, torch_meta = catalog_dumps["tensorflow"].meta, catalog_dumps["torch"].meta
    assert tf_meta["flags"]["TF_ENABLE_ONEDNN_OPTS"] in ("0", "1")
    assert tf_meta["framework"] == "tensorflow"
    assert tf_meta["framework_version"].startswith("2.")
    assert torch_meta["framework"] == "torch"
    assert torch_meta["framework_version"].startswith("2.")
    assert torch_meta["flags"]["cpu_capability"] in ("AVX512", "AVX2", "DEFAULT", "ZVECTOR", "VSX")
    for meta in (tf_meta, torch_meta, catalog_dumps["reference"].meta):
        assert meta["platform"]["isa"] == isa.kernel_isa(meta["framework"]), meta["env_id"]
        assert meta["platform"]["cpu_isa"] == isa.cpu_class(isa.cpu_flags())
        assert meta["catalog_hash"] == catalog_dumps["reference"].meta["catalog_hash"]
        assert all(rec["status"] == "ok" for rec in meta["cases"].values()), meta["env_id"]
        assert all(rec["peak_rss_mb"] > 0 and rec["wall_s"] >= 0 for rec in meta["cases"].values())
