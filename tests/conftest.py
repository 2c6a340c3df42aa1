"""Shared fixtures: real dumps of the whole catalog, one per registered framework, and markers.

The dumps are made once per test session by running ``python -m wgan_parity dump`` in
subprocesses (all started together, at the first test that asks for one), exactly as an
environment would; a dump that fails fails only the tests of its framework. Set
``WGAN_PARITY_TEST_DUMPS`` to a folder holding ``<framework>.npz`` files to reuse earlier dumps.

Markers: a test that uses ``catalog_dumps`` is marked ``frameworks`` (it needs every registered
framework installed); every ``frameworks`` test is also ``slow``, as are the tests marked so by
hand (seconds each: real dumps, subprocesses). ``nox -s tests -- -m "not slow"`` is the fast lane.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from wgan_parity import frameworks
from wgan_parity.cli import argv
from wgan_parity.dump.dumpfile import DumpReader
from wgan_parity.exitcodes import ExitCode


def run_dump(backend: str, out: Path, *extra: str) -> subprocess.Popen:
    """Start ``wgan-parity dump`` for ``backend`` in a subprocess."""
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 - closed by the OS when the child ends
    return subprocess.Popen(
        argv("dump", "--backend", backend, "--out", out, *extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


class CatalogDumps(Mapping[str, DumpReader]):
    """framework name -> reader of its full-catalog dump, made on first use, cached per framework.

    Every registered framework's dump starts at the first lookup (they run in parallel); a
    lookup waits only for its own, and a dump that failed fails the tests that ask for it.
    """

    def __init__(self, folder: Path, reuse: bool) -> None:
        self.folder, self.reuse = folder, reuse
        self._pending: Dict[str, Tuple[Path, Optional[subprocess.Popen]]] = {}
        self._done: Dict[str, DumpReader] = {}
        self._failed: Dict[str, str] = {}

    def _start(self) -> None:
        if self._pending or self._done or self._failed:
            return
        for name in frameworks.names():
            path = self.folder / f"{name}.npz"
            reused = self.reuse and path.exists()
            self._pending[name] = (path, None if reused else run_dump(name, path))

    def __getitem__(self, name: str) -> DumpReader:
        self._start()
        if name in self._pending:
            path, proc = self._pending.pop(name)
            code = proc.wait() if proc else 0
            # 4 with a dump written: some case failed, recorded in it and checked by tests
            if code == 0 or (code == ExitCode.ENV_PROBLEM and path.exists()):
                self._done[name] = DumpReader(path)
            else:
                log = path.with_suffix(".log").read_text()[-4000:]
                self._failed[name] = f"dump of {name} exited {code}:\n{log}"
        if name in self._failed:
            pytest.fail(self._failed[name])
        if name not in self._done:
            raise KeyError(f"no dump of {name!r}; the registry has {list(frameworks.names())}")
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(frameworks.names())

    def __len__(self) -> int:
        return len(frameworks.names())


@pytest.fixture(scope="session")
def catalog_dumps(tmp_path_factory: pytest.TempPathFactory) -> CatalogDumps:
    """framework name -> reader of its full-catalog dump (see :class:`CatalogDumps`)."""
    reuse = os.environ.get("WGAN_PARITY_TEST_DUMPS")
    folder = Path(reuse) if reuse else tmp_path_factory.mktemp("dumps")
    return CatalogDumps(folder, bool(reuse))


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Tests that use the catalog dumps need the frameworks; tests that need them are slow."""
    for item in items:
        if "catalog_dumps" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.frameworks)
        if item.get_closest_marker("frameworks"):
            item.add_marker(pytest.mark.slow)
