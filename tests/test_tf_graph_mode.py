"""``dump --tf-graph``: TensorFlow in graph mode with ``tf.gradients`` in a Session (the seed's
own path), recorded in the flags, agrees with the truth (first and second order) like eager.

Graph mode is process-wide in TF 2 (``disable_eager_execution``), so the dump runs in a child.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wgan_parity.cli import main

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]
CASES = ["residual_down.probe", "residual_up.probe", "good_generator.random"]


def test_graph_mode_dump_records_its_execution_and_agrees_with_the_truth(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    graph = tmp_path / "graph.npz"
    child = subprocess.run(
        [sys.executable, "-m", "wgan_parity", "dump", "--backend", "tensorflow", "--tf-graph",
         "--out", str(graph), "--cases", *CASES, "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-3000:]
    meta = json.loads(bytes(np.load(graph)["__meta__"]).decode())
    assert meta["flags"]["graph"] is True
    assert meta["flags"]["execution"] == "graph+tf.gradients+Session"
    truth = tmp_path / "reference.npz"
    assert main(["dump", "--backend", "reference", "--out", str(truth), "--cases", *CASES,
                 "--quiet"]) == 0  # fmt: skip
    out = tmp_path / "out"
    assert main(["aggregate", str(truth), str(graph), "--out", str(out), "--quiet"]) == 0
    pairs = pd.read_csv(out / "pairs.csv", keep_default_na=False)
    assert len(pairs) > 40
    assert set(pairs.status) <= {"ok", "degenerate"}
    envs = pd.read_csv(out / "envs.csv", keep_default_na=False)
    assert envs["flags"].str.contains('"graph": true').any()
