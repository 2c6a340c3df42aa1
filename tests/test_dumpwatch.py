"""Progress inside a running dump: the dump's progress file and the runner's lines from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wgan_parity.cli import main
from wgan_parity.matrix import dumpwatch


def _state(done: int, total: int, elapsed: float, case: str = "c", nxt: str = "") -> dict:
    return {"done": done, "total": total, "case": case, "next": nxt, "elapsed_s": elapsed}


def test_estimate_scales_the_previous_dumps_times_by_this_runs_pace() -> None:
    previous = {"a": 1.0, "b": 1.0, "big": 100.0}
    state = _state(2, 3, 4.0, case="b")  # twice as slow as last time so far
    assert dumpwatch.estimate_left(state, previous) == pytest.approx(200.0)
    assert dumpwatch.estimate_left(state, {}) == pytest.approx(2.0)  # per case, as done so far
    assert dumpwatch.estimate_left(_state(3, 3, 9.0), previous) == 0.0
    assert dumpwatch.estimate_left(_state(0, 3, 0.0), previous) is None


def test_a_watch_reports_one_line_per_finished_case(tmp_path: Path) -> None:
    path, lines = tmp_path / "env.progress.json", []
    with dumpwatch.DumpWatch(path, lines.append, {"a": 2.0, "b": 6.0}, interval_s=60) as watch:
        path.write_text(json.dumps(_state(1, 2, 65.0, case="a", nxt="b")))
        watch.poll()
        watch.poll()  # nothing new: no second line
    assert lines == ["1/2 a done; next b (1:05 elapsed, ~3:15 left)"]
    assert not path.exists()


@pytest.mark.slow
def test_dump_writes_its_progress_after_every_case(tmp_path: Path) -> None:
    progress = tmp_path / "p.json"
    cases = ["depth_to_space.seed", "gen_data.seed"]
    code = main(
        [
            "dump",
            *("--backend", "reference32", "--out", str(tmp_path / "d.npz"), "--quiet"),
            *("--progress-file", str(progress), "--cases", *cases),
        ]
    )
    assert code == 0
    state = json.loads(progress.read_text())
    assert (state["done"], state["total"], state["next"]) == (2, 2, "")
    assert set(state["case_s"]) == set(cases)
    assert state["elapsed_s"] >= sum(state["case_s"].values()) - 0.01
