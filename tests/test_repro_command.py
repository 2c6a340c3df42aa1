"""``wgan-parity repro`` end to end, on a real defect of the framework the test venv has.

torch's CPU BatchNorm on channels-last input (docs/findings/) diverges on ``batch_norm.seed``.
From the aggregate of a real channels-last torch dump and the truth, the command, with this
interpreter as the env's Python, must shrink the row to one ``batch_norm`` whose channels-last
switch matters, in a script that imports only NumPy and torch and still diverges when run. A
planted bug of a user backend, by contrast, lives in the user's code, not in the framework's
op: the script of its layer does not diverge, and the command says so (exit 0, where a
reproduced divergence exits 1, as every command's divergence does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wgan_parity.cli import main

CASE = "batch_norm.seed"


def _results(tmp_path: Path, *dump_args: str) -> Path:
    """The aggregate of a torch dump of :data:`CASE` (with ``dump_args``) and the truth's."""
    for args, name in ((["--backend", "torch", *dump_args], "torch"),
                       (["--backend", "reference"], "reference")):  # fmt: skip
        out = tmp_path / f"{name}.npz"
        assert main(["dump", *args, "--cases", CASE, "--out", str(out)]) == 0
    results = tmp_path / "results"
    main(["aggregate", str(tmp_path / "reference.npz"), str(tmp_path / "torch.npz"),
          "--out", str(results)])  # fmt: skip
    return results


def _env(results: Path) -> str:
    rows = (results / "envs.csv").read_text().splitlines()[1:]
    return next(line.split(",", 1)[0] for line in rows if line.startswith("torch"))


@pytest.mark.slow
def test_repro_shrinks_a_framework_defect_to_one_op(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("torch")
    results = _results(tmp_path, "--channels-last")
    capsys.readouterr()
    out = tmp_path / "repro"
    args = ["repro", str(results), "--env", _env(results), "--case", CASE, "--tensor", "out",
            "--python", sys.executable, "--max-isa", "avx2", "--out", str(out)]  # fmt: skip
    assert main(args) == 1, "exit 1: the reproducer diverges"
    log = capsys.readouterr().out
    assert "final: batch_norm on" in log, log
    assert "channels_last=True matters" in log, log
    script = (out / "repro.py").read_text()
    assert "import torch" in script
    assert "wgan_parity" not in script.replace("wgan-parity", "")
    done = subprocess.run([sys.executable, str(out / "repro.py")], capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPRO "))
    figure = json.loads(line[len("REPRO ") :])["figures"]["out"]
    assert figure["err"] > figure["bound"], done.stdout


@pytest.mark.slow
def test_a_user_backends_bug_is_not_a_framework_defect(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A planted bug runs in the user's backend; the script runs torch's own op: exit 0."""
    pytest.importorskip("torch")
    case = "residual_up.probe"
    for backend, name in (("wgan_parity.bugs.bn_unbiased_var", "bug"), ("reference", "ref")):
        args = ["dump", "--backend", backend, "--cases", case, "--out", str(tmp_path / name)]
        assert main([*args[:-1], f"{args[-1]}.npz"]) == 0
    results = tmp_path / "results"
    main(["aggregate", str(tmp_path / "ref.npz"), str(tmp_path / "bug.npz"), "--out",
          str(results)])  # fmt: skip
    env = next(line.split(",", 1)[0] for line in (results / "envs.csv").read_text().splitlines()
               if "bn_unbiased_var" in line)  # fmt: skip
    capsys.readouterr()
    args = ["repro", str(results), "--env", env, "--case", case, "--tensor", "tap/norm1",
            "--python", sys.executable, "--out", str(tmp_path / "repro")]  # fmt: skip
    assert main(args) == 0, "exit 0: nothing diverges"
    assert "does not diverge here" in capsys.readouterr().out
