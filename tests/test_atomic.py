"""Atomic writes: all or nothing, no temporary left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from wgan_parity import atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = atomic.write_text(tmp_path / "sub" / "a.txt", "old")
    assert target.read_text() == "old"

    def half_then_crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_with(target, half_then_crash)
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_json_is_sorted_and_ends_with_a_newline(tmp_path: Path) -> None:
    path = atomic.write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert path.read_text() == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}\n'
