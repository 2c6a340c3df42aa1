"""Fault injection: a bad input or output is found up front, named, and never read as a divergence.

Each test plants one fault and asserts the exit code and that the message names the file and the
cause. Fast: synthetic dumps only.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wgan_parity.cli import main
from wgan_parity.dump import synthetic
from wgan_parity.exitcodes import ExitCode
from wgan_parity.matrix.envtable import TableError, parse_table


def _two_dumps(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tensors = {"blk.case/out": rng.standard_normal((2, 3)).astype(np.float32)}
    synthetic.write(folder / "a.npz", "env-a", tensors)
    synthetic.write(folder / "b.npz", "env-b", tensors)
    return folder


def test_an_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys) -> None:
    inputs = _two_dumps(tmp_path / "d")
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    assert main(["aggregate", str(inputs), "--out", str(taken), "--quiet"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert str(taken) in err
    assert "cannot write there" in err
    assert taken.read_text() == "a file, not a folder"  # nothing of ours written over it
    below = taken / "sub"
    assert main(["aggregate", str(inputs), "--out", str(below), "--quiet"]) == ExitCode.USAGE


def test_fewer_than_two_dumps_is_a_usage_error(tmp_path, capsys) -> None:
    inputs = _two_dumps(tmp_path / "d")
    (inputs / "b.npz").unlink()
    code = main(["aggregate", str(inputs), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == ExitCode.USAGE
    assert "expected at least two dumps" in capsys.readouterr().err
    assert not (tmp_path / "out" / "pairs.csv").exists()


@pytest.mark.parametrize("field", ["pins", "extra"])
def test_control_characters_in_a_pin_are_refused_when_the_table_loads(field, tmp_path) -> None:
    row = {"id": "torch-x", "framework": "torch", "pins": ["torch==2.4.1"], "sets": ["default"]}
    row[field] = ["torch==2.4.1\n--index-url http://evil.example"]
    data = {"schema": 1, "sets": {"default": "d"}, "matrix": {"env": [row]}}
    with pytest.raises(TableError, match="control characters"):
        parse_table(data, tmp_path / "matrix.toml")


def test_an_id_with_a_trailing_newline_is_refused(tmp_path) -> None:
    row = {"id": "torch-x\n", "framework": "torch", "pins": ["torch==2.4.1"], "sets": ["default"]}
    data = {"schema": 1, "sets": {"default": "d"}, "matrix": {"env": [row]}}
    with pytest.raises(TableError, match="expected `id`"):
        parse_table(data, tmp_path / "matrix.toml")


def _member_data_offset(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", fh.read(4))
    return info.header_offset + 30 + name_len + extra_len


def _rows(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "pairs.csv", keep_default_na=False)


def _values(rows: pd.DataFrame) -> list:
    """Rows as values: numbers compared as numbers, whatever their CSV format."""

    def value(cell: object) -> object:
        if isinstance(cell, (bool, np.bool_)):
            return str(cell)
        try:
            return float(cell)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(cell)

    return [[value(cell) for cell in row] for row in rows.itertuples(index=False)]


def test_a_flipped_byte_is_an_error_of_that_file_not_a_divergence(tmp_path, capsys) -> None:
    inputs = _two_dumps(tmp_path / "d")
    clean_out = tmp_path / "clean"
    assert main(["aggregate", str(inputs), "--out", str(clean_out), "--quiet"]) == 0
    bad = inputs / "b.npz"
    at = _member_data_offset(bad, "blk.case/out.npy") + 128 + 5  # inside the array's bytes
    data = bytearray(bad.read_bytes())
    data[at] ^= 0xFF
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    code = main(["aggregate", str(inputs), "--out", str(out), "--quiet"])
    assert code & ExitCode.ENV_PROBLEM
    assert not code & ExitCode.DIVERGED  # corruption is never reported as a divergence
    row = _rows(out).iloc[0]
    assert (row.status, row.blame) == ("error", "env-b")
    assert "CRC-32" in row.note
    assert "b.npz" in row.note


def test_a_compressed_member_is_refused_with_the_reason(tmp_path) -> None:
    inputs = _two_dumps(tmp_path / "d")
    src = inputs / "b.npz"
    packed = tmp_path / "packed.npz"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, old.read(info.filename))
    packed.replace(src)
    out = tmp_path / "out"
    code = main(["aggregate", str(inputs), "--out", str(out), "--quiet"])
    assert code & ExitCode.ENV_PROBLEM
    assert not code & ExitCode.DIVERGED
    notes = " ".join(_rows(out)["note"])
    assert "compressed" in notes


def test_a_reused_out_keeps_no_stale_file_of_ours_and_nothing_of_yours(tmp_path) -> None:
    inputs = _two_dumps(tmp_path / "d")
    out = tmp_path / "out"
    opts = ["--quiet", "--matrix", "rel_l2", "--seed-report", "env-a", "env-b"]
    assert main(["aggregate", str(inputs), "--out", str(out), *opts]) == 0
    assert (out / "matrix_rel_l2.csv").is_file()
    seed_reports = [p.name for p in out.glob("seed_report*")]
    assert seed_reports
    mine = out / "notes.txt"
    mine.write_text("the user's own file")
    assert main(["aggregate", str(inputs), "--out", str(out), "--quiet"]) == 0
    assert not (out / "matrix_rel_l2.csv").exists()  # written last time, not this time
    assert not [p for p in out.glob("seed_report*")]
    assert mine.read_text() == "the user's own file"  # never a file the tool did not write
    assert (out / "matrix_cosine.csv").is_file()


def test_dump_refuses_an_unusable_out_before_running_any_case(tmp_path, capsys) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code = main(["dump", "--backend", "reference32", "--out", str(folder), "--quiet"])
    assert code == ExitCode.USAGE
    assert "is a folder" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code = main(["dump", "--backend", "reference32", "--out", str(blocked / "d.npz"), "--quiet"])
    assert code == ExitCode.USAGE
    assert "cannot write there" in capsys.readouterr().err


def test_a_killed_writers_temporary_is_removed_by_the_next_writer(tmp_path) -> None:
    from wgan_parity.dump.dumpfile import DumpWriter

    out = tmp_path / "env.npz"
    orphan = tmp_path / "env.npz.tmp-999999999"  # no such process
    orphan.write_bytes(b"half a zip")
    mine = tmp_path / f"env.npz.tmp-{os.getppid()}"  # a live process's: left alone
    mine.write_bytes(b"in progress")
    with DumpWriter(out) as writer:
        writer.add("c/out", np.zeros(2, dtype=np.float32))
        writer.close({"schema_version": 1})
    assert not orphan.exists()
    assert mine.exists()


def test_same_metadata_over_different_tensors_is_never_dropped_silently(tmp_path, capsys) -> None:
    inputs = _two_dumps(tmp_path / "d")
    src, twin = inputs / "b.npz", inputs / "b-copy.npz"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(twin, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "blk.case/out.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.full((2, 3), 7.0, dtype=np.float32))
                data = buffer.getvalue()
            new.writestr(info.filename, data)
    out = tmp_path / "out"
    main(["aggregate", str(inputs), "--out", str(out), "--quiet"])
    envs = sorted(pd.read_csv(out / "envs.csv")["env"])
    assert envs == ["env-a", "env-b", "env-b~2"]
    assert "same metadata but different tensors" in capsys.readouterr().err
    shutil.copy(src, inputs / "b-same.npz")  # a true copy is still compared once
    main(["aggregate", str(inputs), "--out", str(tmp_path / "out2"), "--quiet"])
    assert len(pd.read_csv(tmp_path / "out2" / "envs.csv")) == 3


def test_a_killed_stage_says_which_signal_not_no_output(tmp_path) -> None:
    from wgan_parity.matrix.venvs import Builder, StageFailed

    builder = Builder(tmp_path, tmp_path / "envs", uv=None)
    suicide = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    with pytest.raises(StageFailed) as failed:
        builder._run("dump", suicide, tmp_path / "dump.log")
    assert failed.value.stage == "dump"
    assert failed.value.reason.startswith("killed by SIGKILL (out of memory?")
    assert "killed by SIGKILL" in (tmp_path / "dump.log").read_text()


def test_a_user_backend_that_does_not_even_import_is_an_import_failure(tmp_path, capsys) -> None:
    (tmp_path / "broken_port.py").write_text('BASE = "reference32"\ndef conv2d(:\n')
    sys.path.insert(0, str(tmp_path))
    try:
        out = tmp_path / "d.npz"
        code = main(["dump", "--backend", "broken_port", "--out", str(out), "--quiet"])
    finally:
        sys.path.remove(str(tmp_path))
    assert code == ExitCode.ENV_PROBLEM  # the runner reads 4 as the 'import' stage
    assert "SyntaxError" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("order", ["in order", "out of order"])
def test_the_crc_is_summed_during_in_order_reads_and_checked_either_way(tmp_path, order) -> None:
    from wgan_parity.compare.member_reader import DumpFile
    from wgan_parity.dump.dumpfile import DumpError

    path = tmp_path / "a.npz"
    tmp_path.mkdir(exist_ok=True)
    synthetic.write(path, "env-a", {"blk.case/out": np.arange(1000, dtype=np.float32)})
    spans = [(0, 400), (400, 1000)] if order == "in order" else [(400, 1000), (0, 400)]

    def read_all() -> object:
        dump = DumpFile(path)
        member = dump.member("blk.case/out")
        for start, stop in spans:
            member.read(start, stop)
        in_order = member._checksum.in_order  # the same pass, or a second read at verify()
        try:
            member.verify()
        finally:
            dump.close()
        return in_order

    assert read_all() is (order == "in order")
    at = _member_data_offset(path, "blk.case/out.npy") + 128 + 4 * 700  # element 700 or so
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DumpError, match="CRC-32"):
        read_all()


@pytest.mark.parametrize("fault", ["overwritten in place", "truncated"])
def test_a_dump_that_changes_while_it_is_read_is_an_error_not_a_divergence(
    tmp_path, monkeypatch, fault
) -> None:
    from wgan_parity.compare import member_reader

    inputs = _two_dumps(tmp_path / "d")
    third = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32) * 1.001
    synthetic.write(inputs / "c.npz", "env-c", {"blk.case/out": third})
    clean_code = main(["aggregate", str(inputs), "--out", str(tmp_path / "clean"), "--quiet"])
    assert clean_code == ExitCode.DIVERGED  # env-c differs from env-a on purpose
    other = tmp_path / "other.npz"  # same env id and shapes, other values: a non-atomic `cp`
    rng = np.random.default_rng(1)
    synthetic.write(other, "env-b", {"blk.case/out": rng.standard_normal((2, 3)).astype("f4")})
    opened = member_reader.DumpFile.__init__

    def open_then_change(self, path, *args, **kwargs) -> None:
        opened(self, path, *args, **kwargs)
        if Path(path).name == "b.npz":
            with open(path, "r+b") as handle:  # the same inode, rewritten under the reader
                if fault == "truncated":  # ends inside the array's bytes
                    handle.truncate(_member_data_offset(Path(path), "blk.case/out.npy") + 132)
                else:
                    handle.write(other.read_bytes())
                    handle.truncate()

    monkeypatch.setattr(member_reader.DumpFile, "__init__", open_then_change)
    code = main(["aggregate", str(inputs), "--out", str(tmp_path / "out"), "--quiet"])
    assert code & ExitCode.ENV_PROBLEM, code
    rows, clean = _rows(tmp_path / "out"), _rows(tmp_path / "clean")
    for row in rows[(rows.env_a == "env-b") | (rows.env_b == "env-b")].itertuples():
        assert (row.status, row.blame) == ("error", "env-b"), (row.status, row.note)  # not diverged
        assert "b.npz" in row.note
    untouched = rows[(rows.env_a != "env-b") & (rows.env_b != "env-b")]
    assert len(untouched) == 1  # env-a vs env-c: compared as in the clean run
    expected = clean[(clean.env_a != "env-b") & (clean.env_b != "env-b")]
    assert _values(untouched) == _values(expected)  # the number format follows its column


UV_OUTPUTS = {  # what uv printed for a requirement it could not parse, then echoed the line
    "uv 0.9": "error: Couldn't parse requirement in `x.in` at position 0\n"
    "  cause: expected version to start with a number, but no leading ASCII digits were found\n"
    "         torch===bad!\n              ^^^^^^^\n",
    "uv 0.4": "error: Couldn't parse requirement in `x.in` at position 0\n"
    "  Caused by: Expected a version after `===`\ntorch===bad!\n     ^^^^^^^\n",
    "resolver": "  × No solution found when resolving dependencies:\n"
    "  ╰─▶ Because there is no version of torch==99.0 and you require torch==99.0, we can "
    "conclude that your requirements are unsatisfiable.\n",
}


@pytest.mark.parametrize("tool", sorted(UV_OUTPUTS))
def test_a_lock_failure_gives_uvs_cause_not_the_echoed_requirement(tool) -> None:
    from wgan_parity.matrix.venvs import last_line

    reason = last_line(UV_OUTPUTS[tool])
    assert "torch===bad!" not in reason
    assert ("parse requirement" in reason and "version" in reason) or "unsatisfiable" in reason


def test_a_real_uv_lock_failure_names_the_cause(tmp_path) -> None:
    import subprocess

    from wgan_parity.matrix.venvs import find_uv, last_line

    uv = find_uv()
    if uv is None:
        pytest.skip("uv is not installed here (pip install uv): the captured outputs cover it")
    requirements = tmp_path / "x.in"
    requirements.write_text("torch===bad!\n")
    done = subprocess.run(
        [uv, "pip", "compile", "--offline", "--quiet", str(requirements)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    reason = last_line(done.stderr)
    assert "parse" in reason.lower(), reason
    assert "torch===bad!" not in reason, reason


def _meta_variant(path: Path, meta_bytes: bytes) -> None:
    """A dump whose ``__meta__`` member holds ``meta_bytes``."""
    tensors = {"blk.case/out": np.ones((2, 3), np.float32)}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in {"__meta__": np.frombuffer(meta_bytes, np.uint8), **tensors}.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())


BAD_FILES = {
    "npy named npz": lambda p: np.save(open(p, "wb"), np.ones(3)),  # noqa: SIM115
    "random bytes": lambda p: p.write_bytes(np.random.default_rng(3).bytes(4096)),
    "empty": lambda p: p.write_bytes(b""),
    "meta not json": lambda p: _meta_variant(p, b"{not json"),
    "meta a json list": lambda p: _meta_variant(p, b"[1, 2]"),
    "meta platform a string": lambda p: _meta_variant(
        p, b'{"schema_version": 1, "env_id": "env-c", "platform": "x86", "cases": {}}'
    ),
    "meta cases a string": lambda p: _meta_variant(
        p, b'{"schema_version": 1, "env_id": "env-c", "cases": "all"}'
    ),
}


@pytest.mark.parametrize("fault", sorted(BAD_FILES))
def test_one_bad_input_file_is_refused_and_the_rest_is_compared(tmp_path, capsys, fault) -> None:
    inputs = _two_dumps(tmp_path / "d")
    assert main(["aggregate", str(inputs), "--out", str(tmp_path / "clean"), "--quiet"]) == 0
    BAD_FILES[fault](inputs / "c.npz")
    code = main(["aggregate", str(inputs), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == ExitCode.ENV_PROBLEM, (code, err)  # not 1 (diverged), not 3 (crash)
    envs = pd.read_csv(tmp_path / "out" / "envs.csv", keep_default_na=False)
    bad = envs[envs.file == "c.npz"]
    assert len(bad) == 1, envs
    assert bad.iloc[0].status in ("corrupt", "refused")
    reason = str(bad.iloc[0].error)
    assert reason.count("c.npz") <= 1, reason  # named once, not "refused c.npz: c.npz: ..."
    assert "unsafe" not in reason.lower(), reason  # never NumPy's hint to load it unsafely
    assert "dump" in reason.lower(), reason  # says what to do: re-run the dump
    assert _values(_rows(tmp_path / "out")) == _values(_rows(tmp_path / "clean"))


def test_a_thresholds_file_that_is_not_utf8_is_a_usage_error(tmp_path, capsys) -> None:
    inputs = _two_dumps(tmp_path / "d")
    rules = tmp_path / "rules.toml"
    rules.write_bytes("# café\n".encode("latin-1"))
    args = ["aggregate", str(inputs), "--out", str(tmp_path / "o"), "--thresholds", str(rules)]
    assert main([*args, "--quiet"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "rules.toml" in err
    assert "UTF-8" in err
    assert "internal error" not in err


def test_a_full_disk_while_writing_the_csvs_is_an_env_problem(tmp_path, monkeypatch, capsys):
    import errno

    inputs = _two_dumps(tmp_path / "d")
    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith(".csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    code = main(["aggregate", str(inputs), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == ExitCode.ENV_PROBLEM, err  # the machine's problem: not 1, not 3
    assert "pairs.csv" in err
    assert "No space left" in err
    assert "internal error" not in err
