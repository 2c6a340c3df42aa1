"""Test helpers for the module-adapter tests (torch, Keras, Equinox): a port through a dump and
an aggregate, and check-port on a port module written for the test."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any, Sequence, Tuple

import pandas as pd

from wgan_parity.cli import main

EXAMPLES = str(Path(__file__).resolve().parents[1] / "examples")


def dump_and_aggregate(backend: str, folder: Path, cases: Sequence[str]) -> pd.DataFrame:
    """Dump the truth and ``backend`` on ``cases``, aggregate them; ``pairs.csv`` as text.

    Each command must exit 0: the dumps ran every case, and nothing diverged.
    """
    chosen = ["--cases", *cases, "--quiet"]
    truth, port = folder / "reference.npz", folder / "port.npz"
    assert main(["dump", "--backend", "reference", "--out", str(truth), *chosen]) == 0
    assert main(["dump", "--backend", backend, "--out", str(port), *chosen]) == 0
    out = folder / "out"
    assert main(["aggregate", str(truth), str(port), "--out", str(out), "--quiet"]) == 0
    return pd.read_csv(out / "pairs.csv", keep_default_na=False)


def check_written_port(
    name: str, source: str, cases: Sequence[str], folder: Path, monkeypatch: Any, capsys: Any
) -> Tuple[int, str]:
    """Write ``source`` as module ``name`` in ``folder``; run ``check-port`` on it: (exit, out)."""
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(name, None)
    code = main(["check-port", name, "--cases", *cases])
    return code, capsys.readouterr().out
