"""Shared fixtures: real dumps of the whole catalog from the three built-in backends.

The dumps are made once per test session by running ``python -m wgan_parity dump`` in
subprocesses (in parallel), exactly as an environment would. Set ``WGAN_PARITY_TEST_DUMPS`` to
a folder holding ``reference.npz``, ``tensorflow.npz`` and ``torch.npz`` to reuse earlier dumps.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from wgan_parity.cli import argv
from wgan_parity.dump.dumpfile import DumpReader

BACKENDS = ("reference", "tensorflow", "torch", "jax")


def run_dump(backend: str, out: Path, *extra: str) -> subprocess.Popen:
    """Start ``wgan-parity dump`` for ``backend`` in a subprocess."""
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 - closed by the OS when the child ends
    return subprocess.Popen(
        argv("dump", "--backend", backend, "--out", out, *extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="session")
def catalog_dumps(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, DumpReader]:
    """backend name -> reader of its full-catalog dump."""
    reuse = os.environ.get("WGAN_PARITY_TEST_DUMPS")
    folder = Path(reuse) if reuse else tmp_path_factory.mktemp("dumps")
    pending = {}
    for backend in BACKENDS:
        path = folder / f"{backend}.npz"
        if not (reuse and path.exists()):
            pending[backend] = (path, run_dump(backend, path))
    for backend, (path, proc) in pending.items():
        code = proc.wait()
        if code not in (0, 1):  # 1 = some case failed, recorded in the dump and checked by tests
            log = path.with_suffix(".log").read_text()[-4000:]
            pytest.fail(f"dump of {backend} exited {code}:\n{log}")
    return {b: DumpReader(folder / f"{b}.npz") for b in BACKENDS}
